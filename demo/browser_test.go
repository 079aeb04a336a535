package main

// The demo in headless Chromium, as a new user meets it: sign up, go live
// with the fake camera, be found on the home page, be watched, stop, and
// be watched again as a recording. It needs Chromium (see
// chrometest.ExecPath). Set AMLIVE_SCREENSHOTS to a directory to keep the
// screenshots (the README's come from docs/screenshots).

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/amlive/amlive/liveplugin/chrometest"
)

// Deadlines of the browser tests: generous, because the machines are small
// and busy (two cores encode and decode video for two browsers under -race).
const (
	browserTimeout    = 60 * time.Second // from a click or a page load to a state
	browserPlayWindow = 2 * time.Second  // how long playback is watched
	browserMinAdvance = 1.0              // seconds of video it must advance in that window
)

// browserScreenshotDir is where the screenshots go: $AMLIVE_SCREENSHOTS if
// set, else a temporary directory.
func browserScreenshotDir(t *testing.T) string {
	if dir := os.Getenv("AMLIVE_SCREENSHOTS"); dir != "" {
		return dir
	}
	return t.TempDir()
}

// JavaScript that finds the plugin's widgets on a page.
const (
	jsBroadcaster = `document.querySelector('[data-amlive-broadcaster]')`
	jsPlayer      = `document.querySelector('[data-amlive-player]')`
)

// jsBroadcasterIs is true once the broadcaster is in state; it throws when
// the broadcaster failed.
func jsBroadcasterIs(state string) string {
	return fmt.Sprintf(`(() => {
  const el = %s, b = el && el.amliveBroadcaster;
  if (!b) return false;
  if (b.state === 'error') throw new Error('broadcaster failed: ' + el.querySelector('[data-amlive-status]').textContent);
  return b.state === %q && el.dataset.state === %q;
})()`, jsBroadcaster, state, state)
}

// jsBroadcasterDiag describes the broadcaster for failure messages.
const jsBroadcasterDiag = `(() => {
  const el = ` + jsBroadcaster + `, b = el && el.amliveBroadcaster;
  return b ? {state: b.state, dataState: el.dataset.state, status: el.querySelector('[data-amlive-status]').textContent,
    viewers: b.viewers, lastError: b.lastError} : {path: location.pathname, title: document.title};
})()`

// jsPlayerIn is true once the player in the document doc is in one of
// states; it throws when the player shows an error or its video failed.
func jsPlayerIn(doc string, states ...string) string {
	list := `['` + strings.Join(states, `','`) + `']`
	return fmt.Sprintf(`(() => {
  const d = %s, el = d && d.querySelector('[data-amlive-player]'), p = el && el.amlivePlayer, v = el && el.querySelector('video');
  if (!p) return false;
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  if (p.state === 'error') throw new Error('player error: ' + el.querySelector('[data-amlive-status]').textContent);
  return %s.includes(p.state) && el.dataset.state === p.state;
})()`, doc, list)
}

// jsPlayerSnapshot is what a person sees of the player, as a
// browserPlayer. Not-finite durations are strings: JSON has no Infinity.
const jsPlayerSnapshot = `(() => {
  const el = ` + jsPlayer + `, v = el.querySelector('video'), q = v.getVideoPlaybackQuality();
  return {
    state: el.dataset.state || '', mode: el.dataset.mode || '',
    status: el.querySelector('[data-amlive-status]').textContent,
    src: v.src, time: v.currentTime, frames: q.totalVideoFrames,
    paused: v.paused, readyState: v.readyState, duration: String(v.duration),
    width: v.videoWidth, height: v.videoHeight,
    error: v.error ? 'MediaError ' + v.error.code + ': ' + v.error.message : '',
    now: performance.now(), reconnects: el.amlivePlayer.stats.reconnects,
  };
})()`

