package hub

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the hub.
var (
	// ErrRoomLive is returned by Hub.Start when the room already has a live broadcast.
	ErrRoomLive = errors.New("hub: room already live")
	// ErrNotLive is returned by Hub.Subscribe when the room has no live broadcast.
	ErrNotLive = errors.New("hub: room not live")
	// ErrClosed is returned once the hub is closed.
	ErrClosed = errors.New("hub: closed")
	// ErrTooSlow is returned by Subscriber.Next when the subscriber fell behind
	// too often and was dropped.
	ErrTooSlow = errors.New("hub: viewer too slow")
)

// LimitError reports that a configured limit was reached.
type LimitError struct {
	Name string // the limit, e.g. "MaxViewers"
	Max  int    // its value
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("hub: %s reached (%d)", e.Name, e.Max)
}

// Config sets the hub's limits. A zero field takes its default.
type Config struct {
	// QueueMessages bounds each subscriber's queue in messages. Optional.
	// Defaults to 1024.
	QueueMessages int
	// QueueBytes bounds each subscriber's queue in bytes of media not yet
	// written. Optional. Defaults to 8 MiB.
	QueueBytes int64
	// MaxGOPBytes bounds the GOP cache of a broadcast. A group of pictures
	// larger than this gives no join point: joiners wait for the next
	// keyframe. Optional. Defaults to 32 MiB.
	MaxGOPBytes int64
	// SlowSkips is how many times within SlowWindow a subscriber may
	// overflow its queue before it is dropped. Optional. Defaults to 3.
	SlowSkips int
	// SlowWindow is the window for SlowSkips. Optional. Defaults to 1 minute.
	SlowWindow time.Duration
	// ViewersInterval is the least time between two viewer-count events
	// to one subscriber (the first, right after hello, is not held back).
	// Each event costs a write to every viewer, and with many viewers the
	// count changes all the time. Optional. Defaults to 1 second.
	ViewersInterval time.Duration
	// MaxRooms bounds the broadcasts live at once; 0 means no limit.
	MaxRooms int
	// MaxViewers bounds the subscribers of one broadcast; 0 means no limit.
	MaxViewers int
	// MaxTotalViewers bounds the subscribers of all broadcasts; 0 means no limit.
	MaxTotalViewers int
	// Now returns the current time. Optional. Defaults to time.Now.
	Now func() time.Time
	// Events encodes the text events subscribers receive. The hub calls
	// it once per event, not once per subscriber, and never modifies
	// what it returns. Required.
	Events Encoder
}

// Encoder encodes the text events of the subscribe protocol. Its methods
// are called with the broadcast's lock held and must not block.
type Encoder interface {
	// Hello starts a broadcast for a subscriber: the stream's MIME type,
	// the broadcast id and when it started.
	Hello(mime, broadcast string, started time.Time) []byte
	// Viewers is the broadcast's viewer count.
	Viewers(count int) []byte
	// Skip tells a subscriber that it fell behind: the init segment
	// follows again, then media from a join point.
	Skip() []byte
	// Reconnecting tells that the publisher's connection dropped.
	Reconnecting() []byte
	// Resumed tells that the publisher is back.
	Resumed() []byte
	// End ends the broadcast, naming its recording's URL (may be empty)
	// and the reason the site ended it (empty when it did not).
	End(broadcast, recording, reason string) []byte
}

