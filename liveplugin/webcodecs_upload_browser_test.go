package liveplugin_test

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/browser"
	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// nowebcodecsJS takes WebCodecs away from the page, before the plugin's
// scripts: the broadcaster must fall back to MediaRecorder.
const nowebcodecsJS = `'use strict';
delete window.VideoEncoder;
`

// nomstpJS takes MediaStreamTrackProcessor away (as Firefox has none): the
// broadcaster reads frames from a video element and sound through the
// capture worklet.
const nomstpJS = `'use strict';
delete window.MediaStreamTrackProcessor;
`

// silentJS is nomstpJS in a browser whose AudioContexts never run (no
// sound output, or a policy against it): the capture worklet gives no
// sound.
const silentJS = nomstpJS + `{
  const AC = window.AudioContext;
  window.AudioContext = class extends AC {
    constructor(o) { super(o); this.suspend(); }
    resume() { return this.suspend(); }
  };
}
`

// lossyJS has the microphone's MediaStreamTrackProcessor lose a second of
// sound, from 1.5 s after its first: what Chromium's does when the page is
// too busy to read it in time. window.amliveLostMs says how much it lost.
const lossyJS = `'use strict';
{
  const P = window.MediaStreamTrackProcessor;
  window.amliveLostMs = 0;
  window.MediaStreamTrackProcessor = function (init) {
    const p = new P(init);
    if (init.track.kind !== 'audio') return p;
    const reader = p.readable.getReader();
    let first = 0;
    const readable = new ReadableStream({
      async pull(ctl) {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) { ctl.close(); return; }
          const t = performance.now();
          if (!first) first = t;
          if (t - first >= 1500 && t - first < 2500) {
            window.amliveLostMs += value.duration / 1000;
            value.close();
            continue;
          }
          ctl.enqueue(value);
          return;
        }
      },
      cancel(r) { return reader.cancel(r); },
    }, { highWaterMark: 0 });
    return { readable };
  };
}
`

// lowLatencyScripts are the scripts lowLatencyPages serves under /app/.
var lowLatencyScripts = map[string]string{"nowebcodecs.js": nowebcodecsJS, "nomstp.js": nomstpJS, "silent.js": silentJS, "lossy.js": lossyJS}

// lowLatencyPages adds /app/lownowc/:id, /app/lownomstp/:id,
// /app/lowsilent/:id and /app/lowlossy/:id (the broadcaster inside
// data-latency="low", after nowebcodecsJS, nomstpJS, silentJS or lossyJS)
// and /app/watchmse/:id (the player inside data-latency="normal": MSE
// whatever the room).
func lowLatencyPages(t testing.TB, srv *testServer) {
	t.Helper()
	low := func(script string) string { return `<script src="/app/` + script + `"></script>{{amliveHead}}` }
	for _, p := range []struct{ kind, head, body string }{
		{"lownowc", low("nowebcodecs.js"), `<div data-latency="low">{{amliveBroadcaster .}}</div>`},
		{"lownomstp", low("nomstp.js"), `<div data-latency="low">{{amliveBroadcaster .}}</div>`},
		{"lowsilent", low("silent.js"), `<div data-latency="low">{{amliveBroadcaster .}}</div>`},
		{"lowlossy", low("lossy.js"), `<div data-latency="low">{{amliveBroadcaster .}}</div>`},
		{"watchmse", `{{amliveHead}}`, `<div data-latency="normal">{{amlivePlayer .}}</div>`},
	} {
		page := template.Must(template.New(p.kind).Funcs(srv.p.FuncMap()).Parse(
			`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>` + p.kind + `</title>` + p.head +
				`</head><body>` + p.body + `</body></html>`))
		srv.e.GET("/app/"+p.kind+"/:id", func(c echo.Context) error {
			var buf strings.Builder
			if err := page.Execute(&buf, c.Param("id")); err != nil {
				return err
			}
			return c.HTML(http.StatusOK, buf.String())
		})
	}
	srv.e.GET("/app/:script", func(c echo.Context) error {
		js, ok := lowLatencyScripts[c.Param("script")]
		if !ok {
			return echo.ErrNotFound
		}
		return c.Blob(http.StatusOK, "text/javascript", []byte(js))
	})
}