// browserPlayer is a snapshot of the player widget and its video.
type browserPlayer struct {
	State      string  `json:"state"`
	Mode       string  `json:"mode"`
	Status     string  `json:"status"`
	Src        string  `json:"src"`
	Time       float64 `json:"time"`
	Frames     int     `json:"frames"`
	Paused     bool    `json:"paused"`
	ReadyState int     `json:"readyState"`
	Duration   string  `json:"duration"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	Error      string  `json:"error"`
	Now        float64 `json:"now"` // the page's clock, in milliseconds
	Reconnects int     `json:"reconnects"`
}

// jsPlaying is true once the player's video has data and has started;
// with recording, once it plays a recording (the plugin's /playback).
func jsPlaying(recording bool) string {
	return fmt.Sprintf(`(() => {
  const v = %s.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return (!%t || v.src.includes('/playback')) && !v.paused && v.readyState >= 3 && v.getVideoPlaybackQuality().totalVideoFrames > 0;
})()`, jsPlayer, recording)
}

// checkPlays checks that the tab's player plays: in a window of
// browserPlayWindow, currentTime advances by at least browserMinAdvance
// (for a recording, by no more than the page's clock allows) and frames
// are decoded, while the video has no error and the player stays in one of
// states. A busy machine can starve the browser for a moment, so the tab
// gets further windows until browserTimeout. It returns the snapshot at the
// end of the good window.
func checkPlays(t *testing.T, tab *chrometest.Tab, recording bool, states ...string) browserPlayer {
	t.Helper()
	deadline := time.Now().Add(browserTimeout)
	for {
		s0 := chrometest.Eval[browserPlayer](tab, jsPlayerSnapshot)
		// A measurement window, not synchronisation: playback is judged by
		// how far it gets in a known time of the page's clock.
		time.Sleep(browserPlayWindow)
		s1 := chrometest.Eval[browserPlayer](tab, jsPlayerSnapshot)
		wall := (s1.Now - s0.Now) / 1000
		advanced := s1.Time - s0.Time
		t.Logf("%s: %s, currentTime %.2f -> %.2f in %.2fs, frames %d -> %d, readyState %d",
			tab.Name(), s1.State, s0.Time, s1.Time, wall, s0.Frames, s1.Frames, s1.ReadyState)
		switch {
		case s1.Reconnects > 0:
			t.Fatalf("%s: the player reconnected %d times; want none (status %q)", tab.Name(), s1.Reconnects, s1.Status)
		case s1.Error != "":
			t.Fatalf("%s: video error %s; status %q", tab.Name(), s1.Error, s1.Status)
		case !slices.Contains(states, s1.State):
			t.Fatalf("%s: player state %q (status %q); want one of %q", tab.Name(), s1.State, s1.Status, states)
		case s1.Width == 0 || s1.Height == 0:
			t.Fatalf("%s: video size %dx%d; want a picture", tab.Name(), s1.Width, s1.Height)
		case recording && advanced > 1.25*wall+0.25:
			t.Fatalf("%s: the recording's currentTime advanced %.2fs in %.2fs; want about the wall time", tab.Name(), advanced, wall)
		case advanced >= browserMinAdvance && s1.Frames > s0.Frames:
			return s1
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not playing: currentTime advanced %.2fs in %.2fs (want >= %.1fs), totalVideoFrames %d -> %d; paused %v, readyState %d, status %q",
				tab.Name(), advanced, wall, browserMinAdvance, s0.Frames, s1.Frames, s1.Paused, s1.ReadyState, s1.Status)
		}
		t.Logf("%s: stalled in this window; watching again", tab.Name())
	}
}

// checkNoPageErrors fails if a tab's current page threw an uncaught error.
func checkNoPageErrors(t *testing.T, tabs ...*chrometest.Tab) {
	t.Helper()
	for _, tab := range tabs {
		if errs := tab.Errors(); len(errs) > 0 {
			t.Errorf("%s: uncaught errors in the page: %q", tab.Name(), errs)
		}
	}
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
	shots := browserScreenshotDir(t)
	// The browsers' cleanups run before the site's: pages close first.
	alice := chrometest.New(t).NewTab(t, "alice")
	alice.Diagnose = jsBroadcasterDiag
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
	alice.WaitFor(jsBroadcasterIs("live"), browserTimeout)
	if !chrometest.Eval[bool](alice, `(`+jsBroadcaster+`.querySelector('[data-amlive-preview]').srcObject?.getVideoTracks() ?? []).some((tr) => tr.readyState === 'live')`) {
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
	checkNoPageErrors(t, bob)

	// Bob clicks through to her room and watches.
	bob.Click(`[data-testid="live-entry"][data-room="alice"] a`)
	bob.WaitFor(jsAt("/u/alice", "bob"), browserTimeout)
	bob.Diagnose = `(` + jsPlayerSnapshot + `)`
	bob.WaitFor(jsPlayerIn("document", "live"), browserTimeout)
	bob.WaitFor(jsPlaying(false), browserTimeout)
	live := checkPlays(t, bob, false, "live")
	if live.Mode != "live" {
		t.Errorf("bob's player in mode %q while alice is live; want live", live.Mode)
	}
	if !chrometest.Eval[bool](bob, `Boolean(document.querySelector('[data-testid="profile-live"]'))`) {
		t.Error("alice's profile, seen by bob while she is live, has no Live badge")
	}
	alice.WaitFor(jsBroadcaster+`.amliveBroadcaster.viewers === 1`, browserTimeout)
	if got := s.srv.plugin.Live(); len(got) != 1 || got[0].Room != "alice" || got[0].Viewers != 1 {
		t.Errorf("Plugin.Live() = %+v; want alice live with 1 viewer", got)
	}
	alice.Screenshot(filepath.Join(shots, "demo-profile-live.png"))
	bob.Screenshot(filepath.Join(shots, "demo-watch.png"))
	t.Logf("screenshots in %s", shots)

	// Alice stops; bob's player switches to the recording, which plays.
	alice.Click(`[data-amlive-stop]`)
	alice.WaitFor(jsBroadcasterIs("ended"), browserTimeout)
	bob.WaitFor(jsPlayerIn("document", "ended", "recording"), browserTimeout)
	bob.WaitFor(jsPlaying(true), browserTimeout)
	rec := checkPlays(t, bob, true, "ended", "recording")
	if !strings.Contains(rec.Src, "/live/alice/playback") || rec.Mode != "recording" {
		t.Errorf("after the end: video src %q, mode %q; want alice's /playback URL in mode recording", rec.Src, rec.Mode)
	}
	recs, err := s.srv.plugin.Recordings("alice")
	if err != nil || len(recs) != 1 || recs[0].Live || recs[0].Failed {
		t.Fatalf("Recordings(alice) = %+v, %v; want one finished recording", recs, err)
	}

	// The recording is seekable: it has a duration, and a seek lands.
	bob.WaitFor(jsPlayer+`.querySelector('video').duration > 0`, browserTimeout)
	duration := chrometest.Eval[browserPlayer](bob, jsPlayerSnapshot).Duration
	var d float64
	if _, err := fmt.Sscan(duration, &d); err != nil || math.IsInf(d, 0) || math.Abs(d-recs[0].Duration.Seconds()) > 1 {
		t.Fatalf("recording's video.duration %s; want a finite duration near the recording's %v", duration, recs[0].Duration)
	}
	target := chrometest.Eval[float64](bob, `(() => {
  const v = `+jsPlayer+`.querySelector('video');
  v.currentTime = v.currentTime > v.duration / 2 ? 0.25 * v.duration : 0.75 * v.duration;
  return v.currentTime;
})()`)
	bob.WaitFor(fmt.Sprintf(`(() => {
  const v = %s.querySelector('video');
  return !v.seeking && v.readyState >= 2 && v.currentTime >= %f && v.currentTime < %f;
})()`, jsPlayer, target-0.5, target+5), browserTimeout)
	checkNoPageErrors(t, alice, bob)

	// The embed test page, linked from her profile, plays her room in an
	// <iframe>: the latest recording, now that she is offline.
	bob.Click(`#embed a[href^="/embed-test"]`)
	bob.WaitFor(jsAt("/embed-test", "bob"), browserTimeout)
	frame := `document.querySelector('[data-testid="embed-frame"]')?.contentDocument`
	bob.Diagnose = `(() => { const el = ` + frame + `?.querySelector('[data-amlive-player]');
  return el ? {state: el.dataset.state, status: el.querySelector('[data-amlive-status]').textContent} : null; })()`
	bob.WaitFor(jsPlayerIn(frame, "live", "recording"), browserTimeout)
	bob.WaitFor(`(() => {
  const v = `+frame+`.querySelector('[data-amlive-player] video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return v.src.includes('/live/alice/playback') && v.readyState >= 2 && v.currentTime > 0.5;
})()`, browserTimeout)
	checkNoPageErrors(t, bob)
}
