package natscluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/hub"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testEvents encodes events in JSON, as the plugin does.
type testEvents struct{}

func (testEvents) Hello(mime, broadcast string, started time.Time) []byte {
	return encode(map[string]any{"type": "hello", "mime": mime, "broadcast": broadcast})
}
func (testEvents) Viewers(n int) []byte { return encode(map[string]any{"type": "viewers", "count": n}) }
func (testEvents) Skip() []byte         { return encode(map[string]any{"type": "skip"}) }
func (testEvents) Reconnecting() []byte { return encode(map[string]any{"type": "reconnecting"}) }
func (testEvents) Resumed() []byte      { return encode(map[string]any{"type": "resumed"}) }
func (testEvents) End(broadcast, recording, reason string) []byte {
	return encode(map[string]any{"type": "end", "broadcast": broadcast, "recording": recording, "reason": reason})
}

func encode(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// testOpts are short bounds for tests.
func testOpts(name string) Options {
	return Options{
		Name:           name,
		Heartbeat:      100 * time.Millisecond,
		RoomTTL:        500 * time.Millisecond,
		RequestTimeout: 2 * time.Second,
		Linger:         200 * time.Millisecond,
	}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts an embedded NATS server with JetStream.
func startServer(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	if opts == nil {
		opts = &server.Options{}
	}
	if opts.Port == 0 {
		opts.Port = -1
	}
	opts.Host = "127.0.0.1"
	opts.JetStream = true
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	opts.NoLog, opts.NoSigs = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// node is one plugin node of a test: its connection, hub and rooms.
type node struct {
	name string
	nc   *nats.Conn
	hub  *hub.Hub
	r    cluster.Rooms

	mu       sync.Mutex
	orphaned []string
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1), nats.ReconnectJitter(0, 0), nats.ErrorHandler(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// quiet drops the connection's asynchronous errors, which nats.go prints
// by default.
func quiet(*nats.Conn, *nats.Subscription, error) {}

func newNode(t testing.TB, url string, opts Options, mod ...func(*Cluster)) *node {
	t.Helper()
	n := &node{name: opts.Name, nc: connect(t, url), hub: hub.New(hub.Config{Events: testEvents{}})}
	c, err := New(n.nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mod {
		f(c)
	}
	r, err := c.Rooms(cluster.Node{
		Hub:          n.hub,
		Log:          testLog(),
		Events:       testEvents{},
		RecordingURL: recordingURL,
		Orphaned: func(room, id string) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.orphaned = append(n.orphaned, room+"/"+id)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.r = r
	t.Cleanup(func() { _ = r.Close() })
	return n
}

func (n *node) orphans() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.orphaned)
}

// testLog discards the nodes' logs, unless NATSCLUSTER_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("NATSCLUSTER_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func recordingURL(room, id string) string { return "/rec/" + room + "/" + id }

// stream is a fixture as a publisher writes it: each chunk with the join
// points the parser found by its end.
type stream struct {
	fx    fixture.Set
	mime  string
	init  []byte
	syncs [][]int64 // per chunk
	// initAt is the chunk whose end completes the init segment.
	initAt int
}

// chunkToLose picks the chunk a test drops on its way through NATS: the
// first one past the middle that starts no join point. It returns that
// chunk's stream offset and index.
func (s *stream) chunkToLose() (off int64, at int) {
	for i, c := range s.fx.Chunks {
		if i > len(s.fx.Chunks)/2 && len(s.syncs[i]) == 0 {
			return off, i
		}
		off += int64(len(c))
	}
	return -1, 0
}

func loadStream(t *testing.T, name string) *stream {
	t.Helper()
	fx := fixture.Load(t, name)
	s := &stream{fx: fx, mime: `video/webm; codecs="vp8, opus"`, initAt: -1}
	rd := webm.NewReader(webm.Limits{})
	for i, c := range fx.Chunks {
		evs, err := rd.Feed(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		var ss []int64
		for _, e := range evs {
			switch e.Kind {
			case webm.KindInit:
				s.initAt = i
			case webm.KindSync:
				ss = append(ss, e.Offset)
			}
		}
		s.syncs = append(s.syncs, ss)
	}
	s.init = slices.Clone(rd.Init())
	if s.initAt < 0 || len(fx.KeyOffsets()) < 3 {
		t.Fatalf("fixture %s: no header or too few join points", name)
	}
	return s
}

// write feeds chunks [from, to) to o as the publisher would.
func (s *stream) write(o cluster.Origin, from, to int) {
	for i := from; i < to; i++ {
		if i == s.initAt {
			o.SetInit(s.mime, s.init)
		}
		o.Write(s.fx.Chunks[i], s.syncs[i])
	}
}

// viewer reads a subscriber to its end.
type viewer struct {
	s      *hub.Subscriber
	done   chan struct{}
	cancel context.CancelFunc

	mu     sync.Mutex
	events []string // "hello", "init", "media", "skip", "end", ...
	inits  [][]byte
	media  [][]byte // per segment: the bytes since hello or a skip
	sizes  []int    // of every media message
	ended  map[string]any
	err    error
}

func watch(t *testing.T, ctx context.Context, s *hub.Subscriber) *viewer {
	ctx, cancel := context.WithCancel(ctx)
	v := &viewer{s: s, done: make(chan struct{}), cancel: cancel}
	t.Cleanup(v.close)
	go v.run(ctx)
	return v
}

// close closes the subscriber, as a viewer that leaves.
func (v *viewer) close() {
	v.cancel()
	<-v.done
	v.s.Close()
}

func (v *viewer) run(ctx context.Context) {
	defer close(v.done)
	wantInit := false
	for {
		m, err := v.s.Next(ctx)
		v.mu.Lock()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				v.err = err
			}
			v.mu.Unlock()
			return
		}
		if m.Text {
			var ev map[string]any
			_ = json.Unmarshal(m.Data, &ev)
			typ, _ := ev["type"].(string)
			if typ != "viewers" {
				v.events = append(v.events, typ)
			}
			switch typ {
			case "hello", "skip":
				wantInit = true
				v.media = append(v.media, nil)
			case "end":
				v.ended = ev
			}
		} else if wantInit {
			v.events = append(v.events, "init")
			v.inits = append(v.inits, m.Data)
			wantInit = false
		} else {
			if n := len(v.events); n == 0 || v.events[n-1] != "media" {
				v.events = append(v.events, "media")
			}
			v.media[len(v.media)-1] = append(v.media[len(v.media)-1], m.Data...)
			v.sizes = append(v.sizes, len(m.Data))
		}
		v.mu.Unlock()
	}
}

// wait waits for the viewer's end.
func (v *viewer) wait(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-v.done:
	case <-ctx.Done():
		t.Fatalf("viewer did not end: %v", ctx.Err())
	}
}

func (v *viewer) snapshot() (events []string, media [][]byte, ended map[string]any, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.events), slices.Clone(v.media), v.ended, v.err
}

// checkSegment checks that seg is the stream from a join point on, and
// returns that join point. If toEnd, seg must reach the stream's end.
func (s *stream) checkSegment(seg []byte, toEnd bool) (int64, error) {
	full := s.fx.Full
	for _, k := range s.fx.KeyOffsets() {
		if int(k)+len(seg) <= len(full) && slices.Equal(full[k:int(k)+len(seg)], seg) {
			if toEnd && int(k)+len(seg) != len(full) {
				return k, fmt.Errorf("segment from %d ends at %d; want %d", k, int(k)+len(seg), len(full))
			}
			return k, nil
		}
	}
	return -1, fmt.Errorf("segment of %d bytes is not the stream from a join point", len(seg))
}

// eventually polls f until it returns nil or ctx is done.
func eventually(t *testing.T, ctx context.Context, what string, f func() error) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// subscribe subscribes on n once n sees the room live.
func subscribe(t *testing.T, ctx context.Context, n *node, room string) *viewer {
	t.Helper()
	var s *hub.Subscriber
	eventually(t, ctx, n.name+" subscribes to "+room, func() error {
		var err error
		s, err = n.r.Subscribe(ctx, room)
		return err
	})
	return watch(t, ctx, s)
}
