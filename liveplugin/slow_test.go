package liveplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// loopedStream is a fixture's stream played loops times in a row: its
// chunks, then for each further loop its media again (the Clusters after
// the init segment), split where the recorder split it. Timecodes restart
// with each loop, which the server does not mind.
func loopedStream(t *testing.T, fx *fixture.Set, loops int) (stream []byte, chunks [][]byte) {
	t.Helper()
	init := fx.St.InitSegmentEnd
	stream = slices.Clone(fx.Full)
	chunks = slices.Clone(fx.Chunks)
	for range loops - 1 {
		start := int64(len(stream))
		stream = append(stream, fx.Full[init:]...)
		prev := init
		for _, end := range fx.St.ChunkEndOffsets {
			if end <= init {
				continue
			}
			chunks = append(chunks, stream[start+prev-init:start+end-init])
			prev = end
		}
	}
	if _, err := webm.NewReader(webm.Limits{}).Feed(nil, stream); err != nil {
		t.Fatalf("looped stream does not parse: %v", err)
	}
	return stream, chunks
}

// sndbufListener gives every accepted connection a small send buffer, so
// that a viewer that reads slowly holds up the server's writes at once
// instead of after megabytes of kernel buffers.
type sndbufListener struct {
	net.Listener
	size int
}

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size) // best effort: the test then takes longer
	}
	return c, err
}

// smallWindowTransport dials WebSockets with a 4 KiB receive buffer, so
// that a client that reads slowly shuts its TCP window soon; wrap, if not
// nil, wraps each connection.
func smallWindowTransport(wrap func(net.Conn) net.Conn) *http.Transport {
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		_ = c.(*net.TCPConn).SetReadBuffer(4 << 10) // best effort: a test then needs more bytes
		if wrap != nil {
			c = wrap(c)
		}
		return c, nil
	}}
}

// throttledConn reads at most its limiter's rate, in small reads, until
// fast is set; it stands for a viewer on a slow network.
type throttledConn struct {
	net.Conn
	lim  *rate.Limiter
	fast *atomic.Bool
}

func (c *throttledConn) Read(p []byte) (int, error) {
	if !c.fast.Load() {
		p = p[:min(len(p), c.lim.Burst())]
		_ = c.lim.WaitN(context.Background(), len(p)) // n is within the burst
	}
	return c.Conn.Read(p)
}

// watcher is a viewer that checks, as it reads, that its media is the
// stream from the first keyframe Cluster on, and notes when each message
// arrived. It keeps no media, so fifty of them stay light.
type watcher struct {
	conn   *websocket.Conn
	stream []byte
	join   int64 // offset of its first media byte

	done   chan struct{}
	binary int
	off    int64       // next expected stream offset
	ends   []int64     // stream offset after each media message…
	at     []time.Time // …and when it arrived
	events []string    // event types
	fault  error       // the first mismatch
	code   websocket.StatusCode
	reason string
}

func newWatcher(t *testing.T, ctx context.Context, url string, opts *websocket.DialOptions, stream []byte, join int64) *watcher {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial viewer: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	w := &watcher{conn: conn, stream: stream, join: join, off: join, done: make(chan struct{})}
	go w.read() // exits when the connection closes
	t.Cleanup(func() {
		conn.CloseNow()
		<-w.done
	})
	return w
}

