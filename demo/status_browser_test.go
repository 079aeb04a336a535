package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// endBound is how long after a broadcast ends a page that shows it may
// take to show that it ended: the plugin's status stream sends the end at
// once; this leaves room for a busy machine.
const endBound = 10 * time.Second

// jsSees is true when the page's visible text contains text.
func jsSees(text string) string {
	return fmt.Sprintf(`document.body.innerText.includes(%q)`, text)
}

// jsVisible is true when an element matches selector and is rendered.
func jsVisible(selector string) string {
	return fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.checkVisibility(); })()`, selector)
}

// jsHasIcon is true when the page names its icon, so that the browser
// does not ask for /favicon.ico.
const jsHasIcon = `Boolean(document.querySelector('link[rel~="icon"]'))`

// TestBrowserPagesFollowTheBroadcast checks the defects a walk through the
// demo found, as bob, signed in, in a browser, sees them while alice
// broadcasts (with the fixture publisher):
//   - his own profile shows one heading and the "Go live" button, without
//     an empty black preview;
//   - alice's profile, opened while she is live, drops its live badge and
//     its "recording…" row within endBound of the end, without a reload,
//     and lists the recording;
//   - the recording's length reads the same on the demo's profile and on
//     the plugin's watch page;
//   - the plugin's pages carry the site's header, with bob signed in;
//   - "Play" on the recording shows one player, which plays it;
//   - no page asks for /favicon.ico.
func TestBrowserPagesFollowTheBroadcast(t *testing.T) {
	var favicons atomic.Int64
	s := startSite(t, t.TempDir(), options{IdleTimeout: 2 * time.Minute}, func(ts *httptest.Server) {
		h := ts.Config.Handler
		ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/favicon.ico" {
				favicons.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	base := s.ts.URL
	alice := newClient(t, base)
	alice.mustSignUp("alice")
	bob := chrometest.New(t).NewTab(t, "bob")

	// Bob's own profile: one heading, the button, no black box.
	signUpInBrowser(t, bob, base, "bob")
	bob.WaitFor(`document.querySelector('[data-amlive-broadcaster]')?.amliveBroadcaster?.state === 'idle'`, browserTimeout)
	type ownerView struct {
		Headings []string `json:"headings"`
		Screen   bool     `json:"screen"`
		Button   bool     `json:"button"`
	}
	own := chrometest.Eval[ownerView](bob, `({
  headings: [...document.querySelectorAll('main h1, main h2')].filter((h) => h.checkVisibility() && !h.closest('#recordings, #embed')).map((h) => h.innerText.trim()),
  screen: document.querySelector('[data-amlive-broadcaster] .amlive-screen').checkVisibility(),
  button: document.querySelector('[data-amlive-start]').checkVisibility(),
})`)
	if len(own.Headings) != 1 || own.Headings[0] != "bob" || own.Screen || !own.Button {
		t.Errorf("bob's own profile: headings %q, preview box shown %v, Go live button shown %v; want one heading \"bob\", no box, the button",
			own.Headings, own.Screen, own.Button)
	}

	// Bob opens alice's profile while she is offline: no broadcasts yet.
	bob.Navigate(base + "/u/alice")
	bob.WaitFor(`document.readyState === 'complete' && `+jsVisible(`#recordings [data-amlive-if-empty]`), browserTimeout)

	// Alice goes live: the open page shows the badge and a "recording…"
	// row without a reload; then bob opens her profile again.
	ctx, cancel := context.WithTimeout(t.Context(), 2*browserTimeout)
	defer cancel()
	chunks := fixture.Load(t, "vp8-opus-250ms-kf2s").Chunks
	conn, err := alice.dial(ctx, "/live/alice/upload?mime="+url.QueryEscape("video/webm;codecs=vp8,opus"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	closed := make(chan error, 1)
	go func() { // exits when the connection is closed
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	for _, c := range chunks[:len(chunks)/2] {
		if err := conn.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatal(err)
		}
	}
	bob.WaitFor(jsVisible(`[data-testid="profile-live"]`)+` && `+jsVisible(`#recordings tr[data-amlive-row-live]`)+` && `+jsSees("recording…")+` && !`+jsVisible(`#recordings [data-amlive-if-empty]`), browserTimeout)
	// A page rendered once the broadcast is recorded has its row from the
	// server.
	chrometest.Until(t, browserTimeout, "alice live and recorded", func() bool {
		if _, ok := s.srv.plugin.Status("alice"); !ok {
			return false
		}
		recs, err := s.srv.plugin.Recordings("alice")
		return err == nil && slices.ContainsFunc(recs, func(r liveplugin.Recording) bool { return r.Live })
	})
	bob.Navigate(base + "/u/alice")
	bob.WaitFor(jsVisible(`[data-testid="profile-live"]`)+` && `+jsSees("recording…"), browserTimeout)
	if !chrometest.Eval[bool](bob, jsHasIcon) {
		t.Error("alice's profile names no icon")
	}

	for _, c := range chunks[len(chunks)/2:] {
		if err := conn.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"end"}`)); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("upload closed with %v; want a normal closure", err)
	}
	recs, err := s.srv.plugin.Recordings("alice")
	if err != nil || len(recs) != 1 || recs[0].Live {
		t.Fatalf("Recordings(alice) = %+v, %v; want one, finished", recs, err)
	}
	rec := recs[0]
	want := s.srv.plugin.FuncMap()["amliveDuration"].(func(time.Duration) string)(rec.Duration)

	// (a) The live badge and the "recording…" row go without a reload.
	bob.WaitFor(`!`+jsVisible(`[data-testid="profile-live"]`)+` && !`+jsSees("recording…"), endBound)
	row := fmt.Sprintf(`[data-testid="recording"][data-broadcast=%q]`, rec.ID)
	bob.WaitFor(jsVisible(row+` [data-testid="recording-play"]`), endBound)
	demoLength := chrometest.Eval[string](bob, fmt.Sprintf(`document.querySelector(%q).innerText.trim()`, row+` [data-testid="recording-length"]`))

	// (c), (d) The plugin's watch page: the same length, the site's header.
	bob.Navigate(base + "/live/alice")
	bob.WaitFor(`document.readyState === 'complete'`, browserTimeout)
	type pluginView struct {
		User   string `json:"user"`
		Home   bool   `json:"home"`
		Length string `json:"length"`
		Icon   bool   `json:"icon"`
	}
	pv := chrometest.Eval[pluginView](bob, fmt.Sprintf(`({
  user: document.querySelector('header [data-testid="account"]')?.dataset.user ?? null,
  home: Boolean(document.querySelector('header a[href="/"]')?.checkVisibility()),
  length: document.querySelector('[data-amlive-broadcast=%q]')?.querySelector('[data-amlive-field="duration"]')?.innerText.trim() ?? '',
  icon: %s,
})`, rec.ID, jsHasIcon))
	if pv.User != "bob" || !pv.Home {
		t.Errorf("/live/alice: header user %q, link home %v; want the site's header with bob signed in", pv.User, pv.Home)
	}
	if demoLength != want || pv.Length != want {
		t.Errorf("recording of %v: length %q on the profile, %q on /live/alice; want %q on both", rec.Duration, demoLength, pv.Length, want)
	}
	if !pv.Icon {
		t.Error("/live/alice names no icon")
	}
	bob.Navigate(base + "/live/")
	bob.WaitFor(`document.querySelector('header [data-testid="account"]')?.dataset.user === 'bob' && `+jsHasIcon, browserTimeout)

	// (b) Play: one player, playing the chosen recording.
	bob.Navigate(base + "/u/alice")
	bob.Click(row + ` [data-testid="recording-play"]`)
	bob.WaitFor(`location.search === '?b=`+rec.ID+`' && document.readyState === 'complete'`, browserTimeout)
	bob.WaitFor(`(() => {
  const vs = document.querySelectorAll('video');
  if (vs.length !== 1) throw new Error(vs.length + ' video elements on the page');
  const v = vs[0];
  if (v.error) throw new Error('video error ' + v.error.code);
  return v.src.endsWith('/live/alice/playback?b=`+rec.ID+`') && !v.paused && v.currentTime > 0;
})()`, browserTimeout)

	if n := favicons.Load(); n != 0 {
		t.Errorf("pages asked for /favicon.ico %d times; want 0", n)
	}
}
