package liveplugin_test

// Browser tests: the plugin's pages in headless Chromium with its fake
// camera and microphone, checked as a person would see them. They need
// Chromium (see chrometest.ExecPath). Set AMLIVE_SCREENSHOTS to a directory
// to keep the screenshots (the README's come from docs/screenshots).

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/chrometest"
)

// Deadlines of the browser tests: generous, because the machines are small
// and busy (two cores encode and decode video for several tabs under -race).
const (
	browserLiveTimeout = 60 * time.Second // from a click or a page load to a state
	browserPlayWindow  = 2 * time.Second  // how long playback is watched
	browserMinAdvance  = 1.0              // seconds of video it must advance in that window
)

// browserRoom is the room every browser test broadcasts in.
const browserRoom = "alice"

// browserServer is a test server with the plugin mounted under /live.
type browserServer struct {
	p   *liveplugin.Plugin
	e   *echo.Echo
	url string // http://127.0.0.1:PORT: a secure context for getUserMedia
}

// newBrowserServer starts the plugin under /live with recordings in a
// temporary directory. A nil authorize keeps the plugin's default (nobody
// may publish). The server and the plugin are closed at the end of the test.
func newBrowserServer(t *testing.T, authorize func(echo.Context, string, liveplugin.Action) error) *browserServer {
	t.Helper()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	p, err := liveplugin.Register(e.Group("/live"), liveplugin.Config{
		Dir:       t.TempDir(),
		Authorize: authorize,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
		// A browser starved of CPU on a busy machine can send nothing for
		// longer than the default 15 s; the idle timeout has its own test.
		IdleTimeout: 2 * time.Minute,
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Plugin.Close: %v", err)
		}
	})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server URL %s is not on 127.0.0.1", srv.URL)
	}
	return &browserServer{p: p, e: e, url: srv.URL}
}

func browserAllowAll(echo.Context, string, liveplugin.Action) error { return nil }

// browserScreenshotDir is where the screenshots go: $AMLIVE_SCREENSHOTS if
// set, else a temporary directory.
func browserScreenshotDir(t *testing.T) string {
	if dir := os.Getenv("AMLIVE_SCREENSHOTS"); dir != "" {
		return dir
	}
	return t.TempDir()
}

// JavaScript that finds the widgets on a page.
const (
	jsBroadcaster = `document.querySelector('[data-amlive-broadcaster]')`
	jsPlayer      = `document.querySelector('[data-amlive-player]')`
)

// jsBroadcasterIs is true once the broadcaster is in state; it throws when
// the broadcaster failed (unless error is the state waited for).
func jsBroadcasterIs(state string) string {
	return fmt.Sprintf(`(() => {
  const el = %s, b = el && el.amliveBroadcaster;
  if (!b) return false;
  if (b.state === 'error' && %q !== 'error') throw new Error('broadcaster failed: ' + el.querySelector('[data-amlive-status]').textContent);
  return b.state === %q && el.dataset.state === %q;
})()`, jsBroadcaster, state, state, state)
}

// jsBroadcasterDiag describes the broadcaster for failure messages.
const jsBroadcasterDiag = `(() => {
  const el = ` + jsBroadcaster + `, b = el && el.amliveBroadcaster;
  return b ? {state: b.state, dataState: el.dataset.state, status: el.querySelector('[data-amlive-status]').textContent,
    viewers: b.viewers, mime: b.mimeType, lastError: b.lastError} : null;
})()`

// jsPlayerIn is true once the player is in one of states; it throws when
// the player shows an error or its video failed.
func jsPlayerIn(states ...string) string {
	list := `['` + strings.Join(states, `','`) + `']`
	return fmt.Sprintf(`(() => {
  const el = %s, p = el && el.amlivePlayer, v = el && el.querySelector('video');
  if (!p) return false;
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  if (p.state === 'error') throw new Error('player error: ' + el.querySelector('[data-amlive-status]').textContent);
  return %s.includes(p.state) && el.dataset.state === p.state;
})()`, jsPlayer, list)
}