// goLiveSmall opens the broadcaster page at path in env's browser, makes
// its source the camera at 640x360 with the microphone (as the fixtures:
// lighter on a two-core machine), and presses "Go live".
func goLiveSmall(t testing.TB, env *engineEnv, path string) browser.Page {
	t.Helper()
	bc := env.open("broadcaster", path)
	if err := bc.Eval(chrometest.BroadcasterJS+`.amliveBroadcaster.source = () => navigator.mediaDevices.getUserMedia({video: {width: 640, height: 360}, audio: true})`, nil); err != nil {
		t.Fatal(err)
	}
	click(t, bc, "[data-amlive-start]")
	return bc
}

// TestBrowserWebCodecsBroadcast goes live from Chromium's broadcaster on
// the plugin's page of a site with Config.Capture.LowLatency: it encodes
// with WebCodecs and uploads encoded chunks (the engine says so, and the
// room is live in WebM with VP8, VP9 or AV1 and Opus, latency low); the
// site's watch page decodes it with WebCodecs, and an MSE viewer
// (data-latency="normal") plays it live, then its recording, which seeks.
// The same from Firefox, which has no MediaStreamTrackProcessor (its
// viewers watch in Firefox too), and from Chromium with it taken away. A
// page with data-latency="low" and WebCodecs taken away falls back to
// MediaRecorder and works the same.
func TestBrowserWebCodecsBroadcast(t *testing.T) {
	for _, tc := range []struct {
		name, page, mime string
		capture          liveplugin.Capture
		engine           browser.Engine
		// viewer is the engine the viewers watch in: engine when "".
		viewer browser.Engine
		// sparse, when not "", says why the broadcast has too few frames
		// a second for the MSE viewer's checks: the WebCodecs viewer's
		// frames and the recording's every packet (ffprobe) are checked
		// instead.
		sparse string
	}{
		// The site asks (Config.Capture.LowLatency), on the plugin's own
		// broadcaster page.
		{"webcodecs", "/live/" + browserRoom + "/broadcast", "application/x-amlive-chunks", liveplugin.Capture{LowLatency: true}, browser.Chromium, "", ""},
		// The same in Firefox, which has WebCodecs but no
		// MediaStreamTrackProcessor: its frames come from a hidden video
		// element, its sound through the capture worklet; its viewers
		// decode with WebCodecs too.
		{"webcodecs firefox", "/live/" + browserRoom + "/broadcast", "application/x-amlive-chunks", liveplugin.Capture{LowLatency: true}, browser.Firefox, "", ""},
		// WebKit watches a Chromium broadcast on both players…
		{"webcodecs to webkit", "/live/" + browserRoom + "/broadcast", "application/x-amlive-chunks", liveplugin.Capture{LowLatency: true}, browser.Chromium, browser.WebKit, ""},
		// …and goes live on the chunk upload itself (its MediaRecorder
		// records nothing here: engineCan.mp4NoBytes), no
		// MediaStreamTrackProcessor either.
		{"webcodecs webkit", "/live/" + browserRoom + "/broadcast", "application/x-amlive-chunks", liveplugin.Capture{LowLatency: true}, browser.WebKit, browser.Chromium,
			"WebKitGTK's mock camera gives 1280x720 whatever is asked, which it encodes in software at 3-5 frames a second on a 2-core machine, fewer than assertPlaying's minFPS"},
		// And in Chromium with MediaStreamTrackProcessor taken away; the
		// page asks (data-latency="low").
		{"webcodecs without MediaStreamTrackProcessor", "/app/lownomstp/" + browserRoom, "application/x-amlive-chunks", liveplugin.Capture{}, browser.Chromium, "", ""},
		// The page asks (data-latency="low"), where there is no WebCodecs.
		{"fallback", "/app/lownowc/" + browserRoom, "video/webm", liveplugin.Capture{}, browser.Chromium, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.viewer == "" {
				tc.viewer = tc.engine
			}
			for _, e := range []browser.Engine{tc.engine, tc.viewer} {
				if !slices.Contains(browser.Engines(), e) {
					t.Skipf("%s is not among the engines %v", e, browser.Engines())
				}
			}
			// A browser that wedged (Browser.Wedged), the broadcaster's or
			// the viewers', gets one more attempt, on new browsers and a
			// new server.
			cb := browser.Start(t, tc.engine)
			var vb browser.Browser // the viewers' when another engine: each attempt's own
			broken := func(browser.Trial) error {
				if vb == nil {
					return nil
				}
				return vb.Wedged()
			}
			browser.Retry(t, t, &cb, broken, func(t testing.TB, cb browser.Browser) {
				srv := newServer(t, liveplugin.Config{Authorize: allowAll, IdleTimeout: 2 * time.Minute, Capture: tc.capture})
				lowLatencyPages(t, srv)
				env := &engineEnv{t: t, b: cb, e: tc.engine, can: engineCans[tc.engine], srv: srv}
				venv := env
				if tc.viewer != tc.engine {
					vb = browser.Start(t, tc.viewer)
					venv = &engineEnv{t: t, b: vb, e: tc.viewer, can: engineCans[tc.viewer], srv: srv}
				}
				broadcastLow(t, tc.page, tc.mime, tc.sparse, env, venv)
			})
		})
	}
}

