package liveplugin_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// sound is what a person sees and hears of a player's sound, and what the
// page remembers of it.
type sound struct {
	Muted  bool   `json:"muted"`  // the video is muted
	API    bool   `json:"api"`    // el.amlivePlayer.muted
	Button string `json:"button"` // the sound button's accessible text, "" when not shown
	Stored string `json:"stored"` // localStorage's amlive.sound
}

// jsSound reads the sound of the first player in the page.
const jsSound = `(() => {
  const el = ` + chrometest.PlayerJS + `, v = el.querySelector('video'), b = el.querySelector('[data-amlive-unmute]');
  let stored = '';
  try { stored = localStorage.getItem('amlive.sound') || ''; } catch (e) {}
  return {muted: v.muted, api: el.amlivePlayer.muted === true, stored,
    button: b && b.checkVisibility() ? (b.getAttribute('aria-label') || b.textContent).trim() : ''};
})()`

// checkSound fails t unless the tab's player is muted (or not) and offers
// the button that changes it, labelled "Unmute" (or "Mute").
func checkSound(t *testing.T, tab *chrometest.Tab, when string, muted bool) {
	t.Helper()
	want := sound{Muted: muted, API: muted, Button: "Unmute"}
	if !muted {
		want.Button = "Mute"
	}
	got := chrometest.Eval[sound](tab, jsSound)
	got.Stored = ""
	if got != want {
		t.Errorf("%s: %s: sound %+v; want %+v", tab.Name(), when, got, want)
	}
}

