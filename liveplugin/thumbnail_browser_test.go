package liveplugin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
)

// jsThumbLoaded is true once the rooms page's entry of the room shows a
// thumbnail image that loaded.
const jsThumbLoaded = `(() => {
  const img = document.querySelector('[data-amlive-room="` + browserRoom + `"] [data-amlive-thumb] img');
  return Boolean(img && img.complete && img.naturalWidth > 0);
})()`

// TestBrowserThumbnail goes live from the broadcaster page with Chromium's
// fake camera while the rooms page is open: the rooms page's entry comes to
// show a thumbnail that loaded (sent by the page, stored by the server,
// announced by the status stream), and the watch page's video has it as
// its poster.
func TestBrowserThumbnail(t *testing.T) {
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, StatusInterval: 200 * time.Millisecond})
	b := chrometest.New(t)
	rooms := b.NewTab(t, "rooms page")
	rooms.Navigate(srv.url + "/live/")
	rooms.WaitFor(jsSees("Nobody is live right now."), browserLiveTimeout)

	bc := b.NewTab(t, "broadcaster page")
	bc.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	bc.WaitFor(chrometest.BroadcasterIs("idle"), browserLiveTimeout)
	chrometest.Eval[bool](bc, `(document.querySelector('[data-amlive-start]').click(), true)`)
	bc.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)

	// The first still goes 1.5 s after recording starts, once frames show.
	rooms.WaitFor(jsThumbLoaded, browserLiveTimeout)
	info, ok := srv.p.Status(browserRoom)
	if !ok || info.Thumbnail == "" {
		t.Fatalf("Status(%s) = %+v, %v; want live with a thumbnail", browserRoom, info, ok)
	}

	watch := b.NewTab(t, "watch page")
	watch.Navigate(srv.url + "/live/" + browserRoom)
	watch.WaitFor(`Boolean(document.querySelector('[data-amlive-player] video')?.poster)`, browserLiveTimeout)
	poster := chrometest.Eval[string](watch, `document.querySelector('[data-amlive-player] video').poster`)
	if !strings.Contains(poster, "/live/"+browserRoom+"/thumbnail.jpg") {
		t.Errorf("watch page's video poster = %q; want the room's thumbnail", poster)
	}
	// The poster is an image the browser loads.
	ok = chrometest.Eval[bool](watch, `new Promise((resolve) => { const i = new Image(); i.onload = () => resolve(i.naturalWidth > 0); i.onerror = () => resolve(false); i.src = document.querySelector('[data-amlive-player] video').poster; })`)
	if !ok {
		t.Error("the watch page's poster does not load as an image")
	}
	if msg := chrometest.Eval[string](bc, `document.querySelector('[data-amlive-broadcaster]').amliveBroadcaster.lastError || ''`); msg != "" {
		t.Errorf("broadcaster's last error = %q; want none", msg)
	}
}

// TestBrowserThumbnailWithinSiteLimit sets MaxThumbnailBytes well below the
// default: the page learns the limit from the ready event and sends stills
// that fit it (smaller and lower quality), so the room still gets one.
func TestBrowserThumbnailWithinSiteLimit(t *testing.T) {
	const limit = 2500
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, MaxThumbnailBytes: limit})
	b := chrometest.New(t)
	bc := b.NewTab(t, "broadcaster page")
	bc.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	bc.WaitFor(chrometest.BroadcasterIs("idle"), browserLiveTimeout)
	chrometest.Eval[bool](bc, `(document.querySelector('[data-amlive-start]').click(), true)`)
	bc.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)

	deadline := time.Now().Add(browserLiveTimeout)
	for {
		if info, ok := srv.p.Status(browserRoom); ok && info.Thumbnail != "" {
			break
		}
		if time.Now().After(deadline) {
			msg := chrometest.Eval[string](bc, `document.querySelector('[data-amlive-broadcaster]').amliveBroadcaster.lastError || ''`)
			t.Fatalf("no thumbnail within %v under a %d-byte limit; the page's last error: %q", browserLiveTimeout, limit, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if msg := chrometest.Eval[string](bc, `document.querySelector('[data-amlive-broadcaster]').amliveBroadcaster.lastError || ''`); msg != "" {
		t.Errorf("broadcaster's last error = %q; want none (a still that fits)", msg)
	}
}
