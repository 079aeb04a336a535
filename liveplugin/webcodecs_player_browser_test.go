package liveplugin_test

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/chrometest"
)

// wcStats is what a WebCodecs player's feed counted (webcodecs.js Feed.stats).
type wcStats struct {
	Frames       int     `json:"frames"`       // video frames decoded
	Shown        int     `json:"shown"`        // drawn on the canvas
	Dropped      int     `json:"dropped"`      // decoded and not drawn (catch-up)
	Audio        int     `json:"audio"`        // audio chunks decoded
	AudioPlayed  int     `json:"audioPlayed"`  // scheduled on the AudioContext
	AudioSkipped int     `json:"audioSkipped"` // not decoded: the audio decoder was behind
	JoinAudio    int     `json:"joinAudio"`    // sound of the join's burst held back until the first picture
	FirstFrameMS float64 `json:"firstFrameMs"` // socket open to the first frame drawn
	TracksAtMS   float64 `json:"tracksAt"`     // socket open to the Tracks read
	DecodedAtMS  float64 `json:"decodedAt"`    // socket open to the first frame decoded
	JitterMS     float64 `json:"jitter"`       // the jitter buffer (the feed's target()), ms
	DrawMS       float64 `json:"drawMs"`       // the longest drawImage of a frame, ms
	GrowAudioMS  float64 `json:"growAudioMs"`  // the jitter buffer's growth for late sound, ms
	GrowVideoMS  float64 `json:"growVideoMs"`  // and for late frames
	KeyAtMS      float64 `json:"keyAt"`        // socket open to the first keyframe received
	FirstChunk   string  `json:"firstChunk"`   // the type of the first video chunk decoded: key or delta
	MediaSource  string  `json:"mediaSource"`  // the player's el.dataset.mediaSource
	Canvases     int     `json:"canvases"`     // canvases in the player
	VideoHidden  bool    `json:"videoHidden"`  // the MSE video element is hidden
	Lit          float64 `json:"lit"`          // share of sampled canvas pixels that are not black
	Colours      int     `json:"colours"`      // distinct sampled colours (coarse)
	Label        string  `json:"label"`        // the canvas's accessible name
	Tight        int     `json:"tight"`        // sound decoded in time but inside the margin (the buffer grew; no stall)
	StretchedMS  float64 `json:"stretchedMs"`  // sound played slower to take up the gaps those left, ms
	Resyncs      int     `json:"resyncs"`      // the sound output's clock moved past CLOCK_SLIP_S from the page's
	SlipMS       float64 `json:"slipMs"`       // by this much in all, ms
	AheadMS      float64 `json:"aheadMs"`      // the most the AudioContext rendered ahead of what is heard, ms
}

// wcMoreFrames frames drawn within wcWindow is what "the canvas plays"
// means in the tests: generous, so that a loaded 2-core machine, whose
// decoder falls behind and skips to keyframes, passes too; the figures
// are the benchmark's (wc-join-ms and wc-p50-ms… in
// BenchmarkBrowserGlassToGlass).
const (
	wcMoreFrames = 5
	wcWindow     = browserLiveTimeout
)

