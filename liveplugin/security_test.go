package liveplugin_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"golang.org/x/net/html"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// directives parses a Content-Security-Policy into its directives.
func directives(policy string) map[string]string {
	out := map[string]string{}
	for d := range strings.SplitSeq(policy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		out[name] = value
	}
	return out
}

// TestPagesContentSecurityPolicy: every page of the plugin carries a
// Content-Security-Policy that allows only its own assets, a fresh nonce
// per response, media from itself and blob: (the player's MediaSource),
// connections to its own origin and WebSockets; only the embed page may
// be framed by other sites.
func TestPagesContentSecurityPolicy(t *testing.T) {
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	host := strings.TrimPrefix(s.URL, "http://")
	nonces := map[string]bool{}
	for _, tc := range []struct {
		path     string
		framable bool
	}{
		{"/live/alice", false},
		{"/live/alice/embed", true},
		{"/live/alice/broadcast", false},
		{"/live/", false},
	} {
		resp, _ := get(t, http.MethodGet, s.URL+tc.path, nil)
		d := directives(resp.Header.Get("Content-Security-Policy"))
		nonce, ok := strings.CutPrefix(d["script-src"], "'self' 'nonce-")
		nonce, ok2 := strings.CutSuffix(nonce, "'")
		if !ok || !ok2 || len(nonce) < 22 || nonces[nonce] {
			t.Errorf("%s: script-src %q; want 'self' and a fresh nonce", tc.path, d["script-src"])
		}
		nonces[nonce] = true
		want := map[string]string{
			"default-src": "'none'",
			"style-src":   "'self' 'nonce-" + nonce + "'",
			"media-src":   "'self' blob:",
			"connect-src": "'self' ws://" + host + " wss://" + host,
			"base-uri":    "'none'",
		}
		if !tc.framable {
			want["frame-ancestors"] = "'self'"
		}
		for name, value := range want {
			if d[name] != value {
				t.Errorf("%s: %s %q; want %q", tc.path, name, d[name], value)
			}
		}
		_, hasAncestors := d["frame-ancestors"]
		if xfo := resp.Header.Get("X-Frame-Options"); tc.framable && (hasAncestors || xfo != "") {
			t.Errorf("%s: frame-ancestors %q, X-Frame-Options %q; want the page framable by any site", tc.path, d["frame-ancestors"], xfo)
		}
	}

	// A Host header that could smuggle a directive is not quoted.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/live/alice", nil)
	req.Host = "evil.example; script-src *"
	s.e.ServeHTTP(rec, req)
	if d := directives(rec.Header().Get("Content-Security-Policy")); d["connect-src"] != "'self'" || !strings.HasPrefix(d["script-src"], "'self' 'nonce-") {
		t.Errorf("with Host %q: connect-src %q, script-src %q; want 'self' only", req.Host, d["connect-src"], d["script-src"])
	}
}

// inlineCode returns the first piece of markup in page that a
// Content-Security-Policy without 'unsafe-inline' would block: a script
// element with content, a style element, a style or event handler
// attribute, or a javascript: URL.
func inlineCode(page []byte) string {
	z := html.NewTokenizer(bytes.NewReader(page))
	inScript := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.TextToken:
			if text := bytes.TrimSpace(z.Text()); inScript && len(text) > 0 {
				return "<script>" + string(text)
			}
		case html.EndTagToken:
			inScript = false
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data == "style" {
				return "<style>"
			}
			src := false
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case a.Key == "style", strings.HasPrefix(a.Key, "on"):
					return tok.String()
				case strings.HasPrefix(v, "javascript:"):
					return tok.String()
				case a.Key == "src":
					src = true
				}
			}
			inScript = tok.Data == "script" && !src
		}
	}
}

