package browser_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/amlive/amlive/internal/browser"
	"github.com/amlive/amlive/internal/fixture"
)

// TestMain checks that no goroutine and no process outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(orphanCheck{m})
}

// orphanCheck runs the tests, then fails them if a browser's process is
// still running.
type orphanCheck struct{ m *testing.M }

func (o orphanCheck) Run() int {
	code := o.m.Run()
	if left := browser.Orphans(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "browser processes outlived the tests:\n%s\n", strings.Join(left, "\n"))
		return 1
	}
	return code
}

// smokeCSP is the Content-Security-Policy of the smoke page: the plugin's
// pages' policy, less the nonces.
const smokeCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob:; connect-src 'self'; base-uri 'none'"

// testServer serves testdata, the fixture media under /media/NAME.webm
// and takes uploads at /upload/NAME.
type testServer struct {
	*httptest.Server

	mediaMu sync.Mutex
	media   map[string][]byte

	uploadsMu sync.Mutex
	uploads   map[string][]byte
}

// newTestServer starts a testServer that serves the media given, and closes
// it when tb ends.
func newTestServer(tb testing.TB, media map[string][]byte) *testServer {
	tb.Helper()
	s := &testServer{media: media, uploads: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /smoke.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", smokeCSP)
		http.ServeFile(w, r, filepath.Join("testdata", "smoke.html"))
	})
	mux.HandleFunc("GET /smoke.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("testdata", "smoke.js"))
	})
	mux.HandleFunc("GET /media/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.mediaMu.Lock()
		b, ok := s.media[r.PathValue("name")]
		s.mediaMu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "video/webm")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	})
	mux.HandleFunc("POST /upload/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.uploadsMu.Lock()
		s.uploads[r.PathValue("name")] = b
		s.uploadsMu.Unlock()
	})
	s.Server = httptest.NewServer(mux)
	tb.Cleanup(s.Close)
	return s
}

// upload returns what the page uploaded as name.
func (s *testServer) upload(name string) []byte {
	s.uploadsMu.Lock()
	defer s.uploadsMu.Unlock()
	return s.uploads[name]
}

// engineWant is what the smoke test expects of one engine.
type engineWant struct {
	// loadErrors: the collectors see what goes wrong while the page loads
	// (not in WebKit, whose WebDriver runs no script before the page's).
	loadErrors bool
	// recorder is a type MediaRecorder.isTypeSupported accepts.
	recorder string
	// managed: ManagedMediaSource exists.
	managed bool
}

var engineWants = map[browser.Engine]engineWant{
	browser.Chromium: {loadErrors: true, recorder: "video/webm;codecs=vp8,opus"},
	browser.Firefox:  {loadErrors: true, recorder: "video/webm;codecs=vp8,opus"},
	browser.WebKit:   {loadErrors: false, recorder: "video/mp4", managed: true},
}