// jsWCStats evaluates to a wcStats of the page's player, sampling the
// canvas's pixels on a grid.
const jsWCStats = `(() => {
  const el = ` + chrometest.PlayerJS + `, f = el.amlivePlayer.engine._feed, c = el.querySelector('canvas');
  const s = f && f.wc ? f.stats : {};
  let lit = 0, n = 0;
  const colours = new Set();
  if (c && c.width) {
    const x = document.createElement('canvas');
    x.width = c.width; x.height = c.height;
    const ctx = x.getContext('2d');
    ctx.drawImage(c, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let y = 0; y < c.height; y += 8) for (let xx = 0; xx < c.width; xx += 8) {
      const o = (y * c.width + xx) * 4;
      n++;
      if (d[o] + d[o + 1] + d[o + 2] > 48) lit++;
      colours.add((d[o] >> 5) + ',' + (d[o + 1] >> 5) + ',' + (d[o + 2] >> 5));
    }
  }
  return {frames: s.frames || 0, shown: s.shown || 0, dropped: s.dropped || 0, audio: s.audio || 0, audioPlayed: s.audioPlayed || 0, audioSkipped: s.audioSkipped || 0, joinAudio: s.joinAudio || 0,
    firstFrameMs: s.firstFrameMs || 0, keyAt: s.keyAt || 0, firstChunk: s.firstChunk || '', tracksAt: s.tracksAt || 0, decodedAt: s.decodedAt || 0, jitter: f && f.wc ? f.target() * 1000 : 0, drawMs: s.drawMs || 0, growAudioMs: s.growAudioMs || 0, growVideoMs: s.growVideoMs || 0, mediaSource: el.dataset.mediaSource || '', canvases: el.querySelectorAll('canvas').length,
    videoHidden: el.querySelector('video').hidden, lit: n ? lit / n : 0, colours: colours.size, label: c ? c.getAttribute('aria-label') || '' : '',
    tight: s.tight || 0, stretchedMs: s.stretchedMs || 0, resyncs: s.resyncs || 0, slipMs: s.slipMs || 0, aheadMs: s.aheadMs || 0};
})()`

