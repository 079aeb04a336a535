package views

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// The pages a [Set] renders; each is also the name of its template file
// without the ".html" extension.
const (
	PageWatch     = "watch"
	PageEmbed     = "embed"
	PageBroadcast = "broadcast"
	PageRooms     = "rooms"
)

var pages = []string{PageWatch, PageEmbed, PageBroadcast, PageRooms}

// commonFiles are the embedded files every page shares, in parse order.
var commonFiles = []string{"layout.html", "partials.html"}

//go:embed templates/*.html
var embedded embed.FS

// Page is the data every page template receives.
type Page struct {
	Title  string
	Base   string // route prefix, no trailing slash, e.g. "/live"
	Room   string // "" on the rooms page
	Assets Assets
	Live   bool
	// Latency is the live broadcast's latency mode ("low": the player
	// decodes it with WebCodecs where it can); see BroadcastInfo.Latency.
	Latency    string
	Status     Status
	Recordings []Recording   // newest first
	Rooms      []RoomSummary // rooms page
	EmbedURL   string        // absolute or root-relative URL of {base}/{room}/embed
	CanPublish bool          // show a "Go live" link to {base}/{room}/broadcast
	// Capture is what the broadcaster partial asks of the browser
	// (Config.Capture), on every page that may hold it.
	Capture Capture
	// Poster is the URL of the image the player shows before it plays:
	// the live broadcast's thumbnail, or the latest recording's; "" for
	// none.
	Poster string
	// App is the application's data for this request (Config.ViewData),
	// for the app's overrides, such as a header with the signed-in user;
	// nil without it. The default templates do not use it.
	App any
	// Nonce is this response's Content-Security-Policy nonce: the only
	// inline <script> and <style> elements the page may run are those
	// with nonce="{{.Nonce}}". The default templates have none.
	Nonce string
}

// Assets holds the URLs of the plugin's JavaScript and CSS files, usually
// versioned (e.g. "/live/assets/player.js?v=abc123"). An empty URL leaves its
// tag out. The widgets need ProtocolJS and CoreJS: the head partial loads
// them first, then WebCodecsJS, PlayerJS, BroadcasterJS and StatusJS, in that order.
type Assets struct {
	ProtocolJS string // the wire protocol's close codes and events
	CoreJS     string // the helpers the widgets share
	PlayerJS   string
	// WebCodecsJS is the player's low-latency WebCodecs mode; the head
	// partial loads it before PlayerJS.
	WebCodecsJS   string
	BroadcasterJS string
	// StatusJS keeps the pages' live badges, lists and recordings
	// current (data-amlive-* attributes, see assets/status.js); its tag
	// carries data-base.
	StatusJS string
	CSS      string
}

// Status describes a room's live broadcast, if any.
type Status struct {
	Live      bool
	Broadcast string
	MIMEType  string
	StartedAt time.Time
	Viewers   int
	// Title and Description are the live broadcast's; empty when unset.
	Title, Description string
}

// Recording describes one broadcast's recording; URL plays it.
type Recording struct {
	ID         string
	Start, End time.Time
	Duration   time.Duration
	Bytes      int64
	URL        string
	Live       bool   // still being recorded
	Thumbnail  string // URL of its thumbnail; "" for none
	Title      string // the broadcast's title, if it had one
}

// RoomSummary is one entry of the rooms page: a room that is live now.
type RoomSummary struct {
	Room, URL string
	Viewers   int
	StartedAt time.Time
	Thumbnail string // URL of the live broadcast's thumbnail; "" for none
	Title     string // the broadcast's title, if it has one
}

// PartialData is the data the player and broadcaster partials take; an app
// that places them in its own pages builds it (usually via the plugin's
// helpers). A [Page] has the same fields, so pages pass themselves.
type PartialData struct {
	Base, Room string
	Assets     Assets
	Live       bool
	Latency    string  // see Page.Latency
	Poster     string  // see Page.Poster
	Capture    Capture // see Page.Capture
}

