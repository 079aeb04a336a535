package liveplugin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestLimitsEndBroadcast reaches, in a live broadcast with a viewer, each
// limit that ends it. The publisher gets the close code and a reason
// naming the limit, the viewer the end event and 1000, the recording
// holds every byte the server took, sealed, and another live room keeps
// receiving bytes across the event.
func TestLimitsEndBroadcast(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	tests := []struct {
		name       string
		cfg        liveplugin.Config
		give       [][]byte // sent as fast as the server takes them, until it closes
		late       bool     // start the other room a second before this one reaches MaxBroadcast (which ends it too)
		wantCode   websocket.StatusCode
		wantReason string
	}{
		{name: "MaxMessageBytes", cfg: liveplugin.Config{MaxMessageBytes: 32 << 10},
			give:     append(slices.Clone(fx.Chunks[:3]), slices.Concat(fx.Chunks[3:8]...)),
			wantCode: liveplugin.StatusTooLarge, wantReason: "message too large: over 32768 bytes"},
		{name: "MaxBitrate", cfg: liveplugin.Config{MaxBitrate: 100_000, MaxMessageBytes: 64 << 10}, give: fx.Chunks,
			wantCode: liveplugin.StatusLimit, wantReason: "limit reached: MaxBitrate (100000)"},
		{name: "MaxBroadcastBytes", cfg: liveplugin.Config{MaxBroadcastBytes: 100_000}, give: fx.Chunks,
			wantCode: liveplugin.StatusLimit, wantReason: "limit reached: MaxBroadcastBytes (100000)"},
		{name: "MaxBroadcast", cfg: liveplugin.Config{MaxBroadcast: 4 * time.Second}, give: fx.Chunks[:5], late: true,
			wantCode: liveplugin.StatusLimit, wantReason: "limit reached: MaxBroadcast (the longest broadcast allowed)"},
		{name: "IdleTimeout", cfg: liveplugin.Config{IdleTimeout: time.Second}, give: fx.Chunks[:5],
			wantCode: websocket.StatusPolicyViolation, wantReason: "no data from the broadcaster for too long: broadcast ended"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 30*time.Second)
			ended := make(chan liveplugin.BroadcastInfo, 1)
			tc.cfg.Authorize = allowAll
			tc.cfg.OnEnd = func(_ echo.Context, b liveplugin.BroadcastInfo) {
				if b.Room == "alice" {
					ended <- b
				}
			}
			s := newServer(t, tc.cfg)
			var bob *bystander
			if !tc.late {
				bob = startBystander(t, ctx, s, "bob")
			}
			pub, id := publish(t, ctx, s, "alice")
			viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
			pub.viewers(t, ctx, 1)
			var sent int64
			for _, c := range tc.give {
				if pub.conn.Write(ctx, websocket.MessageBinary, c) != nil {
					break // closed by the server
				}
				sent += int64(len(c))
			}
			if tc.late {
				// A second before this room reaches MaxBroadcast, so that
				// the other room has three seconds left when this one ends,
				// however slow the machine is to end it.
				select {
				case <-time.After(tc.cfg.MaxBroadcast - time.Second):
				case <-pub.done:
					t.Fatal("the broadcast ended before the other room started")
				}
				bob = startBystander(t, ctx, s, "bob")
			}
			bob.feedUntil(t, ctx, pub.done)

			if code, reason := pub.closed(t, ctx); code != tc.wantCode || reason != tc.wantReason {
				t.Errorf("publisher closed with %d %q; want %d %q", code, reason, tc.wantCode, tc.wantReason)
			}
			if code, reason := viewer.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Errorf("viewer closed with %d %q; want 1000", code, reason)
			}
			if e := viewer.event(t, ctx, "end"); e.Recording != "/live/alice/playback?b="+id {
				t.Errorf("end event %+v; want the recording", e)
			}
			var info liveplugin.BroadcastInfo
			select {
			case info = <-ended:
			case <-ctx.Done():
				t.Fatal("OnEnd was not called")
			}
			if info.Bytes == 0 || info.Bytes > sent {
				t.Fatalf("the server took %d bytes of the %d sent", info.Bytes, sent)
			}
			resp, rec := get(t, http.MethodGet, s.URL+info.Recording, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("recording %q = %d", info.Recording, resp.StatusCode)
			}
			checkRecording(t, rec, fx.Full[:info.Bytes])
		})
	}
}

// feedUntil feeds the room a chunk every 100 ms until done is closed, and
// once more after: the room must keep receiving across whatever closes
// done.
func (b *bystander) feedUntil(t testing.TB, ctx context.Context, done <-chan struct{}) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		b.feed(t, ctx, 1)
		select {
		case <-done:
			b.feed(t, ctx, 1)
			return
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("timed out feeding the other room")
		}
	}
}

// TestWriteTimeoutCutsStalledViewer: a viewer that takes nothing more
// (its receive window stays shut) is disconnected once a write to it has
// waited WriteTimeout, without a close frame, which it could not receive;
// the room's other viewer and another room are not held up.
func TestWriteTimeoutCutsStalledViewer(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	const writeTimeout = 500 * time.Millisecond
	s := newServerWith(t, liveplugin.Config{Authorize: allowAll, WriteTimeout: writeTimeout, PingInterval: time.Hour},
		func(hs *httptest.Server) { hs.Listener = sndbufListener{hs.Listener, 16 << 10} })
	bob := startBystander(t, ctx, s, "bob")
	pub, _ := publish(t, ctx, s, "alice")
	healthy := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	transport := smallWindowTransport(nil)
	defer transport.CloseIdleConnections()
	stalled, _, err := websocket.Dial(ctx, s.ws("/live/alice/subscribe"), &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.CloseNow()
	pub.viewers(t, ctx, 2)

	// The stalled viewer reads nothing: once its buffers fill, the
	// server's write to it waits, and is given up after WriteTimeout.
	cut := make(chan struct{})
	go func() { // exits when the viewer count drops or the test ends
		defer close(cut)
		_ = pub.waitFor(ctx, "one viewer", func() bool {
			return pub.events[len(pub.events)-1].Type == "viewers" && pub.events[len(pub.events)-1].Count == 1
		})
	}()
	for i, c := range fx.Chunks {
		select {
		case <-cut:
		default:
			pub.send(t, ctx, websocket.MessageBinary, c)
			if i%4 == 3 {
				bob.feed(t, ctx, 1)
			}
			continue
		}
		break
	}
	<-cut
	if st, ok := s.p.Status("alice"); !ok || st.Viewers != 1 {
		t.Fatalf("alice: %+v, live %v; want the stalled viewer gone (the fixture was not enough to stall it?)", st, ok)
	}
	bob.feed(t, ctx, 1)

	// What the stalled viewer finds when it reads again: what was in its
	// buffers, then a cut connection rather than a close frame.
	for {
		_, _, err = stalled.Read(ctx)
		if err != nil {
			break
		}
	}
	if errors.As(err, new(websocket.CloseError)) || ctx.Err() != nil {
		t.Errorf("stalled viewer's Read = %v; want the connection cut", err)
	}

	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := healthy.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("healthy viewer closed with %d %q; want 1000", code, reason)
	}
}
