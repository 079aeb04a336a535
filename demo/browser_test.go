package main

// The demo in headless Chromium, as a new user meets it: sign up, go live
// with the fake camera, be found on the home page, be watched, stop, and
// be watched again as a recording. It needs Chromium (see
// chrometest.ExecPath). Set AMLIVE_SCREENSHOTS to a directory to keep the
// screenshots (the README's come from docs/screenshots).

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/amlive/amlive/internal/chrometest"
)

// browserTimeout is how long a browser test waits from a click or a page
// load to a state: generous, because the machines are small and busy (two
// cores encode and decode video for two browsers under -race).
const browserTimeout = 60 * time.Second

// jsPlaying is true once the player's video has data and has started;
// with recording, once it plays a recording (the plugin's /playback).
func jsPlaying(recording bool) string {
	return fmt.Sprintf(`(() => {
  const v = %s.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return (!%t || v.src.includes('/playback')) && !v.paused && v.readyState >= 3 && v.getVideoPlaybackQuality().totalVideoFrames > 0;
})()`, chrometest.PlayerJS, recording)
}

// jsAt is true once the tab shows path, loaded, with user signed in.
func jsAt(path, user string) string {
	return fmt.Sprintf(`location.pathname === %q && document.readyState === 'complete' &&
  document.querySelector('[data-testid="account"]').dataset.user === %q`, path, user)
}

// signUpInBrowser fills in and sends the sign-up form as name, and waits
// for the profile page the site then shows.
func signUpInBrowser(t *testing.T, tab *chrometest.Tab, base, name string) {
	t.Helper()
	tab.Navigate(base + "/signup")
	tab.Do(
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signup-username"]`), name),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="signup-password"]`), "password-"+name),
	)
	tab.Click(`[data-testid="signup-submit"]`)
	tab.WaitFor(jsAt("/u/"+name, name), browserTimeout)
}

