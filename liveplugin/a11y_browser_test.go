package liveplugin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// a11yExceptions are the serious violations the plugin's pages still have
// in elements that player.js or broadcaster.js create or change: each
// names its follow-up. None so far.
var a11yExceptions []chrometest.AxeExclusion

// TestBrowserAccessibility runs axe-core on each of the plugin's pages,
// offline and while the fixture publisher broadcasts, and fails on every
// serious or critical violation: the rooms page (empty, then listing the
// room), the watch page (offline, live, then offline with the recording),
// the broadcaster page (before and while it is live) and the embed page
// (offline and live).
func TestBrowserAccessibility(t *testing.T) {
	axe := chrometest.AxeSource(t)
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, StatusInterval: 200 * time.Millisecond})
	ts := &testServer{URL: srv.url, p: srv.p}
	ctx, cancel := context.WithTimeout(t.Context(), 2*browserLiveTimeout)
	defer cancel()
	b := chrometest.New(t)
	tab := b.NewTab(t, "a11y")

	check := func(name, path, ready string) {
		t.Helper()
		tab.Navigate(srv.url + path)
		tab.WaitFor(`document.readyState === 'complete' && (`+ready+`)`, browserLiveTimeout)
		if got := chrometest.CheckAccessibility(t, tab, axe, a11yExceptions...); len(got) > 0 {
			t.Logf("%s (%s): %d serious violations", name, path, len(got))
		}
	}
	room := "/live/" + browserRoom
	check("rooms page, empty", "/live/", jsSees("Nobody is live right now."))
	check("watch page, offline", room, chrometest.PlayerIn("document", "offline"))
	check("broadcaster page", room+"/broadcast", chrometest.BroadcasterIs("idle"))
	check("embed page, offline", room+"/embed", chrometest.PlayerIn("document", "offline"))

	pub, _ := publish(t, ctx, ts, browserRoom)
	for _, c := range fx.Chunks[:len(fx.Chunks)/2] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	chrometest.Until(t, browserLiveTimeout, "room live", func() bool { _, ok := srv.p.Status(browserRoom); return ok })
	check("rooms page, live", "/live/", `document.querySelector('[data-amlive-room="`+browserRoom+`"]')`)
	check("watch page, live", room, chrometest.PlayerIn("document", "live")+` && `+jsSees("Live since"))
	check("embed page, live", room+"/embed", chrometest.PlayerIn("document", "live"))

	for _, c := range fx.Chunks[len(fx.Chunks)/2:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
	check("watch page, with a recording", room, `document.querySelector('[data-amlive-recording]')`)

	// The broadcaster page while it is live (with Chromium's fake camera),
	// its upload health and viewer lines showing.
	tab.Navigate(srv.url + room + "/broadcast")
	tab.WaitFor(chrometest.BroadcasterIs("idle"), browserLiveTimeout)
	chrometest.Eval[bool](tab, `(document.querySelector('[data-amlive-start]').click(), true)`)
	tab.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)
	if got := chrometest.CheckAccessibility(t, tab, axe, a11yExceptions...); len(got) > 0 {
		t.Logf("broadcaster page, live: %d serious violations", len(got))
	}
	chrometest.Eval[bool](tab, `(document.querySelector('[data-amlive-stop]').click(), true)`)
	tab.WaitFor(chrometest.BroadcasterIs("idle")+` || `+chrometest.BroadcasterIs("ended"), browserLiveTimeout)
}

// keyStop is what jsKeyStop records of the focused element after a Tab.
type keyStop struct {
	Index int    `json:"index"` // the element's data-kb index, or -1
	Style string `json:"style"` // its outline and box-shadow, focused
	Tag   string `json:"tag"`   // what it is, for messages
}

// jsKeyBaseline numbers the page's visible interactive elements (data-kb)
// and returns, for each, what it is and its outline and box-shadow while
// nothing is focused.
const jsKeyBaseline = `(() => {
  document.activeElement?.blur();
  const style = (el) => { const s = getComputedStyle(el); return s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor + ' | ' + s.boxShadow; };
  const els = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), textarea, select, video[controls], [tabindex]')]
    .filter((el) => el.checkVisibility() && !el.disabled && el.tabIndex >= 0);
  return els.map((el, i) => { el.dataset.kb = i; return {index: i, style: style(el), tag: el.outerHTML.slice(0, 120)}; });
})()`

// jsKeyStop describes the focused element.
const jsKeyStop = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {index: -1, style: '', tag: 'body'};
  const s = getComputedStyle(el);
  return {index: el.dataset.kb === undefined ? -1 : Number(el.dataset.kb), style: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor + ' | ' + s.boxShadow, tag: el.outerHTML.slice(0, 120)};
})()`

// checkKeyboard presses Tab through the tab's page and fails t unless
// every visible interactive element gets the focus, and shows it: its
// computed outline or box-shadow differs from when it is not focused.
func checkKeyboard(t *testing.T, tab *chrometest.Tab) {
	t.Helper()
	base := chrometest.Eval[[]keyStop](tab, jsKeyBaseline)
	if len(base) == 0 {
		t.Fatalf("%s: no interactive elements", tab.Name())
	}
	reached, shown := make([]bool, len(base)), make([]bool, len(base))
	// Enough presses to get through each element, and the video's own
	// controls, twice.
	for range 4*len(base) + 20 {
		tab.Do(chromedp.KeyEvent(kb.Tab))
		s := chrometest.Eval[keyStop](tab, jsKeyStop)
		if s.Index < 0 {
			continue
		}
		reached[s.Index] = true
		// A <video>'s focus goes to its native controls, which the
		// browser draws with their own focus ring, inside the element.
		shown[s.Index] = shown[s.Index] || s.Style != base[s.Index].Style || strings.HasPrefix(s.Tag, "<video")
	}
	for i, ok := range shown {
		if reached[i] && !ok {
			t.Errorf("%s: %s shows no focus: outline and box-shadow %q, as when not focused", tab.Name(), base[i].Tag, base[i].Style)
		}
	}
	for i, ok := range reached {
		if !ok {
			t.Errorf("%s: Tab never reaches %s", tab.Name(), base[i].Tag)
		}
	}
}

// TestBrowserKeyboard presses Tab through the watch page (offline, with a
// recording) and the broadcaster page: every control on them gets the
// keyboard focus, and shows it.
func TestBrowserKeyboard(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll})
	ts := &testServer{URL: srv.url, p: srv.p}
	ctx, cancel := context.WithTimeout(t.Context(), 2*browserLiveTimeout)
	defer cancel()
	pub, _ := publish(t, ctx, ts, browserRoom)
	for _, c := range fx.Chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}

	b := chrometest.New(t)
	watch := b.NewTab(t, "watch page")
	watch.Navigate(srv.url + "/live/" + browserRoom)
	watch.WaitFor(`document.readyState === 'complete' && document.querySelector('[data-amlive-recording]')`, browserLiveTimeout)
	checkKeyboard(t, watch)

	bc := b.NewTab(t, "broadcaster page")
	bc.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	bc.WaitFor(chrometest.BroadcasterIs("idle"), browserLiveTimeout)
	checkKeyboard(t, bc)
}