// broadcastLow goes live on page in env's browser, checks that it uploads
// mime (the chunk upload when it is application/x-amlive-chunks), and
// watches it in venv's: on the watch page with WebCodecs (the chunk upload
// only), then, unless sparse says why not, in an MSE viewer, live, then
// its recording, which seeks.
func broadcastLow(t testing.TB, page, mime, sparse string, env, venv *engineEnv) {
	srv := env.srv
	bc := goLiveSmall(t, env, page)
	waitPage(t, bc, "the broadcaster live", chrometest.BroadcasterIs("live"))
	var w broadcasterWidget
	if err := bc.Eval(jsBroadcasterWidget, &w); err != nil {
		t.Fatal(err)
	}
	var codec string
	if err := bc.Eval(chrometest.BroadcasterJS+`.amliveBroadcaster.videoCodec`, &codec); err != nil {
		t.Fatal(err)
	}
	lowLatency := mime == "application/x-amlive-chunks"
	if !strings.HasPrefix(w.Mime, mime) || lowLatency != (codec != "") {
		t.Fatalf("broadcaster uploads %q with WebCodecs codec %q; want %s", w.Mime, codec, mime)
	}
	var st roomStatus
	chrometest.Until(t, engineTimeout, "the room live", func() bool {
		st = getStatus(t, srv, browserRoom)
		return st.Live
	})
	if st.Container != "webm" || len(st.Codecs) != 2 || !slices.Contains([]string{"vp8", "vp9"}, st.Codecs[0]) && !strings.HasPrefix(st.Codecs[0], "av01.") || st.Codecs[1] != "opus" {
		t.Errorf("status %+v; want live in WebM, VP8, VP9 or AV1 with Opus", st)
	}
	t.Logf("broadcaster uploads %q (codec %q); status: %q", w.Mime, codec, st.MIMEType)

	if lowLatency {
		// The room says it is low latency: the site's own watch
		// page, without data-latency, decodes it with WebCodecs.
		if st.Latency != "low" {
			t.Errorf("status latency %q; want low", st.Latency)
		}
		auto := venv.open("watch (room flag)", "/live/"+browserRoom)
		waitPage(t, auto, "WebCodecs frames on the watch page", `(() => { const s = `+jsWCStats+`; return s.mediaSource === 'webcodecs' && s.shown >= 10; })()`)
	} else if st.Latency != "" {
		t.Errorf("status latency %q for a MediaRecorder upload; want none", st.Latency)
	}
	if sparse != "" {
		t.Logf("no MSE viewer: %s", sparse)
		click(t, bc, "[data-amlive-stop]")
		waitPage(t, bc, "the broadcast ended", chrometest.BroadcasterIs("ended"))
		var recs []string
		chrometest.Until(t, engineTimeout, "the recording sealed", func() bool {
			recs, _ = filepath.Glob(filepath.Join(srv.dir, browserRoom, "*.webm"))
			return len(recs) == 1 && !getStatus(t, srv, browserRoom).Live
		})
		checkFFprobe(t, recs[0])
		return
	}
	// An MSE viewer (data-latency="normal") of the same broadcast.
	watch := venv.open("watch", "/app/watchmse/"+browserRoom)
	venv.waitLive(watch)
	if lowLatency {
		ms := chrometest.PlayerJS + `.amlivePlayer.mediaSource`
		waitPage(t, watch, "the MSE player", ms+` === 'mse' || `+ms+` === 'managed'`)
	}
	a := assertPlaying(t, watch, engineAdvance, "live")
	waitPage(t, watch, "6s of live video", fmt.Sprintf(`%s.querySelector('video').currentTime >= %f`, chrometest.PlayerJS, max(6, a.Time+2)))

	click(t, bc, "[data-amlive-stop]")
	waitPage(t, bc, "the broadcast ended", chrometest.BroadcasterIs("ended"))
	waitPage(t, watch, "the recording after the end", chrometest.PlayerIn("document", "ended"))
	waitPage(t, watch, "the recording playing", jsRecordingPlaying)
	rec := assertPlaying(t, watch, engineAdvance, "ended")
	assertSeek(t, watch, rec)
}

