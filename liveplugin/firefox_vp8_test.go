package liveplugin_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/browser"
	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestFirefoxWatchesChromiumVP8 publishes Chromium's recordings over the
// WebSocket, paced as they were recorded, and watches the room in Firefox:
// the video must advance by 2 s with frames decoded and no error. Firefox
// 153's MSE loses most of the video of Chromium's timeslice recordings
// unless the player merges their Clusters (see ClusterMerger in
// assets/player.js); without it, the VP8 case sees 9 frames in 10 s.
func TestFirefoxWatchesChromiumVP8(t *testing.T) {
	if !slices.Contains(browser.Engines(), browser.Firefox) {
		t.Skipf("Firefox is not among the engines %v", browser.Engines())
	}
	tests := []struct {
		name string
		give string // the fixture
	}{
		{"vp8 keyframes 2 s apart", "vp8-opus-250ms-kf2s"},
		{"vp8 keyframes 5 s apart", "vp8-opus-250ms"},
		{"vp9 keyframes 2 s apart", "vp9-opus-250ms-kf2s"},
	}
	// A case whose Firefox is wedged (Browser.Wedged) runs once more on a
	// new one, which the cases after it use.
	owner := t
	b := browser.Start(t, browser.Firefox)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := fixture.Load(t, tc.give)
			browser.Retry(t, owner, &b, nil, func(tb testing.TB, b browser.Browser) { watchInFirefox(tb, b, set) })
		})
	}
}

// watchInFirefox publishes set in room alice of a new server and checks
// that a Firefox viewer of the room sees it play.
func watchInFirefox(t testing.TB, b browser.Browser, set fixture.Set) {
	srv := newServer(t, liveplugin.Config{Authorize: allowAll})
	page := b.NewPage(t, "viewer")
	if err := page.Navigate(srv.URL + "/live/alice"); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, 2*time.Minute)
	pub, _ := publish(t, ctx, srv, "alice")
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The pace of the recording: one timeslice every 250 ms.
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for _, c := range set.Chunks {
			if err := pub.conn.Write(ctx, websocket.MessageBinary, c); err != nil {
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { <-done })
	// The chunks last 10 s: the video must advance while they flow, from
	// the first frame shown live.
	first := `(() => { const s = ` + chrometest.PlayerSnapshotJS + `;
  if (s.error) throw new Error(s.error);
  return s.mode === 'live' && s.frames > 0; })()`
	if err := page.WaitFor(first, 15*time.Second); err != nil {
		t.Fatalf("no live video in Firefox: %v", err)
	}
	var start chrometest.Player
	if err := page.Eval(chrometest.PlayerSnapshotJS, &start); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`(() => { const s = %s;
  if (s.error) throw new Error(s.error);
  if (s.mode !== 'live') throw new Error('the live broadcast ended first');
  return s.time >= %f && s.frames >= %d; })()`, chrometest.PlayerSnapshotJS, start.Time+2, start.Frames+30)
	err := page.WaitFor(want, 10*time.Second)
	var snap chrometest.Player
	if e := page.Eval(chrometest.PlayerSnapshotJS, &snap); e != nil {
		t.Fatal(e)
	}
	js, _ := json.Marshal(snap)
	if err != nil {
		t.Fatalf("Firefox does not play the VP8 broadcast: %v\nfrom time %.3f, %d frames, to: %s", err, start.Time, start.Frames, js)
	}
	t.Logf("plays: %s", js)
}
