package main

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/liveplugin"
)

func TestSignup(t *testing.T) {
	s := newSite(t, t.TempDir(), options{LoginBurst: 100})
	newClient(t, s.ts.URL).mustSignUp("alice")

	tests := []struct {
		name         string
		giveName     string
		givePassword string
		wantStatus   int
		wantLocation string
		wantError    error // shown in the form
	}{
		{name: "new user", giveName: "carol", givePassword: "correct horse", wantStatus: 303, wantLocation: "/u/carol"},
		{name: "name with digits, dash and underscore", giveName: "d4n_the-man", givePassword: "fine password", wantStatus: 303, wantLocation: "/u/d4n_the-man"},
		{name: "spaces around the name", giveName: "  erin ", givePassword: "fine password", wantStatus: 303, wantLocation: "/u/erin"},
		{name: "duplicate", giveName: "alice", givePassword: "another password", wantStatus: 409},
		{name: "duplicate in another case", giveName: "ALICE", givePassword: "another password", wantStatus: 409},
		{name: "empty name", giveName: "", givePassword: "fine password", wantStatus: 422},
		{name: "starts with a dash", giveName: "-bob", givePassword: "fine password", wantStatus: 422},
		{name: "space inside", giveName: "bo b", givePassword: "fine password", wantStatus: 422},
		{name: "slash", giveName: "bo/b", givePassword: "fine password", wantStatus: 422},
		{name: "too long", giveName: strings.Repeat("a", 65), givePassword: "fine password", wantStatus: 422},
		{name: "reserved by the plugin", giveName: "assets", givePassword: "fine password", wantStatus: 422},
		{name: "reserved in another case", giveName: "Rooms", givePassword: "fine password", wantStatus: 422},
		{name: "short password", giveName: "frank", givePassword: "1234567", wantStatus: 422, wantError: errShortPassword},
		{name: "empty password", giveName: "frank", givePassword: "", wantStatus: 422, wantError: errShortPassword},
		{name: "password over 72 bytes", giveName: "frank", givePassword: strings.Repeat("pa", 36) + "p", wantStatus: 422, wantError: errLongPassword},
		{name: "password of 72 bytes", giveName: "gina", givePassword: strings.Repeat("pa", 36), wantStatus: 303, wantLocation: "/u/gina"},
		{name: "eight spaces", giveName: "frank", givePassword: "        ", wantStatus: 422, wantError: errBlankPassword},
		{name: "tabs and newlines", giveName: "frank", givePassword: "\t\t\n\n\r\n  \t", wantStatus: 422, wantError: errBlankPassword},
		{name: "short between spaces", giveName: "frank", givePassword: "    abc    ", wantStatus: 422, wantError: errShortPassword},
		{name: "seven characters of two bytes", giveName: "frank", givePassword: "ééééééé", wantStatus: 422, wantError: errShortPassword},
		{name: "eight characters of two bytes", giveName: "hugo", givePassword: "éèêëàâäç", wantStatus: 303, wantLocation: "/u/hugo"},
		{name: "twenty emoji", giveName: "frank", givePassword: strings.Repeat("🙂", 20), wantStatus: 422, wantError: errLongPassword},
		{name: "user name", giveName: "frank_the_tank", givePassword: "frank_the_tank", wantStatus: 422, wantError: errNamePassword},
		{name: "user name in another case", giveName: "frank_the_tank", givePassword: "Frank_The_Tank", wantStatus: 422, wantError: errNamePassword},
		{name: "common password", giveName: "frank", givePassword: "password", wantStatus: 422, wantError: errCommonPassword},
		{name: "common password in capitals", giveName: "frank", givePassword: "Password1", wantStatus: 422, wantError: errCommonPassword},
		{name: "common digits", giveName: "frank", givePassword: "12345678", wantStatus: 422, wantError: errCommonPassword},
		{name: "the site's name", giveName: "frank", givePassword: "amlivedemo", wantStatus: 422, wantError: errCommonPassword},
		{name: "one character repeated", giveName: "frank", givePassword: "zzzzzzzzzz", wantStatus: 422, wantError: errRepeatPassword},
		{name: "spaces inside are fine", giveName: "ivy", givePassword: "a b c d e f", wantStatus: 303, wantLocation: "/u/ivy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, s.ts.URL)
			r := c.signup(tc.giveName, tc.givePassword)
			if r.Status != tc.wantStatus || r.Location != tc.wantLocation {
				t.Fatalf("sign up %q = %d %q; want %d %q", tc.giveName, r.Status, r.Location, tc.wantStatus, tc.wantLocation)
			}
			wantUser := strings.TrimPrefix(tc.wantLocation, "/u/")
			if got := c.user(); got != wantUser {
				t.Errorf("signed in as %q after sign-up; want %q", got, wantUser)
			}
			if r.Status != 303 && !strings.Contains(r.Body, `data-testid="form-error"`) {
				t.Errorf("refused sign-up shows no error in the form:\n%s", r.Body)
			}
			if tc.wantError != nil && !strings.Contains(r.Body, template.HTMLEscapeString(sentence(tc.wantError))) {
				t.Errorf("refused sign-up does not say %q:\n%s", sentence(tc.wantError), r.Body)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name         string
		giveName     string
		givePassword string
		giveNext     string
		wantStatus   int
		wantLocation string
		wantUser     string
	}{
		{name: "right password", giveName: "alice", givePassword: "password-alice", wantStatus: 303, wantLocation: "/u/alice", wantUser: "alice"},
		{name: "name in another case", giveName: "ALICE", givePassword: "password-alice", wantStatus: 303, wantLocation: "/u/alice", wantUser: "alice"},
		{name: "back to next", giveName: "alice", givePassword: "password-alice", giveNext: "/live/alice/broadcast", wantStatus: 303, wantLocation: "/live/alice/broadcast", wantUser: "alice"},
		{name: "next on another site", giveName: "alice", givePassword: "password-alice", giveNext: "//evil.example/", wantStatus: 303, wantLocation: "/u/alice", wantUser: "alice"},
		{name: "next as a URL", giveName: "alice", givePassword: "password-alice", giveNext: "https://evil.example/", wantStatus: 303, wantLocation: "/u/alice", wantUser: "alice"},
		{name: "wrong password", giveName: "alice", givePassword: "password-bob", wantStatus: 401},
		{name: "empty password", giveName: "alice", givePassword: "", wantStatus: 401},
		{name: "unknown user", giveName: "nobody", givePassword: "password-alice", wantStatus: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, t.TempDir(), options{})
			newClient(t, s.ts.URL).mustSignUp("alice")
			newClient(t, s.ts.URL).mustSignUp("bob")

			c := newClient(t, s.ts.URL)
			form := url.Values{"username": {tc.giveName}, "password": {tc.givePassword}}
			if tc.giveNext != "" {
				form.Set("next", tc.giveNext)
			}
			r := c.submit("/login", "/login", form)
			if r.Status != tc.wantStatus || r.Location != tc.wantLocation {
				t.Fatalf("sign in %q = %d %q; want %d %q", tc.giveName, r.Status, r.Location, tc.wantStatus, tc.wantLocation)
			}
			if got := c.user(); got != tc.wantUser {
				t.Errorf("signed in as %q; want %q", got, tc.wantUser)
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	s := newSite(t, t.TempDir(), options{LoginBurst: 3})
	c := newClient(t, s.ts.URL)
	for i, want := range []int{401, 401, 401, 429, 429} {
		if r := c.login("nobody", "wrong password"); r.Status != want {
			t.Errorf("attempt %d: status %d; want %d", i+1, r.Status, want)
		}
	}
}

// TestCSRF checks that every form refuses a POST without the token of a
// page of the site.
func TestCSRF(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	tests := []struct {
		name       string
		givePath   string
		giveToken  string // "" sends none
		giveHeader map[string]string
	}{
		{name: "sign up without token", givePath: "/signup"},
		{name: "sign in without token", givePath: "/login"},
		{name: "sign out without token", givePath: "/logout"},
		{name: "sign up with a wrong token", givePath: "/signup", giveToken: "forged"},
		{name: "sign in with a wrong token", givePath: "/login", giveToken: "forged"},
		{name: "sign out with a wrong token", givePath: "/logout", giveToken: "forged"},
		{name: "cross-site browser", givePath: "/logout", giveHeader: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, s.ts.URL)
			c.mustSignUp("u" + strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", ""), "-", ""))
			user := c.user()
			_ = c.token("/") // a page of the site sets the CSRF cookie, as a browser would have it

			form := url.Values{"username": {"mallory"}, "password": {"password-mallory"}}
			if tc.giveToken != "" {
				form.Set("_csrf", tc.giveToken)
			}
			req, err := http.NewRequest(http.MethodPost, s.ts.URL+tc.givePath, strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.giveHeader {
				req.Header.Set(k, v)
			}
			if r := c.do(req); r.Status != http.StatusForbidden {
				t.Errorf("POST %s = %d; want 403", tc.givePath, r.Status)
			}
			if got := c.user(); got != user {
				t.Errorf("after a refused POST signed in as %q; want %q", got, user)
			}
			if _, ok := s.srv.users.lookup("mallory"); ok {
				t.Error("a refused sign-up created its user")
			}
		})
	}
}

func TestLogout(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	c := newClient(t, s.ts.URL)
	c.mustSignUp("alice")
	if got := c.user(); got != "alice" {
		t.Fatalf("signed in as %q; want alice", got)
	}
	r := c.submit("/", "/logout", url.Values{})
	if r.Status != http.StatusSeeOther || r.Location != "/" {
		t.Fatalf("sign out = %d %q; want 303 /", r.Status, r.Location)
	}
	if got := c.user(); got != "" {
		t.Errorf("signed in as %q after sign-out; want nobody", got)
	}
	if r := c.get("/u/alice"); strings.Contains(r.Body, `data-testid="go-live-panel"`) {
		t.Error("profile shows the go-live panel after sign-out")
	}
}

// TestLogoutRevokes replays the session cookie of a browser that signed
// out, as someone who had copied it would: the site must treat it as
// signed out, on its pages and on the plugin's routes. Another browser of
// the same user stays signed in.
func TestLogoutRevokes(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	alice := newClient(t, s.ts.URL)
	alice.mustSignUp("alice")
	laptop := newClient(t, s.ts.URL)
	if r := laptop.login("alice", "password-alice"); r.Status != http.StatusSeeOther {
		t.Fatalf("sign in on a second browser = %d; want 303", r.Status)
	}
	u, err := url.Parse(s.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	stolen := newClient(t, s.ts.URL)
	stolen.jar.SetCookies(u, alice.jar.Cookies(u)) // a copy of alice's cookies
	if got := stolen.user(); got != "alice" {
		t.Fatalf("the copied cookie signs in %q; want alice before sign-out", got)
	}

	if r := alice.submit("/", "/logout", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("sign out = %d; want 303", r.Status)
	}
	if got := stolen.user(); got != "" {
		t.Errorf("after sign-out the old cookie signs in %q; want nobody", got)
	}
	if r := stolen.get("/u/alice"); strings.Contains(r.Body, `data-testid="go-live-panel"`) {
		t.Error("after sign-out the old cookie shows alice's go-live panel")
	}
	if r := stolen.get("/live/alice/broadcast"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login?") {
		t.Errorf("after sign-out the old cookie gets the broadcaster page: %d %q; want 303 to /login", r.Status, r.Location)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if code := publishCloseCode(t, ctx, stolen, "alice"); code != liveplugin.StatusSignInRequired {
		t.Errorf("publish with the old cookie: close code %d; want %d", code, liveplugin.StatusSignInRequired)
	}
	if got := laptop.user(); got != "alice" {
		t.Errorf("alice's other browser is signed in as %q after one signed out; want alice", got)
	}

	// Signing in again on the laptop replaces its session: the laptop's
	// earlier cookie ends too.
	before := laptop.jar.Cookies(u)
	if r := laptop.login("alice", "password-alice"); r.Status != http.StatusSeeOther {
		t.Fatalf("sign in again = %d; want 303", r.Status)
	}
	old := newClient(t, s.ts.URL)
	old.jar.SetCookies(u, before)
	if got := old.user(); got != "" {
		t.Errorf("the cookie of the replaced session signs in %q; want nobody", got)
	}
	if got := laptop.user(); got != "alice" {
		t.Errorf("after signing in again the laptop is signed in as %q; want alice", got)
	}
}

func TestSessionExpiry(t *testing.T) {
	const maxAge = time.Hour
	tests := []struct {
		name     string
		giveAge  time.Duration
		wantUser string
	}{
		{name: "new", giveAge: 0, wantUser: "alice"},
		// The session's issue time is kept in whole seconds and the test
		// clock follows the real one, so "just younger" leaves 2 s.
		{name: "just younger than max age", giveAge: maxAge - 2*time.Second, wantUser: "alice"},
		{name: "max age", giveAge: maxAge, wantUser: ""},
		{name: "a month", giveAge: 30 * 24 * time.Hour, wantUser: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var clk clock
			s := newSite(t, t.TempDir(), options{SessionMaxAge: maxAge, Now: clk.now})
			c := newClient(t, s.ts.URL)
			c.mustSignUp("alice")
			clk.advance(tc.giveAge)
			if got := c.user(); got != tc.wantUser {
				t.Errorf("after %v signed in as %q; want %q", tc.giveAge, got, tc.wantUser)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			code := publishCloseCode(t, ctx, c, "alice")
			if want := map[bool]websocket.StatusCode{true: 0, false: liveplugin.StatusSignInRequired}[tc.wantUser != ""]; code != want {
				t.Errorf("publish after %v: close code %d; want %d", tc.giveAge, code, want)
			}
		})
	}
}

// TestSessionCookie checks the attributes of the session cookie.
func TestSessionCookie(t *testing.T) {
	s := newSite(t, t.TempDir(), options{SessionMaxAge: time.Hour})
	c := newClient(t, s.ts.URL)
	r := c.signup("alice", "password-alice")
	var got *http.Cookie
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == sessionName {
			got = ck
		}
	}
	if got == nil {
		t.Fatalf("sign-up set no %s cookie", sessionName)
	}
	if !got.HttpOnly || got.SameSite != http.SameSiteLaxMode || got.MaxAge != 3600 || got.Path != "/" || got.Secure {
		t.Errorf("cookie = %+v; want HttpOnly, SameSite=Lax, Max-Age=3600, Path=/, not Secure over plain HTTP", got)
	}
}

// TestRestart checks that users and sessions survive a restart on the
// same data directory.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	first := newSite(t, dir, options{})
	c := newClient(t, first.ts.URL)
	c.mustSignUp("alice")
	first.close(t)

	second := newSite(t, dir, options{})
	c = newClientWithJar(t, second.ts.URL, c.jar) // the same browser, the restarted site
	if got := c.user(); got != "alice" {
		t.Errorf("after restart signed in as %q; want alice (the session key is kept)", got)
	}
	fresh := newClient(t, second.ts.URL)
	if r := fresh.login("alice", "password-alice"); r.Status != http.StatusSeeOther {
		t.Errorf("sign in after restart = %d; want 303", r.Status)
	}
	if r := fresh.signup("alice", "password-alice"); r.Status != http.StatusConflict {
		t.Errorf("sign up alice again after restart = %d; want 409", r.Status)
	}
	for _, name := range []string{"users.json", "session.key"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode %v; want 0600", name, perm)
		}
	}
}

// publishCloseCode dials room's upload WebSocket as c and returns the
// close code the server ends it with, or 0 if the server accepts the
// publisher (it says "ready").
func publishCloseCode(t *testing.T, ctx context.Context, c *client, room string) websocket.StatusCode {
	t.Helper()
	conn, err := c.dial(ctx, "/live/"+room+"/upload?mime="+url.QueryEscape("video/webm;codecs=vp8,opus"))
	if err != nil {
		t.Fatalf("dial %s: %v", room, err)
	}
	defer conn.CloseNow()
	typ, data, err := conn.Read(ctx)
	if err != nil {
		code := websocket.CloseStatus(err)
		if code == -1 {
			t.Fatalf("read: %v; want a close code", err)
		}
		return code
	}
	var ev struct{ Type string }
	if typ != websocket.MessageText || json.Unmarshal(data, &ev) != nil || ev.Type != "ready" {
		t.Fatalf("first message %s %q; want ready", typ, data)
	}
	_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"end"}`))
	_ = conn.Close(websocket.StatusNormalClosure, "")
	return 0
}

// TestPublishAuthorization dials the plugin's upload WebSocket as the
// browser of each kind of visitor.
func TestPublishAuthorization(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	alice := newClient(t, s.ts.URL)
	alice.mustSignUp("alice")
	newClient(t, s.ts.URL).mustSignUp("bob")
	anonymous := newClient(t, s.ts.URL)

	tests := []struct {
		name     string
		giveAs   *client
		giveRoom string
		want     websocket.StatusCode
	}{
		{name: "own room", giveAs: alice, giveRoom: "alice", want: 0},
		{name: "another user's room", giveAs: alice, giveRoom: "bob", want: liveplugin.StatusForbidden},
		{name: "a room nobody owns", giveAs: alice, giveRoom: "nobody", want: liveplugin.StatusForbidden},
		{name: "own room in another case", giveAs: alice, giveRoom: "Alice", want: liveplugin.StatusForbidden},
		{name: "signed out", giveAs: anonymous, giveRoom: "bob", want: liveplugin.StatusSignInRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if got := publishCloseCode(t, ctx, tc.giveAs, tc.giveRoom); got != tc.want {
				t.Errorf("publish in %s: close code %d; want %d", tc.giveRoom, got, tc.want)
			}
		})
	}
}

func TestProfile(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	alice := newClient(t, s.ts.URL)
	alice.mustSignUp("alice")
	bob := newClient(t, s.ts.URL)
	bob.mustSignUp("bob")
	anonymous := newClient(t, s.ts.URL)

	const (
		panel       = `data-testid="go-live-panel"`
		broadcaster = `data-amlive-broadcaster`
		player      = `data-amlive-player`
		snippet     = `/live/alice/embed&#34;`
	)
	tests := []struct {
		name         string
		giveAs       *client
		givePath     string
		wantStatus   int
		wantLocation string
		want, reject []string
	}{
		{name: "owner", giveAs: alice, givePath: "/u/alice", wantStatus: 200, want: []string{panel, broadcaster, `data-room="alice"`, snippet, `data-testid="share-link"`}, reject: []string{player}},
		{name: "other user", giveAs: bob, givePath: "/u/alice", wantStatus: 200, want: []string{player, `data-room="alice"`, snippet}, reject: []string{panel, broadcaster}},
		{name: "signed out", giveAs: anonymous, givePath: "/u/alice", wantStatus: 200, want: []string{player, snippet, `/login?next=/u/alice`}, reject: []string{panel, broadcaster}},
		{name: "unknown user", giveAs: alice, givePath: "/u/nobody", wantStatus: 404, want: []string{`data-status="404"`}},
		{name: "unknown broadcast", giveAs: alice, givePath: "/u/alice?b=20260101T000000Z-000000", wantStatus: 404},
		{name: "name in another case", giveAs: bob, givePath: "/u/ALICE", wantStatus: 301, wantLocation: "/u/alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.giveAs.get(tc.givePath)
			if r.Status != tc.wantStatus || r.Location != tc.wantLocation {
				t.Fatalf("GET %s = %d %q; want %d %q", tc.givePath, r.Status, r.Location, tc.wantStatus, tc.wantLocation)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Body, w) {
					t.Errorf("GET %s: page lacks %s", tc.givePath, w)
				}
			}
			for _, w := range tc.reject {
				if strings.Contains(r.Body, w) {
					t.Errorf("GET %s: page has %s", tc.givePath, w)
				}
			}
		})
	}
}