// jsPlayerSnapshot is what a person sees of the player, as a
// browserPlayer. Not-finite durations are strings: JSON has no Infinity.
const jsPlayerSnapshot = `(() => {
  const el = ` + jsPlayer + `, v = el.querySelector('video'), q = v.getVideoPlaybackQuality(), b = [];
  for (let i = 0; i < v.buffered.length; i++) b.push([v.buffered.start(i), v.buffered.end(i)]);
  return {
    state: el.dataset.state || '', mode: el.dataset.mode || '',
    status: el.querySelector('[data-amlive-status]').textContent,
    viewers: (el.querySelector('[data-amlive-viewers]') || {}).textContent || '',
    src: v.src, time: v.currentTime, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames,
    paused: v.paused, readyState: v.readyState, duration: String(v.duration),
    width: v.videoWidth, height: v.videoHeight, buffered: b,
    error: v.error ? 'MediaError ' + v.error.code + ': ' + v.error.message : '',
    now: performance.now(),
    reconnects: el.amlivePlayer.stats.reconnects, skips: el.amlivePlayer.stats.skips,
  };
})()`

// browserPlayer is a snapshot of the player widget and its video.
type browserPlayer struct {
	State      string       `json:"state"`
	Mode       string       `json:"mode"`
	Status     string       `json:"status"`
	Viewers    string       `json:"viewers"`
	Src        string       `json:"src"`
	Time       float64      `json:"time"`
	Frames     int          `json:"frames"`
	Dropped    int          `json:"dropped"`
	Paused     bool         `json:"paused"`
	ReadyState int          `json:"readyState"`
	Duration   string       `json:"duration"`
	Width      int          `json:"width"`
	Height     int          `json:"height"`
	Buffered   [][2]float64 `json:"buffered"`
	Error      string       `json:"error"`
	Now        float64      `json:"now"` // the page's clock, in milliseconds
	Reconnects int          `json:"reconnects"`
	Skips      int          `json:"skips"` // the server made it skip ahead
}

func snapshotPlayer(tab *chrometest.Tab) browserPlayer {
	return chrometest.Eval[browserPlayer](tab, jsPlayerSnapshot)
}

// openBroadcaster opens room's broadcaster page and presses "Go live".
func openBroadcaster(t *testing.T, b *chrometest.Browser, srv *browserServer) *chrometest.Tab {
	t.Helper()
	tab := b.NewTab(t, "broadcaster")
	tab.Diagnose = jsBroadcasterDiag
	tab.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	tab.Click("[data-amlive-start]")
	tab.WaitFor(jsBroadcasterIs("live"), browserLiveTimeout)
	return tab
}

// openViewer opens room's watch page in a new tab.
func openViewer(t *testing.T, b *chrometest.Browser, srv *browserServer, name string) *chrometest.Tab {
	t.Helper()
	tab := b.NewTab(t, name)
	tab.Diagnose = `(` + jsPlayerSnapshot + `)`
	tab.Navigate(srv.url + "/live/" + browserRoom)
	return tab
}

// stopBroadcast presses Stop and waits until the broadcaster says that the
// recording was saved.
func stopBroadcast(t *testing.T, tab *chrometest.Tab) {
	t.Helper()
	tab.Click("[data-amlive-stop]")
	tab.WaitFor(jsBroadcasterIs("ended"), browserLiveTimeout)
	if status := chrometest.Eval[string](tab, jsBroadcaster+`.querySelector('[data-amlive-status]').textContent`); !strings.Contains(status, "Recording saved") {
		t.Errorf("broadcaster status after Stop = %q; want it to say the recording was saved", status)
	}
}