// TestBrowserWalkThrough walks through the demo as two new users would,
// each in a browser of their own (separate cookies): alice signs up and
// goes live from her profile; bob signs up, sees her appear on the home
// page without reloading it, clicks through to her room and watches; alice
// stops, and bob's player switches to the recording, which plays and
// seeks; the embed test page plays her room in its <iframe>.
func TestBrowserWalkThrough(t *testing.T) {
	// A browser starved of CPU on a busy machine can send nothing for more
	// than the default IdleTimeout; that is not what this test is about.
	s := newSite(t, t.TempDir(), options{IdleTimeout: 2 * time.Minute})
	base := s.ts.URL
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("server URL %s is not on 127.0.0.1: no camera outside a secure context", base)
	}
	shots := chrometest.ScreenshotDir(t)
	// The browsers' cleanups run before the site's: pages close first.
	alice := chrometest.New(t).NewTab(t, "alice")
	alice.Diagnose = chrometest.BroadcasterDiagnosis
	bob := chrometest.New(t).NewTab(t, "bob")

	// Alice signs up and lands on her profile, with the "Go live" panel.
	signUpInBrowser(t, alice, base, "alice")
	alice.WaitFor(`document.querySelector('[data-testid="go-live-panel"] [data-amlive-broadcaster]')?.amliveBroadcaster?.state === 'idle'`, browserTimeout)

	// Bob signs up, then goes to the home page: nobody is live yet.
	signUpInBrowser(t, bob, base, "bob")
	bob.Click(`.site-header a.brand`)
	bob.WaitFor(jsAt("/", "bob"), browserTimeout)
	type homeState struct {
		Entries   int  `json:"entries"`
		EmptyHint bool `json:"emptyHint"`
	}
	jsHome := `({entries: document.querySelectorAll('[data-testid="live-entry"]').length,
  emptyHint: !document.querySelector('[data-testid="live-empty"]').hidden})`
	if got := chrometest.Eval[homeState](bob, jsHome); got.Entries != 0 || !got.EmptyHint {
		t.Fatalf("home page before anyone is live: %+v; want no entries and the empty hint", got)
	}
	// A mark in the page: gone if the page reloads.
	chrometest.Eval[int](bob, `window.walkThroughMark = 1`)

	// Alice goes live with the fake camera.
	alice.Click(`[data-amlive-start]`)
	alice.WaitFor(chrometest.BroadcasterIs("live"), browserTimeout)
	if !chrometest.Eval[bool](alice, `(`+chrometest.BroadcasterJS+`.querySelector('[data-amlive-preview]').srcObject?.getVideoTracks() ?? []).some((tr) => tr.readyState === 'live')`) {
		t.Error("alice is live, but her preview shows no camera")
	}

	// Bob's home page lists her, with a viewer count, without a reload.
	bob.Diagnose = `({mark: window.walkThroughMark, list: document.querySelector('[data-testid="live-list"]')?.outerHTML})`
	bob.WaitFor(`(() => {
  if (window.walkThroughMark !== 1) throw new Error('the home page reloaded');
  const e = document.querySelector('[data-testid="live-entry"][data-room="alice"]');
  return e && /^\d+ watching$/.test(e.querySelector('[data-testid="live-viewers"]').textContent) &&
    document.querySelector('[data-testid="live-empty"]').hidden;
})()`, browserTimeout)
	if got := chrometest.Eval[homeState](bob, jsHome); got.Entries != 1 || got.EmptyHint {
		t.Errorf("home page while alice is live: %+v; want her entry alone and no empty hint", got)
	}
	bob.Screenshot(filepath.Join(shots, "demo-home.png"))
	chrometest.CheckNoPageErrors(t, bob)

	// Bob clicks through to her room and watches.
	bob.Click(`[data-testid="live-entry"][data-room="alice"] a`)
	bob.WaitFor(jsAt("/u/alice", "bob"), browserTimeout)
	bob.Diagnose = chrometest.PlayerSnapshotJS
	bob.WaitFor(chrometest.PlayerIn("document", "live"), browserTimeout)
	bob.WaitFor(jsPlaying(false), browserTimeout)
	live := chrometest.AssertPlays(t, browserTimeout, false, []*chrometest.Tab{bob}, "live")[0]
	if live.Mode != "live" {
		t.Errorf("bob's player in mode %q while alice is live; want live", live.Mode)
	}
	if !chrometest.Eval[bool](bob, `Boolean(document.querySelector('[data-testid="profile-live"]'))`) {
		t.Error("alice's profile, seen by bob while she is live, has no Live badge")
	}
	alice.WaitFor(chrometest.BroadcasterJS+`.amliveBroadcaster.viewers === 1`, browserTimeout)
	if got := s.srv.plugin.Live(); len(got) != 1 || got[0].Room != "alice" || got[0].Viewers != 1 {
		t.Errorf("Plugin.Live() = %+v; want alice live with 1 viewer", got)
	}
	alice.Screenshot(filepath.Join(shots, "demo-profile-live.png"))
	bob.Screenshot(filepath.Join(shots, "demo-watch.png"))
	t.Logf("screenshots in %s", shots)

	// Alice stops; bob's player switches to the recording, which plays.
	alice.Click(`[data-amlive-stop]`)
	alice.WaitFor(chrometest.BroadcasterIs("ended"), browserTimeout)
	bob.WaitFor(chrometest.PlayerIn("document", "ended", "recording"), browserTimeout)
	bob.WaitFor(jsPlaying(true), browserTimeout)
	rec := chrometest.AssertPlays(t, browserTimeout, true, []*chrometest.Tab{bob}, "ended", "recording")[0]
	if !strings.Contains(rec.Src, "/live/alice/playback") || rec.Mode != "recording" {
		t.Errorf("after the end: video src %q, mode %q; want alice's /playback URL in mode recording", rec.Src, rec.Mode)
	}
	recs, err := s.srv.plugin.Recordings("alice")
	if err != nil || len(recs) != 1 || recs[0].Live || recs[0].Failed {
		t.Fatalf("Recordings(alice) = %+v, %v; want one finished recording", recs, err)
	}

	// The recording is seekable: it has a duration, and a seek lands.
	bob.WaitFor(chrometest.PlayerJS+`.querySelector('video').duration > 0`, browserTimeout)
	duration := bob.Player().Duration
	var d float64
	if _, err := fmt.Sscan(duration, &d); err != nil || math.IsInf(d, 0) || math.Abs(d-recs[0].Duration.Seconds()) > 1 {
		t.Fatalf("recording's video.duration %s; want a finite duration near the recording's %v", duration, recs[0].Duration)
	}
	target := chrometest.Eval[float64](bob, `(() => {
  const v = `+chrometest.PlayerJS+`.querySelector('video');
  v.currentTime = v.currentTime > v.duration / 2 ? 0.25 * v.duration : 0.75 * v.duration;
  return v.currentTime;
})()`)
	bob.WaitFor(fmt.Sprintf(`(() => {
  const v = %s.querySelector('video');
  return !v.seeking && v.readyState >= 2 && v.currentTime >= %f && v.currentTime < %f;
})()`, chrometest.PlayerJS, target-0.5, target+5), browserTimeout)
	chrometest.CheckNoPageErrors(t, alice, bob)

	// The embed test page, linked from her profile, plays her room in an
	// <iframe>: the latest recording, now that she is offline.
	bob.Click(`#embed a[href^="/embed-test"]`)
	bob.WaitFor(jsAt("/embed-test", "bob"), browserTimeout)
	frame := `document.querySelector('[data-testid="embed-frame"]')?.contentDocument`
	bob.Diagnose = `(() => { const el = ` + frame + `?.querySelector('[data-amlive-player]');
  return el ? {state: el.dataset.state, status: el.querySelector('[data-amlive-status]').textContent} : null; })()`
	bob.WaitFor(chrometest.PlayerIn(frame, "live", "recording"), browserTimeout)
	bob.WaitFor(`(() => {
  const v = `+frame+`.querySelector('[data-amlive-player] video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return v.src.includes('/live/alice/playback') && v.readyState >= 2 && v.currentTime > 0.5;
})()`, browserTimeout)
	chrometest.CheckNoPageErrors(t, bob)
}