func (c Config) withDefaults() Config {
	if c.QueueMessages <= 0 {
		c.QueueMessages = 1024
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 8 << 20
	}
	if c.MaxGOPBytes <= 0 {
		c.MaxGOPBytes = 32 << 20
	}
	if c.SlowSkips <= 0 {
		c.SlowSkips = 3
	}
	if c.SlowWindow <= 0 {
		c.SlowWindow = time.Minute
	}
	if c.ViewersInterval <= 0 {
		c.ViewersInterval = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Hub holds the live broadcasts, at most one per room. It is safe for
// concurrent use. The zero value is not usable: call New.
type Hub struct {
	cfg Config

	// The events that never change, encoded once.
	skipMsg, reconnectingMsg, resumedMsg Message

	queued    atomic.Int64 // media bytes queued for all subscribers
	skips     atomic.Int64 // overflows of all subscribers
	slowDrops atomic.Int64 // subscribers dropped with ErrTooSlow

	mu       sync.Mutex
	rooms    map[string]*Broadcast
	viewers  int // subscribers of all broadcasts
	isClosed bool
}

// New returns an empty hub with cfg's limits. It panics if cfg.Events is
// nil.
func New(cfg Config) *Hub {
	if cfg.Events == nil {
		panic("hub: Config.Events is nil")
	}
	ev := cfg.Events
	return &Hub{
		cfg:             cfg.withDefaults(),
		rooms:           make(map[string]*Broadcast),
		skipMsg:         textMessage(kindSkip, ev.Skip()),
		reconnectingMsg: textMessage(kindState, ev.Reconnecting()),
		resumedMsg:      textMessage(kindState, ev.Resumed()),
	}
}

// Start begins broadcast id in room. It fails with ErrRoomLive if the room
// is already live, with a *LimitError if MaxRooms broadcasts are live, and
// with ErrClosed after Close. The caller owns the returned broadcast and
// must End it.
func (h *Hub) Start(room, id string, started time.Time) (*Broadcast, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.isClosed {
		return nil, ErrClosed
	}
	if _, ok := h.rooms[room]; ok {
		return nil, ErrRoomLive
	}
	if h.cfg.MaxRooms > 0 && len(h.rooms) >= h.cfg.MaxRooms {
		return nil, &LimitError{Name: "MaxRooms", Max: h.cfg.MaxRooms}
	}
	b := &Broadcast{
		h:         h,
		room:      room,
		id:        id,
		started:   started,
		subs:      make(map[*Subscriber]struct{}),
		viewersCh: make(chan struct{}, 1),
	}
	h.rooms[room] = b
	return b, nil
}

// Subscribe adds a subscriber to the live broadcast of room. It fails with
// ErrNotLive when the room is not live, and with a *LimitError when
// MaxViewers or MaxTotalViewers is reached. The caller must Close the
// subscriber.
func (h *Hub) Subscribe(room string) (*Subscriber, error) {
	h.mu.Lock()
	b, ok := h.rooms[room]
	h.mu.Unlock()
	if !ok {
		return nil, ErrNotLive
	}
	return b.subscribe()
}

// Lookup returns the broadcast of room, if any, including one that has
// not sent its init segment yet (see LookupLive).
func (h *Hub) Lookup(room string) (*Broadcast, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.rooms[room]
	return b, ok
}

// LookupLive returns room's broadcast if it has its init segment: live as
// far as viewers and listings are concerned.
func (h *Hub) LookupLive(room string) (*Broadcast, bool) {
	b, ok := h.Lookup(room)
	if !ok {
		return nil, false
	}
	if _, _, ok := b.Init(); !ok {
		return nil, false
	}
	return b, true
}

// Live returns a snapshot of the live broadcasts, newest first: those
// that have their init segment (SetInit). A broadcast that has not sent
// its header yet holds its room but is not listed.
func (h *Hub) Live() []Info {
	h.mu.Lock()
	bs := make([]*Broadcast, 0, len(h.rooms))
	for _, b := range h.rooms {
		bs = append(bs, b)
	}
	h.mu.Unlock()
	infos := make([]Info, 0, len(bs))
	for _, b := range bs {
		if in := b.Info(); in.MIMEType != "" {
			infos = append(infos, in)
		}
	}
	slices.SortFunc(infos, func(a, b Info) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return cmp.Compare(a.Room, b.Room)
	})
	return infos
}

// Viewers returns the number of subscribers of all broadcasts.
func (h *Hub) Viewers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.viewers
}

// Stats are counters of a hub.
type Stats struct {
	// QueuedBytes is the media queued for all subscribers and not yet
	// taken by Next, summed over subscribers. Subscribers share chunks, so
	// the memory it stands for is at most that of the largest queue.
	QueuedBytes int64
	// Skips counts the times a subscriber overflowed its queue and skipped
	// ahead, since New.
	Skips int64
	// SlowDrops counts the subscribers dropped with ErrTooSlow, since New.
	SlowDrops int64
}

// Stats returns the hub's counters. It is safe for concurrent use.
func (h *Hub) Stats() Stats {
	return Stats{QueuedBytes: h.queued.Load(), Skips: h.skips.Load(), SlowDrops: h.slowDrops.Load()}
}

// Close makes Start fail with ErrClosed from now on. The broadcasts still
// live go on until their owners End them. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.isClosed = true
}

// addViewer reserves a place for one more subscriber of b, whose current
// count is n.
func (h *Hub) addViewer(n int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cfg.MaxViewers > 0 && n >= h.cfg.MaxViewers {
		return &LimitError{Name: "MaxViewers", Max: h.cfg.MaxViewers}
	}
	if h.cfg.MaxTotalViewers > 0 && h.viewers >= h.cfg.MaxTotalViewers {
		return &LimitError{Name: "MaxTotalViewers", Max: h.cfg.MaxTotalViewers}
	}
	h.viewers++
	return nil
}

func (h *Hub) removeViewer() {
	h.mu.Lock()
	h.viewers--
	h.mu.Unlock()
}

func (h *Hub) remove(b *Broadcast) {
	h.mu.Lock()
	if h.rooms[b.room] == b {
		delete(h.rooms, b.room)
	}
	h.mu.Unlock()
}
