package liveplugin

import (
	"html/template"

	"github.com/amlive/amlive/liveplugin/internal/hub"
	"github.com/amlive/amlive/liveplugin/internal/views"
)

// FuncMap returns the template functions that place the plugin's widgets
// in an app's own html/template pages, and format recordings the way the
// plugin's own pages do:
//
//	{{amliveHead}}                 HeadHTML: the <link> and <script> tags
//	{{amlivePlayer "alice"}}       PlayerHTML: the player of room alice
//	{{amliveBroadcaster "alice"}}  BroadcasterHTML: the "Go live" widget
//	{{amliveDuration .Duration}}   "0:39", "1:02:03": whole seconds, rounded down
//	{{amliveBytes .Bytes}}         "512 B", "1.2 MB": decimal units
//
// The widget functions are the methods named, which give the same markup
// outside templates. The widgets only render markup; the publisher still
// needs Publish permission when the stream starts. Each call returns a new
// map.
func (p *Plugin) FuncMap() template.FuncMap {
	return template.FuncMap{
		"amliveHead":        p.HeadHTML,
		"amlivePlayer":      p.PlayerHTML,
		"amliveBroadcaster": p.BroadcasterHTML,
		"amliveDuration":    views.FormatDuration,
		"amliveBytes":       views.FormatBytes,
	}
}

// HeadHTML returns the <link> and <script> tags the widgets need, for an
// app page's <head>.
func (p *Plugin) HeadHTML() (template.HTML, error) {
	return p.views.Partial("amlive-head", p.partialData(""))
}

// PlayerHTML returns the markup of room's player (live, or its latest
// recording when offline) for an app's own page.
func (p *Plugin) PlayerHTML(room string) (template.HTML, error) {
	if err := ValidRoom(room); err != nil {
		return "", err
	}
	return p.views.Partial("amlive-player", p.partialData(room))
}

// BroadcasterHTML returns the markup of room's "Go live" widget (camera
// preview, start and stop, viewer count, status line) for an app's own page.
func (p *Plugin) BroadcasterHTML(room string) (template.HTML, error) {
	if err := ValidRoom(room); err != nil {
		return "", err
	}
	return p.views.Partial("amlive-broadcaster", p.partialData(room))
}

func (p *Plugin) partialData(room string) views.PartialData {
	d := views.PartialData{Base: p.base, Room: room, Assets: p.assetURLs(), Capture: p.captureView()}
	if room != "" {
		var in hub.Info
		in, d.Live = p.rooms.Lookup(room)
		d.Latency = in.Latency
		d.Poster = p.posterURL(room)
	}
	return d
}

func (p *Plugin) assetURLs() views.Assets {
	u := func(name string) string { return p.base + "/assets/" + name + "?v=" + p.assets[name].etag }
	return views.Assets{ProtocolJS: u("protocol.js"), CoreJS: u("core.js"), WebCodecsJS: u("webcodecs.js"), PlayerJS: u("player.js"), BroadcasterJS: u("broadcaster.js"),
		StatusJS: u("status.js"), CSS: u("live.css")}
}

// captureView is Config.Capture as the broadcaster partial takes it.
func (p *Plugin) captureView() views.Capture {
	c := p.cfg.Capture
	return views.Capture{
		MaxWidth: c.MaxWidth, MaxHeight: c.MaxHeight, MaxFrameRate: c.MaxFrameRate,
		VideoBitsPerSecond: c.VideoBitsPerSecond, AudioBitsPerSecond: c.AudioBitsPerSecond,
		Resolutions: views.Resolutions(c.MaxWidth, c.MaxHeight),
		LowLatency:  c.LowLatency,
	}
}