// goLiveLowChromium goes live small in Chromium on lowLatencyPages' page
// kind, on a new server that lets anyone publish.
func goLiveLowChromium(t *testing.T, kind string) (*testServer, browser.Page) {
	t.Helper()
	srv := newServer(t, liveplugin.Config{Authorize: allowAll, IdleTimeout: 2 * time.Minute})
	lowLatencyPages(t, srv)
	cb := browser.Start(t, browser.Chromium)
	env := &engineEnv{t: t, b: cb, e: browser.Chromium, can: engineCans[browser.Chromium], srv: srv}
	return srv, goLiveSmall(t, env, "/app/"+kind+"/"+browserRoom)
}

// TestBrowserWebCodecsSilentMicrophone goes live on the low-latency path
// without MediaStreamTrackProcessor in a browser whose AudioContexts never
// run: the capture worklet gives no sound, and rather than upload video
// without it (which no MSE viewer could play), the broadcast fails within
// CAPTURE_SILENT_MS and says why.
func TestBrowserWebCodecsSilentMicrophone(t *testing.T) {
	srv, bc := goLiveLowChromium(t, "lowsilent")
	waitPage(t, bc, "the broadcast failed", chrometest.BroadcasterIs("error"))
	var w broadcasterWidget
	if err := bc.Eval(jsBroadcasterWidget, &w); err != nil {
		t.Fatal(err)
	}
	if w.Mime != "application/x-amlive-chunks" || !strings.Contains(w.Status, "microphone gave no sound") {
		t.Errorf("broadcaster %+v; want the chunk upload failed, saying the microphone gave no sound", w)
	}
	chrometest.Until(t, engineTimeout, "the room offline", func() bool { return !getStatus(t, srv, browserRoom).Live })
	// Its hidden capture video is gone with it.
	var left int
	if err := bc.Eval(`document.querySelectorAll('video[data-amlive-capture]').length`, &left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d capture video elements left on the page", left)
	}
}

