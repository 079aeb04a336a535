package liveplugin_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// jsSees is true when the page's visible text contains text.
func jsSees(text string) string {
	return fmt.Sprintf(`document.body.innerText.includes(%q)`, text)
}

// jsWatchText records in window.__texts every text the page's main
// element shows from now on.
const jsWatchText = `(() => {
  window.__texts = [];
  const look = () => { const t = document.querySelector('main').innerText; if (window.__texts.at(-1) !== t) window.__texts.push(t); };
  new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  look();
  return true;
})()`

// TestBrowserStatusFollowsBroadcast broadcasts in a room with the fixture
// publisher while its watch page and the rooms page are open, and checks
// what they show without a reload: the rooms page, opened before the
// broadcast, lists the room with its viewer count, then "Nobody is live"
// again; the watch page, opened while live, says "Live since" and lists
// the live recording, and within a bound of the end shows neither and
// lists the recording with the duration the plugin's pages give it. A
// watch page opened before the broadcast gains the live recording's row
// when it starts, and the same recording's row at the end. No page asks
// for /favicon.ico.
func TestBrowserStatusFollowsBroadcast(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	cfg := liveplugin.Config{Authorize: browserAllowAll, StatusInterval: 200 * time.Millisecond}
	srv := newBrowserServerWith(t, cfg)
	var faviconMu sync.Mutex
	favicons := 0
	srv.e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().URL.Path == "/favicon.ico" {
				faviconMu.Lock()
				favicons++
				faviconMu.Unlock()
			}
			return next(c)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*browserLiveTimeout)
	defer cancel()
	ts := &testServer{URL: srv.url, p: srv.p}

	b := chrometest.New(t)
	rooms := b.NewTab(t, "rooms page")
	rooms.Navigate(srv.url + "/live/")
	rooms.WaitFor(jsSees("Nobody is live right now."), browserLiveTimeout)
	chrometest.Eval[bool](rooms, jsWatchText)
	// What an app's script would see through the status API.
	chrometest.Eval[bool](rooms, `(window.__events = [], amlive.status.subscribe('`+browserRoom+`', (info, ev) => window.__events.push(ev.type + ':' + (info ? info.viewers : 'offline'))), true)`)

	// A watch page opened while the room is offline gains the live
	// recording's row when the broadcast starts.
	early := b.NewTab(t, "watch page, opened offline")
	early.Navigate(srv.url + "/live/" + browserRoom)
	early.WaitFor(jsSees("No recordings yet."), browserLiveTimeout)

	pub, _ := publish(t, ctx, ts, browserRoom)
	for _, c := range fx.Chunks[:len(fx.Chunks)/2] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	chrometest.Until(t, browserLiveTimeout, "room live", func() bool { _, ok := srv.p.Status(browserRoom); return ok })
	watch := b.NewTab(t, "watch page")
	watch.Diagnose = chrometest.PlayerSnapshotJS
	watch.Navigate(srv.url + "/live/" + browserRoom)
	watch.WaitFor(jsSees("Live since")+` && `+jsSees("recording…"), browserLiveTimeout)
	early.WaitFor(jsSees("Live since")+` && `+jsSees("recording…")+` && !`+jsSees("No recordings yet.")+
		` && document.querySelectorAll('[data-amlive-rows] tr[data-amlive-row-live]').length === 1`, browserLiveTimeout)
	// The watch pages' players is the room's viewer.
	chrometest.Until(t, browserLiveTimeout, "two viewers", func() bool { b, _ := srv.p.Status(browserRoom); return b.Viewers == 2 })
	// The status stream tells of the second before the broadcast ends.
	rooms.WaitFor(`window.__events.includes('viewers:2')`, browserLiveTimeout)

	for _, c := range fx.Chunks[len(fx.Chunks)/2:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
	recs, err := srv.p.Recordings(browserRoom)
	if err != nil || len(recs) != 1 || recs[0].Live {
		t.Fatalf("Recordings = %v, %v; want one, finished", recs, err)
	}
	const endBound = 10 * time.Second // StatusInterval is 200 ms; the end is sent at once
	watch.WaitFor(`!`+jsSees("Live since")+` && !`+jsSees("recording…"), endBound)
	row := fmt.Sprintf(`[data-amlive-broadcast=%q]`, recs[0].ID)
	for _, tab := range []*chrometest.Tab{watch, early} {
		tab.WaitFor(`!`+jsSees("Live since")+` && !`+jsSees("recording…"), endBound)
		tab.WaitFor(fmt.Sprintf(`document.querySelector(%q)?.innerText.includes(%q) && document.querySelectorAll('[data-amlive-rows] tr').length === 1`, row, formatDuration(recs[0].Duration)), endBound)
	}

	rooms.WaitFor(jsSees("Nobody is live right now."), endBound)
	texts := chrometest.Eval[[]string](rooms, `window.__texts`)
	listed := false
	for _, text := range texts {
		listed = listed || (strings.Contains(text, browserRoom) && (strings.Contains(text, "1 watching") || strings.Contains(text, "2 watching")))
	}
	if !listed {
		t.Errorf("rooms page showed %q; want one with %s and \"1 watching\" or \"2 watching\"", texts, browserRoom)
	}

	// amlive.status.subscribe: the snapshot (offline), live, the viewers, ended.
	events := chrometest.Eval[[]string](rooms, `window.__events`)
	if len(events) < 4 || events[0] != "snapshot:offline" || !strings.HasPrefix(events[1], "live:") || !slices.Contains(events, "viewers:2") || events[len(events)-1] != "ended:offline" {
		t.Errorf("amlive.status.subscribe(%q) saw %q; want snapshot:offline, live:…, … viewers:2 …, ended:offline", browserRoom, events)
	}

	for _, tab := range []*chrometest.Tab{rooms, watch, early} {
		if !chrometest.Eval[bool](tab, `Boolean(document.querySelector('link[rel~="icon"]'))`) {
			t.Errorf("%s names no icon: the browser asks for /favicon.ico", tab.Name())
		}
	}
	faviconMu.Lock()
	defer faviconMu.Unlock()
	if favicons != 0 {
		t.Errorf("pages asked for /favicon.ico %d times; want 0", favicons)
	}
}

// formatDuration is the plugin's own duration format, through its FuncMap.
func formatDuration(d time.Duration) string {
	return (&liveplugin.Plugin{}).FuncMap()["amliveDuration"].(func(time.Duration) string)(d)
}