// mustEval evaluates expr on p into a T, failing t on error.
func mustEval[T any](t testing.TB, p browser.Page, expr string) T {
	t.Helper()
	var v T
	if err := p.Eval(expr, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSmoke runs the same checks on every engine, in parallel: each
// driver's commands, the error collectors, the fake devices, what the
// engine's media stack supports, and MSE playback of a real recording.
func TestSmoke(t *testing.T) {
	srv := newTestServer(t, mseMedia(t))
	for _, e := range browser.Engines() {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			want := engineWants[e]
			b := browser.Start(t, e)
			if b.Engine() != e || b.Version() == "" {
				t.Fatalf("Engine(), Version() = %q, %q; want %q and a version", b.Engine(), b.Version(), e)
			}
			p := b.NewPage(t, "smoke")
			start := time.Now()
			if err := p.Navigate(srv.URL + "/smoke.html"); err != nil {
				t.Fatal(err)
			}

			t.Run("eval", func(t *testing.T) {
				tests := []struct {
					name string
					give string
					want string // JSON
				}{
					{"arithmetic", `6 * 7`, `42`},
					{"promise", `new Promise((r) => setTimeout(() => r({a: [1, 'two']}), 50))`, `{"a":[1,"two"]}`},
					{"undefined", `undefined`, `null`},
					{"the document", `[document.title, document.body.dataset.ready]`, `["browser smoke page","yes"]`},
					{"the blocked inline script", `document.body.dataset.inline || 'blocked'`, `"blocked"`},
				}
				for _, tc := range tests {
					t.Run(tc.name, func(t *testing.T) {
						got := mustEval[json.RawMessage](t, p, tc.give)
						if string(got) != tc.want {
							t.Errorf("Eval(%s) = %s; want %s", tc.give, got, tc.want)
						}
					})
				}
			})

			t.Run("exception", func(t *testing.T) {
				err := p.Eval(`Promise.reject(new Error('no way'))`, nil)
				var ee *browser.EvalError
				if !errors.As(err, &ee) || !strings.Contains(ee.Message, "no way") {
					t.Fatalf("Eval(a rejected promise) = %v; want an *EvalError that says no way", err)
				}
				err = p.WaitFor(`(() => { throw new Error('stop now'); })()`, time.Minute)
				if !errors.As(err, &ee) || !strings.Contains(ee.Message, "stop now") {
					t.Fatalf("WaitFor(a throwing expression) = %v; want an *EvalError that says stop now", err)
				}
			})

			t.Run("waitFor", func(t *testing.T) {
				if err := p.Eval(`(window.flag = false, setTimeout(() => { window.flag = true; }, 300), 0)`, nil); err != nil {
					t.Fatal(err)
				}
				if err := p.WaitFor(`window.flag`, time.Minute); err != nil {
					t.Fatal(err)
				}
				if err := p.WaitFor(`window.noSuchFlag`, 300*time.Millisecond); err == nil {
					t.Fatal("WaitFor(a false expression) = nil; want an error")
				}
			})

			t.Run("errors", func(t *testing.T) {
				if err := p.Eval(`smoke.misbehave()`, nil); err != nil {
					t.Fatal(err)
				}
				wantSeen := []string{
					"uncaught error: Error: late uncaught error",
					"console.error: late console.error {\"code\":7}",
					"Content-Security-Policy violation: img-src blocked http://127.0.0.2:9/blocked.png",
				}
				if want.loadErrors {
					wantSeen = append(wantSeen,
						"console.error: load-time console.error",
						"Content-Security-Policy violation: script-src-elem blocked inline")
				}
				err := p.WaitFor(`window.__browserErrors && window.__browserErrors.length >= `+strconv.Itoa(len(wantSeen)), time.Minute)
				errs, err2 := p.Errors()
				if err2 != nil {
					t.Fatal(err2)
				}
				for _, w := range wantSeen {
					if !slices.ContainsFunc(errs, func(s string) bool { return strings.HasPrefix(s, w) }) {
						t.Errorf("Errors() has no %q: %q (%v)", w, errs, err)
					}
				}
				if !want.loadErrors && slices.ContainsFunc(errs, func(s string) bool { return strings.Contains(s, "load-time") }) {
					t.Errorf("Errors() = %q: a load-time console.error that %s was not expected to see", errs, e)
				}
			})

			t.Run("screenshot", func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "shot.png")
				if err := p.Screenshot(path); err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				img, err := png.Decode(f)
				if err != nil {
					t.Fatalf("the screenshot is not a PNG: %v", err)
				}
				if r := img.Bounds(); r.Dx() < 100 || r.Dy() < 100 {
					t.Errorf("the screenshot is %v; want a viewport's size", r)
				}
			})

			t.Run("getUserMedia", func(t *testing.T) {
				type track struct {
					Kind, ReadyState, Label string
					Enabled                 bool
				}
				tracks := mustEval[[]track](t, p, `smoke.gum()`)
				t.Logf("%s: tracks %+v", e, tracks)
				var kinds []string
				for _, tr := range tracks {
					kinds = append(kinds, tr.Kind)
					if tr.ReadyState != "live" || !tr.Enabled {
						t.Errorf("track %+v; want live and enabled", tr)
					}
				}
				slices.Sort(kinds)
				if !slices.Equal(kinds, []string{"audio", "video"}) {
					t.Errorf("track kinds %q; want audio and video", kinds)
				}
			})

			t.Run("support", func(t *testing.T) {
				type support struct {
					UserAgent          string
					MediaSource        bool
					ManagedMediaSource bool
					MSE                map[string]bool
					Managed            map[string]bool
					Recorder           map[string]bool
				}
				s := mustEval[support](t, p, `smoke.support()`)
				out, _ := json.MarshalIndent(s, "", "  ")
				t.Logf("%s %s supports:\n%s", e, b.Version(), out)
				if !s.MediaSource || !s.MSE[`video/webm;codecs="vp8,opus"`] {
					t.Errorf("MediaSource %v, WebM VP8+Opus %v; want both", s.MediaSource, s.MSE[`video/webm;codecs="vp8,opus"`])
				}
				if s.ManagedMediaSource != want.managed {
					t.Errorf("ManagedMediaSource exists: %v; want %v", s.ManagedMediaSource, want.managed)
				}
				if !s.Recorder[want.recorder] {
					t.Errorf("MediaRecorder.isTypeSupported(%q) = false; want true", want.recorder)
				}
			})

			// A case that fails on a wedged browser (its page's process
			// crashed, say) runs once more on a new one, which the cases
			// after it use.
			et := t
			pageOf := b // the browser p is a page of
			t.Run("mse", func(t *testing.T) {
				for _, tc := range mseCases {
					t.Run(tc.name, func(t *testing.T) {
						w := tc.want[e]
						if w.skip != "" {
							t.Skip(w.skip)
						}
						play := func(t testing.TB) {
							if err := p.Navigate(srv.URL + "/smoke.html"); err != nil {
								t.Fatal(err)
							}
							got := mustEval[string](t, p, `smoke.playMSE('/media/`+tc.give+`', '`+tc.mime+`', false)`)
							t.Logf("%s: %s", e, got)
							if w.err == "" {
								assertPlays(t, p, 2)
								return
							}
							err := p.WaitFor(`(() => { const v = smoke.video(); if (v.error) throw new Error('media error: ' + v.error); return false; })()`, time.Minute)
							if err == nil || !strings.Contains(err.Error(), w.err) {
								t.Fatalf("playing %s: %v; want a media error that says %q", tc.give, err, w.err)
							}
							t.Logf("%s: fails as expected: %v", e, err)
						}
						browser.Retry(t, et, &b, nil, func(t testing.TB, nb browser.Browser) {
							if nb != pageOf {
								p, pageOf = nb.NewPage(browser.CleanupOn(t, et), "smoke"), nb
							}
							play(t)
						})
					})
				}
			})
			t.Logf("%s: the smoke checks took %v", e, time.Since(start).Round(time.Millisecond))
		})
	}
}

