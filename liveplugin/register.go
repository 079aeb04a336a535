package liveplugin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/amlive/amlive/assets"
	"github.com/amlive/amlive/liveplugin/internal/hub"
	"github.com/amlive/amlive/liveplugin/internal/record"
	"github.com/amlive/amlive/liveplugin/internal/views"
)

// Router is what Register mounts routes on: *echo.Echo and *echo.Group
// both implement it.
type Router interface {
	Add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// Plugin is the live-rooms plugin mounted by Register. Its methods are
// safe for concurrent use. Close it when the server stops: it ends live
// broadcasts, finishes their recordings and closes every WebSocket.
type Plugin struct {
	cfg    Config
	log    *slog.Logger
	hub    *hub.Hub
	store  *record.Store
	views  *views.Set
	base   string // route prefix, e.g. "/live"
	assets map[string]asset

	// upgrades counts WebSocket upgrades per client IP. Its stale entries
	// are dropped lazily on use: it starts no goroutine.
	upgrades *middleware.RateLimiterMemoryStore

	deadPeers atomic.Int64 // WebSockets cut by keepAlive

	// Publishers run under pubCtx, viewers under subCtx: Close ends the
	// broadcasts first, so that viewers still receive the end event.
	pubCtx    context.Context
	pubCancel context.CancelFunc
	subCtx    context.Context
	subCancel context.CancelFunc

	// sessions holds the live broadcasts' publishers by room, for an
	// upload that resumes one.
	sessions sessions

	connMu  sync.Mutex
	closing bool
	pubs    sync.WaitGroup
	subs    sync.WaitGroup

	closeOnce sync.Once
	closed    chan struct{} // closed when Close has ended everything
}

type asset struct {
	data []byte
	etag string
	mime string
}

var roomPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// reserved are room ids that name the plugin's own routes.
var reserved = map[string]bool{"assets": true, "rooms": true, "api": true, "static": true}

// ValidRoom reports whether id may name a room: 1 to 64 letters, digits,
// '_' or '-', starting with a letter or digit, and not one of the names the
// plugin reserves for its own routes ("assets", "rooms", "api", "static",
// in any case). Room ids are case-sensitive otherwise. It returns
// ErrInvalidRoom or ErrReservedRoom.
func ValidRoom(id string) error {
	if !roomPattern.MatchString(id) {
		return ErrInvalidRoom
	}
	if reserved[strings.ToLower(id)] {
		return ErrReservedRoom
	}
	return nil
}

// Register mounts the plugin's routes on r, relative to r (under a group
// "/live", the watch page is "/live/:id"):
//
//	GET    /                  rooms live now (HTML)
//	GET    /rooms             rooms live now (JSON)
//	GET    /assets/*          embedded JavaScript and CSS
//	GET    /:id               watch page: live player, or the latest recording
//	GET    /:id/embed         chromeless player for an <iframe>
//	GET    /:id/broadcast     broadcaster page (Publish)
//	GET    /:id/upload        WebSocket: the publisher's stream in (Publish)
//	GET    /:id/subscribe     WebSocket: a viewer's stream out
//	GET    /:id/meta          init segment of the live broadcast
//	GET    /:id/status        JSON status of the room
//	GET    /:id/playback      latest recording, or ?b=<broadcast>; Range requests
//	GET    /:id/recordings    JSON list of the room's recordings
//	DELETE /:id/recordings/:b delete a recording (Manage)
//
// It fills cfg's defaults, validates it, parses the views and opens the
// recordings directory; it returns an error and mounts nothing if any of
// that fails. It then starts sealing, in the background, the recordings
// a crash or kill left unfinished in Dir (Close waits for it), and
// applies the retention limits (KeepRecordings, MaxRecordingBytes,
// MaxRecordingAge), logging what it did. It never changes r's renderer,
// error handler or middleware.
func Register(r Router, cfg Config) (*Plugin, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	store, err := record.New(cfg.Dir, record.Options{SyncInterval: cfg.SyncInterval})
	if err != nil {
		return nil, fmt.Errorf("liveplugin: recordings directory: %w", err)
	}
	p := &Plugin{
		cfg:   cfg,
		log:   cfg.Logger,
		store: store,
		hub: hub.New(hub.Config{
			QueueBytes:      cfg.ViewerQueueBytes,
			MaxRooms:        cfg.MaxRooms,
			MaxViewers:      cfg.MaxViewers,
			MaxTotalViewers: cfg.MaxTotalViewers,
		}),
		closed: make(chan struct{}),
		upgrades: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate:      rate.Limit(float64(cfg.MaxUpgradesPerMinute) / 60),
			Burst:     cfg.MaxUpgradesPerMinute,
			ExpiresIn: 2 * time.Minute,
		}),
	}
	if p.assets, err = loadAssets(assets.FS); err != nil {
		return nil, err
	}
	if p.views, err = views.New(cfg.Views, p.FuncMap()); err != nil {
		return nil, fmt.Errorf("liveplugin: views: %w", err)
	}
	p.pubCtx, p.pubCancel = context.WithCancel(context.Background())
	p.subCtx, p.subCancel = context.WithCancel(context.Background())
	p.recoverRecordings()
	p.pruneRecordings()

	route := r.Add(http.MethodGet, "/:id/meta", p.meta)
	p.base = strings.TrimSuffix(route.Path, "/:id/meta")
	r.Add(http.MethodGet, "", p.roomsPage)
	r.Add(http.MethodGet, "/", p.roomsPage)
	r.Add(http.MethodGet, "/rooms", p.roomsJSON)
	r.Add(http.MethodGet, "/assets/*", p.asset)
	r.Add(http.MethodGet, "/:id", p.watchPage)
	r.Add(http.MethodGet, "/:id/embed", p.embedPage)
	r.Add(http.MethodGet, "/:id/broadcast", p.broadcastPage)
	r.Add(http.MethodGet, "/:id/upload", p.upload)
	r.Add(http.MethodGet, "/:id/subscribe", p.subscribe)
	r.Add(http.MethodGet, "/:id/status", p.status)
	r.Add(http.MethodGet, "/:id/playback", p.playback)
	r.Add(http.MethodHead, "/:id/playback", p.playback)
	r.Add(http.MethodGet, "/:id/recordings", p.recordings)
	r.Add(http.MethodDelete, "/:id/recordings/:b", p.deleteRecording)
	return p, nil
}

