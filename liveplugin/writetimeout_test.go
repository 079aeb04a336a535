package liveplugin_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/loadgen"
	"github.com/amlive/amlive/liveplugin"
)

// TestWriteTimeoutCutsOffStalledViewer: a viewer that stops reading is cut
// off once a write to it has waited WriteTimeout, long before its queue
// would overflow, while the broadcast goes on.
func TestWriteTimeoutCutsOffStalledViewer(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	s := newServer(t, liveplugin.Config{
		Authorize:        allowAll,
		WriteTimeout:     300 * time.Millisecond,
		ViewerQueueBytes: 1 << 30, // never overflows here
		MaxBitrate:       1 << 40,
	})
	pub := mustDial(t, ctx, s.ws("/live/alice/upload?mime="+url.QueryEscape(loadgen.MIMEType)))
	pub.event(t, ctx, "ready")
	st := loadgen.NewStream(loadgen.Options{Bitrate: 100_000_000})
	pub.send(t, ctx, websocket.MessageBinary, st.AppendUntil(st.Init(nil), 100*time.Millisecond, time.Now()))
	s.waitBytes(t, ctx, "alice", 1)

	// A viewer that never reads: once the socket buffers are full, a
	// write to it blocks.
	conn, _, err := rawSubscribe(strings.TrimPrefix(s.URL, "http://"), "/live/alice/subscribe")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	viewers := func() int {
		b, _ := s.p.Status("alice")
		return b.Viewers
	}
	for viewers() != 1 {
		select {
		case <-ctx.Done():
			t.Fatal("the viewer did not join")
		case <-time.After(5 * time.Millisecond):
		}
	}
	// About 12 MB a second of stream until the viewer is gone: socket
	// buffers on loopback hold a few megabytes.
	elapsed := 100 * time.Millisecond
	for viewers() != 0 {
		elapsed += 100 * time.Millisecond
		pub.send(t, ctx, websocket.MessageBinary, st.AppendUntil(nil, elapsed, time.Now()))
		if elapsed > 30*time.Second {
			t.Fatalf("a stalled viewer still connected after %v of stream (%d bytes)", elapsed, st.Offset())
		}
	}
	if b, ok := s.p.Status("alice"); !ok {
		t.Error("the broadcast ended with the viewer")
	} else if b.Bytes < 1<<20 {
		t.Errorf("viewer cut off after %d bytes; want it to have stalled first", b.Bytes)
	}
}