func TestPages(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	c := newClient(t, s.ts.URL)
	c.mustSignUp("alice")
	tests := []struct {
		name         string
		givePath     string
		giveAccept   string
		wantStatus   int
		wantLocation string
		want         []string
	}{
		{name: "home", givePath: "/", wantStatus: 200, want: []string{`id="live-list"`, `data-amlive-live-list`, `/live/assets/player.js?v=`, `/live/assets/status.js?v=`}},
		{name: "sign-up form", givePath: "/signup", wantStatus: 200, want: []string{`data-testid="signup-username"`, `data-testid="signup-password"`, `data-testid="signup-submit"`}},
		{name: "sign-in form", givePath: "/login?next=/u/alice", wantStatus: 200, want: []string{`data-testid="login-form"`, `name="next" value="/u/alice"`}},
		{name: "sign-in form, foreign next", givePath: "/login?next=//evil.example", wantStatus: 200},
		{name: "embed test", givePath: "/embed-test?room=alice", wantStatus: 200, want: []string{`<iframe class="embed-frame"`, `src="/live/alice/embed"`}},
		{name: "embed test, default room", givePath: "/embed-test", wantStatus: 200, want: []string{`src="/live/alice/embed"`}},
		{name: "embed test, bad room", givePath: "/embed-test?room=..%2Fx", wantStatus: 400},
		{name: "plugin's embed page", givePath: "/live/alice/embed", wantStatus: 200, want: []string{`data-amlive-player`}},
		// Config.Views: the plugin's pages in the site's layout, signed in.
		{name: "plugin's rooms page in the site's layout", givePath: "/live/", wantStatus: 200,
			want: []string{`<header class="site-header">`, `data-testid="account" data-user="alice"`, `data-testid="logout-form"`, `href="/static/style.css"`, "Nobody is live right now.", `<footer class="site-footer">`}},
		{name: "plugin's watch page in the site's layout", givePath: "/live/alice", wantStatus: 200,
			want: []string{`<header class="site-header">`, `data-user="alice"`, `data-amlive-player`, `<title>alice · amlive demo</title>`}},
		{name: "plugin's broadcaster page, signed in", givePath: "/live/alice/broadcast", wantStatus: 200, want: []string{`data-amlive-broadcaster`}},
		{name: "plugin's JSON keeps JSON errors", givePath: "/live/rooms/status", giveAccept: "application/json", wantStatus: 404},
		{name: "unknown page", givePath: "/nope", wantStatus: 404, want: []string{`data-status="404"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, s.ts.URL+tc.givePath, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", "text/html")
			if tc.giveAccept != "" {
				req.Header.Set("Accept", tc.giveAccept)
			}
			r := c.do(req)
			if r.Status != tc.wantStatus || r.Location != tc.wantLocation {
				t.Fatalf("GET %s = %d %q; want %d %q", tc.givePath, r.Status, r.Location, tc.wantStatus, tc.wantLocation)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Body, w) {
					t.Errorf("GET %s: page lacks %s", tc.givePath, w)
				}
			}
			if strings.Contains(tc.givePath, "evil") && strings.Contains(r.Body, "evil") {
				t.Errorf("GET %s: page keeps the foreign next", tc.givePath)
			}
		})
	}
}

// TestBroadcasterPageSignIn checks that the plugin's broadcaster page sends
// a signed-out browser to the sign-in form, and back.
func TestBroadcasterPageSignIn(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	newClient(t, s.ts.URL).mustSignUp("alice")
	c := newClient(t, s.ts.URL)
	r := c.get("/live/alice/broadcast")
	want := "/login?next=" + url.QueryEscape("/live/alice/broadcast")
	if r.Status != http.StatusSeeOther || r.Location != want {
		t.Fatalf("GET /live/alice/broadcast signed out = %d %q; want 303 %q", r.Status, r.Location, want)
	}
	form := url.Values{"username": {"alice"}, "password": {"password-alice"}, "next": {"/live/alice/broadcast"}}
	if r := c.submit(r.Location, "/login", form); r.Location != "/live/alice/broadcast" {
		t.Errorf("sign in from the redirect goes to %q; want /live/alice/broadcast", r.Location)
	}
}

// TestSignOutFromPluginPage signs out with the form of the site's header
// on one of the plugin's pages, which the demo's Config.Views puts there.
func TestSignOutFromPluginPage(t *testing.T) {
	s := newSite(t, t.TempDir(), options{})
	c := newClient(t, s.ts.URL)
	c.mustSignUp("alice")
	if r := c.submit("/live/", "/logout", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("POST /logout with the token of /live/ = %d; want 303: %s", r.Status, r.Body)
	}
	if got := c.user(); got != "" {
		t.Errorf("signed in as %q after signing out from /live/; want nobody", got)
	}
	r := c.get("/live/")
	if !strings.Contains(r.Body, `data-testid="account-login"`) {
		t.Errorf("GET /live/ signed out: no sign-in link in the header")
	}
}
