package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// testBound is every HTTP bound of the sites in these tests: small, so
// that the tests are quick, and the clients' pace is far from it either
// way (a slow client is 30 times slower than needed, a steady one's
// pauses are a tenth of it).
const testBound = 500 * time.Millisecond

// cutWithin is how long a test waits for the server to cut a client that
// went over a bound: generous, for busy machines under -race.
const cutWithin = 15 * time.Second

// boundedOptions are options with every HTTP bound at testBound.
func boundedOptions() options {
	return options{
		ReadHeaderTimeout: testBound,
		ReadTimeout:       testBound,
		WriteStallTimeout: testBound,
		KeepAliveTimeout:  testBound,
		IdleTimeout:       time.Minute, // the plugin's: a quiet publisher is not what these test
	}
}

// connWatch tells when the server has closed a connection, by the
// client's address.
type connWatch struct {
	mu     sync.Mutex
	closed map[string]chan struct{}
}

// ch returns the channel closed when the server closes the connection
// from addr.
func (w *connWatch) ch(addr string) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed == nil {
		w.closed = make(map[string]chan struct{})
	}
	c, ok := w.closed[addr]
	if !ok {
		c = make(chan struct{})
		w.closed[addr] = c
	}
	return c
}

func (w *connWatch) connState(c net.Conn, st http.ConnState) {
	if st == http.StateClosed {
		close(w.ch(c.RemoteAddr().String()))
	}
}

// smallBuffers is a listener whose connections have a small send buffer,
// so that a response waits for its client after a few kB, not after the
// megabytes the kernel would otherwise buffer on loopback.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// watchedSite starts a site with boundedOptions and more (set), small
// socket buffers, and a watch on its connections.
func watchedSite(t *testing.T, set func(*options)) (*site, *connWatch) {
	t.Helper()
	opts := boundedOptions()
	if set != nil {
		set(&opts)
	}
	var w connWatch
	s := startSite(t, t.TempDir(), opts, func(ts *httptest.Server) {
		ts.Listener = smallBuffers{ts.Listener}
		ts.Config.ConnState = w.connState
	})
	return s, &w
}

// dialRaw opens a TCP connection to the site, with a receive buffer of
// tens of kB (not the megabytes of loopback's autotuning), as a
// hand-written HTTP client.
func dialRaw(t *testing.T, s *site) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.(*net.TCPConn).SetReadBuffer(32 << 10)
	return conn
}

// trickle writes msg to conn one byte every pause, until it is all sent
// or the server closes the connection (closed). It returns how many
// bytes it sent.
func trickle(t *testing.T, conn net.Conn, msg string, pause time.Duration, closed <-chan struct{}) int {
	t.Helper()
	tick := time.NewTicker(pause)
	defer tick.Stop()
	for i := range len(msg) {
		select {
		case <-closed:
			return i
		case <-tick.C:
		}
		if _, err := conn.Write([]byte{msg[i]}); err != nil {
			return i
		}
	}
	return len(msg)
}

// TestSlowClientsAreCut sends requests too slowly, or sends nothing more,
// and expects the server to close the connection before the client is
// done, within a generous bound: a client that keeps a connection open
// by trickling costs the server a goroutine and a descriptor.
func TestSlowClientsAreCut(t *testing.T) {
	const pause = testBound / 10 // the whole request takes 30 bounds or more
	headers := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + strings.Repeat("a", 300) + "\r\n\r\n"
	body := "username=alice&password=password-alice&next=" + strings.Repeat("x", 300)
	post := fmt.Sprintf("POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", len(body))
	tests := []struct {
		name      string
		giveFirst string // sent at once
		giveSlow  string // sent one byte per pause
	}{
		{name: "headers byte by byte", giveSlow: headers},
		{name: "body byte by byte", giveFirst: post, giveSlow: body},
		{name: "half the headers, then nothing", giveFirst: headers[:40]},
		{name: "headers, then half the body, then nothing", giveFirst: post + body[:10]},
		{name: "nothing at all", giveFirst: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, w := watchedSite(t, nil)
			conn := dialRaw(t, s)
			closed := w.ch(conn.LocalAddr().String())
			if _, err := io.WriteString(conn, tc.giveFirst); err != nil {
				t.Fatal(err)
			}
			if tc.giveSlow != "" {
				if sent := trickle(t, conn, tc.giveSlow, pause, closed); sent == len(tc.giveSlow) {
					t.Fatalf("sent all %d bytes at one per %v; want the connection cut after %v", sent, pause, testBound)
				}
			}
			select {
			case <-closed:
			case <-time.After(cutWithin):
				t.Fatalf("connection still open after %v; want it cut after %v", cutWithin, testBound)
			}
		})
	}
}

