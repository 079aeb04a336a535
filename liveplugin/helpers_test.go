package liveplugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin"
)

// allowAll lets every request do everything.
func allowAll(echo.Context, string, liveplugin.Action) error { return nil }

// testServer is the plugin mounted at /live of an Echo app behind a real
// HTTP server.
type testServer struct {
	URL string // http://127.0.0.1:port
	p   *liveplugin.Plugin
	e   *echo.Echo
	dir string
}

// newServer starts a server; cfg.Dir defaults to a temporary directory and
// cfg.Logger to the test's output. The plugin and server are closed when
// the test ends.
func newServer(t testing.TB, cfg liveplugin.Config) *testServer {
	t.Helper()
	return newServerWith(t, cfg, nil)
}

// newServerWith is newServer with setup, if not nil, called on the HTTP
// server before it starts (to wrap its listener, say).
func newServerWith(t testing.TB, cfg liveplugin.Config, setup func(*httptest.Server)) *testServer {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e := echo.New()
	e.HideBanner = true
	p, err := liveplugin.Register(e.Group("/live"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(e)
	if setup != nil {
		setup(hs)
	}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		hs.Close()
	})
	return &testServer{URL: hs.URL, p: p, e: e, dir: cfg.Dir}
}

func (s *testServer) ws(path string) string { return "ws" + strings.TrimPrefix(s.URL, "http") + path }

// testContext returns a context that ends with the test or after d.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// event is any text event of the wire protocol (see protocol.go), decoded
// into one struct with the fields of them all.
type event struct {
	Type      string `json:"type"`
	Broadcast string `json:"broadcast"`
	Mime      string `json:"mime"`
	Count     int    `json:"count"`
	Recording string `json:"recording"`
	Message   string `json:"message"`
	Offset    int64  `json:"offset"`
	Resume    string `json:"resume"`
	Reason    string `json:"reason"`
	// Title and Description are a meta event's.
	Title       string `json:"title"`
	Description string `json:"description"`
}

// client is a WebSocket client whose messages are read by a goroutine that
// exits when the connection closes.
type client struct {
	conn *websocket.Conn

	mu     sync.Mutex
	events []event
	binary [][]byte
	order  []string // "text:<type>" or "binary"
	err    error    // why reading stopped
	change chan struct{}
	done   chan struct{}
}

func dial(t testing.TB, ctx context.Context, url string, opts *websocket.DialOptions) (*client, error) {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(64 << 20)
	c := &client{conn: conn, change: make(chan struct{}, 1), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		conn.CloseNow()
		<-c.done
	})
	return c, nil
}

func mustDial(t testing.TB, ctx context.Context, url string) *client {
	t.Helper()
	c, err := dial(t, ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

func (c *client) read() {
	defer close(c.done)
	for {
		typ, data, err := c.conn.Read(context.Background())
		c.mu.Lock()
		switch {
		case err != nil:
			c.err = err
		case typ == websocket.MessageText:
			var e event
			if jerr := json.Unmarshal(data, &e); jerr != nil {
				e.Type = "invalid:" + string(data)
			}
			c.events = append(c.events, e)
			c.order = append(c.order, "text:"+e.Type)
		default:
			c.binary = append(c.binary, data)
			c.order = append(c.order, "binary")
		}
		c.mu.Unlock()
		select {
		case c.change <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// waitFor waits until cond, evaluated under the client's lock, holds.
func (c *client) waitFor(ctx context.Context, what string, cond func() bool) error {
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-c.change:
		case <-c.done:
			c.mu.Lock()
			ok := cond()
			err := c.err
			c.mu.Unlock()
			if ok {
				return nil
			}
			return errors.New("connection closed before " + what + ": " + err.Error())
		case <-ctx.Done():
			return errors.New("timed out waiting for " + what)
		}
	}
}

// event returns the last event of type typ, waiting for one.
func (c *client) event(t testing.TB, ctx context.Context, typ string) event {
	t.Helper()
	var got event
	err := c.waitFor(ctx, typ+" event", func() bool {
		for i := len(c.events) - 1; i >= 0; i-- {
			if c.events[i].Type == typ {
				got = c.events[i]
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// viewers waits for a viewers event with count n.
func (c *client) viewers(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	err := c.waitFor(ctx, "viewer count", func() bool {
		for i := len(c.events) - 1; i >= 0; i-- {
			if c.events[i].Type == "viewers" {
				return c.events[i].Count == n
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("%v (want %d)", err, n)
	}
}

// closed waits for the connection to close and returns its close status
// and reason.
func (c *client) closed(t testing.TB, ctx context.Context) (websocket.StatusCode, string) {
	t.Helper()
	select {
	case <-c.done:
	case <-ctx.Done():
		t.Fatal("timed out waiting for the close")
	}
	var ce websocket.CloseError
	if errors.As(c.err, &ce) {
		return ce.Code, ce.Reason
	}
	return -1, c.err.Error()
}

func (c *client) send(t *testing.T, ctx context.Context, typ websocket.MessageType, data []byte) {
	t.Helper()
	if err := c.conn.Write(ctx, typ, data); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// snapshot returns copies of what the client received.
func (c *client) snapshot() (events []event, binary [][]byte, order []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event(nil), c.events...), append([][]byte(nil), c.binary...), append([]string(nil), c.order...)
}

// publish connects a publisher to room and waits for its ready event.
func publish(t testing.TB, ctx context.Context, s *testServer, room string) (*client, string) {
	t.Helper()
	return publishMIME(t, ctx, s, room, "video/webm")
}

// publishMIME is publish for a stream of MIME type mimeType.
func publishMIME(t testing.TB, ctx context.Context, s *testServer, room, mimeType string) (*client, string) {
	t.Helper()
	c := mustDial(t, ctx, s.ws("/live/"+room+"/upload?mime="+url.QueryEscape(mimeType)))
	ready := c.event(t, ctx, "ready")
	if ready.Broadcast == "" {
		t.Fatal("ready event without a broadcast id")
	}
	return c, ready.Broadcast
}

// waitBytes waits until the server has taken n bytes of room's broadcast.
func (s *testServer) waitBytes(t testing.TB, ctx context.Context, room string, n int64) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, b := range s.p.Live() {
			if b.Room == room && b.Bytes >= n {
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("server did not take %d bytes", n)
		}
	}
}

// get performs a request and returns the response with its body read.
func get(t testing.TB, method, url string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// record broadcasts chunks in room, ends the broadcast and waits until
// its recording is finished; it returns the broadcast id.
func record(t *testing.T, ctx context.Context, s *testServer, room string, chunks [][]byte) string {
	t.Helper()
	pub, id := publish(t, ctx, s, room)
	for _, c := range chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
	return id
}
