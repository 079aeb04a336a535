package liveplugin_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// eventLog records the lifecycle events a plugin delivers.
type eventLog struct {
	mu      sync.Mutex
	live    []liveplugin.BroadcastInfo
	ended   []liveplugin.EndedEvent
	sealed  []liveplugin.RecordingEvent
	failed  []liveplugin.RecordingFailedEvent
	limits  []liveplugin.LimitEvent
	changed chan struct{}
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{}, 1)} }

func (l *eventLog) note(f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// events returns callbacks that record into l.
func (l *eventLog) events() liveplugin.Events {
	return liveplugin.Events{
		Live:            func(b liveplugin.BroadcastInfo) { l.note(func() { l.live = append(l.live, b) }) },
		Ended:           func(e liveplugin.EndedEvent) { l.note(func() { l.ended = append(l.ended, e) }) },
		RecordingSealed: func(e liveplugin.RecordingEvent) { l.note(func() { l.sealed = append(l.sealed, e) }) },
		RecordingFailed: func(e liveplugin.RecordingFailedEvent) { l.note(func() { l.failed = append(l.failed, e) }) },
		LimitReached:    func(e liveplugin.LimitEvent) { l.note(func() { l.limits = append(l.limits, e) }) },
	}
}

// wait waits until cond, called with l locked, holds.
func (l *eventLog) wait(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for {
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.changed:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestLifecycleEvents scripts a broadcast with a viewer, a viewer refused
// by MaxViewers and an end by the publisher: after Close, each lifecycle
// event was delivered exactly once with the broadcast's data.
func TestLifecycleEvents(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	l := newEventLog()
	s := newServer(t, liveplugin.Config{Authorize: allowAll, MaxViewers: 1, Events: l.events()})
	pub, id := publish(t, ctx, s, "alice")
	for _, c := range fx.Chunks[:3] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	v := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	refused := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	if code, _ := refused.closed(t, ctx); code != liveplugin.StatusLimit {
		t.Fatalf("second viewer closed with %d; want 4429", code)
	}
	for _, c := range fx.Chunks[3:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	pub.closed(t, ctx)
	v.closed(t, ctx)

	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.p.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.live) != 1 || l.live[0].Room != "alice" || l.live[0].ID != id || l.live[0].MIMEType == "" {
		t.Errorf("live events %+v; want one for alice's %s with its MIME type", l.live, id)
	}
	if len(l.ended) != 1 {
		t.Fatalf("ended events %+v; want one", l.ended)
	}
	if e := l.ended[0]; e.Broadcast.ID != id || e.Why != liveplugin.EndedByPublisher || e.Reason != "" ||
		e.Broadcast.Recording == "" || e.Broadcast.Ended.IsZero() {
		t.Errorf("ended event %+v; want %s ended by the publisher with its recording", e, id)
	}
	if len(l.sealed) != 1 {
		t.Fatalf("sealed events %+v; want one", l.sealed)
	}
	e := l.sealed[0]
	fi, err := os.Stat(e.Path)
	if err != nil {
		t.Fatalf("sealed recording's path: %v", err)
	}
	if e.Room != "alice" || e.Broadcast != id || e.Bytes != fi.Size() || e.Duration <= 0 ||
		e.DurationMs != e.Duration.Milliseconds() || e.URL == "" {
		t.Errorf("sealed event %+v (file %d bytes); want alice's %s with its size, duration and URL", e, fi.Size(), id)
	}
	if want := (liveplugin.LimitEvent{Limit: "MaxViewers", Room: "alice", Role: "viewer"}); len(l.limits) != 1 || l.limits[0] != want {
		t.Errorf("limit events %+v; want [%+v]", l.limits, want)
	}
	if len(l.failed) != 0 {
		t.Errorf("recording failed events %+v; want none", l.failed)
	}
	if n := s.p.DroppedEvents(); n != 0 {
		t.Errorf("DroppedEvents = %d; want 0", n)
	}
}

// TestLifecycleEventsLimitEndsBroadcast checks the events of a broadcast
// that a limit ends: a limit event for the publisher, and the end's why.
func TestLifecycleEventsLimitEndsBroadcast(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	l := newEventLog()
	s := newServer(t, liveplugin.Config{Authorize: allowAll, MaxBroadcastBytes: 100_000, Events: l.events()})
	pub, id := publish(t, ctx, s, "alice")
	for _, c := range fx.Chunks {
		if pub.conn.Write(ctx, websocket.MessageBinary, c) != nil {
			break
		}
	}
	if code, _ := pub.closed(t, ctx); code != liveplugin.StatusLimit {
		t.Fatalf("publisher closed with %d; want 4429", code)
	}
	l.wait(t, ctx, "ended and limit events", func() bool { return len(l.ended) == 1 && len(l.limits) == 1 })
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.ended[0]; e.Broadcast.ID != id || e.Why != liveplugin.EndedLimit {
		t.Errorf("ended event %+v; want %s ended by a limit", e, id)
	}
	if want := (liveplugin.LimitEvent{Limit: "MaxBroadcastBytes", Room: "alice", Role: "publisher"}); l.limits[0] != want {
		t.Errorf("limit event %+v; want %+v", l.limits[0], want)
	}
}

// TestLifecycleEventsSlowCallback blocks the Live callback: the broadcast
// goes on (every chunk is acknowledged) while it is stuck, the events
// beyond the queue are dropped and counted, and Close delivers the rest
// once it returns.
func TestLifecycleEventsSlowCallback(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	release := make(chan struct{})
	entered := make(chan struct{}, 3)
	var mu sync.Mutex
	var lives, ended int
	s := newServer(t, liveplugin.Config{Authorize: allowAll, Events: liveplugin.Events{
		QueueSize: 1,
		Live: func(liveplugin.BroadcastInfo) {
			mu.Lock()
			lives++
			mu.Unlock()
			entered <- struct{}{}
			<-release
		},
		Ended: func(liveplugin.EndedEvent) { mu.Lock(); ended++; mu.Unlock() },
	}})
	// Three broadcasts while Live of the first is stuck: the queue holds
	// one event (the first's end, or the second's live should that come
	// first), and the other four are dropped.
	for i := range 3 {
		pub, _ := publish(t, ctx, s, "alice")
		var sent int64
		for _, c := range fx.Chunks {
			pub.send(t, ctx, websocket.MessageBinary, c)
			sent += int64(len(c))
		}
		if err := pub.waitFor(ctx, "the last ack", func() bool {
			for j := len(pub.events) - 1; j >= 0; j-- {
				if pub.events[j].Type == "ack" {
					return pub.events[j].Offset == sent
				}
			}
			return false
		}); err != nil {
			t.Fatalf("broadcast %d: %v", i, err)
		}
		if i == 0 {
			select {
			case <-entered: // the queue is empty again
			case <-ctx.Done():
				t.Fatal("Live was not called")
			}
		}
		pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
		pub.closed(t, ctx)
	}
	// Six events (3 live, 3 ended): one being delivered, one queued. The
	// last end is emitted just after the publisher's close.
	eventually(t, ctx, "4 events dropped", func() bool { return s.p.DroppedEvents() == 4 })
	close(release)
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.p.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if lives+ended != 2 {
		t.Errorf("%d live and %d ended events delivered; want 2 in all (the one stuck and the one queued)", lives, ended)
	}
}
