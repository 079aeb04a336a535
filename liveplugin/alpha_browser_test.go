package liveplugin_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/browser"
	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// alphaChunkPace is how often the Go publisher sends a chunk: the
// fixtures' timeslice, so that the room is live in real time.
const alphaChunkPace = 250 * time.Millisecond

// jsVideo evaluates to the watch page's player video, and throws when it
// failed, so that a wait on it ends at once.
const jsVideo = `(() => {
  const v = ` + chrometest.PlayerJS + `.querySelector('video');
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  return v;
})()`

// videoState is what a person sees of the video, as far as a test can tell.
type videoState struct {
	Time     float64 `json:"time"`
	Frames   int     `json:"frames"`
	Duration string  `json:"duration"` // a string: JSON has no Infinity
	Src      string  `json:"src"`
}

const jsVideoState = `(() => { const v = ` + jsVideo + `;
  return {time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames, duration: String(v.duration), src: v.src}; })()`

// TestBrowserWebKitPlaysChromiumStream publishes Chromium recordings (whose
// header says AlphaMode 1 for video without alpha data) from a Go client,
// in real time, and checks that WebKit plays the room live and then its
// recording. With the AlphaMode passed on, WebKit's VP8 decoder fails
// ("Cannot handle streams without an initial alpha buffer") and VP9 hangs
// the page.
func TestBrowserWebKitPlaysChromiumStream(t *testing.T) {
	b := browser.Start(t, browser.WebKit)
	// One page for both: in this WebKit a second page, opened after the
	// first was closed, stops answering WebDriver once it plays media.
	page := b.NewPage(t, "viewer")
	// One broadcast per page: in WebKit a second broadcast of another codec
	// on the same page can fail to play ("Failed to push buffer"), an open
	// problem of its own. VP9 on a fresh page is TestEngines' webkit rows.
	for _, name := range []string{"vp8-opus-250ms-kf2s"} {
		t.Run(name, func(t *testing.T) {
			fx := fixture.Load(t, name)
			srv := newBrowserServer(t, browserAllowAll)
			ctx := testContext(t, 2*time.Minute)
			ws := "ws" + strings.TrimPrefix(srv.url, "http") + "/live/" + browserRoom + "/upload?mime=video/webm"
			pub := mustDial(t, ctx, ws)
			pub.event(t, ctx, "ready")
			pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])

			if err := page.Navigate(srv.url + "/live/" + browserRoom); err != nil {
				t.Fatal(err)
			}
			pub.viewers(t, ctx, 1)
			// The rest of the broadcast, in real time, while the viewer
			// watches; the end comes only once the live checks are done.
			sent := make(chan error, 1)
			go func() {
				tick := time.NewTicker(alphaChunkPace)
				defer tick.Stop()
				for _, c := range fx.Chunks[1:] {
					select {
					case <-tick.C:
					case <-ctx.Done():
						sent <- ctx.Err()
						return
					}
					if err := pub.conn.Write(ctx, websocket.MessageBinary, c); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()

			live := checkVideoPlays(t, page, "live", 2)
			if err := <-sent; err != nil {
				t.Fatalf("publishing: %v", err)
			}
			pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
			if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
			}
			if err := page.WaitFor(chrometest.PlayerIn("document", "ended", "recording")+` && `+jsVideo+`.src.includes('/playback')`, browserLiveTimeout); err != nil {
				t.Fatalf("after the end, the recording: %v", err)
			}
			rec := checkVideoPlays(t, page, "recording", 1)
			if d := rec.Duration; d == "Infinity" || d == "NaN" {
				t.Errorf("recording's duration %s; want a finite one", d)
			}
			errs, err := page.Errors()
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) > 0 {
				t.Errorf("page errors: %q", errs)
			}
			t.Logf("%s in WebKit: live %.2f s, %d frames; recording at %.2f s of %s s, %d frames",
				name, live.Time, live.Frames, rec.Time, rec.Duration, rec.Frames)
		})
	}
}

// checkVideoPlays waits until the page's video has played at least adv
// seconds past the moment it first had frames, with its frame count
// growing and no error, and returns its state then.
func checkVideoPlays(t *testing.T, page browser.Page, what string, adv float64) videoState {
	t.Helper()
	if err := page.WaitFor(jsVideo+`.getVideoPlaybackQuality().totalVideoFrames > 0 && `+jsVideo+`.currentTime > 0`, browserLiveTimeout); err != nil {
		t.Fatalf("%s: no frame: %v", what, err)
	}
	var start videoState
	if err := page.Eval(jsVideoState, &start); err != nil {
		t.Fatal(err)
	}
	cond := fmt.Sprintf(`(() => { const v = %s; return v.currentTime >= %f && v.getVideoPlaybackQuality().totalVideoFrames > %d; })()`,
		jsVideo, start.Time+adv, start.Frames)
	if err := page.WaitFor(cond, browserLiveTimeout); err != nil {
		var now videoState
		_ = page.Eval(jsVideoState, &now)
		t.Fatalf("%s: video at %.2f s, %d frames, then %+v; want it %.0f s further with more frames: %v", what, start.Time, start.Frames, now, adv, err)
	}
	var end videoState
	if err := page.Eval(jsVideoState, &end); err != nil {
		t.Fatal(err)
	}
	return end
}