func (w *watcher) read() {
	defer close(w.done)
	for {
		typ, data, err := w.conn.Read(context.Background())
		now := time.Now()
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				w.code, w.reason = ce.Code, ce.Reason
			} else {
				w.code, w.reason = -1, err.Error()
			}
			return
		}
		if typ == websocket.MessageText {
			var e struct{ Type string }
			_ = json.Unmarshal(data, &e)
			w.events = append(w.events, e.Type)
			continue
		}
		w.binary++
		switch {
		case w.fault != nil, slices.Contains(w.events, "skip"):
			// After a skip the media restarts at a later keyframe: only
			// the healthy viewers' streams are checked whole.
		case w.binary == 1:
			if !bytes.Equal(data, w.stream[:w.join]) {
				w.fault = fmt.Errorf("binary message %d is not the init segment", w.binary)
			}
		case w.off+int64(len(data)) > int64(len(w.stream)) || !bytes.Equal(data, w.stream[w.off:w.off+int64(len(data))]):
			w.fault = fmt.Errorf("media message %d at stream offset %d differs from the upload", w.binary, w.off)
		default:
			w.off += int64(len(data))
			w.ends = append(w.ends, w.off)
			w.at = append(w.at, now)
		}
	}
}

// TestSlowViewersDoNotHoldUpOthers: 50 viewers watch one publisher, and 5
// of them are on a network too slow for the stream. Those skip ahead,
// then are closed with 1008 and a reason; the other 45 get every byte
// from their keyframe join point, in time; the media queued for viewers
// stays within the per-viewer bound; and nothing stays queued after.
func TestSlowViewersDoNotHoldUpOthers(t *testing.T) {
	const (
		healthyN  = 45
		slowN     = 5
		queue     = 64 << 10
		pace      = 125 * time.Millisecond // chunks of 250 ms, sent twice as fast
		slowRate  = 4 << 10                // bytes per second a slow viewer reads
		maxLoops  = 4
		lateBound = 3 * time.Second // loose: a 2-core machine under load
	)
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	stream, chunks := loopedStream(t, &fx, maxLoops)
	init := fx.St.InitSegmentEnd
	served := withoutAlpha(t, stream, init) // what viewers get: see TestAlphaModeCleared
	ctx := testContext(t, 2*time.Minute)

	var heapBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapBefore)

	s := newServerWith(t, liveplugin.Config{
		Authorize:        allowAll,
		ViewerQueueBytes: queue,
		WriteTimeout:     30 * time.Second, // slow viewers go for being slow, not for one stuck write
		PingInterval:     time.Hour,        // nor for a late pong
	}, func(hs *httptest.Server) { hs.Listener = sndbufListener{hs.Listener, 16 << 10} })
	pub, _ := publish(t, ctx, s, "alice")

	var healthy []*watcher
	for range healthyN {
		healthy = append(healthy, newWatcher(t, ctx, s.ws("/live/alice/subscribe"), nil, served, init))
	}
	var fast atomic.Bool
	transport := smallWindowTransport(func(c net.Conn) net.Conn {
		return &throttledConn{Conn: c, lim: rate.NewLimiter(slowRate, 512), fast: &fast}
	})
	defer transport.CloseIdleConnections()
	var slow []*watcher
	for range slowN {
		slow = append(slow, newWatcher(t, ctx, s.ws("/live/alice/subscribe"), &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}}, served, init))
	}
	pub.viewers(t, ctx, healthyN+slowN)

	// Sample the queued media while the stream runs.
	var maxQueued atomic.Int64
	stopSampling := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Go(func() { // exits once stopSampling is closed
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if q := s.p.Stats().QueuedBytes; q > maxQueued.Load() {
				maxQueued.Store(q)
			}
			select {
			case <-tick.C:
			case <-stopSampling:
				return
			}
		}
	})

	// Publish at twice the real pace until the slow viewers are gone and
	// a few more chunks went out to the rest.
	var sentAt []time.Time
	var sentEnd []int64
	var sent int64
	after := -1 // chunks still to send once the slow viewers are gone
	tick := time.NewTicker(pace)
	for i := 0; i < len(chunks) && after != 0; i++ {
		sentAt = append(sentAt, time.Now())
		pub.send(t, ctx, websocket.MessageBinary, chunks[i])
		sent += int64(len(chunks[i]))
		sentEnd = append(sentEnd, sent)
		if after > 0 {
			after--
		} else if after < 0 && s.p.Stats().SlowDrops == slowN {
			after = 8
		}
		<-tick.C
	}
	tick.Stop()
	s.waitBytes(t, ctx, "alice", sent)
	close(stopSampling)
	sampling.Wait()
	st := s.p.Stats()
	fast.Store(true) // let the slow viewers read what is left, the close frame last
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	pub.closed(t, ctx)

	if st.SlowDrops != slowN {
		t.Fatalf("Stats() = %+v after %d of %d chunks; want the %d slow viewers dropped", st, len(sentAt), len(chunks), slowN)
	}
	// Each slow viewer overflowed its queue SlowSkips+1 times (the last one
	// dropped it); the healthy ones never did (their bytes are checked
	// whole below).
	if st.Skips < slowN*4 {
		t.Errorf("Stats().Skips = %d; want at least %d", st.Skips, slowN*4)
	}
	for i, w := range slow {
		select {
		case <-w.done:
		case <-ctx.Done():
			t.Fatalf("slow viewer %d was not closed", i)
		}
		if w.code != websocket.StatusPolicyViolation || w.reason != "too slow: fell behind the live stream" {
			t.Errorf("slow viewer %d closed with %d %q; want 1008 saying it was too slow", i, w.code, w.reason)
		}
		if w.fault != nil {
			t.Errorf("slow viewer %d: %v", i, w.fault)
		}
	}

	var worst time.Duration
	for i, w := range healthy {
		select {
		case <-w.done:
		case <-ctx.Done():
			t.Fatalf("healthy viewer %d was not closed", i)
		}
		if w.code != websocket.StatusNormalClosure || w.fault != nil || slices.Contains(w.events, "skip") {
			t.Fatalf("healthy viewer %d: closed with %d %q, fault %v, events %q; want every byte and 1000", i, w.code, w.reason, w.fault, w.events)
		}
		if w.off != sent {
			t.Fatalf("healthy viewer %d got the stream up to %d; want %d", i, w.off, sent)
		}
		// The delay of each chunk: from its send to the arrival of the
		// message that completed it.
		k := 0
		for c, end := range sentEnd {
			for k < len(w.ends) && w.ends[k] < end {
				k++
			}
			if d := w.at[k].Sub(sentAt[c]); d > worst {
				worst = d
			}
		}
	}
	t.Logf("%d chunks (%d bytes) in %v; slowest chunk to a healthy viewer: %v; most media queued: %d bytes; %+v",
		len(sentAt), sent, sentAt[len(sentAt)-1].Sub(sentAt[0]), worst, maxQueued.Load(), st)
	if worst > lateBound {
		t.Errorf("a chunk reached a healthy viewer %v after it was sent; want within %v", worst, lateBound)
	}

	// Each queue holds at most ViewerQueueBytes beyond the burst it joined
	// with: the init segment and at most a group of pictures.
	var gop int64
	keys := fx.KeyOffsets()
	for i := 1; i < len(keys); i++ {
		gop = max(gop, keys[i]-keys[i-1])
	}
	gop = max(gop, int64(len(fx.Full))-keys[len(keys)-1])
	if bound := int64(healthyN+slowN) * (queue + init + gop); maxQueued.Load() > bound {
		t.Errorf("%d bytes queued for viewers at most; want at most %d", maxQueued.Load(), bound)
	}
	if st := s.p.Stats(); st.QueuedBytes != 0 || st.Viewers != 0 {
		t.Errorf("Stats() = %+v after the broadcast; want nothing queued, no viewer", st)
	}
	var heapAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapAfter)
	t.Logf("heap in use: %d bytes before, %d after", heapBefore.HeapInuse, heapAfter.HeapInuse)
	if grown := int64(heapAfter.HeapInuse) - int64(heapBefore.HeapInuse); grown > 32<<20 {
		t.Errorf("heap in use grew by %d bytes over the broadcast; want it back near where it was", grown)
	}
}