// TestBrowserPhone uses the plugin's pages on a phone (390 px wide, touch):
// the broadcaster page goes live with a tap; the rooms page, the watch page
// (live, then with the recordings table), the embed page and the
// broadcaster page have no
// horizontal scroll and only controls a finger can hit. The watch page's
// player starts muted and plays; a tap on Unmute turns the sound on, the
// choice survives a reload (the player starts with sound), and a tap on
// Mute does the same the other way. With AMLIVE_SCREENSHOTS set it saves
// the README's screenshots there: {broadcast,watch,rooms}-{phone,desktop}.png.
func TestBrowserPhone(t *testing.T) {
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, StatusInterval: 200 * time.Millisecond})
	shots, keep := chrometest.ScreenshotDir(t), chrometest.KeepScreenshots()
	b := chrometest.New(t)
	room := srv.url + "/live/" + browserRoom

	rooms := b.NewPhoneTab(t, "rooms page")
	rooms.Navigate(srv.url + "/live/")
	rooms.WaitFor(jsSees("Nobody is live right now."), browserLiveTimeout)
	chrometest.CheckPhoneLayout(t, rooms, "the rooms page, empty")

	bc := b.NewPhoneTab(t, "broadcaster page")
	bc.Diagnose = chrometest.BroadcasterDiagnosis
	bc.Navigate(room + "/broadcast")
	bc.WaitFor(chrometest.BroadcasterIs("idle"), browserLiveTimeout)
	chrometest.CheckPhoneLayout(t, bc, "the broadcaster page")
	bc.Tap("[data-amlive-title-input]")
	bc.Do(chromedp.SendKeys(chromedp.CSS("[data-amlive-title-input]"), "Morning walk by the river"))
	bc.Tap("[data-amlive-start]")
	bc.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)
	chrometest.CheckPhoneLayout(t, bc, "the broadcaster page, live")

	rooms.WaitFor(`document.querySelector('[data-amlive-room="`+browserRoom+`"]')`, browserLiveTimeout)
	rooms.WaitFor(jsThumbLoaded+` && `+jsSees("Morning walk by the river"), browserLiveTimeout)
	chrometest.CheckPhoneLayout(t, rooms, "the rooms page, listing a room")

	// The player starts muted, and plays: muted autoplay works everywhere.
	w := b.NewPhoneTab(t, "watch page")
	w.Diagnose = chrometest.PlayerSnapshotJS
	w.Navigate(room)
	w.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	w.WaitFor(jsLivePlaying, browserLiveTimeout)
	checkSound(t, w, "first visit", true)
	chrometest.AssertPlays(t, browserLiveTimeout, false, []*chrometest.Tab{w}, "live")
	chrometest.CheckPhoneLayout(t, w, "the watch page, live")
	if got := chrometest.Eval[[]bool](w, `(() => { const v = `+chrometest.PlayerJS+`.querySelector('video'); return [v.playsInline, v.hasAttribute('playsinline')]; })()`); !got[0] || !got[1] {
		t.Errorf("the player's video: playsInline, playsinline attribute = %v; want both (no full screen on iPhone)", got)
	}
	if keep {
		w.ScreenshotScaled(filepath.Join(shots, "watch-phone.png"), 2)
		bc.ScreenshotScaled(filepath.Join(shots, "broadcast-phone.png"), 2)
		rooms.ScreenshotScaled(filepath.Join(shots, "rooms-phone.png"), 2)
	}

	// A tap on Unmute turns the sound on; the page remembers it.
	w.Tap("[data-amlive-unmute]")
	w.WaitFor(`!`+chrometest.PlayerJS+`.querySelector('video').muted`, browserLiveTimeout)
	checkSound(t, w, "after a tap on Unmute", false)
	if got := chrometest.Eval[sound](w, jsSound); got.Stored != "on" {
		t.Errorf("after a tap on Unmute, localStorage amlive.sound = %q; want on", got.Stored)
	}
	w.Do(chromedp.Reload())
	w.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	w.WaitFor(jsLivePlaying, browserLiveTimeout)
	checkSound(t, w, "reloaded after Unmute", false)
	chrometest.AssertPlays(t, browserLiveTimeout, false, []*chrometest.Tab{w}, "live")

	// A tap on Mute: muted, and muted again after a reload.
	w.Tap("[data-amlive-unmute]")
	w.WaitFor(chrometest.PlayerJS+`.querySelector('video').muted`, browserLiveTimeout)
	checkSound(t, w, "after a tap on Mute", true)
	w.Do(chromedp.Reload())
	w.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	w.WaitFor(jsLivePlaying, browserLiveTimeout)
	checkSound(t, w, "reloaded after Mute", true)

	// The embed page, as a site's <iframe> shows it on a phone.
	emb := b.NewPhoneTab(t, "embed page")
	emb.Diagnose = chrometest.PlayerSnapshotJS
	emb.Navigate(room + "/embed")
	emb.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	chrometest.CheckPhoneLayout(t, emb, "the embed page, live")

	if keep {
		for _, s := range []struct {
			tab  *chrometest.Tab
			name string
		}{{w, "watch"}, {bc, "broadcast"}, {rooms, "rooms"}} {
			s.tab.Resize(chrometest.DesktopShotWidth, chrometest.DesktopShotHeight)
		}
		// Give the pages a moment to lay out and draw a frame at that size.
		w.WaitFor(`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, browserLiveTimeout)
		w.ScreenshotScaled(filepath.Join(shots, "watch-desktop.png"), 1)
		bc.ScreenshotScaled(filepath.Join(shots, "broadcast-desktop.png"), 1)
		rooms.ScreenshotScaled(filepath.Join(shots, "rooms-desktop.png"), 1)
		t.Logf("screenshots in %s", shots)
	}

	// After the broadcast: the watch page with its recordings table.
	stopBroadcast(t, bc)
	ph := b.NewPhoneTab(t, "watch page, recording")
	ph.Diagnose = chrometest.PlayerSnapshotJS
	ph.Navigate(room)
	ph.WaitFor(`document.querySelector('[data-amlive-recording]')`, browserLiveTimeout)
	ph.WaitFor(jsRecordingPlaying, browserLiveTimeout)
	checkSound(t, ph, "a recording", true)
	chrometest.CheckPhoneLayout(t, ph, "the watch page, with a recording")
	chrometest.CheckPhoneLayout(t, bc, "the broadcaster page, ended")
	chrometest.CheckNoPageErrors(t, rooms, bc, w, emb, ph)
}

// TestBrowserPhoneAutoplayRefused watches a live room on a phone whose
// browser refuses to autoplay with sound, as phones do, for a viewer who
// chose sound last time: the player falls back to playing muted, with the
// Unmute button, and keeps the choice; a tap on Unmute (a user gesture)
// turns the sound on.
func TestBrowserPhoneAutoplayRefused(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll})
	ts := &testServer{URL: srv.url, p: srv.p}
	ctx, cancel := context.WithTimeout(t.Context(), 2*browserLiveTimeout)
	defer cancel()
	pub, _ := publish(t, ctx, ts, browserRoom)
	for _, c := range fx.Chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	chrometest.Until(t, browserLiveTimeout, "room live", func() bool { _, ok := srv.p.Status(browserRoom); return ok })

	b := chrometest.NewWith(t, chromedp.Flag("autoplay-policy", "document-user-activation-required"))
	w := b.NewPhoneTab(t, "watch page")
	w.Diagnose = chrometest.PlayerSnapshotJS
	w.Navigate(srv.url + "/live/")
	chrometest.Eval[bool](w, `(localStorage.setItem('amlive.sound', 'on'), true)`)
	w.Navigate(srv.url + "/live/" + browserRoom)
	w.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	w.WaitFor(jsLivePlaying, browserLiveTimeout)
	checkSound(t, w, "sound chosen, autoplay with sound refused", true)
	if got := chrometest.Eval[sound](w, jsSound); got.Stored != "on" {
		t.Errorf("after the refusal, localStorage amlive.sound = %q; want on (the viewer's choice kept)", got.Stored)
	}
	w.Tap("[data-amlive-unmute]")
	w.WaitFor(`!`+chrometest.PlayerJS+`.querySelector('video').muted && !`+chrometest.PlayerJS+`.querySelector('video').paused`, browserLiveTimeout)
	checkSound(t, w, "after a tap on Unmute", false)
	chrometest.CheckNoPageErrors(t, w)
}
