package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/amlive/amlive/internal/chrometest"
)

// jsSound is the sound of the page's first player: [muted, the API's
// muted, the sound button's text ("" when hidden), localStorage's
// amlive.sound].
const jsSound = `(() => {
  const el = ` + chrometest.PlayerJS + `, v = el.querySelector('video'), b = el.querySelector('[data-amlive-unmute]');
  let stored = '';
  try { stored = localStorage.getItem('amlive.sound') || ''; } catch (e) {}
  return [String(v.muted), String(el.amlivePlayer.muted), b && b.checkVisibility() ? b.textContent.trim() : '', stored];
})()`

// TestBrowserPhone walks through the demo on two phones (390 px wide,
// touch): every page, signed out and in, as the broadcaster and as a
// viewer, live and after the broadcast (with its recordings table), the
// plugin's /live/ pages in the site's layout included, has no horizontal
// scroll and only controls a finger can hit. The viewer's player starts
// muted and plays; a tap on Unmute turns the sound on, and the choice
// survives a reload. With AMLIVE_SCREENSHOTS set it saves
// demo-{home,profile-live,watch}-phone.png there.
func TestBrowserPhone(t *testing.T) {
	s := newSite(t, t.TempDir(), options{IdleTimeout: 2 * time.Minute})
	base := s.ts.URL
	shots := chrometest.ScreenshotDir(t)
	alice := chrometest.New(t).NewPhoneTab(t, "alice")
	alice.Diagnose = chrometest.BroadcasterDiagnosis
	bob := chrometest.New(t).NewPhoneTab(t, "bob")

	check := func(tab *chrometest.Tab, path, ready string) {
		t.Helper()
		tab.Navigate(base + path)
		tab.WaitFor(`document.readyState === 'complete' && (`+ready+`)`, browserTimeout)
		chrometest.CheckPhoneLayout(t, tab, path)
	}
	check(bob, "/", jsAt("/", ""))
	check(bob, "/login", jsAt("/login", ""))
	check(bob, "/signup", jsAt("/signup", ""))

	// Alice signs up and goes live from her profile with a tap.
	signUpInBrowser(t, alice, base, "alice")
	check(alice, "/u/alice", jsAt("/u/alice", "alice")+` && `+chrometest.BroadcasterIs("idle"))
	alice.Tap(`[data-amlive-start]`)
	alice.WaitFor(chrometest.BroadcasterIs("live"), browserTimeout)
	chrometest.CheckPhoneLayout(t, alice, "/u/alice, live")

	// Bob finds her on the home page and taps through to her room.
	signUpInBrowser(t, bob, base, "bob")
	check(bob, "/", `document.querySelector('[data-testid="live-entry"][data-room="alice"]')`)
	if chrometest.KeepScreenshots() {
		bob.ScreenshotScaled(filepath.Join(shots, "demo-home-phone.png"), 2)
	}
	bob.Tap(`[data-testid="live-entry"][data-room="alice"] a`)
	bob.WaitFor(jsAt("/u/alice", "bob"), browserTimeout)
	bob.Diagnose = chrometest.PlayerSnapshotJS
	bob.WaitFor(chrometest.PlayerIn("document", "live"), browserTimeout)
	bob.WaitFor(jsPlaying(false), browserTimeout)

	// His player starts muted, and plays.
	if got := chrometest.Eval[[]string](bob, jsSound); got[0] != "true" || got[1] != "true" || got[2] != "Unmute" {
		t.Errorf("bob's player on arrival: muted %s, API muted %s, button %q; want muted, with an Unmute button", got[0], got[1], got[2])
	}
	chrometest.AssertPlays(t, browserTimeout, false, []*chrometest.Tab{bob}, "live")
	chrometest.CheckPhoneLayout(t, bob, "/u/alice, watching")
	if chrometest.KeepScreenshots() {
		bob.ScreenshotScaled(filepath.Join(shots, "demo-watch-phone.png"), 2)
		alice.ScreenshotScaled(filepath.Join(shots, "demo-profile-live-phone.png"), 2)
	}

	// A tap on Unmute; the sound stays on after a reload.
	bob.Tap(`[data-amlive-unmute]`)
	bob.WaitFor(`!`+chrometest.PlayerJS+`.querySelector('video').muted`, browserTimeout)
	if got := chrometest.Eval[[]string](bob, jsSound); got[0] != "false" || got[1] != "false" || got[2] != "Mute" || got[3] != "on" {
		t.Errorf("after a tap on Unmute: muted %s, API muted %s, button %q, amlive.sound %q; want sound on, a Mute button, on remembered", got[0], got[1], got[2], got[3])
	}
	bob.Do(chromedp.Reload())
	bob.WaitFor(chrometest.PlayerIn("document", "live"), browserTimeout)
	bob.WaitFor(jsPlaying(false), browserTimeout)
	if got := chrometest.Eval[[]string](bob, jsSound); got[0] != "false" || got[2] != "Mute" {
		t.Errorf("reloaded after Unmute: muted %s, button %q; want the sound on, a Mute button", got[0], got[2])
	}

	// The plugin's pages, in the site's layout.
	check(bob, "/live/", `document.querySelector('[data-amlive-room="alice"]')`)
	check(bob, "/live/alice", chrometest.PlayerIn("document", "live"))

	// After the broadcast: the recordings tables, and a recording's page.
	alice.Tap(`[data-amlive-stop]`)
	alice.WaitFor(chrometest.BroadcasterIs("ended"), browserTimeout)
	check(alice, "/u/alice", `document.querySelector('[data-testid="recording-delete"]')`)
	check(bob, "/u/alice", `document.querySelector('[data-testid="recording-play"]')`)
	href := chrometest.Eval[string](bob, `document.querySelector('[data-testid="recording-play"]').getAttribute('href')`)
	check(bob, strings.TrimSuffix(href, "#playing"), `document.querySelector('[data-testid="recording-player"] video')?.readyState >= 1`)
	if !chrometest.Eval[bool](bob, `(() => { const v = document.querySelector('[data-testid="recording-player"] video'); return v.muted && v.playsInline; })()`) {
		t.Error("a recording's video on the profile page is not muted and playsinline: autoplay fails on phones")
	}
	chrometest.CheckNoPageErrors(t, alice, bob)
}
