package liveplugin

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
)

// Action is what a request wants to do in a room; Config.Authorize decides.
type Action int

// The actions Config.Authorize is asked about.
const (
	// View is watching a room live or its recordings, and reading its status.
	View Action = iota + 1
	// Publish is going live in a room.
	Publish
	// Manage is deleting a room's recordings and ending its broadcast
	// (POST /:id/end).
	Manage
)

// String returns "view", "publish" or "manage".
func (a Action) String() string {
	switch a {
	case View:
		return "view"
	case Publish:
		return "publish"
	case Manage:
		return "manage"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// BroadcastInfo describes a broadcast, live or ended.
type BroadcastInfo struct {
	Room     string `json:"room"`
	ID       string `json:"broadcast"`
	MIMEType string `json:"mimeType,omitempty"`
	// Container is the stream's container, "webm" or "mp4", and Codecs
	// the codecs of MIMEType, e.g. ["avc1.42C01F", "opus"], so that a page
	// can tell whether its browser plays them before it starts a player.
	Container string    `json:"container,omitempty"`
	Codecs    []string  `json:"codecs,omitempty"`
	Started   time.Time `json:"startedAt"`
	Ended     time.Time `json:"endedAt,omitzero"`
	Viewers   int       `json:"viewers"`
	Bytes     int64     `json:"bytes"`
	// Reconnecting is true while the publisher's connection is down and the
	// broadcast waits up to Config.ResumeGrace for it to resume.
	Reconnecting bool   `json:"reconnecting,omitempty"`
	Recording    string `json:"recording,omitempty"` // playback URL; empty if nothing was recorded
	URL          string `json:"url"`                 // the room's watch page
	// Thumbnail is the URL of the broadcast's latest thumbnail (a JPEG
	// still of the broadcaster's preview, GET /:id/thumbnail.jpg),
	// versioned so that it changes with the image; empty while there is
	// none. An ended broadcast's is its recording's.
	Thumbnail string `json:"thumbnail,omitempty"`
	// Title and Description are the broadcast's (see Description);
	// empty when none was set.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Audience summarises the live broadcast's viewers' reports on this
	// node (see Audience); nil while none has reported.
	Audience *Audience `json:"audience,omitempty"`
	// Latency is "low" while the broadcaster uploads WebCodecs' encoded
	// chunks (data-latency="low"): players then decode it themselves
	// where the browser can, a frame at a time. Empty otherwise.
	Latency string `json:"latency,omitempty"`
}

// Cluster shares the live rooms between the nodes of a cluster:
// liveplugin/natscluster builds one. Its methods speak the plugin's
// internal types, so only the packages of this module implement it; the
// contract they keep is described in the natscluster package.
type Cluster = cluster.Provider

// Config configures the plugin. It is passed by value to Register; its zero
// value works: recordings go to "amlive-recordings", anyone may view, nobody
// may publish.
type Config struct {
	// Dir is where recordings are written, one folder per room. Register
	// seals the recordings a crash or kill left unfinished there, so two
	// running plugins must not share it, unless they are nodes of one
	// Cluster: then they may (and should: see Cluster), and recovery
	// leaves alone the recordings of broadcasts live on any node.
	// Optional. Defaults to "amlive-recordings" in the working directory.
	Dir string
	// Cluster shares the live rooms with the plugins of other app
	// servers, so that every replica behind a load balancer serves every
	// room: build one with liveplugin/natscluster. With a Dir shared by
	// the nodes (NFS and the like), every node lists and serves every
	// recording and a broadcast resumed through another node continues
	// the same file; with a Dir of each node's own, each node serves the
	// recordings it wrote, and a broadcast resumed through another node
	// is recorded in two parts, one on each node. Optional. Defaults to
	// nil: the rooms of this process alone.
	Cluster Cluster
	// SyncInterval bounds how long a broadcast's bytes may wait before
	// they are written and fsynced to its recording: a crash loses at most
	// about this much of it. Optional. Defaults to 1 second.
	SyncInterval time.Duration
	// KeepRecordings is how many finished recordings each room keeps, the
	// newest; older ones are deleted when a broadcast is saved and by
	// Register. Optional. Defaults to 0: unlimited.
	KeepRecordings int
	// MaxRecordingBytes bounds the total size of all rooms' recordings: the
	// oldest finished recordings are deleted until they fit, when a
	// broadcast is saved and by Register. Recordings of live broadcasts
	// count but are never deleted. Optional. Defaults to 0: unlimited.
	MaxRecordingBytes int64
	// MaxRecordingAge is how long a recording is kept after its broadcast
	// ended; older ones are deleted when a broadcast is saved and by
	// Register. Optional. Defaults to 0: forever.
	MaxRecordingAge time.Duration

	// Authorize decides whether the request c may perform a in room. It
	// returns nil to allow, ErrSignInRequired (or an *echo.HTTPError with
	// status 401) when the user must sign in first, and any other error to
	// refuse (the error text is not shown to the user unless it is an
	// *echo.HTTPError). It runs synchronously on every page, status,
	// playback and WebSocket request, before any byte is stored, and must
	// not block or write to the response. Optional. Defaults to allowing
	// View and refusing Publish and Manage.
	Authorize func(c echo.Context, room string, a Action) error

	// SignInURL is where the plugin's HTML pages send a visitor whom
	// Authorize asks to sign in (ErrSignInRequired): a redirect to
	// SignInURL with the page's path in the query parameter "next".
	// Optional. Defaults to none: the page answers 401 through the app's
	// error handler.
	SignInURL string

	// OriginPatterns lists the hosts, besides the request's own, from which
	// browsers may open the plugin's WebSockets (patterns as in
	// path.Match, e.g. "*.example.com"). Optional. Defaults to none:
	// cross-origin WebSockets are refused.
	OriginPatterns []string

	// Views overrides the plugin's html/template files: any *.html file in it
	// whose {{define}} names match the defaults' (for example
	// "amlive-player" or "amlive-content" in watch.html) replaces them.
	// The pages are served with a Content-Security-Policy that allows
	// inline <script> and <style> elements only with nonce="{{.Nonce}}"
	// (see SECURITY.md). Optional.
	Views fs.FS
	// ViewData returns the app's own data for the plugin's pages, which
	// their templates find in .App: an override of "amlive-layout" or
	// "amlive-header" in Views shows the site's header and the signed-in
	// user with it. It runs synchronously on every page request and must
	// not block. Optional. Defaults to none: .App is nil.
	ViewData func(c echo.Context) any

	// Logger receives the plugin's logs. Optional. Defaults to slog.Default().
	Logger *slog.Logger

	// Metrics is where Register registers the plugin's Prometheus
	// collectors (the amlive_* metrics; README "Operating amlive" lists
	// them); Close unregisters them. The plugin never touches the global
	// registry: pass prometheus.DefaultRegisterer to use it. The metrics
	// carry no room ids, so their number does not grow with the rooms.
	// Two plugins on one registry collide and the second Register fails
	// (the error wraps the registry's, a
	// prometheus.AlreadyRegisteredError): give each plugin its own value
	// of one label with prometheus.WrapRegistererWith, e.g.
	// prometheus.Labels{"plugin": "talks"} for one and {"plugin": "shows"}
	// for the other. A Cluster's metrics are its
	// own to register (see natscluster's Cluster.Collector). Optional.
	// Defaults to nil: no metrics.
	Metrics prometheus.Registerer
	// MetricsPerRoom, when positive, adds per-room gauges to Metrics
	// (amlive_room_viewers, amlive_room_received_bytes and
	// amlive_room_started_timestamp_seconds, labelled by room) for at
	// most this many live rooms, those with the most viewers; the others
	// are summed under room="_other". They are read from the live rooms
	// at each scrape, so they cost nothing on the media path and vanish
	// when a broadcast ends. Optional. Defaults to 0: no room ids in the
	// metrics.
	MetricsPerRoom int

	// Containers lists the containers uploads may use: "webm" (what
	// Chromium and Firefox record) and "mp4" (fragmented MP4, what Safari
	// and iPhones record, and Chromium with H.264). An upload in another is
	// closed with 4415 before it goes live. Optional. Defaults to both.
	Containers []string

	// Capture is what the broadcaster widget asks of the camera, the
	// microphone and MediaRecorder: the largest picture and frame rate
	// its getUserMedia constraints allow (the resolution picker offers
	// the usual sizes up to it) and the bitrates MediaRecorder aims at.
	// The widget's markup carries it (data attributes of the
	// amlive-broadcaster partial). It is advice to the browser, which may
	// deliver less, and to a page that honours it: the server does not
	// decode video to check the picture, and what it enforces is
	// MaxBitrate, MaxMessageBytes and MaxBroadcastBytes. Optional: see
	// Capture for the defaults.
	Capture Capture

	// MaxMessageBytes bounds one WebSocket message from a publisher; a
	// larger one closes the upload with 4413. Optional. Defaults to 4 MiB.
	MaxMessageBytes int64
	// MaxThumbnailBytes bounds a thumbnail, the JPEG still of its preview
	// that the broadcaster's page sends now and then on the upload socket
	// (base64 in a text message: it must fit in MaxMessageBytes so
	// encoded). A larger one, one that is not a JPEG of 16×16 to
	// 1920×1920 pixels, or one sent within ThumbnailInterval of the last
	// is refused with an error event; the broadcast goes on. Optional.
	// Defaults to 256 KiB, or less when MaxMessageBytes is too small for
	// that: as much as fits.
	MaxThumbnailBytes int
	// ThumbnailInterval is the shortest time between two thumbnails of a
	// broadcast that the server takes in (each costs it a decode); the
	// page sends one every 15 seconds. Optional. Defaults to 5 seconds.
	ThumbnailInterval time.Duration
	// MaxInitBytes bounds the stream header (everything before the first
	// WebM Cluster or MP4 moof); a larger one closes the upload with 4415. Optional.
	// Defaults to 1 MiB.
	MaxInitBytes int
	// MaxRooms bounds the rooms live at once; one more publisher gets 4429.
	// Optional. Defaults to 100.
	MaxRooms int
	// MaxViewers bounds the viewers of one room; one more gets 4429.
	// Optional. Defaults to 5000.
	MaxViewers int
	// MaxTotalViewers bounds the viewers of all rooms. Optional. Defaults
	// to 20000.
	MaxTotalViewers int
	// ViewerUpgrades bounds the viewer WebSockets (subscribe) that one
	// client IP may open: a token bucket per IP (see RateLimit). A
	// connection beyond it is closed with 4429. Optional. Defaults to
	// bursts of 1000, refilled at 600 a minute: a thousand people behind
	// one NAT address may join at once.
	ViewerUpgrades RateLimit
	// PublisherUpgrades bounds the uploads (new broadcasts and resumes)
	// that one client IP may open, as ViewerUpgrades does for viewers.
	// Optional. Defaults to bursts of 20, refilled at 20 a minute.
	PublisherUpgrades RateLimit
	// ClientIP returns the IP address a request comes from, for the
	// per-IP limits and the logs. It must be fast and must not block.
	// Optional. Defaults to the app's Echo IPExtractor when it sets one,
	// and to the connection's remote address otherwise: headers such as
	// X-Forwarded-For, which any client can send, are trusted only when
	// the app's IPExtractor says so (see echo.ExtractIPFromXFFHeader).
	ClientIP func(r *http.Request) string
	// MaxBitrate bounds a publisher's sustained upload in bits per second,
	// averaged over 10 seconds (a burst of 10 s worth is allowed); a
	// faster upload is closed with 4429. Optional. Defaults to 20 Mbit/s.
	MaxBitrate int64
	// MaxBroadcastBytes bounds the bytes of one broadcast; it ends with
	// 4429 when reached. Optional. Defaults to 16 GiB.
	MaxBroadcastBytes int64
	// MaxBroadcast bounds the length of one broadcast; it ends when
	// reached. Optional. Defaults to 12 hours.
	MaxBroadcast time.Duration
	// IdleTimeout ends a broadcast whose publisher sent no media for this
	// long: silence is measured in media (WebM blocks, MP4 track runs),
	// not in messages, so empty messages or elements that carry no frame
	// (Void, empty Clusters, free boxes) do not keep a broadcast alive,
	// and the stream's header and first media must arrive within it. A
	// MediaRecorder writing MP4 sends a fragment per keyframe, so its
	// keyframe interval must be shorter. Closed with 1008. Optional.
	// Defaults to 15 seconds.
	IdleTimeout time.Duration
	// ResumeGrace is how long a broadcast whose upload connection dropped
	// (without the publisher ending it) waits for the publisher to
	// reconnect and resume where the server's last acknowledgement left
	// off; viewers see "reconnecting" meanwhile. After it, the broadcast
	// ends as usual. Negative disables resuming: a drop ends the
	// broadcast at once. Optional. Defaults to 15 seconds.
	ResumeGrace time.Duration
	// WriteTimeout bounds one write to a viewer; a viewer that cannot take
	// a message for this long is disconnected. Optional. Defaults to 10
	// seconds.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings each publisher and
	// viewer; one that does not answer within WriteTimeout (its network or
	// browser is gone) is disconnected, so a vanished peer is noticed
	// within PingInterval + WriteTimeout. Optional. Defaults to 15 seconds.
	PingInterval time.Duration
	// ViewerQueueBytes bounds the media queued for one viewer beyond what
	// it joined with; a viewer that falls further behind skips ahead to
	// the next keyframe. Optional. Defaults to 8 MiB.
	ViewerQueueBytes int64

	// MaxStatusSubscribers bounds the status streams (GET /rooms/events,
	// one per open page that uses status.js) served at once; one more
	// gets 429. Each also takes a token of ViewerUpgrades from its IP.
	// Optional. Defaults to 10000.
	MaxStatusSubscribers int
	// StatusInterval is how often the status streams look for changes
	// that no event of this node announces: viewer counts, and the rooms
	// of other nodes of a Cluster. A broadcast going live or ending on
	// this node is sent at once. Optional. Defaults to 2 seconds.
	StatusInterval time.Duration

	// OnLive is called when a broadcast goes live (its stream header was
	// read). It runs synchronously in the publisher's request and must not
	// block. Optional.
	OnLive func(c echo.Context, b BroadcastInfo)
	// OnEnd is called when a broadcast has ended and its recording is
	// finished. It runs synchronously in the publisher's request and must
	// not block. Optional.
	OnEnd func(c echo.Context, b BroadcastInfo)
	// Describe is called with every title and description a publisher
	// sends (a meta message on its upload socket; see Description), once
	// they passed the plugin's checks, with the upload request that
	// started the broadcast. It returns them as the broadcast shows them,
	// rewritten if the app wishes (moderation, say; the result is checked
	// again), or an error to refuse them: the publisher's page shows the
	// message of an *echo.HTTPError, and a fixed sentence for any other
	// error; the broadcast goes on. Plugin.Describe does not call it. It
	// runs synchronously in the publisher's request and must not block.
	// Optional: without it, what passed the checks is applied.
	Describe func(c echo.Context, room string, d Description) (Description, error)
	// Events are the lifecycle callbacks (live, ended, recording sealed
	// or failed, limit reached), delivered from a bounded queue on a
	// goroutine of the plugin, never blocking a broadcast: see Events.
	// Optional.
	Events Events
}

// Capture is what the broadcaster widget asks of the browser (see
// Config.Capture): MaxWidth×MaxHeight is the largest picture its
// getUserMedia constraints allow (where a camera cannot meet them, a
// phone's held upright for one, the widget asks again with ideal values
// only), MaxFrameRate the highest frame rate, VideoBitsPerSecond and AudioBitsPerSecond the bitrates passed to
// MediaRecorder. Zero fields take the defaults: 1280×720, 30 frames per
// second, 2.5 Mbit/s of video and 128 kbit/s of audio (less when
// Config.MaxBitrate is lower: three quarters of it for both together).
// Together the bitrates must not exceed Config.MaxBitrate, which closes
// an upload that sends more.
type Capture struct {
	MaxWidth, MaxHeight int // pixels; optional, defaults to 1280×720
	MaxFrameRate        int // frames per second; optional, defaults to 30
	VideoBitsPerSecond  int // optional, defaults to 2500000
	AudioBitsPerSecond  int // optional, defaults to 128000
	// LowLatency has every broadcaster widget ask for low latency, as
	// data-latency="low" on a page does: where the browser has WebCodecs
	// it uploads encoded chunks, a frame at a time, and the room's
	// players decode them the same way (see BroadcastInfo.Latency).
	// Elsewhere the widget records with MediaRecorder as usual.
	LowLatency bool
}

// The defaults of Config.Capture.
const (
	defaultCaptureWidth     = 1280
	defaultCaptureHeight    = 720
	defaultCaptureFrameRate = 30
	defaultCaptureVideoBPS  = 2_500_000
	defaultCaptureAudioBPS  = 128_000
	maxCaptureSide          = 7680 // 8K: beyond it is a typo
	maxCaptureFrameRate     = 240
)

// withDefaults fills c's zero fields; maxBitrate is Config.MaxBitrate,
// already defaulted: the default bitrates keep within three quarters of it.
func (c Capture) withDefaults(maxBitrate int64) Capture {
	setDefault(&c.MaxWidth, defaultCaptureWidth)
	setDefault(&c.MaxHeight, defaultCaptureHeight)
	setDefault(&c.MaxFrameRate, defaultCaptureFrameRate)
	budget := max(2, maxBitrate*3/4)
	if c.AudioBitsPerSecond == 0 {
		c.AudioBitsPerSecond = int(min(defaultCaptureAudioBPS, budget/8))
	}
	if c.VideoBitsPerSecond == 0 {
		c.VideoBitsPerSecond = int(max(1, min(defaultCaptureVideoBPS, budget-int64(c.AudioBitsPerSecond))))
	}
	return c
}

// validate reports each of c's fields out of range, named Capture.X.
func (c Capture) validate(maxBitrate int64) []error {
	var errs []error
	between := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("liveplugin: Capture.%s must be in [%d, %d], got %d", name, lo, hi, v))
		}
	}
	between("MaxWidth", c.MaxWidth, 16, maxCaptureSide)
	between("MaxHeight", c.MaxHeight, 16, maxCaptureSide)
	between("MaxFrameRate", c.MaxFrameRate, 1, maxCaptureFrameRate)
	if c.VideoBitsPerSecond <= 0 {
		errs = append(errs, fmt.Errorf("liveplugin: Capture.VideoBitsPerSecond must be > 0, got %d", c.VideoBitsPerSecond))
	}
	if c.AudioBitsPerSecond <= 0 {
		errs = append(errs, fmt.Errorf("liveplugin: Capture.AudioBitsPerSecond must be > 0, got %d", c.AudioBitsPerSecond))
	}
	if sum := int64(c.VideoBitsPerSecond) + int64(c.AudioBitsPerSecond); maxBitrate > 0 && sum > maxBitrate {
		errs = append(errs, fmt.Errorf("liveplugin: Capture.VideoBitsPerSecond + Capture.AudioBitsPerSecond (%d) must not exceed MaxBitrate (%d)", sum, maxBitrate))
	}
	return errs
}

