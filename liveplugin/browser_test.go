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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
)

// browserLiveTimeout is how long a browser test waits from a click or a
// page load to a state: generous, because the machines are small and busy
// (two cores encode and decode video for several tabs under -race).
const browserLiveTimeout = 60 * time.Second

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
func newBrowserServer(t testing.TB, authorize func(echo.Context, string, liveplugin.Action) error) *browserServer {
	t.Helper()
	return newBrowserServerWith(t, liveplugin.Config{Authorize: authorize})
}

// newBrowserServerWith is newBrowserServer with cfg; Logger and
// IdleTimeout are the test's, and so is Dir unless cfg sets it.
func newBrowserServerWith(t testing.TB, cfg liveplugin.Config) *browserServer {
	t.Helper()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	// A browser starved of CPU on a busy machine can send nothing for
	// longer than the default 15 s; the idle timeout has its own test.
	cfg.IdleTimeout = 2 * time.Minute
	p, err := liveplugin.Register(e.Group("/live"), cfg)
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

// openBroadcaster opens room's broadcaster page and presses "Go live".
func openBroadcaster(t *testing.T, b *chrometest.Browser, srv *browserServer) *chrometest.Tab {
	t.Helper()
	tab := b.NewTab(t, "broadcaster")
	tab.Diagnose = chrometest.BroadcasterDiagnosis
	tab.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	tab.Click("[data-amlive-start]")
	tab.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)
	return tab
}

// openViewer opens room's watch page in a new tab.
func openViewer(t *testing.T, b *chrometest.Browser, srv *browserServer, name string) *chrometest.Tab {
	t.Helper()
	return openPlayerPage(t, b, srv, name, "")
}

// openPlayerPage opens the room's page at /live/room+suffix, one with a
// player ("" is the watch page, "/embed" the embed page), in a new tab.
func openPlayerPage(t *testing.T, b *chrometest.Browser, srv *browserServer, name, suffix string) *chrometest.Tab {
	t.Helper()
	tab := b.NewTab(t, name)
	tab.Diagnose = chrometest.PlayerSnapshotJS
	tab.Navigate(srv.url + "/live/" + browserRoom + suffix)
	return tab
}

// stopBroadcast presses Stop and waits until the broadcaster says that the
// recording was saved.
func stopBroadcast(t *testing.T, tab *chrometest.Tab) {
	t.Helper()
	tab.Click("[data-amlive-stop]")
	tab.WaitFor(chrometest.BroadcasterIs("ended"), browserLiveTimeout)
	if status := chrometest.Eval[string](tab, chrometest.BroadcasterJS+`.querySelector('[data-amlive-status]').textContent`); !strings.Contains(status, "Recording saved") {
		t.Errorf("broadcaster status after Stop = %q; want it to say the recording was saved", status)
	}
}

// jsLivePlaying is true once a live player's video has started.
const jsLivePlaying = `(() => {
  const v = ` + chrometest.PlayerJS + `.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return !v.paused && v.readyState >= 3 && v.getVideoPlaybackQuality().totalVideoFrames > 0;
})()`

// jsRecordingPlaying is true once the player's video, on a recording, has
// data and has started.
const jsRecordingPlaying = `(() => {
  const v = ` + chrometest.PlayerJS + `.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return v.src.includes('/playback') && !v.paused && v.readyState >= 3 && v.currentTime > 0.1;
})()`

