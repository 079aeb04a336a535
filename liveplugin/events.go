package liveplugin

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/record"
)

// Events are the plugin's lifecycle callbacks, set in Config.Events. Each
// is optional. They are delivered in order, one at a time, from a bounded
// queue on a goroutine the plugin owns, never on an upload's or a viewer's
// goroutine: a slow callback delays the events after it, never a
// broadcast. When QueueSize events wait already, a new one is dropped and
// counted (see Plugin.DroppedEvents). Plugin.Close delivers what is queued
// once every broadcast has ended, then stops the goroutine (a callback
// that never returns keeps Close waiting until its context ends); an
// event that happens after that is dropped. A callback must not call
// Plugin.Close. liveplugin/webhook turns them into signed
// webhooks.
type Events struct {
	// Live is called when a broadcast goes live (its stream header was
	// read).
	Live func(BroadcastInfo)
	// Ended is called when a broadcast has ended and its recording is
	// finished.
	Ended func(EndedEvent)
	// RecordingSealed is called when a broadcast's recording was sealed
	// into a seekable file.
	RecordingSealed func(RecordingEvent)
	// RecordingFailed is called when a broadcast's recording stopped
	// early (the disk refused a write) or could not be started or sealed;
	// the broadcast itself goes on.
	RecordingFailed func(RecordingFailedEvent)
	// LimitReached is called when a configured limit refused or ended a
	// publisher or a viewer.
	LimitReached func(LimitEvent)
	// QueueSize bounds the events waiting for delivery. Optional.
	// Defaults to 256.
	QueueSize int
}

// defaultEventQueue is Events.QueueSize's default.
const defaultEventQueue = 256

// Why a broadcast ended, in EndedEvent.Why.
const (
	EndedByPublisher = "publisher" // the publisher ended it
	EndedBySite      = "site"      // Plugin.End or POST /:id/end
	EndedLost        = "lost"      // the publisher's connection dropped and did not resume
	EndedIdle        = "idle"      // no media within IdleTimeout
	EndedLimit       = "limit"     // a limit such as MaxBroadcast or MaxBitrate
	EndedInvalid     = "invalid"   // the stream was not playable WebM or MP4
	EndedShutdown    = "shutdown"  // Plugin.Close
	EndedFenced      = "fenced"    // the cluster gave the room to another node
	EndedError       = "error"     // anything else
)

// EndedEvent is a broadcast that ended.
type EndedEvent struct {
	Broadcast BroadcastInfo `json:"broadcast"`
	// Why is one of the Ended* constants.
	Why string `json:"why"`
	// Reason is the site's reason when Why is EndedBySite.
	Reason string `json:"reason,omitempty"`
}

// RecordingEvent is a recording that was sealed.
type RecordingEvent struct {
	Room      string        `json:"room"`
	Broadcast string        `json:"broadcast"`
	Bytes     int64         `json:"bytes"`
	Duration  time.Duration `json:"-"`
	// DurationMs is Duration in milliseconds, for JSON.
	DurationMs int64  `json:"durationMs"`
	Path       string `json:"path"` // the file under Config.Dir
	URL        string `json:"url"`  // its playback URL
}

// RecordingFailedEvent is a recording that stopped early or could not be
// sealed.
type RecordingFailedEvent struct {
	Room      string `json:"room"`
	Broadcast string `json:"broadcast"`
	Err       error  `json:"-"`
	// Error is Err's text.
	Error string `json:"error"`
}

// LimitEvent is a configured limit that refused or ended a connection.
type LimitEvent struct {
	// Limit is the Config field, such as "MaxViewers" or "MaxBroadcast".
	Limit string `json:"limit"`
	Room  string `json:"room"`
	// Role is "publisher" or "viewer".
	Role string `json:"role"`
}

// eventQueue delivers Events from one goroutine.
type eventQueue struct {
	mu      sync.Mutex
	ch      chan func()
	closed  bool
	done    chan struct{}
	dropped atomic.Int64
}

