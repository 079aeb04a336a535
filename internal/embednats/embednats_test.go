package embednats

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// connect connects to url and closes the connection when the test ends.
func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("nats.Connect(%s): %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// kv opens (creating it if need be) the bucket "test" with replicas.
func kv(ctx context.Context, t *testing.T, nc *nats.Conn, replicas int) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	b, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "test", Replicas: replicas})
	if err != nil {
		t.Fatalf("CreateOrUpdateKeyValue(replicas %d): %v", replicas, err)
	}
	return b
}

// wantValue fails the test unless key holds want in b.
func wantValue(ctx context.Context, t *testing.T, b jetstream.KeyValue, key, want string) {
	t.Helper()
	e, err := b.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	if got := string(e.Value()); got != want {
		t.Fatalf("Get(%s) = %q; want %q", key, got, want)
	}
}

func TestStartKV(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := Start(Options{Dir: t.TempDir(), MaxPayload: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(s.ClientURL(), ":4222") {
		t.Errorf("ClientURL() = %s; want nats://127.0.0.1 on a free port", s.ClientURL())
	}
	nc := connect(t, s.ClientURL())
	if got, want := nc.MaxPayload(), int64(64<<10); got != want {
		t.Errorf("MaxPayload() = %d; want %d", got, want)
	}
	b := kv(ctx, t, nc, 1)
	if _, err := b.Put(ctx, "room", []byte("live")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	wantValue(ctx, t, b, "room", "live")
	if err := nc.Publish("too.big", make([]byte, 64<<10+1)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Errorf("Publish(64 KiB + 1) = %v; want %v", err, nats.ErrMaxPayload)
	}
}

func TestRestartKeepsKV(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	opts := Options{Dir: t.TempDir(), Name: "one"}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	nc := connect(t, s.ClientURL())
	if _, err := kv(ctx, t, nc, 1).Put(ctx, "room", []byte("kept")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	nc.Close()
	s.Shutdown()
	s.Shutdown() // idempotent

	s, err = Start(opts)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer s.Shutdown()
	wantValue(ctx, t, kv(ctx, t, connect(t, s.ClientURL()), 1), "room", "kept")
}

func TestInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		give Options
		want string // in the error
	}{
		{name: "no dir", give: Options{}, want: "Dir is required"},
		{name: "port", give: Options{Dir: "d", Port: 70000}, want: "Port must be in [0, 65535], got 70000"},
		{name: "payload", give: Options{Dir: "d", MaxPayload: -1}, want: "MaxPayload must be >= 0, got -1"},
		{name: "cluster without name", give: Options{Dir: "d", Name: "a", Cluster: &ClusterOptions{Port: 1, Routes: []string{"nats-route://h:1"}}},
			want: "Cluster.Name is required"},
		{name: "cluster without port", give: Options{Dir: "d", Name: "a", Cluster: &ClusterOptions{Name: "c", Routes: []string{"nats-route://h:1"}}},
			want: "Cluster.Port must be in [1, 65535], got 0"},
		{name: "cluster without routes", give: Options{Dir: "d", Name: "a", Cluster: &ClusterOptions{Name: "c", Port: 1}},
			want: "Cluster.Routes is required"},
		{name: "cluster without server name", give: Options{Dir: "d", Cluster: &ClusterOptions{Name: "c", Port: 1, Routes: []string{"nats-route://h:1"}}},
			want: "Name is required in a cluster"},
		{name: "bad route", give: Options{Dir: "d", Name: "a", Cluster: &ClusterOptions{Name: "c", Port: 1, Routes: []string{"h:1"}}},
			want: `route "h:1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(tc.give)
			if err == nil {
				s.Shutdown()
				t.Fatalf("Start(%+v) = nil error; want %q", tc.give, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start(%+v) = %v; want %q", tc.give, err, tc.want)
			}
		})
	}
}

// TestClusterFailover: in a cluster of three, a client given every URL
// survives the shutdown of the server it is connected to: it reconnects
// to another, and a key-value bucket with three replicas still answers.
func TestClusterFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	servers, err := StartCluster(3, "test", t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}()
	for _, s := range servers {
		if got := s.NATS().NumRoutes(); got < 2 {
			t.Errorf("server %s has %d routes; want at least 2", s.Name(), got)
		}
	}

	reconnected := make(chan string, 10)
	nc := connect(t, URLs(servers), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(nc *nats.Conn) { reconnected <- nc.ConnectedUrl() }))
	b := kv(ctx, t, nc, 3)
	if _, err := b.Put(ctx, "room", []byte("before")); err != nil {
		t.Fatalf("Put: %v", err)
	}

	first := nc.ConnectedUrl()
	var victim *Server
	for _, s := range servers {
		if s.ClientURL() == first {
			victim = s
		}
	}
	if victim == nil {
		t.Fatalf("connected to %s, none of %s", first, URLs(servers))
	}
	victim.Shutdown()
	select {
	case u := <-reconnected:
		if u == first {
			t.Fatalf("reconnected to %s, the server shut down", u)
		}
	case <-ctx.Done():
		t.Fatal("no reconnect")
	}

	// The bucket's stream may be electing a new leader: retry until it
	// answers, within ctx.
	for {
		e, err := b.Get(ctx, "room")
		if err == nil {
			if got := string(e.Value()); got != "before" {
				t.Fatalf("Get(room) = %q after failover; want %q", got, "before")
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Get(room) after failover: %v", err)
		}
		t.Logf("Get(room) after failover: %v; retrying", err)
		retry(ctx)
	}
	for {
		_, err := b.Put(ctx, "room", []byte("after"))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Put(room) after failover: %v", err)
		}
		t.Logf("Put(room) after failover: %v; retrying", err)
		retry(ctx)
	}
	wantValue(ctx, t, b, "room", "after")
}

// retry waits a little before an operation is tried again, or until ctx
// is done.
func retry(ctx context.Context) {
	tm := time.NewTimer(100 * time.Millisecond)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

func TestStartClusterInvalid(t *testing.T) {
	tests := []struct {
		name string
		n    int
		give string // the cluster's name
		want string // in the error
	}{
		{name: "no servers", n: 0, give: "c", want: "at least one server, got 0"},
		{name: "no name", n: 3, give: "", want: "the cluster needs a name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			servers, err := StartCluster(tc.n, tc.give, t.TempDir(), Options{})
			for _, s := range servers {
				s.Shutdown()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("StartCluster(%d, %q) = %v; want %q", tc.n, tc.give, err, tc.want)
			}
		})
	}
}
