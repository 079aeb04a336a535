package liveplugin_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestPingCutsVanishedPublisher: a publisher whose network vanishes
// (nothing arrives, nothing is answered) is disconnected within
// PingInterval + WriteTimeout, well before IdleTimeout; its broadcast
// ends and keeps what arrived, and its viewer gets the end event.
func TestPingCutsVanishedPublisher(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	const interval, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	// Resuming is off: this test is about noticing the drop.
	s := newServer(t, liveplugin.Config{Authorize: allowAll, PingInterval: interval, WriteTimeout: timeout, IdleTimeout: time.Hour, ResumeGrace: -1})
	proxy := newNetProxy(t, s.URL)
	pub := mustDial(t, ctx, "ws://"+proxy.addr()+"/live/alice/upload")
	id := pub.event(t, ctx, "ready").Broadcast
	viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	var n int64
	for _, c := range fx.Chunks[:6] {
		pub.send(t, ctx, websocket.MessageBinary, c)
		n += int64(len(c))
	}
	s.waitBytes(t, ctx, "alice", n)

	proxy.frozen.Store(true)
	frozen := time.Now()
	if code, reason := viewer.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("viewer closed with %d %q; want 1000", code, reason)
	}
	// A loose sanity bound: the ping fires within an interval and fails
	// after the timeout; the rest is scheduling on a loaded machine.
	if took, bound := time.Since(frozen), interval+timeout+5*time.Second; took > bound {
		t.Errorf("broadcast ended %v after the network vanished; want within %v", took, bound)
	}
	if e := viewer.event(t, ctx, "end"); e.Recording != "/live/alice/playback?b="+id {
		t.Errorf("end event %+v; want the recording", e)
	}
	if st := s.p.Stats(); st.DeadPeers != 1 || st.Rooms != 0 {
		t.Errorf("Stats() = %+v; want 1 dead peer and no room live", st)
	}
	_, body := get(t, "GET", s.URL+"/live/alice/playback?b="+id, nil)
	checkRecording(t, body, fx.Full[:n])
}

// TestPingCutsViewerThatStoppedReading: a viewer that never reads (so
// never answers a ping) is disconnected while it waits for the stream to
// start, which no write to it would have noticed; a viewer that reads,
// waiting in the same room, stays and gets the stream.
func TestPingCutsViewerThatStoppedReading(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	const interval, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	s := newServer(t, liveplugin.Config{Authorize: allowAll, PingInterval: interval, WriteTimeout: timeout})
	pub, _ := publish(t, ctx, s, "alice")
	healthy := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)

	deaf, _, err := websocket.Dial(ctx, s.ws("/live/alice/subscribe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.CloseNow()
	pub.viewers(t, ctx, 2)
	joined := time.Now()
	pub.viewers(t, ctx, 1)
	if took, bound := time.Since(joined), 2*interval+timeout+5*time.Second; took > bound {
		t.Errorf("deaf viewer cut %v after it joined; want within %v", took, bound)
	}
	// The deaf viewer's side of the connection is closed, without a
	// close frame: it was not listening.
	if _, _, err := deaf.Read(ctx); err == nil || errors.As(err, new(websocket.CloseError)) {
		t.Errorf("deaf viewer's Read = %v; want the connection cut", err)
	}

	for _, c := range fx.Chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := healthy.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("healthy viewer closed with %d %q; want 1000", code, reason)
	}
	_, binary, _ := healthy.snapshot()
	if got := slices.Concat(binary[1:]...); !bytes.Equal(got, fx.Full[fx.St.InitSegmentEnd:]) {
		t.Errorf("healthy viewer got %d media bytes; want %d", len(got), len(fx.Full)-int(fx.St.InitSegmentEnd))
	}
	if st := s.p.Stats(); st.DeadPeers != 1 {
		t.Errorf("Stats().DeadPeers = %d; want 1", st.DeadPeers)
	}
}

// TestPingsLeaveHealthyPeersAlone pings every few milliseconds during a
// paced broadcast: the publisher and viewers, answering as any client
// does, see their stream whole and a normal end.
func TestPingsLeaveHealthyPeersAlone(t *testing.T) {
	fx := fixture.Load(t, "vp9-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, PingInterval: 5 * time.Millisecond})
	pub, _ := publish(t, ctx, s, "alice")
	var viewers []*client
	for i := range 3 {
		viewers = append(viewers, mustDial(t, ctx, s.ws("/live/alice/subscribe")))
		pub.viewers(t, ctx, i+1)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, c := range fx.Chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
		<-tick.C
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d %q; want 1000", code, reason)
	}
	for i, v := range viewers {
		if code, reason := v.closed(t, ctx); code != websocket.StatusNormalClosure {
			t.Errorf("viewer %d closed with %d %q; want 1000", i, code, reason)
		}
		_, binary, _ := v.snapshot()
		if got := slices.Concat(binary[1:]...); !bytes.Equal(got, fx.Full[fx.St.InitSegmentEnd:]) {
			t.Errorf("viewer %d got %d media bytes; want %d", i, len(got), len(fx.Full)-int(fx.St.InitSegmentEnd))
		}
	}
	if st := s.p.Stats(); st.DeadPeers != 0 {
		t.Errorf("Stats().DeadPeers = %d; want 0", st.DeadPeers)
	}
}