// The defaults of Config's fields, as its docs state, named after them.
const (
	defaultDir               = "amlive-recordings"
	defaultMaxMessageBytes   = 4 << 20
	defaultMaxInitBytes      = 1 << 20
	defaultMaxRooms          = 100
	defaultMaxViewers        = 5000
	defaultMaxTotalViewers   = 20000
	defaultMaxBroadcast      = 12 * time.Hour
	defaultMaxBitrate        = 20_000_000
	defaultMaxBroadcastBytes = 16 << 30
	defaultIdleTimeout       = 15 * time.Second
	defaultResumeGrace       = 15 * time.Second
	defaultWriteTimeout      = 10 * time.Second
	defaultViewerQueueBytes  = 8 << 20
	defaultPingInterval      = 15 * time.Second
	defaultSyncInterval      = time.Second
)

func (c Config) withDefaults() Config {
	if c.Dir == "" {
		c.Dir = defaultDir
	}
	if c.Authorize == nil {
		c.Authorize = defaultAuthorize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	setDefault(&c.MaxMessageBytes, defaultMaxMessageBytes)
	setDefault(&c.MaxInitBytes, defaultMaxInitBytes)
	if c.MaxThumbnailBytes == 0 { // after MaxMessageBytes: it must fit in one
		c.MaxThumbnailBytes = max(1, min(defaultMaxThumbnailBytes, maxThumbnailFitting(c.MaxMessageBytes)))
	}
	setDefault(&c.ThumbnailInterval, defaultThumbnailInterval)
	setDefault(&c.MaxRooms, defaultMaxRooms)
	setDefault(&c.MaxViewers, defaultMaxViewers)
	setDefault(&c.MaxTotalViewers, defaultMaxTotalViewers)
	setDefault(&c.MaxBroadcast, defaultMaxBroadcast)
	setDefault(&c.ViewerUpgrades, defaultViewerUpgrades)
	setDefault(&c.PublisherUpgrades, defaultPublisherUpgrades)
	setDefault(&c.MaxBitrate, defaultMaxBitrate)
	setDefault(&c.MaxBroadcastBytes, defaultMaxBroadcastBytes)
	if c.MaxBitrate > 0 { // a negative one is reported by validate
		c.Capture = c.Capture.withDefaults(c.MaxBitrate)
	}
	setDefault(&c.IdleTimeout, defaultIdleTimeout)
	setDefault(&c.ResumeGrace, defaultResumeGrace)
	setDefault(&c.WriteTimeout, defaultWriteTimeout)
	setDefault(&c.ViewerQueueBytes, defaultViewerQueueBytes)
	setDefault(&c.PingInterval, defaultPingInterval)
	setDefault(&c.SyncInterval, defaultSyncInterval)
	setDefault(&c.Events.QueueSize, defaultEventQueue)
	setDefault(&c.MaxStatusSubscribers, defaultMaxStatusSubscribers)
	setDefault(&c.StatusInterval, defaultStatusInterval)
	return c
}

// bitrateWindow is the window, in seconds, over which MaxBitrate is averaged.
const bitrateWindow = 10

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// validate reports every field that is out of range.
func (c Config) validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("liveplugin: %s must be > 0, got %d", name, v))
		}
	}
	positive("MaxMessageBytes", c.MaxMessageBytes)
	positive("MaxInitBytes", int64(c.MaxInitBytes))
	positive("MaxThumbnailBytes", int64(c.MaxThumbnailBytes))
	positive("ThumbnailInterval", int64(c.ThumbnailInterval))
	if c.MaxThumbnailBytes > 0 && c.MaxMessageBytes > 0 && maxThumbnailMessage(c.MaxThumbnailBytes) > c.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("liveplugin: MaxThumbnailBytes (%d) must fit in MaxMessageBytes (%d) once base64-encoded (%d bytes)",
			c.MaxThumbnailBytes, c.MaxMessageBytes, maxThumbnailMessage(c.MaxThumbnailBytes)))
	}
	positive("MaxRooms", int64(c.MaxRooms))
	positive("MaxViewers", int64(c.MaxViewers))
	positive("MaxTotalViewers", int64(c.MaxTotalViewers))
	positive("MaxBroadcast", int64(c.MaxBroadcast))
	if c.MetricsPerRoom < 0 {
		errs = append(errs, fmt.Errorf("liveplugin: MetricsPerRoom must be >= 0, got %d", c.MetricsPerRoom))
	}
	for _, l := range []struct {
		name string
		RateLimit
	}{{"ViewerUpgrades", c.ViewerUpgrades}, {"PublisherUpgrades", c.PublisherUpgrades}} {
		if !l.valid() {
			errs = append(errs, fmt.Errorf("liveplugin: %s must have PerMinute > 0 and Burst > 0, got %+v", l.name, l.RateLimit))
		}
	}
	positive("MaxBitrate", c.MaxBitrate)
	positive("MaxBroadcastBytes", c.MaxBroadcastBytes)
	if c.MaxBitrate > 0 && c.MaxMessageBytes > c.MaxBitrate*bitrateWindow/8 {
		errs = append(errs, fmt.Errorf("liveplugin: MaxMessageBytes (%d) must not exceed what MaxBitrate allows in %d s (%d bytes)",
			c.MaxMessageBytes, bitrateWindow, c.MaxBitrate*bitrateWindow/8))
	}
	if c.MaxBitrate > 0 {
		errs = append(errs, c.Capture.validate(c.MaxBitrate)...)
	}
	positive("IdleTimeout", int64(c.IdleTimeout))
	positive("WriteTimeout", int64(c.WriteTimeout))
	positive("ViewerQueueBytes", c.ViewerQueueBytes)
	positive("PingInterval", int64(c.PingInterval))
	positive("SyncInterval", int64(c.SyncInterval))
	positive("Events.QueueSize", int64(c.Events.QueueSize))
	positive("MaxStatusSubscribers", int64(c.MaxStatusSubscribers))
	positive("StatusInterval", int64(c.StatusInterval))
	nonNegative := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("liveplugin: %s must be >= 0, got %d", name, v))
		}
	}
	nonNegative("KeepRecordings", int64(c.KeepRecordings))
	nonNegative("MaxRecordingBytes", c.MaxRecordingBytes)
	nonNegative("MaxRecordingAge", int64(c.MaxRecordingAge))
	if _, err := parseContainers(c.Containers); err != nil {
		errs = append(errs, err)
	}
	if c.MaxViewers > c.MaxTotalViewers && c.MaxTotalViewers > 0 {
		errs = append(errs, fmt.Errorf("liveplugin: MaxViewers (%d) must not exceed MaxTotalViewers (%d)", c.MaxViewers, c.MaxTotalViewers))
	}
	return errors.Join(errs...)
}

// defaultAuthorize lets anyone view and nobody publish or manage.
func defaultAuthorize(_ echo.Context, _ string, a Action) error {
	if a == View {
		return nil
	}
	return ErrNoAuthorize
}