// TestBrowserWebCodecsPlayer watches a live broadcast on a page that asks
// for low latency (data-latency="low"): the player decodes with WebCodecs,
// keeps drawing frames that are not blank onto a canvas and decodes the
// sound; the page passes axe-core; a late joiner starts decoding at a
// keyframe and draws frames (the time from that keyframe to its first
// frame is logged; BenchmarkBrowserGlassToGlass reports it); a rewind
// leaves the canvas for the growing recording; a page without
// VideoDecoder falls back to MSE and plays; at the end all switch to the
// recording in the video element. It bounds no latency: the benchmark
// measures it.
func TestBrowserWebCodecsPlayer(t *testing.T) {
	srv := newBrowserServer(t, browserAllowAll)
	pages := template.Must(template.New("").Funcs(srv.p.FuncMap()).ParseFiles("testdata/webcodecs/view.html"))
	srv.e.GET("/wc/view/:id", func(c echo.Context) error {
		var buf strings.Builder
		if err := pages.ExecuteTemplate(&buf, "view.html", c.Param("id")); err != nil {
			return err
		}
		return c.HTML(http.StatusOK, buf.String())
	})
	b := chrometest.New(t)
	pub := openBroadcaster(t, b, srv)

	open := func(name, query string) *chrometest.Tab {
		tab := b.NewTab(t, name)
		tab.Diagnose = `({player: ` + chrometest.PlayerSnapshotJS + `, wc: ` + jsWCStats + `})`
		tab.Navigate(srv.url + "/wc/view/" + browserRoom + query)
		tab.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
		return tab
	}
	early := open("viewer A (WebCodecs)", "")
	early.WaitFor(`(`+jsWCStats+`).shown >= 1`, browserLiveTimeout)
	s0 := chrometest.Eval[wcStats](early, jsWCStats)
	if s0.MediaSource != "webcodecs" || s0.Canvases != 1 || !s0.VideoHidden {
		t.Errorf("viewer A: media source %q, %d canvases, video hidden %v; want webcodecs, one canvas in place of the video", s0.MediaSource, s0.Canvases, s0.VideoHidden)
	}
	if !strings.Contains(s0.Label, browserRoom) {
		t.Errorf("the canvas's accessible name is %q; want it to name the room", s0.Label)
	}
	// Frames keep coming: a handful more within a generous window (the
	// fake camera gives up to 20 fps; a busy machine encodes far fewer).
	early.WaitFor(fmt.Sprintf(`(%s).shown >= %d`, jsWCStats, s0.Shown+wcMoreFrames), wcWindow)
	// The picture is not blank, and the sound decodes and is scheduled.
	early.WaitFor(`(() => { const s = `+jsWCStats+`; return s.lit >= 0.2 && s.colours >= 4; })()`, wcWindow)
	early.WaitFor(fmt.Sprintf(`(() => { const s = %s; return s.audio > %d && s.audioPlayed > 0; })()`, jsWCStats, s0.Audio), wcWindow)
	t.Logf("viewer A: %+v then %+v", s0, chrometest.Eval[wcStats](early, jsWCStats))

	// The experience reports go out in this mode too (every 5 s), with the
	// frames the canvas showed.
	early.WaitFor(chrometest.PlayerJS+`.amlivePlayer.stats.reports >= 1`, browserLiveTimeout)

	// The canvas mode's page and controls pass axe-core.
	// (A subtest, so that without axe-core only it is skipped.)
	t.Run("accessibility", func(t *testing.T) {
		if got := chrometest.CheckAccessibility(t, early, chrometest.AxeSource(t), a11yExceptions...); len(got) > 0 {
			t.Logf("webcodecs page: %d serious violations", len(got))
		}
	})

	// A late joiner starts at a keyframe, shows a first frame and goes on.
	late := open("viewer B (WebCodecs, late)", "")
	late.WaitFor(`(`+jsWCStats+`).shown >= 1`, browserLiveTimeout)
	sb := chrometest.Eval[wcStats](late, jsWCStats)
	t.Logf("late joiner: first frame %.0f ms after the socket opened, %.0f ms after its keyframe arrived (%+v)", sb.FirstFrameMS, sb.keyToPicture(), sb)
	if sb.KeyAtMS <= 0 || sb.FirstFrameMS < sb.KeyAtMS || sb.FirstChunk != "key" {
		t.Errorf("late joiner: keyframe at %.0f ms, first frame at %.0f ms, first video chunk decoded %q; want it to start at a keyframe", sb.KeyAtMS, sb.FirstFrameMS, sb.FirstChunk)
	}
	late.WaitFor(fmt.Sprintf(`(%s).shown > %d`, jsWCStats, sb.Shown), wcWindow)
	// The sound of its burst waited for the first picture, and the sound
	// after it plays.
	late.WaitFor(`(() => { const s = `+jsWCStats+`; return s.audio > 0 && s.audioPlayed > 0; })()`, wcWindow)
	if sb.JoinAudio == 0 {
		t.Errorf("late joiner: no sound of its burst held back for its first picture (%+v)", sb)
	}

	// Time shift leaves the canvas for the growing recording in the video.
	early.Click(`[data-amlive-rewind="30"]`)
	early.WaitFor(chrometest.PlayerIn("document", "timeshift"), browserLiveTimeout)
	early.WaitFor(`(() => { const el = `+chrometest.PlayerJS+`, v = el.querySelector('video');
  return !el.querySelector('canvas') && !v.hidden && v.src.includes('/playback') && !v.paused && v.currentTime > 0; })()`, browserLiveTimeout)

	mse := open("viewer C (no VideoDecoder)", "?nowc=1")
	mse.WaitFor(jsLivePlaying, browserLiveTimeout)
	if got := chrometest.Eval[wcStats](mse, jsWCStats); got.MediaSource != "mse" || got.Canvases != 0 {
		t.Errorf("without VideoDecoder: media source %q, %d canvases; want mse and none", got.MediaSource, got.Canvases)
	}
	chrometest.AssertPlays(t, browserLiveTimeout, false, []*chrometest.Tab{mse}, "live")

	stopBroadcast(t, pub)
	for _, tab := range []*chrometest.Tab{early, late, mse} {
		tab.WaitFor(chrometest.PlayerIn("document", "ended", "recording"), browserLiveTimeout)
		tab.WaitFor(jsRecordingPlaying, browserLiveTimeout)
		if got := chrometest.Eval[wcStats](tab, jsWCStats); got.Canvases != 0 || got.VideoHidden {
			t.Errorf("%s after the end: %d canvases, video hidden %v; want the recording in the video element", tab.Name(), got.Canvases, got.VideoHidden)
		}
	}
	chrometest.CheckNoPageErrors(t, pub, early, late, mse)

}
