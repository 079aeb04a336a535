package mp4

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/browser"
	"github.com/amlive/amlive/internal/fixture"
)

// sealBrowserPage loads /sealed.mp4 in a plain <video src> (the browser
// fetches it with Range requests) and exposes window.sealSeek(t), which
// seeks and resolves to where the video landed and its readyState.
const sealBrowserPage = `<!doctype html><html><body>
<video id="v" muted preload="auto" src="/sealed.mp4"></video>
<script>
const v = document.getElementById("v");
window.sealMeta = null;
v.addEventListener("loadedmetadata", () => {
  window.sealMeta = {duration: String(v.duration), seekable: v.seekable.length ? v.seekable.end(0) : -1};
});
v.addEventListener("error", () => { window.sealMeta = {error: String(v.error && v.error.message)}; });
window.sealSeek = (t) => new Promise((resolve) => {
  v.addEventListener("seeked", () => resolve({time: v.currentTime, ready: v.readyState}), {once: true});
  v.currentTime = t;
});
</script></body></html>`

// TestSealSeeksInBrowsers: every browser engine reads the sealed fixture's
// duration from a plain <video src>, seeks in it over Range requests and
// plays from a seek point.
func TestSealSeeksInBrowsers(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	sealed, info := sealBytes(t, fx.Full)
	modtime := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(sealBrowserPage))
	})
	mux.HandleFunc("GET /sealed.mp4", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "sealed.mp4", modtime, bytes.NewReader(sealed))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, e := range browser.Engines() {
		t.Run(string(e), func(t *testing.T) {
			p := browser.Start(t, e).NewPage(t, "video")
			if err := p.Navigate(srv.URL + "/"); err != nil {
				t.Fatal(err)
			}
			if err := p.WaitFor(`window.sealMeta !== null`, time.Minute); err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Duration string  `json:"duration"`
				Seekable float64 `json:"seekable"`
				Error    string  `json:"error"`
			}
			if err := p.Eval(`window.sealMeta`, &meta); err != nil {
				t.Fatal(err)
			}
			if meta.Error != "" {
				t.Fatalf("video error: %s", meta.Error)
			}
			d, err := strconv.ParseFloat(meta.Duration, 64)
			want := info.Duration.Seconds()
			if err != nil || math.Abs(d-want) > 0.1 || math.Abs(meta.Seekable-want) > 0.1 {
				t.Errorf("duration %s, seekable to %v; want %.3f s, Seal's", meta.Duration, meta.Seekable, want)
			}
			for _, at := range []float64{7.3, 2.1, 10.5, 4.0} {
				var got struct {
					Time  float64 `json:"time"`
					Ready int     `json:"ready"`
				}
				if err := p.Eval(fmt.Sprintf(`window.sealSeek(%v)`, at), &got); err != nil {
					t.Fatal(err)
				}
				// HAVE_CURRENT_DATA or better: the frame at the target is
				// decoded.
				if math.Abs(got.Time-at) > 0.1 || got.Ready < 2 {
					t.Errorf("seek to %v s landed at %v s, readyState %d; want there, at least 2", at, got.Time, got.Ready)
				}
			}
			// It plays from the last seek point.
			if err := p.Eval(`document.getElementById("v").play().then(() => true)`, nil); err != nil {
				t.Fatal(err)
			}
			if err := p.WaitFor(`document.getElementById("v").currentTime > 4.5`, 30*time.Second); err != nil {
				t.Errorf("not playing from 4 s: %v", err)
			}
			if errs, err := p.Errors(); err != nil || len(errs) > 0 {
				t.Errorf("page errors %v, %v", errs, err)
			}
		})
	}
}