// TestBrowserWebCodecsLostSound goes live on the low-latency path with a
// microphone that loses a second of sound (lossyJS). The AudioEncoder
// stamps what it is given by counting samples, so without SoundClock the
// sound would stay a second behind the picture for the rest of the
// broadcast, and every viewer a second behind with it. The broadcaster
// fills the loss with silence instead (its health says how much), and the
// recording's sound runs on without a gap, ending with the picture.
func TestBrowserWebCodecsLostSound(t *testing.T) {
	srv, bc := goLiveLowChromium(t, "lowlossy")
	waitPage(t, bc, "the broadcaster live", chrometest.BroadcasterIs("live"))
	waitPage(t, bc, "the lost sound filled in", chrometest.BroadcasterJS+`.amliveBroadcaster.health.soundFilledMs > 0`)
	// Two seconds more of the broadcast after it.
	waitPage(t, bc, "the sound lost a while ago", `window.amliveLostMs >= 900 && (window.amliveLostFilledAt = window.amliveLostFilledAt || performance.now()) && performance.now() - window.amliveLostFilledAt > 2000`)
	var h struct {
		SoundFilledMS float64 `json:"soundFilledMs"`
		SoundCutMS    float64 `json:"soundCutMs"`
	}
	if err := bc.Eval(chrometest.BroadcasterJS+`.amliveBroadcaster.health`, &h); err != nil {
		t.Fatal(err)
	}
	var lost float64
	if err := bc.Eval(`window.amliveLostMs`, &lost); err != nil {
		t.Fatal(err)
	}
	click(t, bc, "[data-amlive-stop]")
	waitPage(t, bc, "the broadcast ended", chrometest.BroadcasterIs("ended"))
	if math.Abs(h.SoundFilledMS-lost) > 100 || h.SoundCutMS != 0 {
		t.Errorf("health says %.0f ms of sound filled in and %.0f ms cut; want the %.0f ms lost filled in, none cut", h.SoundFilledMS, h.SoundCutMS, lost)
	}
	var recs []string
	chrometest.Until(t, engineTimeout, "the recording sealed", func() bool {
		recs, _ = filepath.Glob(filepath.Join(srv.dir, browserRoom, "*.webm"))
		return len(recs) == 1 && !getStatus(t, srv, browserRoom).Live
	})
	b, err := os.ReadFile(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	r := webm.NewReader(webm.Limits{})
	r.Blocks = true
	evs, err := r.Feed(nil, b)
	if err != nil {
		t.Fatalf("the recording does not parse: %v", err)
	}
	kind := map[uint64]webm.TrackType{}
	for _, tr := range r.Tracks() {
		kind[tr.Number] = tr.Type
	}
	var lastVideo, lastAudio, prevAudio, widest time.Duration
	audio := 0
	for _, ev := range evs {
		if ev.Kind != webm.KindBlock {
			continue
		}
		switch kind[ev.Track] {
		case webm.Video:
			lastVideo = max(lastVideo, ev.Timecode)
		case webm.Audio:
			if audio > 0 {
				widest = max(widest, ev.Timecode-prevAudio)
			}
			audio++
			prevAudio, lastAudio = ev.Timecode, max(lastAudio, ev.Timecode)
		}
	}
	t.Logf("lost %.0f ms of sound, filled %.0f ms; the recording's last frame at %v, its last sound at %v; widest step between sounds %v", lost, h.SoundFilledMS, lastVideo, lastAudio, widest)
	if audio == 0 || lastVideo == 0 {
		t.Fatalf("the recording holds %d sounds and video up to %v", audio, lastVideo)
	}
	if d := lastVideo - lastAudio; d > 150*time.Millisecond || d < -150*time.Millisecond {
		t.Errorf("the recording's sound ends %v before its picture; want them together (within 150 ms)", d)
	}
	if widest > 100*time.Millisecond {
		t.Errorf("a gap of %v between two sounds of the recording; want the loss filled", widest)
	}
	checkFFprobe(t, recs[0])
}