// Capture is what the broadcaster partial asks of the browser: the
// largest picture and frame rate, the recorder's bitrates, and the
// sizes its resolution picker offers. The partial renders the numbers
// as data attributes (data-max-width, data-max-height, data-max-fps,
// data-video-bps, data-audio-bps) that broadcaster.js reads; a zero
// leaves broadcaster.js its own default, and no Resolutions leaves the
// picker out.
type Capture struct {
	MaxWidth, MaxHeight, MaxFrameRate      int
	VideoBitsPerSecond, AudioBitsPerSecond int
	Resolutions                            []Resolution // smallest first; the last is the default choice
	LowLatency                             bool         // data-latency="low": WebCodecs' chunks where the browser can
}

// Resolution is one size of the broadcaster's resolution picker.
type Resolution struct {
	Width, Height int
	Label         string // e.g. "720p (1280×720)"
}

// resolutionLadder are the usual 16:9 sizes, smallest first.
var resolutionLadder = []Resolution{
	{640, 360, "360p"}, {854, 480, "480p"}, {1280, 720, "720p"}, {1920, 1080, "1080p"}, {2560, 1440, "1440p"}, {3840, 2160, "2160p"},
}

// Resolutions returns the sizes of the usual ladder (360p, 480p, 720p,
// 1080p, 1440p, 4K) that fit in maxWidth×maxHeight, smallest first; when
// none fits, only maxWidth×maxHeight itself.
func Resolutions(maxWidth, maxHeight int) []Resolution {
	var out []Resolution
	for _, r := range resolutionLadder {
		if r.Width <= maxWidth && r.Height <= maxHeight {
			out = append(out, Resolution{r.Width, r.Height, fmt.Sprintf("%s (%d×%d)", r.Label, r.Width, r.Height)})
		}
	}
	if len(out) == 0 && maxWidth > 0 && maxHeight > 0 {
		out = append(out, Resolution{maxWidth, maxHeight, fmt.Sprintf("%d×%d", maxWidth, maxHeight)})
	}
	return out
}

// Set is a parsed set of page templates: defaults overridden by an app's
// fs.FS. Safe for concurrent use after New.
type Set struct {
	common *template.Template            // layout, partials and their overrides
	pages  map[string]*template.Template // page name → its own clone of common plus the page
}

// New parses the embedded templates, then every *.html file in override (may
// be nil; searched recursively, matched by base name) so that an app's
// templates with the same {{define}} name win; funcs are added to every
// template (may be nil) and win over the package's own functions of the same
// name (formatDuration, formatBytes, formatTime, isoTime, iframeSnippet). No
// parsing happens after New.
//
// An override file named like a page (watch.html, embed.html, broadcast.html,
// rooms.html) applies to that page only; every other override file applies to
// all pages and partials.
func New(override fs.FS, funcs template.FuncMap) (*Set, error) {
	fm := Funcs()
	for name, fn := range funcs {
		fm[name] = fn
	}

	common := template.New("amlive").Funcs(fm)
	for _, name := range commonFiles {
		if err := parseFile(common, embedded, "templates/"+name, "embedded "+name); err != nil {
			return nil, err
		}
	}

	// The app's files: page overrides by page, the rest into the common set.
	pageOverrides := map[string]string{}
	if override != nil {
		files, err := htmlFiles(override)
		if err != nil {
			return nil, err
		}
		for _, file := range files {
			if page, ok := pageOf(path.Base(file)); ok {
				if prev, dup := pageOverrides[page]; dup {
					return nil, fmt.Errorf("views: override files %s and %s both override page %q", prev, file, page)
				}
				pageOverrides[page] = file
				continue
			}
			if err := parseFile(common, override, file, "override "+file); err != nil {
				return nil, err
			}
		}
	}

	s := &Set{common: common, pages: make(map[string]*template.Template, len(pages))}
	for _, page := range pages {
		t, err := common.Clone()
		if err != nil {
			return nil, fmt.Errorf("views: clone for page %s: %w", page, err)
		}
		if err := parseFile(t, embedded, "templates/"+page+".html", "embedded "+page+".html"); err != nil {
			return nil, err
		}
		if file, ok := pageOverrides[page]; ok {
			if err := parseFile(t, override, file, "override "+file); err != nil {
				return nil, err
			}
		}
		if t.Lookup(page) == nil {
			return nil, fmt.Errorf("views: page %s: no template named %q is defined", page, page)
		}
		s.pages[page] = t
	}
	return s, nil
}