// mseWant is what an engine does with one recording.
type mseWant struct {
	err  string // "": it plays; else the media error says this
	skip string // why the case is skipped on this engine
}

// firefoxStallsOnVP8 is why Firefox skips the VP8 timeslice recordings.
const firefoxStallsOnVP8 = "Firefox 153 stalls at the end of the first Cluster of Chromium's VP8 timeslice recordings " +
	"in MSE (readyState 2; TrackBuffersManager: \"Failed to demux video\"), with or without AlphaMode, " +
	"appended whole or chunk by chunk, with Cluster sizes unknown or known; VP9 and a one-Cluster VP8 file play"

// mseCases are the recordings TestSmoke plays through MSE on each engine,
// served under /media/ by mseMedia.
var mseCases = []struct {
	name string
	give string // the file under /media/
	mime string
	want map[browser.Engine]mseWant
}{
	{
		name: "vp8 timeslice as recorded (AlphaMode 1)",
		give: "vp8-opus-250ms-kf2s.webm",
		mime: vp8,
		want: map[browser.Engine]mseWant{
			browser.Firefox: {skip: firefoxStallsOnVP8},
			browser.WebKit:  {err: "Cannot handle streams without an initial alpha buffer"},
		},
	},
	{
		name: "vp8 timeslice with AlphaMode 0",
		give: "vp8-opus-250ms-kf2s-alpha0.webm",
		mime: vp8,
		want: map[browser.Engine]mseWant{browser.Firefox: {skip: firefoxStallsOnVP8}},
	},
	{
		name: "vp8 timeslice without AlphaMode",
		give: "vp8-opus-250ms-kf2s-noalpha.webm",
		mime: vp8,
		want: map[browser.Engine]mseWant{browser.Firefox: {skip: firefoxStallsOnVP8}},
	},
	{
		name: "vp8 no timeslice (one Cluster) without AlphaMode",
		give: "vp8-opus-notimeslice-5s-noalpha.webm",
		mime: vp8,
	},
	{
		name: "vp9 timeslice as recorded (AlphaMode 1)",
		give: "vp9-opus-250ms-kf2s.webm",
		mime: vp9,
		want: map[browser.Engine]mseWant{browser.WebKit: {skip: "WebKit hangs on VP9 with AlphaMode 1: the append never " +
			"completes (script timeout) and the page stops answering WebDriver"}},
	},
	{
		name: "vp9 timeslice without AlphaMode",
		give: "vp9-opus-250ms-kf2s-noalpha.webm",
		mime: vp9,
	},
}

// The MSE types of the recordings.
const (
	vp8 = `video/webm;codecs="vp8,opus"`
	vp9 = `video/webm;codecs="vp9,opus"`
)