// checkPlays checks that each tab's player plays: in a window of
// browserPlayWindow, currentTime advances by at least browserMinAdvance
// (for a recording, by no more than the wall time allows) and frames are
// decoded, while the video has no error and the player stays in one of
// states. A busy machine can starve the browser for a moment, so a tab
// gets further windows until browserLiveTimeout; a stalled window is
// logged. It returns each tab's snapshot at the end of its good window.
func checkPlays(t *testing.T, recording bool, tabs []*chrometest.Tab, states ...string) []browserPlayer {
	t.Helper()
	good := make([]browserPlayer, len(tabs))
	done := make([]bool, len(tabs))
	deadline := time.Now().Add(browserLiveTimeout)
	for {
		before := make([]browserPlayer, len(tabs))
		for i, tab := range tabs {
			if !done[i] {
				before[i] = snapshotPlayer(tab)
			}
		}
		// A measurement window, not synchronisation: playback is judged
		// by how far it gets in a known wall time.
		time.Sleep(browserPlayWindow)
		pending := 0
		for i, tab := range tabs {
			if done[i] {
				continue
			}
			s0, s1 := before[i], snapshotPlayer(tab)
			wall := (s1.Now - s0.Now) / 1000
			advanced := s1.Time - s0.Time
			t.Logf("%s: %s, currentTime %.2f -> %.2f in %.2fs wall, frames %d -> %d (dropped %d), readyState %d, buffered %v, skips %d",
				tab.Name(), s1.State, s0.Time, s1.Time, wall, s0.Frames, s1.Frames, s1.Dropped, s1.ReadyState, s1.Buffered, s1.Skips)
			switch {
			case s1.Reconnects > 0:
				// The player showed an error and "Reconnecting…".
				t.Fatalf("%s: the player reconnected %d times; want none", tab.Name(), s1.Reconnects)
			case s1.Error != "":
				t.Fatalf("%s: video error %s; status %q", tab.Name(), s1.Error, s1.Status)
			case !slices.Contains(states, s1.State):
				t.Fatalf("%s: player state %q (status %q); want one of %q", tab.Name(), s1.State, s1.Status, states)
			case s1.Width == 0 || s1.Height == 0:
				t.Fatalf("%s: video size %dx%d; want a picture", tab.Name(), s1.Width, s1.Height)
			case recording && advanced > 1.25*wall+0.25:
				t.Fatalf("%s: the recording's currentTime advanced %.2fs in %.2fs; want about the wall time", tab.Name(), advanced, wall)
			case advanced >= browserMinAdvance && s1.Frames > s0.Frames:
				good[i], done[i] = s1, true
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not playing: currentTime advanced %.2fs in %.2fs (want >= %.1fs), totalVideoFrames %d -> %d; paused %v, readyState %d, status %q",
					tab.Name(), advanced, wall, browserMinAdvance, s0.Frames, s1.Frames, s1.Paused, s1.ReadyState, s1.Status)
			}
			t.Logf("%s: stalled in this window; watching again", tab.Name())
			pending++
		}
		if pending == 0 {
			return good
		}
	}
}

// checkNoPageErrors fails if a tab's page threw an uncaught error.
func checkNoPageErrors(t *testing.T, tabs ...*chrometest.Tab) {
	t.Helper()
	for _, tab := range tabs {
		if errs := tab.Errors(); len(errs) > 0 {
			t.Errorf("%s: uncaught errors in the page: %q", tab.Name(), errs)
		}
	}
}

// jsLivePlaying is true once a live player's video has started.
const jsLivePlaying = `(() => {
  const v = ` + jsPlayer + `.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return !v.paused && v.readyState >= 3 && v.getVideoPlaybackQuality().totalVideoFrames > 0;
})()`

// jsRecordingPlaying is true once the player's video, on a recording, has
// data and has started.
const jsRecordingPlaying = `(() => {
  const v = ` + jsPlayer + `.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return v.src.includes('/playback') && !v.paused && v.readyState >= 3 && v.currentTime > 0.1;
})()`

