package liveplugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/assets"
	"github.com/amlive/amlive/liveplugin/internal/cluster"
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
	rooms  cluster.Rooms // the live rooms: p.hub's, or a cluster's
	store  *record.Store
	views  *views.Set
	base   string // route prefix, e.g. "/live"
	assets map[string]asset
	// containers are the upload containers Config.Containers accepts.
	containers []container

	// metrics counts what happens for Config.Metrics; nil counts nothing.
	metrics *metrics

	// upgrades counts WebSocket upgrades per client IP and role.
	upgrades *upgradeLimiter

	deadPeers atomic.Int64 // WebSockets cut by keepAlive
	// reports are the viewers' experience reports (see reports.go).
	reports *reports
	// heldMax is the most ingest state one publisher held between two
	// messages since Register (see publisher.held), for the tests' bound.
	heldMax atomic.Int64

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

	events *eventQueue // Config.Events' delivery
	feed   *statusFeed // GET /rooms/events

	closeOnce sync.Once
	closed    chan struct{} // closed when Close has ended everything
}

// Register mounts the plugin's routes on r, relative to r (under a group
// "/live", the watch page is "/live/:id"):
//
//	GET    /                  rooms live now (HTML)
//	GET    /rooms             rooms live now (JSON)
//	GET    /rooms/events      rooms live now and their changes (Server-Sent Events)
//	GET    /assets/*          embedded JavaScript and CSS
//	GET    /:id               watch page: live player, or the latest recording
//	GET    /:id/embed         chromeless player for an <iframe>
//	GET    /:id/broadcast     broadcaster page (Publish)
//	GET    /:id/upload        WebSocket: the publisher's stream in (Publish)
//	GET    /:id/subscribe     WebSocket: a viewer's stream out
//	GET    /:id/meta          init segment of the live broadcast
//	GET    /:id/status        JSON status of the room
//	GET    /:id/playback      latest recording, or ?b=<broadcast>; Range requests
//	GET    /:id/thumbnail.jpg the live broadcast's latest thumbnail, or ?b=<broadcast>'s
//	GET    /:id/recordings    JSON list of the room's recordings
//	DELETE /:id/recordings/:b delete a recording (Manage)
//	POST   /:id/end           end the live broadcast (Manage; see Plugin.End)
//
// GET /rooms/events is a text/event-stream that status.js shares between
// the widgets of a page. It starts with "retry: 2000" and a "snapshot"
// event, then sends each change as it happens, every data line one JSON
// object; lines starting with ":" are heartbeats, every PingInterval:
//
//	event: snapshot   {"rooms":[live…], "recordings":{"alice":[recording…]}}
//	event: live       a live room, new or changed (publisher reconnecting)
//	event: viewers    {"room","broadcast","viewers"}
//	event: ended      {"room","broadcast","recording":recording|null}
//
// A live room is a BroadcastInfo (as GET /rooms lists them) plus
// "sinceText"; a recording is a Recording (as GET /:id/recordings lists
// them) plus "startText", "durationText" and "sizeText", formatted as the
// pages format them. The snapshot holds the recordings of the rooms named
// by ?room= (up to 8, each its 20 newest). A stream sees only the rooms
// Authorize lets it View. Streams count against ViewerUpgrades per IP and
// MaxStatusSubscribers (429 beyond); one that falls behind is closed and
// its browser reconnects to a new snapshot.
//
// It fills cfg's defaults, validates it, parses the views and opens the
// recordings directory; it returns an error and mounts nothing if any of
// that fails. It then starts sealing, in the background, the recordings
// a crash or kill left unfinished in Dir (Close waits for it), and
// applies the retention limits (KeepRecordings, MaxRecordingBytes,
// MaxRecordingAge), logging what it did. It registers the plugin's
// metrics on cfg.Metrics, if set, and fails if they collide with ones
// registered there already. It never changes r's renderer, error handler
// or middleware.
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
			Events:          viewerEvents{},
		}),
		closed:   make(chan struct{}),
		upgrades: newUpgradeLimiter(cfg.ViewerUpgrades, cfg.PublisherUpgrades),
		reports:  newReports(),
	}
	p.containers, _ = parseContainers(cfg.Containers) // validate checked it
	if p.assets, err = loadAssets(assets.FS); err != nil {
		return nil, err
	}
	if p.views, err = views.New(cfg.Views, p.FuncMap()); err != nil {
		return nil, fmt.Errorf("liveplugin: views: %w", err)
	}
	if cfg.Cluster == nil {
		p.rooms = cluster.NewLocal(p.hub, p.stopLocal, p.describeLocal)
	} else if p.rooms, err = cfg.Cluster.Rooms(p.clusterNode()); err != nil {
		return nil, fmt.Errorf("liveplugin: cluster: %w", err)
	}
	if p.metrics, err = newMetrics(p, cfg.Metrics); err != nil {
		return nil, errors.Join(err, p.rooms.Close())
	}
	p.events = newEventQueue(cfg.Events.QueueSize)
	p.feed = newStatusFeed(p, cfg.StatusInterval, cfg.MaxStatusSubscribers)
	p.pubCtx, p.pubCancel = context.WithCancel(context.Background())
	p.subCtx, p.subCancel = context.WithCancel(context.Background())
	p.recoverRecordings()
	p.pruneRecordings()

	route := r.Add(http.MethodGet, "/:id/meta", p.meta)
	p.base = strings.TrimSuffix(route.Path, "/:id/meta")
	r.Add(http.MethodGet, "", p.roomsPage)
	r.Add(http.MethodGet, "/", p.roomsPage)
	r.Add(http.MethodGet, "/rooms", p.roomsJSON)
	r.Add(http.MethodGet, "/rooms/events", p.statusEvents)
	r.Add(http.MethodGet, "/assets/*", p.asset)
	r.Add(http.MethodGet, "/:id", p.watchPage)
	r.Add(http.MethodGet, "/:id/embed", p.embedPage)
	r.Add(http.MethodGet, "/:id/broadcast", p.broadcastPage)
	r.Add(http.MethodGet, "/:id/upload", p.upload)
	r.Add(http.MethodGet, "/:id/subscribe", p.subscribe)
	r.Add(http.MethodGet, "/:id/status", p.status)
	r.Add(http.MethodGet, "/:id/playback", p.playback)
	r.Add(http.MethodHead, "/:id/playback", p.playback)
	r.Add(http.MethodGet, "/:id/thumbnail.jpg", p.serveThumbnail)
	r.Add(http.MethodHead, "/:id/thumbnail.jpg", p.serveThumbnail)
	r.Add(http.MethodGet, "/:id/recordings", p.recordings)
	r.Add(http.MethodDelete, "/:id/recordings/:b", p.deleteRecording)
	r.Add(http.MethodPost, "/:id/end", p.endRoute)
	return p, nil
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
	p.feed.close() // after the broadcasts' ended events
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
	if err := p.rooms.Close(); err != nil {
		p.log.Error("cluster not closed", "err", err)
	}
	p.metrics.unregister()
	p.events.close() // delivers the broadcasts' last events
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