// TestKeepAliveIsBounded checks that a kept-alive connection that sends
// no second request is closed, and that the first got its answer.
func TestKeepAliveIsBounded(t *testing.T) {
	s, w := watchedSite(t, nil)
	conn := dialRaw(t, s)
	closed := w.ch(conn.LocalAddr().String())
	if _, err := io.WriteString(conn, "GET /static/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /static/style.css = %d, %v; want 200", res.StatusCode, err)
	}
	select {
	case <-closed:
	case <-time.After(cutWithin):
		t.Fatalf("idle connection still open after %v; want it closed after %v", cutWithin, testBound)
	}
}

func TestMaxHeaderBytes(t *testing.T) {
	s := newSite(t, t.TempDir(), options{MaxHeaderBytes: 8 << 10})
	tests := []struct {
		name string
		give int // bytes of one header's value
		want int
	}{
		{name: "small", give: 100, want: http.StatusOK},
		{name: "under the bound", give: 4 << 10, want: http.StatusOK},
		{name: "over the bound", give: 32 << 10, want: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, s.ts.URL+"/static/style.css", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Pad", strings.Repeat("a", tc.give))
			if r := newClient(t, s.ts.URL).do(req); r.Status != tc.want {
				t.Errorf("GET with a %d-byte header = %d; want %d", tc.give, r.Status, tc.want)
			}
		})
	}
	if def := newSite(t, t.TempDir(), options{}); def.srv.httpServer().MaxHeaderBytes != defaultMaxHeaderBytes {
		t.Errorf("default MaxHeaderBytes = %d; want %d", def.srv.httpServer().MaxHeaderBytes, defaultMaxHeaderBytes)
	}
}

// TestBodyLimit posts bodies over the bound, announced and not: the site
// refuses them with 413 before any form is parsed.
func TestBodyLimit(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	tests := []struct {
		name        string
		giveType    string
		giveBytes   int
		giveChunked bool
		want        int
	}{
		{name: "small form", giveType: "application/x-www-form-urlencoded", giveBytes: 100, want: http.StatusForbidden}, // no CSRF token
		{name: "large form", giveType: "application/x-www-form-urlencoded", giveBytes: 1 << 20, want: http.StatusRequestEntityTooLarge},
		{name: "large form, chunked", giveType: "application/x-www-form-urlencoded", giveBytes: 1 << 20, giveChunked: true, want: http.StatusRequestEntityTooLarge},
		{name: "large multipart", giveType: "multipart/form-data; boundary=x", giveBytes: 8 << 20, want: http.StatusRequestEntityTooLarge},
		{name: "large multipart, chunked", giveType: "multipart/form-data; boundary=x", giveBytes: 8 << 20, giveChunked: true, want: http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := "--x\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a\"\r\n\r\n" + strings.Repeat("a", tc.giveBytes)
			var r io.Reader = strings.NewReader(body)
			if tc.giveChunked {
				r = io.MultiReader(r) // no length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, s.ts.URL+"/login", r)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.giveType)
			if got := newClient(t, s.ts.URL).do(req).Status; got != tc.want {
				t.Errorf("POST /login with %d bytes = %d; want %d", len(body), got, tc.want)
			}
		})
	}
}

