package liveplugin_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// dialCode opens a WebSocket with hdr and returns the code it is closed
// with.
func dialCode(t *testing.T, url string, hdr http.Header) websocket.StatusCode {
	t.Helper()
	ctx := testContext(t, 20*time.Second)
	c, err := dial(t, ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	code, _ := c.closed(t, ctx)
	return code
}

// TestUpgradeLimitIgnoresForwardedHeaders checks that a client cannot
// escape the per-IP limit by sending a new X-Forwarded-For or X-Real-IP
// with every connection, when the app set no IPExtractor (Echo's RealIP
// would trust them), and that an app that trusts its proxy gets a bucket
// per forwarded client.
func TestUpgradeLimitIgnoresForwardedHeaders(t *testing.T) {
	tests := []struct {
		name      string
		extractor echo.IPExtractor
		want      []websocket.StatusCode
	}{
		{name: "no IPExtractor: one bucket for the connection's address",
			want: []websocket.StatusCode{liveplugin.StatusNotLive, liveplugin.StatusNotLive, liveplugin.StatusLimit, liveplugin.StatusLimit}},
		{name: "app trusts X-Forwarded-For from its proxy", extractor: echo.ExtractIPFromXFFHeader(),
			want: []websocket.StatusCode{liveplugin.StatusNotLive, liveplugin.StatusNotLive, liveplugin.StatusNotLive, liveplugin.StatusNotLive}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, liveplugin.Config{ViewerUpgrades: liveplugin.RateLimit{PerMinute: 1, Burst: 2}})
			s.e.IPExtractor = tc.extractor
			for i, want := range tc.want {
				hdr := http.Header{}
				hdr.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
				hdr.Set("X-Real-IP", fmt.Sprintf("198.51.100.%d", i+1))
				if got := dialCode(t, s.ws("/live/nobody/subscribe"), hdr); got != want {
					t.Errorf("connection %d closed with %d; want %d", i+1, got, want)
				}
			}
		})
	}
}

// TestConfigClientIP checks that Config.ClientIP, when set, keys the
// limits.
func TestConfigClientIP(t *testing.T) {
	s := newServer(t, liveplugin.Config{
		ViewerUpgrades: liveplugin.RateLimit{PerMinute: 1, Burst: 1},
		ClientIP:       func(r *http.Request) string { return r.Header.Get("X-Test-Client") },
	})
	for i, tc := range []struct {
		client string
		want   websocket.StatusCode
	}{{"a", liveplugin.StatusNotLive}, {"b", liveplugin.StatusNotLive}, {"a", liveplugin.StatusLimit}} {
		hdr := http.Header{"X-Test-Client": {tc.client}}
		if got := dialCode(t, s.ws("/live/nobody/subscribe"), hdr); got != tc.want {
			t.Errorf("connection %d (client %s) closed with %d; want %d", i+1, tc.client, got, tc.want)
		}
	}
}

// TestCrowdBehindOneAddress checks the defaults against their two
// purposes: 500 viewers behind one NAT address who join an all-hands
// within a minute all get in, while uploads from one address beyond the
// publishers' burst are refused.
func TestCrowdBehindOneAddress(t *testing.T) {
	const crowd = 500
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	ctx := testContext(t, 2*time.Minute)
	pub, _ := publish(t, ctx, s, "allhands")
	set := fixture.Load(t, "vp8-opus-250ms-kf2s")
	for _, c := range set.Chunks[:8] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}

	var wg sync.WaitGroup
	errs := make(chan error, crowd)
	for i := range crowd {
		wg.Go(func() {
			c, err := dial(t, ctx, s.ws("/live/allhands/subscribe"), nil)
			if err != nil {
				errs <- fmt.Errorf("viewer %d: dial: %w", i, err)
				return
			}
			if err := c.waitFor(ctx, "hello", func() bool { return len(c.events) > 0 || c.err != nil }); err != nil {
				errs <- fmt.Errorf("viewer %d: %w", i, err)
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.events) == 0 || c.events[0].Type != "hello" {
				errs <- fmt.Errorf("viewer %d refused: %v", i, c.err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st, ok := s.p.Status("allhands"); !ok || st.Viewers != crowd {
		t.Errorf("Status: %d viewers (live %v); want %d", st.Viewers, ok, crowd)
	}

	// Uploads: the burst of 20 (the first publisher above took one),
	// then refusals.
	refused := 0
	for i := range 25 {
		c, err := dial(t, ctx, s.ws(fmt.Sprintf("/live/room%d/upload?mime=video/webm", i)), nil)
		if err != nil {
			t.Fatalf("upload %d: dial: %v", i, err)
		}
		if err := c.waitFor(ctx, "ready or a close", func() bool { return len(c.events) > 0 || c.err != nil }); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		c.mu.Lock()
		ready := len(c.events) > 0 && c.events[0].Type == "ready"
		c.mu.Unlock()
		if ready {
			_ = c.conn.Close(websocket.StatusNormalClosure, "")
			continue
		}
		if code, reason := c.closed(t, ctx); code != liveplugin.StatusLimit {
			t.Errorf("upload %d closed with %d %q; want ready or 4429", i, code, reason)
		}
		refused++
	}
	if refused < 5 || refused > 6 {
		t.Errorf("%d of 25 more uploads refused with 4429; want 5 (6 if no token came back meanwhile)", refused)
	}
}