// TestBrowserLiveAndLateJoin broadcasts from a browser to a viewer who is
// there from the start and one who joins 5 s later on the embed page;
// both watch live, then switch to the recording when the broadcast stops.
// No page violates its Content-Security-Policy.
func TestBrowserLiveAndLateJoin(t *testing.T) {
	srv := newBrowserServer(t, browserAllowAll)
	b := chrometest.New(t)
	shots := chrometest.ScreenshotDir(t)

	pub := openBroadcaster(t, b, srv)
	early := openViewer(t, b, srv, "viewer A")
	early.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	early.WaitFor(jsLivePlaying, browserLiveTimeout)

	// Let the broadcast run: A has watched at least 4 s of it, so B joins
	// at a later keyframe (about every 2 s), not at the first.
	t0 := early.Player().Time
	early.WaitFor(fmt.Sprintf(`%s.querySelector('video').currentTime >= %f`, chrometest.PlayerJS, t0+4), browserLiveTimeout)
	late := openPlayerPage(t, b, srv, "viewer B (embed)", "/embed")
	late.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	late.WaitFor(jsLivePlaying, browserLiveTimeout)

	viewers := []*chrometest.Tab{early, late}
	chrometest.AssertPlays(t, browserLiveTimeout, false, viewers, "live")
	// Both watch near the live edge: the late joiner is not replaying the
	// start of the broadcast.
	live := []chrometest.Player{early.Player(), late.Player()}
	if d := math.Abs(live[0].Time - live[1].Time); d > 3 {
		t.Errorf("viewer A at %.2fs, viewer B at %.2fs; want them within 3s of each other (both live)", live[0].Time, live[1].Time)
	}
	if s := live[1]; len(s.Buffered) == 0 || s.Buffered[0][0] < 2 {
		t.Errorf("viewer B's buffer %v; want it to start at a keyframe after the first (>= 2s)", s.Buffered)
	}
	pub.WaitFor(chrometest.BroadcasterJS+`.amliveBroadcaster.viewers === 2`, browserLiveTimeout)
	if got := srv.p.Live(); len(got) != 1 || got[0].Viewers != 2 {
		t.Errorf("Plugin.Live() = %+v; want alice live with 2 viewers", got)
	}
	pub.Screenshot(filepath.Join(shots, "broadcast-live.png"))
	early.Screenshot(filepath.Join(shots, "watch-live.png"))
	t.Logf("screenshots in %s", shots)

	stopBroadcast(t, pub)
	for _, tab := range viewers {
		tab.WaitFor(chrometest.PlayerIn("document", "ended", "recording"), browserLiveTimeout)
		tab.WaitFor(jsRecordingPlaying, browserLiveTimeout)
	}
	for _, s := range chrometest.AssertPlays(t, browserLiveTimeout, true, viewers, "ended", "recording") {
		if !strings.Contains(s.Src, "/live/"+browserRoom+"/playback") || s.Mode != "recording" || !strings.Contains(s.Status, "ended") {
			t.Errorf("after the end: video src %q, mode %q, status %q; want the room's /playback URL in mode recording and a status saying the broadcast ended",
				s.Src, s.Mode, s.Status)
		}
	}
	chrometest.CheckNoPageErrors(t, pub, early, late)
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
	viewer.WaitFor(chrometest.PlayerIn("document", "recording"), browserLiveTimeout)
	viewer.WaitFor(jsRecordingPlaying, browserLiveTimeout)
	s := chrometest.AssertPlays(t, browserLiveTimeout, true, []*chrometest.Tab{viewer}, "recording")[0]
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
	chrometest.Eval[bool](viewer, fmt.Sprintf(`(() => { %s.querySelector('video').currentTime = %f; return true; })()`, chrometest.PlayerJS, mid))
	viewer.WaitFor(fmt.Sprintf(`(() => {
  const v = %s.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return !v.seeking && v.currentTime >= %f;
})()`, chrometest.PlayerJS, mid), browserLiveTimeout)
	after := chrometest.AssertPlays(t, browserLiveTimeout, true, []*chrometest.Tab{viewer}, "recording")[0]
	if after.Time < mid || after.Time > duration {
		t.Errorf("after seeking to %.2fs of %.2fs, currentTime %.2f; want it to play on from there", mid, duration, after.Time)
	}
	t.Logf("video duration %s, recording %+v; seeked to %.2fs, playing at %.2fs", s.Duration, rec, mid, after.Time)
	chrometest.CheckNoPageErrors(t, pub, viewer)
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
  const el = ` + chrometest.PlayerJS + `, v = el.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return el.amlivePlayer.mode === 'timeshift' && v.src.includes('/playback?b=') && !v.paused && v.readyState >= 3 && v.currentTime > 0.1;
})()`

// jsButtonsShown lists the player's visible time-shift buttons.
const jsButtonsShown = `[...` + chrometest.PlayerJS + `.querySelectorAll('[data-amlive-rewind], [data-amlive-tolive]')]
  .filter((b) => !b.hidden).map((b) => b.hasAttribute('data-amlive-tolive') ? 'tolive' : 'rewind ' + b.dataset.amliveRewind).join(',')`

// TestBrowserTimeShift rewinds a live broadcast to its start, watches it
// past the point where the recording ended when it was first fetched, and
// goes back to live.
func TestBrowserTimeShift(t *testing.T) {
	srv := newBrowserServer(t, browserAllowAll)
	b := chrometest.New(t)

	pub := openBroadcaster(t, b, srv)
	viewer := openViewer(t, b, srv, "viewer")
	viewer.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	viewer.WaitFor(jsLivePlaying, browserLiveTimeout)
	if got := chrometest.Eval[string](viewer, jsButtonsShown); got != "rewind start,rewind 30" {
		t.Errorf("live: buttons shown %q; want the rewind buttons", got)
	}
	// Some broadcast to go back to.
	viewer.WaitFor(fmt.Sprintf(`%s.querySelector('video').currentTime >= 8`, chrometest.PlayerJS), browserLiveTimeout)
	livePos := viewer.Player().Time

	viewer.Click(`[data-amlive-rewind="start"]`)
	viewer.WaitFor(chrometest.PlayerIn("document", "timeshift"), browserLiveTimeout)
	viewer.WaitFor(jsShiftPlaying, browserLiveTimeout)
	s := chrometest.AssertPlays(t, browserLiveTimeout, true, []*chrometest.Tab{viewer}, "timeshift")[0]
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
		now := viewer.Player()
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
	viewer.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	viewer.WaitFor(jsLivePlaying, browserLiveTimeout)
	l := chrometest.AssertPlays(t, browserLiveTimeout, false, []*chrometest.Tab{viewer}, "live")[0]
	if l.Mode != "live" || len(l.Buffered) == 0 || l.Buffered[len(l.Buffered)-1][1]-l.Time > 3 || l.Time < last {
		t.Errorf("back to live: mode %q, currentTime %.2f, buffered %v; want mode live within 3s of the live edge (ahead of %.2fs)", l.Mode, l.Time, l.Buffered, last)
	}
	if got := chrometest.Eval[string](viewer, jsButtonsShown); got != "rewind start,rewind 30" {
		t.Errorf("back to live: buttons shown %q; want the rewind buttons", got)
	}
	chrometest.CheckNoPageErrors(t, pub, viewer)
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
	tab.Diagnose = chrometest.BroadcasterDiagnosis
	tab.Navigate(srv.url + "/studio/" + browserRoom)
	tab.Click("[data-amlive-start]")
	tab.WaitFor(chrometest.BroadcasterIs("error"), browserLiveTimeout)

	type widget struct {
		Status       string `json:"status"`
		LastError    string `json:"lastError"`
		StartEnabled bool   `json:"startEnabled"`
		StopEnabled  bool   `json:"stopEnabled"`
		Camera       bool   `json:"camera"`
		Title        string `json:"title"`
	}
	got := chrometest.Eval[widget](tab, `(() => {
  const el = `+chrometest.BroadcasterJS+`, v = el.querySelector('video');
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
	chrometest.CheckNoPageErrors(t, tab)
}

// TestBrowserTimeShiftAcrossSeal rewinds a live broadcast, then stops it
// while the viewer watches the growing recording: the seal rewrites the
// file, so the player must move to the sealed file at the same position
// (it then has a finite duration) and keep playing and seeking in it.
func TestBrowserTimeShiftAcrossSeal(t *testing.T) {
	srv := newBrowserServer(t, browserAllowAll)
	b := chrometest.New(t)

	pub := openBroadcaster(t, b, srv)
	viewer := openViewer(t, b, srv, "viewer")
	viewer.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	viewer.WaitFor(fmt.Sprintf(`%s.querySelector('video').currentTime >= 6`, chrometest.PlayerJS), browserLiveTimeout)
	viewer.Click(`[data-amlive-rewind="start"]`)
	viewer.WaitFor(jsShiftPlaying, browserLiveTimeout)
	before := viewer.Player()
	if before.Duration != "Infinity" {
		t.Logf("growing recording's duration %s (Chromium usually says Infinity)", before.Duration)
	}

	stopBroadcast(t, pub)
	viewer.WaitFor(chrometest.PlayerIn("document", "ended"), browserLiveTimeout)
	// The sealed file: a finite duration, the position kept.
	chrometest.Until(t, browserLiveTimeout, "the sealed recording loaded", func() bool {
		p := viewer.Player()
		if p.Error != "" {
			t.Fatalf("after the seal: error %q, status %q", p.Error, p.Status)
		}
		return p.ReadyState >= 3 && p.Duration != "Infinity" && p.Duration != "NaN"
	})
	after := viewer.Player()
	if after.Time < before.Time-1 {
		t.Errorf("after the seal: currentTime %.2f; want about where it was (%.2f or later)", after.Time, before.Time)
	}
	chrometest.AssertPlays(t, browserLiveTimeout, true, []*chrometest.Tab{viewer}, "ended")
	// Seek near the end of the sealed file: it lands there and plays.
	const jsSeekEnd = `(() => { const v = ` + chrometest.PlayerJS + `.querySelector('video'); v.currentTime = v.duration - 2; return v.duration; })()`
	d := chrometest.Eval[float64](viewer, jsSeekEnd)
	chrometest.Until(t, browserLiveTimeout, "the seek near the end", func() bool {
		p := viewer.Player()
		if p.Error != "" {
			t.Fatalf("seek: error %q", p.Error)
		}
		return p.Time >= d-2.5 && p.ReadyState >= 2
	})
	chrometest.CheckNoPageErrors(t, pub, viewer)
}

// TestBrowserEndedBySite ends a broadcast through POST /live/alice/end:
// the viewer's page shows the reason, then plays the recording, and the
// broadcaster's page shows it too.
func TestBrowserEndedBySite(t *testing.T) {
	srv := newBrowserServer(t, browserAllowAll)
	b := chrometest.New(t)
	pub := openBroadcaster(t, b, srv)
	viewer := openViewer(t, b, srv, "viewer")
	viewer.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	viewer.WaitFor(jsLivePlaying, browserLiveTimeout)
	chrometest.Until(t, browserLiveTimeout, "4 s of broadcast", func() bool {
		live := srv.p.Live()
		return len(live) == 1 && time.Since(live[0].Started) >= 4*time.Second
	})

	const reason = "Broken house rules"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.url+"/live/"+browserRoom+"/end",
		strings.NewReader(`{"reason":"`+reason+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST end: %d; want 204", resp.StatusCode)
	}

	viewer.WaitFor(chrometest.PlayerIn("document", "ended", "recording"), browserLiveTimeout)
	viewer.WaitFor(jsRecordingPlaying, browserLiveTimeout)
	s := chrometest.AssertPlays(t, browserLiveTimeout, true, []*chrometest.Tab{viewer}, "ended", "recording")[0]
	if !strings.Contains(s.Status, reason) || !strings.Contains(s.Src, "/live/"+browserRoom+"/playback") {
		t.Errorf("viewer after the end: status %q, src %q; want the reason %q and the recording", s.Status, s.Src, reason)
	}
	pub.WaitFor(chrometest.BroadcasterIs("error"), browserLiveTimeout)
	if status := chrometest.Eval[string](pub, chrometest.BroadcasterJS+`.querySelector('[data-amlive-status]').textContent`); !strings.Contains(status, reason) || !strings.Contains(status, "site ended") {
		t.Errorf("broadcaster status %q; want it to say the site ended the broadcast, and why", status)
	}
	recs, err := srv.p.Recordings(browserRoom)
	if err != nil || len(recs) != 1 || !recs[0].Seekable {
		t.Errorf("Recordings = %+v, %v; want one sealed recording", recs, err)
	}
	chrometest.CheckNoPageErrors(t, pub, viewer)
}