// recoverRecordings seals the recordings a crash or kill left unfinished
// in Dir in the background, logging each; until one is sealed it is
// listed but not served. The goroutine runs as a publisher does, under
// pubCtx and counted in pubs, so Close stops it (between two reads of the
// file being sealed) and waits for it; what is left is recovered at the
// next start. It exits when every recording is done or Close cancels.
func (p *Plugin) recoverRecordings() {
	rec, err := p.store.BeginRecover()
	if err != nil {
		p.log.Error("recordings not recovered", "err", err)
	}
	p.pubs.Go(func() {
		metas, err := rec.Run(p.pubCtx)
		for _, m := range metas {
			if m.Sealed {
				p.log.Info("recording recovered", "room", m.Room, "broadcast", m.Broadcast, "bytes", m.Bytes, "duration", m.Duration)
			} else {
				p.log.Warn("recording not recoverable", "room", m.Room, "broadcast", m.Broadcast, "reason", m.Failed)
			}
		}
		switch {
		case err != nil && p.pubCtx.Err() != nil:
			p.log.Info("recordings recovery stopped by Close", "err", err)
		case err != nil:
			p.log.Error("recordings not recovered", "err", err)
		}
	})
}

// pruneRecordings deletes the recordings that KeepRecordings,
// MaxRecordingBytes and MaxRecordingAge do not keep, logging each.
func (p *Plugin) pruneRecordings() {
	gone, err := p.store.Prune(record.Retention{
		KeepPerRoom: p.cfg.KeepRecordings,
		MaxBytes:    p.cfg.MaxRecordingBytes,
		MaxAge:      p.cfg.MaxRecordingAge,
	}, time.Now())
	for _, m := range gone {
		p.log.Info("recording deleted", "room", m.Room, "broadcast", m.Broadcast, "reason", "retention")
	}
	if err != nil {
		p.log.Error("recordings not pruned", "err", err)
	}
}

// MustRegister is like Register but panics on error. It is meant for main.
func MustRegister(r Router, cfg Config) *Plugin {
	p, err := Register(r, cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// Close ends every live broadcast, finishes its recording, tells its
// viewers (an end event, then close code 1001) and waits for every
// WebSocket handler to return. From the start of Close, new requests get
// 503 and new WebSockets close with 1001. Close is idempotent and safe for
// concurrent use; if ctx ends first it returns ctx.Err() while the work
// goes on in the background.
func (p *Plugin) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.connMu.Lock()
		p.closing = true
		p.connMu.Unlock()
		p.hub.Close()
		go p.shutdown()
	})
	select {
	case <-p.closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown ends the publishers, whose broadcasts end with them, then lets
// the viewers write what is queued for them (the end event) for at most
// WriteTimeout before cutting them off. It returns once every WebSocket
// handler has returned.
func (p *Plugin) shutdown() {
	p.pubCancel()
	p.pubs.Wait()
	drained := make(chan struct{})
	go func() { // exits when the last viewer handler returns
		p.subs.Wait()
		close(drained)
	}()
	t := time.NewTimer(p.cfg.WriteTimeout)
	select {
	case <-drained:
	case <-t.C:
	}
	t.Stop()
	p.subCancel()
	<-drained
	close(p.closed)
}

// track registers a WebSocket handler with Close; it reports false once the
// plugin is closing. The caller calls the returned done when it returns.
func (p *Plugin) track(wg *sync.WaitGroup) (done func(), ok bool) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.closing {
		return nil, false
	}
	wg.Add(1)
	return wg.Done, true
}

func (p *Plugin) isClosing() bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	return p.closing
}

