package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"
)

// site is a demo server under test.
type site struct {
	srv *server
	ts  *httptest.Server

	closeOnce sync.Once
}

// newSite starts a demo server on dir; opts.DataDir is set to dir. It is
// closed when the test ends, or earlier with close.
func newSite(t *testing.T, dir string, opts options) *site {
	t.Helper()
	return startSite(t, dir, opts, nil)
}

// startSite is newSite with a hook that may change the test server (its
// listener, its Config's ConnState) before it starts. The server is the
// site's own: httpServer's config and handler.
func startSite(t *testing.T, dir string, opts options, tweak func(*httptest.Server)) *site {
	t.Helper()
	opts.DataDir = dir
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = bcrypt.MinCost
	}
	srv, err := newServer(opts)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = srv.httpServer()
	if tweak != nil {
		tweak(ts)
	}
	ts.Start()
	s := &site{srv: srv, ts: ts}
	t.Cleanup(func() { s.close(t) })
	return s
}

// close stops the server as run does: HTTP first, then the plugin.
func (s *site) close(t *testing.T) {
	s.closeOnce.Do(func() {
		s.ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.srv.plugin.Close(ctx); err != nil {
			t.Errorf("plugin.Close: %v", err)
		}
	})
}

// client is a browser-like HTTP client: it keeps cookies, sends the CSRF
// token of the page a form is on, and does not follow redirects.
type client struct {
	t    *testing.T
	base string
	jar  http.CookieJar
	hc   *http.Client
}

func newClient(t *testing.T, base string) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return newClientWithJar(t, base, jar)
}

func newClientWithJar(t *testing.T, base string, jar http.CookieJar) *client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{
		t:    t,
		base: base,
		jar:  jar,
		hc: &http.Client{
			Jar:           jar,
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// response is what a test looks at in an HTTP response.
type response struct {
	Status   int
	Location string
	Header   http.Header
	Body     string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return response{Status: res.StatusCode, Location: res.Header.Get("Location"), Header: res.Header, Body: string(body)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	return c.do(req)
}

// post sends form to path as is (no token added).
func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return c.do(req)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// token loads page and returns the CSRF token of its forms.
func (c *client) token(page string) string {
	c.t.Helper()
	r := c.get(page)
	m := csrfField.FindStringSubmatch(r.Body)
	if m == nil {
		c.t.Fatalf("GET %s: no CSRF token in the page (status %d)", page, r.Status)
	}
	return m[1]
}

// submit posts form to action, with the token of the page the form is on.
func (c *client) submit(page, action string, form url.Values) response {
	c.t.Helper()
	form.Set("_csrf", c.token(page))
	return c.post(action, form)
}

func (c *client) signup(name, password string) response {
	c.t.Helper()
	return c.submit("/signup", "/signup", url.Values{"username": {name}, "password": {password}})
}

func (c *client) login(name, password string) response {
	c.t.Helper()
	return c.submit("/login", "/login", url.Values{"username": {name}, "password": {password}})
}

var accountUser = regexp.MustCompile(`data-testid="account" data-user="([^"]*)"`)

// user returns the signed-in user the site's header shows, or "".
func (c *client) user() string {
	c.t.Helper()
	r := c.get("/")
	m := accountUser.FindStringSubmatch(r.Body)
	if m == nil {
		c.t.Fatalf("GET /: no account in the header (status %d)", r.Status)
	}
	return m[1]
}

// mustSignUp signs name up and fails the test unless it worked.
func (c *client) mustSignUp(name string) {
	c.t.Helper()
	if r := c.signup(name, "password-"+name); r.Status != http.StatusSeeOther {
		c.t.Fatalf("sign up %s: status %d; want 303: %s", name, r.Status, r.Body)
	}
}

// dial opens a WebSocket to path with the client's cookies, as a browser
// on the site's own pages would.
func (c *client) dial(ctx context.Context, path string) (*websocket.Conn, error) {
	c.t.Helper()
	u, err := url.Parse(c.base)
	if err != nil {
		c.t.Fatal(err)
	}
	h := http.Header{}
	for _, ck := range c.jar.Cookies(u) {
		h.Add("Cookie", ck.String())
	}
	h.Set("Origin", c.base)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.base, "http")+path, &websocket.DialOptions{HTTPHeader: h})
	return conn, err
}

// clock is a settable clock for session expiry.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }
