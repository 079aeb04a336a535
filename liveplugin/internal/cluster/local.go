package cluster

import (
	"context"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// Local keeps every room in one process's hub: the plugin's default. A
// takeover never happens, since the node that holds a broadcast's
// publisher is the only node.
type Local struct {
	h        *hub.Hub
	stop     func(room, reason string) error
	describe func(room, title, description string) error
}

// NewLocal returns the Rooms of one process, kept in h; stop and
// describe are its Node.Stop and Node.Describe (nil: Stop or Describe
// always answers hub.ErrNotLive).
func NewLocal(h *hub.Hub, stop func(room, reason string) error, describe func(room, title, description string) error) *Local {
	return &Local{h: h, stop: stop, describe: describe}
}

// Describe implements Rooms: the publisher is on this node, if anywhere.
func (l *Local) Describe(_ context.Context, room, title, description string) error {
	if l.describe == nil {
		return hub.ErrNotLive
	}
	return l.describe(room, title, description)
}

// Stop implements Rooms: the publisher is on this node, if anywhere.
func (l *Local) Stop(_ context.Context, room, reason string) error {
	if l.stop == nil {
		return hub.ErrNotLive
	}
	return l.stop(room, reason)
}

// Start implements Rooms.
func (l *Local) Start(_ context.Context, room, id, _ string, started time.Time) (Origin, error) {
	b, err := l.h.Start(room, id, started)
	if err != nil {
		return nil, err
	}
	return LocalOrigin{b}, nil
}

// Subscribe implements Rooms.
func (l *Local) Subscribe(_ context.Context, room string) (*hub.Subscriber, error) {
	return l.h.Subscribe(room)
}

// Lookup implements Rooms.
func (l *Local) Lookup(room string) (hub.Info, bool) {
	b, ok := l.h.LookupLive(room)
	if !ok {
		return hub.Info{}, false
	}
	return b.Info(), true
}

// Live implements Rooms.
func (l *Local) Live() []hub.Info { return l.h.Live() }

// Init implements Rooms.
func (l *Local) Init(_ context.Context, room string) (string, []byte, error) {
	b, ok := l.h.LookupLive(room)
	if !ok {
		return "", nil, hub.ErrNotLive
	}
	mime, init, _ := b.Init()
	return mime, init, nil
}

// Takeover implements Rooms: there is never another node to take over
// from.
func (l *Local) Takeover(context.Context, string, string, func(room, id string) bool) (*Handover, error) {
	return nil, ErrNoTakeover
}

// Stats implements Rooms.
func (l *Local) Stats() hub.Stats { return l.h.Stats() }

// Viewers implements Rooms.
func (l *Local) Viewers() int { return l.h.Viewers() }

// Close implements Rooms.
func (l *Local) Close() error {
	l.h.Close()
	return nil
}

// LocalOrigin is a broadcast of this process's hub as an Origin: nothing
// hands it over or fences it.
type LocalOrigin struct {
	*hub.Broadcast
}

// Handovers implements Origin: nil, nothing asks.
func (LocalOrigin) Handovers() <-chan *HandoverRequest { return nil }

// Fenced implements Origin: nil, nothing fences a single process.
func (LocalOrigin) Fenced() <-chan struct{} { return nil }