// TestBrowserLiveAndLateJoin broadcasts from a browser to a viewer who is
// there from the start and one who joins 5 s later; both watch live, then
// switch to the recording when the broadcast stops.
func TestBrowserLiveAndLateJoin(t *testing.T) {
	srv := newBrowserServer(t, browserAllowAll)
	b := chrometest.New(t)
	shots := browserScreenshotDir(t)

	pub := openBroadcaster(t, b, srv)
	early := openViewer(t, b, srv, "viewer A")
	early.WaitFor(jsPlayerIn("live"), browserLiveTimeout)
	early.WaitFor(jsLivePlaying, browserLiveTimeout)

	// Let the broadcast run: A has watched at least 4 s of it, so B joins
	// at a later keyframe (about every 2 s), not at the first.
	t0 := snapshotPlayer(early).Time
	early.WaitFor(fmt.Sprintf(`%s.querySelector('video').currentTime >= %f`, jsPlayer, t0+4), browserLiveTimeout)
	late := openViewer(t, b, srv, "viewer B")
	late.WaitFor(jsPlayerIn("live"), browserLiveTimeout)
	late.WaitFor(jsLivePlaying, browserLiveTimeout)

	viewers := []*chrometest.Tab{early, late}
	checkPlays(t, false, viewers, "live")
	// Both watch near the live edge: the late joiner is not replaying the
	// start of the broadcast.
	live := []browserPlayer{snapshotPlayer(early), snapshotPlayer(late)}
	if d := math.Abs(live[0].Time - live[1].Time); d > 3 {
		t.Errorf("viewer A at %.2fs, viewer B at %.2fs; want them within 3s of each other (both live)", live[0].Time, live[1].Time)
	}
	if s := live[1]; len(s.Buffered) == 0 || s.Buffered[0][0] < 2 {
		t.Errorf("viewer B's buffer %v; want it to start at a keyframe after the first (>= 2s)", s.Buffered)
	}
	pub.WaitFor(jsBroadcaster+`.amliveBroadcaster.viewers === 2`, browserLiveTimeout)
	if got := srv.p.Live(); len(got) != 1 || got[0].Viewers != 2 {
		t.Errorf("Plugin.Live() = %+v; want alice live with 2 viewers", got)
	}
	pub.Screenshot(filepath.Join(shots, "broadcast-live.png"))
	early.Screenshot(filepath.Join(shots, "watch-live.png"))
	t.Logf("screenshots in %s", shots)

	stopBroadcast(t, pub)
	for _, tab := range viewers {
		tab.WaitFor(jsPlayerIn("ended", "recording"), browserLiveTimeout)
		tab.WaitFor(jsRecordingPlaying, browserLiveTimeout)
	}
	for _, s := range checkPlays(t, true, viewers, "ended", "recording") {
		if !strings.Contains(s.Src, "/live/"+browserRoom+"/playback") || s.Mode != "recording" || !strings.Contains(s.Status, "ended") {
			t.Errorf("after the end: video src %q, mode %q, status %q; want the room's /playback URL in mode recording and a status saying the broadcast ended",
				s.Src, s.Mode, s.Status)
		}
	}
	checkNoPageErrors(t, pub, early, late)
}

// TestBrowserOfflineRoomPlaysRecording checks that a viewer who opens a
// room after its broadcast ended gets the latest recording, playing.
func TestBrowserOfflineRoomPlaysRecording(t *testing.T) {
	srv := newBrowserServer(t, browserAllowAll)
	b := chrometest.New(t)

	pub := openBroadcaster(t, b, srv)
	chrometest.Until(t, browserLiveTimeout, "8 s of broadcast", func() bool {
		live := srv.p.Live()
		return len(live) == 1 && live[0].Bytes > 0 && time.Since(live[0].Started) >= 8*time.Second
	})
	stopBroadcast(t, pub)

	recs, err := srv.p.Recordings(browserRoom)
	if err != nil {
		t.Fatalf("Recordings: %v", err)
	}
	if len(recs) != 1 || recs[0].Live || recs[0].Failed || recs[0].Duration < 5*time.Second {
		t.Fatalf("Recordings = %+v; want one finished recording of about 8s", recs)
	}

	viewer := openViewer(t, b, srv, "viewer")
	viewer.WaitFor(jsPlayerIn("recording"), browserLiveTimeout)
	viewer.WaitFor(jsRecordingPlaying, browserLiveTimeout)
	s := checkPlays(t, true, []*chrometest.Tab{viewer}, "recording")[0]
	if !strings.Contains(s.Src, "/live/"+browserRoom+"/playback") || !strings.Contains(s.Status, "offline") {
		t.Errorf("video src %q, status %q; want the room's /playback URL and a status saying the room is offline", s.Src, s.Status)
	}
	// A sealed recording has a finite duration, the one the status reports,
	// and a person can seek in it.
	rec := browserStatus(t, srv).Recordings[0]
	if !rec.Seekable {
		t.Fatalf("recording %+v; want it sealed (seekable)", rec)
	}
	want := float64(rec.DurationMs) / 1000
	var duration float64
	if _, err := fmt.Sscan(s.Duration, &duration); err != nil || math.IsInf(duration, 0) || math.Abs(duration-want) > 0.5 {
		t.Fatalf("video duration %s; want the sealed recording's %.3fs (status durationMs %d)", s.Duration, want, rec.DurationMs)
	}
	mid := duration / 2
	chrometest.Eval[bool](viewer, fmt.Sprintf(`(() => { %s.querySelector('video').currentTime = %f; return true; })()`, jsPlayer, mid))
	viewer.WaitFor(fmt.Sprintf(`(() => {
  const v = %s.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return !v.seeking && v.currentTime >= %f;
})()`, jsPlayer, mid), browserLiveTimeout)
	after := checkPlays(t, true, []*chrometest.Tab{viewer}, "recording")[0]
	if after.Time < mid || after.Time > duration {
		t.Errorf("after seeking to %.2fs of %.2fs, currentTime %.2f; want it to play on from there", mid, duration, after.Time)
	}
	t.Logf("video duration %s, recording %+v; seeked to %.2fs, playing at %.2fs", s.Duration, rec, mid, after.Time)
	checkNoPageErrors(t, pub, viewer)
}