// recordAlice signs alice up on s, broadcasts a fixture recording as her
// and returns its playback path once it is finished. ended is the site's
// OnEnd channel.
func recordAlice(t *testing.T, s *site, ended <-chan liveplugin.BroadcastInfo) (string, int) {
	t.Helper()
	chunks := fixture.Load(t, "vp8-opus-250ms-kf2s").Chunks
	alice := newClient(t, s.ts.URL)
	alice.mustSignUp("alice")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := alice.dial(ctx, "/live/alice/upload?mime="+url.QueryEscape("video/webm;codecs=vp8,opus"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, data, err := conn.Read(ctx); err != nil || !strings.Contains(string(data), `"ready"`) {
		t.Fatalf("first message %q, %v; want ready", data, err)
	}
	go func() { // reads the viewer counts; exits when the connection closes
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}()
	size := 0
	for _, c := range chunks {
		if err := conn.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatal(err)
		}
		size += len(c)
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"end"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-ended:
		return "/live/alice/playback?b=" + b.ID, size
	case <-ctx.Done():
		t.Fatal("the broadcast did not end")
	}
	return "", 0
}

// pacedReader reads at most n bytes every pause, as a client that plays
// a recording over a slow network.
type pacedReader struct {
	r     io.Reader
	n     int
	pause time.Duration
	tick  *time.Ticker
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.tick == nil {
		p.tick = time.NewTicker(p.pause)
	}
	<-p.tick.C
	return p.r.Read(b[:min(len(b), p.n)])
}

// TestPlaybackDownloads downloads a recording with small socket buffers,
// so that the server waits for the client: a client that reads slowly
// but steadily gets all of it, over several times the write bound (a
// fixed WriteTimeout would cut it); a client that stops reading is cut.
func TestPlaybackDownloads(t *testing.T) {
	ended := make(chan liveplugin.BroadcastInfo, 1)
	s, w := watchedSite(t, func(o *options) {
		o.OnEnd = func(b liveplugin.BroadcastInfo) { ended <- b }
	})
	path, size := recordAlice(t, s, ended)
	request := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

	t.Run("steady slow reader", func(t *testing.T) {
		// At most 4 kB per pause of a twentieth of the bound: the
		// recording takes a few bounds to download, and each write
		// slice of the server a fifth of one.
		const chunk, pause = 4 << 10, testBound / 20
		if d := time.Duration(size/chunk) * pause; d < 2*testBound {
			t.Fatalf("the download takes at least %v; want over 2 bounds (%v): a larger recording", d, 2*testBound)
		}
		conn := dialRaw(t, s)
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		pr := &pacedReader{r: conn, n: chunk, pause: pause}
		defer func() {
			if pr.tick != nil {
				pr.tick.Stop()
			}
		}()
		res, err := http.ReadResponse(bufio.NewReaderSize(pr, chunk), nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		n, err := io.Copy(io.Discard, res.Body)
		if res.StatusCode != http.StatusOK || err != nil || n != res.ContentLength {
			t.Fatalf("GET %s = %d, %d of %d bytes in %v, %v; want 200 and all of it", path, res.StatusCode, n, res.ContentLength, time.Since(start), err)
		}
		select {
		case <-w.ch(conn.LocalAddr().String()):
			t.Error("the server closed the connection after a complete response; want it kept alive")
		default:
		}
	})

	t.Run("reader that stops", func(t *testing.T) {
		conn := dialRaw(t, s)
		closed := w.ch(conn.LocalAddr().String())
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReaderSize(conn, 1<<10)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK || res.ContentLength < 64<<10 {
			t.Fatalf("GET %s = %d, %d bytes; want 200 and more than the socket buffers hold", path, res.StatusCode, res.ContentLength)
		}
		// Now it reads nothing more.
		select {
		case <-closed:
		case <-time.After(cutWithin):
			t.Fatalf("a client that stopped reading is still connected after %v; want it cut after %v", cutWithin, testBound)
		}
		_ = conn.SetReadDeadline(time.Now().Add(cutWithin))
		n, err := io.Copy(io.Discard, res.Body)
		if err == nil || n >= res.ContentLength {
			t.Errorf("after the cut the client read %d of %d bytes, %v; want a truncated response", n, res.ContentLength, err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("reading the rest timed out: the server did not close the connection")
		}
	})
}

// TestWebSocketsOutliveBounds keeps a publisher and a viewer connected,
// quiet, for several times every HTTP bound: the bounds are for requests
// and responses, not for hijacked connections.
func TestWebSocketsOutliveBounds(t *testing.T) {
	chunks := fixture.Load(t, "vp8-opus-250ms-kf2s").Chunks
	s := newSite(t, t.TempDir(), boundedOptions())
	alice := newClient(t, s.ts.URL)
	alice.mustSignUp("alice")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	pub, err := alice.dial(ctx, "/live/alice/upload?mime="+url.QueryEscape("video/webm;codecs=vp8,opus"))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.CloseNow()
	if _, data, err := pub.Read(ctx); err != nil || !strings.Contains(string(data), `"ready"`) {
		t.Fatalf("first message %q, %v; want ready", data, err)
	}
	pubDone := make(chan error, 1)
	go func() { // reads viewer counts until the connection closes
		for {
			if _, _, err := pub.Read(ctx); err != nil {
				pubDone <- err
				return
			}
		}
	}()
	half := len(chunks) / 2
	for _, c := range chunks[:half] {
		if err := pub.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatal(err)
		}
	}

	viewer := newClient(t, s.ts.URL)
	sub, err := viewer.dial(ctx, "/live/alice/subscribe")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.CloseNow()
	// readMedia reads until n binary messages have come, and returns
	// whether the end event came.
	readMedia := func(n int) bool {
		t.Helper()
		for n > 0 {
			typ, data, err := sub.Read(ctx)
			if err != nil {
				t.Fatalf("viewer: %v; want it connected", err)
			}
			if typ == websocket.MessageBinary {
				n--
				continue
			}
			var ev struct{ Type string }
			if json.Unmarshal(data, &ev) == nil && ev.Type == "end" {
				return true
			}
		}
		return false
	}
	readMedia(2) // the init segment and media

	select { // both quiet for over the longest bound, three times
	case <-time.After(3 * testBound):
	case err := <-pubDone:
		t.Fatalf("publisher cut while quiet: %v", err)
	}
	for _, c := range chunks[half:] {
		if err := pub.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatalf("publisher after a quiet while: %v", err)
		}
	}
	readMedia(1)
	if err := pub.Write(ctx, websocket.MessageText, []byte(`{"type":"end"}`)); err != nil {
		t.Fatal(err)
	}
	for !readMedia(1) {
	}
	if err := <-pubDone; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %v; want a normal closure", err)
	}
}