// Base returns the URL path the plugin's routes are mounted under, such as
// "/live" (empty when mounted at the root).
func (p *Plugin) Base() string { return p.base }

// WatchURL returns the path of room's watch page.
func (p *Plugin) WatchURL(room string) string { return p.base + "/" + room }

// playbackURL returns the path that plays recording id of room.
func (p *Plugin) playbackURL(room, id string) string {
	return p.base + "/" + room + "/playback?b=" + id
}

// Live returns the broadcasts live now, newest first.
func (p *Plugin) Live() []BroadcastInfo {
	live := p.hub.Live()
	out := make([]BroadcastInfo, 0, len(live))
	for _, in := range live {
		out = append(out, p.broadcastInfo(in))
	}
	return out
}

func (p *Plugin) broadcastInfo(in hub.Info) BroadcastInfo {
	return BroadcastInfo{
		Room:     in.Room,
		ID:       in.ID,
		MIMEType: in.MIMEType,
		Started:  in.Started,
		Viewers:  in.Viewers,
		Bytes:    in.Bytes,
		URL:      p.WatchURL(in.Room),

		Reconnecting: in.PublisherLost,
	}
}

// Status returns the live broadcast of room, or ok false when the room is
// not live.
func (p *Plugin) Status(room string) (b BroadcastInfo, ok bool) {
	hb, ok := p.hub.Lookup(room)
	if !ok {
		return BroadcastInfo{}, false
	}
	return p.broadcastInfo(hb.Info()), true
}

// Recording describes one recorded broadcast.
type Recording struct {
	ID         string        `json:"id"`
	Room       string        `json:"room"`
	MIMEType   string        `json:"mimeType"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end,omitzero"`
	Duration   time.Duration `json:"-"`
	DurationMs int64         `json:"durationMs"`
	Bytes      int64         `json:"bytes"`
	Live       bool          `json:"live"`             // still being recorded
	Seekable   bool          `json:"seekable"`         // sealed with Cues and a duration
	Failed     bool          `json:"failed,omitempty"` // recording stopped early; the file holds what was written
	URL        string        `json:"url"`              // playback URL
}

// Recordings returns room's recordings, newest first.
func (p *Plugin) Recordings(room string) ([]Recording, error) {
	if err := ValidRoom(room); err != nil {
		return nil, err
	}
	metas, err := p.store.List(room)
	if err != nil {
		return nil, err
	}
	out := make([]Recording, 0, len(metas))
	for _, m := range metas {
		out = append(out, p.recording(m))
	}
	return out, nil
}

func (p *Plugin) recording(m record.Meta) Recording {
	return Recording{
		ID:         m.Broadcast,
		Room:       m.Room,
		MIMEType:   m.MIMEType,
		Start:      m.Start,
		End:        m.End,
		Duration:   m.Duration,
		DurationMs: m.Duration.Milliseconds(),
		Bytes:      m.Bytes,
		Live:       m.Live(),
		Seekable:   m.Sealed,
		Failed:     m.Failed != "",
		URL:        p.playbackURL(m.Room, m.Broadcast),
	}
}

// FuncMap returns template functions that place the plugin's widgets in an
// app's own html/template pages:
//
//	{{amliveHead}}                 the plugin's <link> and <script> tags
//	{{amlivePlayer "alice"}}       the player of room alice
//	{{amliveBroadcaster "alice"}}  the "Go live" widget of room alice
//
// The widgets only render markup; the publisher still needs Publish
// permission when the stream starts.
func (p *Plugin) FuncMap() template.FuncMap {
	return template.FuncMap{
		"amliveHead":        p.HeadHTML,
		"amlivePlayer":      p.PlayerHTML,
		"amliveBroadcaster": p.BroadcasterHTML,
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
	d := views.PartialData{Base: p.base, Room: room, Assets: p.assetURLs()}
	if room != "" {
		_, d.Live = p.hub.Lookup(room)
	}
	return d
}

func (p *Plugin) assetURLs() views.Assets {
	u := func(name string) string { return p.base + "/assets/" + name + "?v=" + p.assets[name].etag }
	return views.Assets{PlayerJS: u("player.js"), BroadcasterJS: u("broadcaster.js"), CSS: u("live.css")}
}

// loadAssets reads the embedded assets once and gives each a content hash,
// used as ETag and as the version in the URLs the pages link to.
func loadAssets(fsys fs.FS) (map[string]asset, error) {
	out := make(map[string]asset)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		mime := "application/octet-stream"
		switch {
		case strings.HasSuffix(name, ".js"):
			mime = "text/javascript; charset=utf-8"
		case strings.HasSuffix(name, ".css"):
			mime = "text/css; charset=utf-8"
		case strings.HasSuffix(name, ".go"):
			return nil
		}
		out[name] = asset{data: data, etag: hex.EncodeToString(sum[:6]), mime: mime}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("liveplugin: assets: %w", err)
	}
	return out, nil
}

// newBroadcastID returns a sortable, unique broadcast id such as
// "20261124T140512Z-3f2a9c".
func newBroadcastID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // never fails
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