// browserStatusJSON is the part of GET /live/:id/status the tests read.
type browserStatusJSON struct {
	Live       bool                   `json:"live"`
	Broadcast  string                 `json:"broadcast"`
	Recordings []liveplugin.Recording `json:"recordings"`
}

// browserStatus returns the room's status as GET /live/alice/status says.
func browserStatus(t *testing.T, srv *browserServer) browserStatusJSON {
	t.Helper()
	resp, body := get(t, http.MethodGet, srv.url+"/live/"+browserRoom+"/status", nil)
	var st browserStatusJSON
	if err := json.Unmarshal(body, &st); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET status: %d %s (%v)", resp.StatusCode, body, err)
	}
	return st
}

// jsShiftPlaying is true once the player's video, on the live broadcast's
// growing recording, has data and has started.
const jsShiftPlaying = `(() => {
  const el = ` + jsPlayer + `, v = el.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return el.amlivePlayer.mode === 'timeshift' && v.src.includes('/playback?b=') && !v.paused && v.readyState >= 3 && v.currentTime > 0.1;
})()`

// jsButtonsShown lists the player's visible time-shift buttons.
const jsButtonsShown = `[...` + jsPlayer + `.querySelectorAll('[data-amlive-rewind], [data-amlive-tolive]')]
  .filter((b) => !b.hidden).map((b) => b.hasAttribute('data-amlive-tolive') ? 'tolive' : 'rewind ' + b.dataset.amliveRewind).join(',')`

// TestBrowserTimeShift rewinds a live broadcast to its start, watches it
// past the point where the recording ended when it was first fetched, and
// goes back to live.
func TestBrowserTimeShift(t *testing.T) {
	srv := newBrowserServer(t, browserAllowAll)
	b := chrometest.New(t)

	pub := openBroadcaster(t, b, srv)
	viewer := openViewer(t, b, srv, "viewer")
	viewer.WaitFor(jsPlayerIn("live"), browserLiveTimeout)
	viewer.WaitFor(jsLivePlaying, browserLiveTimeout)
	if got := chrometest.Eval[string](viewer, jsButtonsShown); got != "rewind start,rewind 30" {
		t.Errorf("live: buttons shown %q; want the rewind buttons", got)
	}
	// Some broadcast to go back to.
	viewer.WaitFor(fmt.Sprintf(`%s.querySelector('video').currentTime >= 8`, jsPlayer), browserLiveTimeout)
	livePos := snapshotPlayer(viewer).Time

	viewer.Click(`[data-amlive-rewind="start"]`)
	viewer.WaitFor(jsPlayerIn("timeshift"), browserLiveTimeout)
	viewer.WaitFor(jsShiftPlaying, browserLiveTimeout)
	s := checkPlays(t, true, []*chrometest.Tab{viewer}, "timeshift")[0]
	if s.Mode != "timeshift" || s.Time > livePos-3 || !strings.Contains(s.Src, "/live/"+browserRoom+"/playback?b=") {
		t.Errorf("rewound: mode %q, currentTime %.2f, src %q; want mode timeshift, near the start (live was at %.2fs), playing the growing recording",
			s.Mode, s.Time, s.Src, livePos)
	}
	if got := chrometest.Eval[string](viewer, jsButtonsShown); got != "tolive" {
		t.Errorf("rewound: buttons shown %q; want only Back to live", got)
	}
	// The first response held the file as it was at the rewind; the player
	// goes on past it (reloading and seeking in the growing file) without
	// playing anything again.
	last := s.Time
	chrometest.Until(t, browserLiveTimeout, "time-shifted playback past the first response", func() bool {
		now := snapshotPlayer(viewer)
		if now.Error != "" || now.Mode != "timeshift" {
			t.Fatalf("time shift: mode %q, error %q, status %q", now.Mode, now.Error, now.Status)
		}
		if now.ReadyState < 3 {
			return false // reloading: currentTime is 0 until the seek
		}
		if now.Time < last-1 {
			t.Fatalf("time shift: currentTime went back from %.2f to %.2f", last, now.Time)
		}
		last = max(last, now.Time)
		return now.Time >= livePos+2
	})

	viewer.Click(`[data-amlive-tolive]`)
	viewer.WaitFor(jsPlayerIn("live"), browserLiveTimeout)
	viewer.WaitFor(jsLivePlaying, browserLiveTimeout)
	l := checkPlays(t, false, []*chrometest.Tab{viewer}, "live")[0]
	if l.Mode != "live" || len(l.Buffered) == 0 || l.Buffered[len(l.Buffered)-1][1]-l.Time > 3 || l.Time < last {
		t.Errorf("back to live: mode %q, currentTime %.2f, buffered %v; want mode live within 3s of the live edge (ahead of %.2fs)", l.Mode, l.Time, l.Buffered, last)
	}
	if got := chrometest.Eval[string](viewer, jsButtonsShown); got != "rewind start,rewind 30" {
		t.Errorf("back to live: buttons shown %q; want the rewind buttons", got)
	}
	checkNoPageErrors(t, pub, viewer)
}