// Render executes page (one of PageWatch, PageEmbed, PageBroadcast,
// PageRooms) with data into a buffer, then writes it to w; a template error
// writes nothing.
func (s *Set) Render(w io.Writer, page string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("views: unknown page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, page, data); err != nil {
		return fmt.Errorf("views: render %s: %w", page, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// Partial executes a named partial ("amlive-player", "amlive-broadcaster",
// "amlive-head", "amlive-recordings") and returns it as template.HTML for an
// app's own templates. data is usually a [PartialData] ([]Recording for
// "amlive-recordings").
func (s *Set) Partial(name string, data any) (template.HTML, error) {
	if s.common.Lookup(name) == nil {
		return "", fmt.Errorf("views: unknown partial %q", name)
	}
	var buf bytes.Buffer
	if err := s.common.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("views: partial %s: %w", name, err)
	}
	// The output of html/template is already escaped for its context.
	return template.HTML(buf.String()), nil
}

// parseFile parses file from fsys into t as a template named after the file's
// base name; label names the file in errors.
func parseFile(t *template.Template, fsys fs.FS, file, label string) error {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return fmt.Errorf("views: read %s: %w", label, err)
	}
	if _, err := t.New(path.Base(file)).Parse(string(b)); err != nil {
		return fmt.Errorf("views: parse %s: %w", label, err)
	}
	return nil
}

// htmlFiles lists every *.html file in fsys, in lexical order.
func htmlFiles(fsys fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".html") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("views: list override files: %w", err)
	}
	return files, nil
}

// pageOf reports which page a file named base (e.g. "watch.html") overrides.
func pageOf(base string) (string, bool) {
	for _, p := range pages {
		if base == p+".html" {
			return p, true
		}
	}
	return "", false
}

// Funcs returns a new map of the template functions the embedded templates
// use: formatDuration ("1:02:03"), formatBytes ("1.2 MB"), formatTime
// ("2 Jan 2006 15:04 UTC"), isoTime (RFC 3339, for datetime attributes),
// iframeSnippet (the copy-paste <iframe> markup for an embed URL), and
// recordingTemplate and roomTemplate (the placeholder data of the
// <template> elements status.js clones).
func Funcs() template.FuncMap {
	return template.FuncMap{
		"formatDuration": FormatDuration,
		"formatBytes":    FormatBytes,
		"formatTime":     FormatTime,
		"isoTime":        isoTime,
		"iframeSnippet":  iframeSnippet,

		"recordingTemplate": recordingTemplate,
		"liveRowTemplate":   liveRowTemplate,
		"roomTemplate":      roomTemplate,
	}
}

// recordingTemplate is the Recording of the <template> row that status.js
// fills for a broadcast that ends while the page is open: its id and URL
// hold the placeholder "__broadcast__".
func recordingTemplate(base, room string) Recording {
	return Recording{ID: "__broadcast__", URL: base + "/" + room + "/playback?b=__broadcast__"}
}

// liveRowTemplate is the Recording of the <template data-amlive-live-row>
// row that status.js fills for a broadcast being recorded that the page
// has no row for: live, its id the placeholder "__broadcast__".
func liveRowTemplate() Recording {
	return Recording{ID: "__broadcast__", Live: true}
}

// roomTemplate is the RoomSummary of the <template> entry that status.js
// fills for a room that goes live while the rooms page is open: its URL
// holds the placeholder "__room__".
func roomTemplate(base string) RoomSummary {
	return RoomSummary{URL: base + "/__room__"}
}

// FormatDuration formats d as "m:ss", or "h:mm:ss" from one hour, rounded
// down to the second; a negative d formats as "0:00".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	h, m, sec := s/3600, s/60%60, s%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

// FormatBytes formats n in decimal units with one decimal: "512 B",
// "1.2 kB", "3.4 MB", "5.6 GB".
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

// FormatTime formats t in UTC as "2 Jan 2006 15:04 UTC"; the zero time
// formats as "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// iframeSnippet returns the markup an app's user pastes to embed the player;
// the template escapes it again for display.
func iframeSnippet(embedURL string) (string, error) {
	if embedURL == "" {
		return "", errors.New("iframeSnippet: empty embed URL")
	}
	return `<iframe src="` + template.HTMLEscapeString(embedURL) +
		`" width="640" height="360" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen` +
		` style="border:0"></iframe>`, nil
}
