package liveplugin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
)

// jsTextIs is true when the element sel's text is want.
func jsTextIs(sel, want string) string {
	return fmt.Sprintf(`document.querySelector(%q)?.textContent === %q`, sel, want)
}

// TestBrowserTitle types a title and description on the broadcaster page
// with the fake camera, goes live, and finds them on the watch page and
// on the live list, shown as text (not markup); then changes the title
// during the broadcast and sees the open watch page and list follow
// without a reload.
func TestBrowserTitle(t *testing.T) {
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, StatusInterval: 200 * time.Millisecond})
	b := chrometest.New(t)
	const title, desc = "Cooking <b>live</b>", "Pasta\ntonight"

	pub := b.NewTab(t, "broadcaster")
	pub.Diagnose = chrometest.BroadcasterDiagnosis
	pub.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	pub.Do(
		chromedp.SendKeys(chromedp.CSS("[data-amlive-title-input]"), title),
		chromedp.SendKeys(chromedp.CSS("[data-amlive-description-input]"), desc),
	)
	pub.Click("[data-amlive-start]")
	pub.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)
	pub.WaitFor(fmt.Sprintf(`%[1]s.amliveBroadcaster.meta.title === %[2]q && %[1]s.amliveBroadcaster.meta.description === %[3]q`, chrometest.BroadcasterJS, title, desc), browserLiveTimeout)
	pub.WaitFor(jsSees(`Viewers see the title “`+title+`”.`), browserLiveTimeout)

	rooms := b.NewTab(t, "rooms page")
	rooms.Navigate(srv.url + "/live/")
	rooms.WaitFor(jsTextIs(`[data-amlive-room="alice"] [data-amlive-field="title"]`, title), browserLiveTimeout)
	watch := b.NewTab(t, "watch page")
	watch.Diagnose = chrometest.PlayerSnapshotJS
	watch.Navigate(srv.url + "/live/" + browserRoom)
	watch.WaitFor(jsTextIs("h1", title)+` && `+jsSees("Pasta\ntonight"), browserLiveTimeout)
	for _, tab := range []*chrometest.Tab{watch, rooms} {
		if chrometest.Eval[bool](tab, `Boolean(document.querySelector('main b'))`) {
			t.Errorf("%s renders the title's markup; want it as text", tab.Name())
		}
		chrometest.Eval[bool](tab, `(window.__sameDocument = true)`)
	}
	watch.WaitFor(jsLivePlaying, browserLiveTimeout)
	if got, ok := srv.p.Status(browserRoom); !ok || got.Title != title || got.Description != desc {
		t.Errorf("Status() = %+v, %t; want the title and description typed", got, ok)
	}

	// During the broadcast: a new title, sent once typing stops.
	const next = "Cooking, part two"
	// Select the old title, as a person would, and type over it.
	chrometest.Eval[bool](pub, `(document.querySelector('[data-amlive-title-input]').select(), true)`)
	pub.Do(chromedp.SendKeys(chromedp.CSS("[data-amlive-title-input]"), next))
	const bound = 15 * time.Second // a 1 s debounce, then the status stream at once
	pub.WaitFor(fmt.Sprintf(`%s.amliveBroadcaster.meta.title === %q`, chrometest.BroadcasterJS, next), bound)
	watch.WaitFor(jsTextIs("h1", next), bound)
	rooms.WaitFor(jsTextIs(`[data-amlive-room="alice"] [data-amlive-field="title"]`, next), bound)
	for _, tab := range []*chrometest.Tab{watch, rooms} {
		if !chrometest.Eval[bool](tab, `window.__sameDocument === true`) {
			t.Errorf("%s reloaded; want the title updated in place", tab.Name())
		}
	}
	if got := chrometest.Eval[string](watch, `document.title`); got != title+" · "+browserRoom {
		t.Errorf("watch page's document.title = %q; want the title it loaded with, then the room", got)
	}

	stopBroadcast(t, pub)
	recs, err := srv.p.Recordings(browserRoom)
	if err != nil || len(recs) != 1 || recs[0].Title != next || recs[0].Description != desc {
		t.Errorf("Recordings() = %+v, %v; want one titled %q with the description", recs, err, next)
	}
	watch.WaitFor(fmt.Sprintf(`document.querySelector('[data-amlive-broadcast=%q] [data-amlive-field="title"]')?.textContent === %q`, recs[0].ID, next), bound)
	chrometest.CheckNoPageErrors(t, pub, watch, rooms)
}