// mseMedia returns the files of mseCases: the fixtures as recorded, and
// copies with AlphaMode set to 0 or removed.
func mseMedia(t *testing.T) map[string][]byte {
	t.Helper()
	media := map[string][]byte{}
	for _, name := range []string{"vp8-opus-250ms-kf2s", "vp8-opus-notimeslice-5s", "vp9-opus-250ms-kf2s"} {
		full := fixture.Load(t, name).Full
		zero, err := withAlphaMode(full, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gone, err := withoutAlphaMode(full)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		media[name+".webm"] = full
		media[name+"-alpha0.webm"] = zero
		media[name+"-noalpha.webm"] = gone
	}
	return media
}

// videoState is what smoke.video() returns.
type videoState struct {
	CurrentTime        float64
	TotalVideoFrames   int
	DroppedVideoFrames int
	Error              *string
	Paused             bool
	ReadyState         int
	Buffered           []float64
	VideoWidth         int
}

// assertPlays checks that the page's video plays: currentTime advances by
// secs, frames are decoded, and no media error.
func assertPlays(t testing.TB, p browser.Page, secs float64) {
	t.Helper()
	before := mustEval[videoState](t, p, `smoke.video()`)
	expr := `(() => { const v = smoke.video(); if (v.error) throw new Error('media error: ' + v.error); ` +
		`return v.currentTime >= ` + strconv.FormatFloat(before.CurrentTime+secs, 'f', 3, 64) + ` && v.totalVideoFrames > ` + strconv.Itoa(before.TotalVideoFrames+10) + `; })()`
	err := p.WaitFor(expr, time.Minute)
	after := mustEval[videoState](t, p, `smoke.video()`)
	if err != nil {
		t.Fatalf("the video does not play: %v\nbefore %+v\nafter %+v", err, before, after)
	}
	if after.Error != nil || after.VideoWidth == 0 {
		t.Fatalf("video %+v; want no error and a picture", after)
	}
	t.Logf("plays: %+v", after)
}

// TestClose checks, on each engine, that Orphans sees a running browser's
// processes and that Close stops every one of them.
func TestClose(t *testing.T) {
	for _, e := range browser.Engines() {
		t.Run(string(e), func(t *testing.T) {
			b := browser.Start(t, e)
			b.NewPage(t, "blank")
			running := browser.Orphans()
			if len(running) < 2 {
				t.Errorf("Orphans() while %s runs = %q; want its processes", e, running)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Errorf("a second Close() = %v; want nil", err)
			}
			if left := browser.Orphans(); len(left) > 0 {
				t.Errorf("after Close(), still running:\n%s", strings.Join(left, "\n"))
			}
			t.Logf("%s ran %d processes", e, len(running))
		})
	}
}

// TestFirefoxWedged checks Firefox's Wedged on a real browser: a command
// that waits long for a page that still answers (a promise that takes
// seconds) wedges nothing; a page whose process stops answering (a script
// that holds its thread past the Remote Agent's ping) wedges the browser,
// naming the command, and its later commands still run.
func TestFirefoxWedged(t *testing.T) {
	if !slices.Contains(browser.Engines(), browser.Firefox) {
		t.Skipf("firefox is not among the engines %v", browser.Engines())
	}
	t.Parallel()
	srv := newTestServer(t, nil)
	b := browser.Start(t, browser.Firefox)
	p := b.NewPage(t, "wedge")
	if err := p.Navigate(srv.URL + "/smoke.html"); err != nil {
		t.Fatal(err)
	}
	// The Remote Agent pings a page's process after a command has waited
	// about 10 s (Firefox 128 to 153).
	const past = 13000 // ms
	if err := p.Eval(fmt.Sprintf(`new Promise((resolve) => setTimeout(resolve, %d))`, past), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Wedged(); err != nil {
		t.Fatalf("wedged by a slow promise on a page that answers: %v", err)
	}
	if err := p.Eval(fmt.Sprintf(`(() => { const t = Date.now(); while (Date.now() - t < %d) {} })()`, past), nil); err != nil {
		t.Fatal(err)
	}
	// The log line may come a moment after the command's answer.
	deadline := time.Now().Add(5 * time.Second)
	for b.Wedged() == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if err := b.Wedged(); err == nil || !strings.Contains(err.Error(), "script.evaluate") {
		t.Fatalf("Wedged() = %v after a page held its thread %d ms; want the command it left unanswered", err, past)
	}
	var n int
	if err := p.Eval(`6 * 7`, &n); err != nil || n != 42 {
		t.Errorf("a command after the wedge: %d, %v; want 42", n, err)
	}
}