func newEventQueue(size int) *eventQueue {
	q := &eventQueue{ch: make(chan func(), size), done: make(chan struct{})}
	go func() { // exits when close closes ch
		defer close(q.done)
		for f := range q.ch {
			f()
		}
	}()
	return q
}

// push queues f, or drops and counts it when the queue is full or closed.
func (q *eventQueue) push(f func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.dropped.Add(1)
		return
	}
	select {
	case q.ch <- f:
	default:
		q.dropped.Add(1)
	}
}

// close delivers what is queued and waits for the goroutine to exit.
func (q *eventQueue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	<-q.done
}

// DroppedEvents returns how many lifecycle events were dropped because
// Config.Events' queue was full or the plugin had closed.
func (p *Plugin) DroppedEvents() int64 { return p.events.dropped.Load() }

func (p *Plugin) emitLive(b BroadcastInfo) {
	if f := p.cfg.Events.Live; f != nil {
		p.events.push(func() { f(b) })
	}
}

func (p *Plugin) emitEnded(b BroadcastInfo, err error) {
	if f := p.cfg.Events.Ended; f != nil {
		e := EndedEvent{Broadcast: b, Why: endedWhy(err)}
		if es, ok := errors.AsType[*endedBySiteError](err); ok {
			e.Reason = es.reason
		}
		p.events.push(func() { f(e) })
	}
}

func (p *Plugin) emitRecordingSealed(m record.Meta) {
	if f := p.cfg.Events.RecordingSealed; f != nil {
		path, _ := p.store.Path(m.Room, m.Broadcast)
		e := RecordingEvent{Room: m.Room, Broadcast: m.Broadcast, Bytes: m.Bytes, Duration: m.Duration,
			DurationMs: m.Duration.Milliseconds(), Path: path, URL: p.playbackURL(m.Room, m.Broadcast)}
		p.events.push(func() { f(e) })
	}
}

// roleName is LimitEvent.Role.
func roleName(publisher bool) string {
	if publisher {
		return "publisher"
	}
	return "viewer"
}

func (p *Plugin) emitRecordingFailed(room, id string, err error) {
	if f := p.cfg.Events.RecordingFailed; f != nil {
		e := RecordingFailedEvent{Room: room, Broadcast: id, Err: err, Error: err.Error()}
		p.events.push(func() { f(e) })
	}
}

// emitLimit reports err if it is a limit's.
func (p *Plugin) emitLimit(room, role string, err error) {
	f := p.cfg.Events.LimitReached
	if f == nil || err == nil {
		return
	}
	name := ""
	if le, ok := errors.AsType[*limitError](translate(err)); ok {
		name = le.Name
	} else if errors.Is(err, errTooLong) {
		name = "MaxBroadcast"
	}
	if name == "" {
		return
	}
	e := LimitEvent{Limit: name, Room: room, Role: role}
	p.events.push(func() { f(e) })
}

// endedWhy says why a broadcast that ended with err ended.
func endedWhy(err error) string {
	err = translate(err)
	switch {
	case errors.Is(err, errEndedBySite):
		return EndedBySite
	case errors.Is(err, errEnd), errors.Is(err, errEnded):
		return EndedByPublisher
	case errors.Is(err, errLost):
		return EndedLost
	case errors.Is(err, errIdle):
		return EndedIdle
	case errors.Is(err, errTooLong):
		return EndedLimit
	case errors.Is(err, ErrClosed):
		return EndedShutdown
	case errors.Is(err, errFenced):
		return EndedFenced
	}
	if _, ok := errors.AsType[*limitError](err); ok {
		return EndedLimit
	}
	switch classify(err).code {
	case StatusUnsupportedData, StatusTooLarge:
		return EndedInvalid
	}
	if c := classify(err); c.name == "publisher closed" {
		return EndedByPublisher
	}
	return EndedError
}