// TestPagesHaveNoInlineCode: the default templates need no
// 'unsafe-inline': their scripts and styles are all in the assets.
func TestPagesHaveNoInlineCode(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	// A live room and a recording, so that every part of the pages shows.
	record(t, ctx, s, "bob", fx.Chunks[:6])
	publish(t, ctx, s, "bob")
	for _, path := range []string{"/live/bob", "/live/bob/embed", "/live/bob/broadcast", "/live/"} {
		_, body := get(t, http.MethodGet, s.URL+path, nil)
		if m := inlineCode(body); m != "" {
			t.Errorf("%s has inline code: %s", path, m)
		}
	}
}

// TestViewRefusedEverywhere: a room that Authorize does not let the
// request View gives away nothing: its pages, status, init segment,
// recordings and playback are refused, its stream too, and it is left out
// of the live-room lists, while it is live and has a recording.
func TestViewRefusedEverywhere(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: func(c echo.Context, room string, a liveplugin.Action) error {
		if a == liveplugin.View && room == "secret" && c.Request().Header.Get("X-Owner") == "" {
			return liveplugin.ErrForbidden
		}
		return nil
	}})
	id := record(t, ctx, s, "secret", fx.Chunks[:6])
	pub, _ := publish(t, ctx, s, "secret")
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
	s.waitBytes(t, ctx, "secret", int64(len(fx.Chunks[0])))
	open, _ := publish(t, ctx, s, "open")
	open.send(t, ctx, websocket.MessageBinary, fx.Chunks[0]) // listed once it has its header
	s.waitBytes(t, ctx, "open", int64(len(fx.Chunks[0])))

	for _, path := range []string{"", "/embed", "/status", "/meta", "/recordings", "/playback", "/playback?b=" + id} {
		resp, body := get(t, http.MethodGet, s.URL+"/live/secret"+path, nil)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), id) {
			t.Errorf("GET /live/secret%s = %d %s; want 403 revealing nothing", path, resp.StatusCode, body)
		}
		if resp, _ := get(t, http.MethodGet, s.URL+"/live/secret"+path, http.Header{"X-Owner": {"yes"}}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /live/secret%s for its owner = %d; want 200", path, resp.StatusCode)
		}
	}
	viewer := mustDial(t, ctx, s.ws("/live/secret/subscribe"))
	if code, reason := viewer.closed(t, ctx); code != liveplugin.StatusForbidden || reason != "not allowed in this room" {
		t.Errorf("subscribe closed with %d %q; want 4403", code, reason)
	}
	if _, binary, _ := viewer.snapshot(); len(binary) != 0 {
		t.Errorf("refused viewer got %d binary messages", len(binary))
	}

	_, body := get(t, http.MethodGet, s.URL+"/live/rooms", nil)
	var rooms []liveplugin.BroadcastInfo
	if err := json.Unmarshal(body, &rooms); err != nil || len(rooms) != 1 || rooms[0].Room != "open" {
		t.Errorf("rooms JSON = %s; want only the open room", body)
	}
	if _, body := get(t, http.MethodGet, s.URL+"/live/", nil); strings.Contains(string(body), "secret") || !strings.Contains(string(body), "open") {
		t.Error("rooms page lists the secret room, or not the open one")
	}
}

// TestAppCanWidenContentSecurityPolicy follows SECURITY.md: an app that
// needs another source in an overridden view changes the policy in a
// middleware on the plugin's group.
func TestAppCanWidenContentSecurityPolicy(t *testing.T) {
	e := echo.New()
	g := e.Group("/live", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Before(func() {
				h := c.Response().Header()
				if p := h.Get("Content-Security-Policy"); p != "" {
					h.Set("Content-Security-Policy", strings.Replace(p, "img-src 'self'", "img-src 'self' https://cdn.example.com", 1))
				}
			})
			return next(c)
		}
	})
	p, err := liveplugin.Register(g, liveplugin.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/live/alice", nil))
	if d := directives(rec.Header().Get("Content-Security-Policy")); rec.Code != http.StatusOK || d["img-src"] != "'self' https://cdn.example.com data:" {
		t.Errorf("watch page = %d with img-src %q; want the app's source added", rec.Code, d["img-src"])
	}
}