// TestBrowserPublishRefused places the "Go live" widget in an app's own
// page while the plugin keeps its default Authorize (nobody may publish):
// pressing it tells the user why they cannot go live.
func TestBrowserPublishRefused(t *testing.T) {
	srv := newBrowserServer(t, nil)
	page := template.Must(template.New("studio").Funcs(srv.p.FuncMap()).Parse(
		`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Studio</title>{{amliveHead}}</head>` +
			`<body><h1>Studio</h1>{{amliveBroadcaster .}}</body></html>`))
	srv.e.GET("/studio/:id", func(c echo.Context) error {
		var buf strings.Builder
		if err := page.Execute(&buf, c.Param("id")); err != nil {
			return err
		}
		return c.HTML(http.StatusOK, buf.String())
	})
	b := chrometest.New(t)

	tab := b.NewTab(t, "studio")
	tab.Diagnose = jsBroadcasterDiag
	tab.Navigate(srv.url + "/studio/" + browserRoom)
	tab.Click("[data-amlive-start]")
	tab.WaitFor(jsBroadcasterIs("error"), browserLiveTimeout)

	type widget struct {
		Status       string `json:"status"`
		LastError    string `json:"lastError"`
		StartEnabled bool   `json:"startEnabled"`
		StopEnabled  bool   `json:"stopEnabled"`
		Camera       bool   `json:"camera"`
		Title        string `json:"title"`
	}
	got := chrometest.Eval[widget](tab, `(() => {
  const el = `+jsBroadcaster+`, v = el.querySelector('video');
  return {status: el.querySelector('[data-amlive-status]').textContent, lastError: el.amliveBroadcaster.lastError,
    startEnabled: !el.querySelector('[data-amlive-start]').disabled, stopEnabled: !el.querySelector('[data-amlive-stop]').disabled,
    camera: Boolean(v.srcObject), title: document.title};
})()`)
	if !strings.Contains(got.Status, "not allowed to broadcast") || !strings.Contains(got.Status, "publishing is disabled on this site") {
		t.Errorf("status line %q; want the 4403 refusal and the server's reason", got.Status)
	}
	if got.LastError != got.Status {
		t.Errorf("lastError %q; want the status line %q", got.LastError, got.Status)
	}
	if !got.StartEnabled || got.StopEnabled || got.Camera {
		t.Errorf("after the refusal: start enabled %v, stop enabled %v, camera on %v; want start enabled, stop disabled, camera off",
			got.StartEnabled, got.StopEnabled, got.Camera)
	}
	if got.Title != "Studio" {
		t.Errorf("document.title = %q; want the page still there", got.Title)
	}
	if live := srv.p.Live(); len(live) != 0 {
		t.Errorf("Plugin.Live() = %+v; want nobody live", live)
	}
	if recs, err := srv.p.Recordings(browserRoom); err != nil || len(recs) != 0 {
		t.Errorf("Recordings = %v, %v; want none", recs, err)
	}
	checkNoPageErrors(t, tab)
}
