package chrometest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// ScreenshotDir returns where a test saves its screenshots: the directory
// named by the environment variable AMLIVE_SCREENSHOTS if it is set, else
// tb.TempDir().
func ScreenshotDir(tb testing.TB) string {
	if dir := os.Getenv("AMLIVE_SCREENSHOTS"); dir != "" {
		return dir
	}
	return tb.TempDir()
}

// KeepScreenshots reports whether the screenshots a test takes are kept:
// whether AMLIVE_SCREENSHOTS names a directory for them. Tests take
// screenshots that only document a page (the README's) only then.
func KeepScreenshots() bool { return os.Getenv("AMLIVE_SCREENSHOTS") != "" }

// JavaScript expressions for the plugin's widgets: the first of each kind
// in the page's document.
const (
	// BroadcasterJS is the first broadcaster widget ("Go live") element.
	BroadcasterJS = `document.querySelector('[data-amlive-broadcaster]')`
	// PlayerJS is the first player widget element.
	PlayerJS = `document.querySelector('[data-amlive-player]')`
)

// BroadcasterIs returns a JavaScript expression, for Tab.WaitFor, that is
// true once the broadcaster widget is in state, both in its API and in its
// data-state attribute. It throws when the broadcaster failed, unless state
// is "error".
func BroadcasterIs(state string) string {
	return fmt.Sprintf(`(() => {
  const el = %s, b = el && el.amliveBroadcaster;
  if (!b) return false;
  if (b.state === 'error' && %q !== 'error') throw new Error('broadcaster failed: ' + el.querySelector('[data-amlive-status]').textContent);
  return b.state === %q && el.dataset.state === %q;
})()`, BroadcasterJS, state, state, state)
}

// BroadcasterDiagnosis is a JavaScript expression, for Tab.Diagnose, that
// describes the broadcaster widget: its state, status line, viewers, MIME
// type and last error, or the page's path and title when it has none.
const BroadcasterDiagnosis = `(() => {
  const el = ` + BroadcasterJS + `, b = el && el.amliveBroadcaster;
  return b ? {state: b.state, dataState: el.dataset.state, status: el.querySelector('[data-amlive-status]').textContent,
    viewers: b.viewers, mime: b.mimeType, lastError: b.lastError} : {path: location.pathname, title: document.title};
})()`

// PlayerIn returns a JavaScript expression, for Tab.WaitFor, that is true
// once the first player widget in the document doc (a JavaScript
// expression such as "document" or an iframe's contentDocument) is in one
// of states, both in its API and in its data-state attribute. It throws
// when the player shows an error or its video failed.
func PlayerIn(doc string, states ...string) string {
	list := `['` + strings.Join(states, `','`) + `']`
	return fmt.Sprintf(`(() => {
  const d = %s, el = d && d.querySelector('[data-amlive-player]'), p = el && el.amlivePlayer, v = el && el.querySelector('video');
  if (!p) return false;
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  if (p.state === 'error') throw new Error('player error: ' + el.querySelector('[data-amlive-status]').textContent);
  return %s.includes(p.state) && el.dataset.state === p.state;
})()`, doc, list)
}

// PlayerSnapshotJS is a JavaScript expression whose value is a Player: what
// a person sees of the first player widget. It also suits Tab.Diagnose.
const PlayerSnapshotJS = `(() => {
  const el = ` + PlayerJS + `, v = el.querySelector('video'), q = v.getVideoPlaybackQuality(), b = [];
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
    seeking: v.seeking, nudges: el.amlivePlayer.stats.nudges || 0,
  };
})()`

// Player is a snapshot of a player widget and its video, as
// PlayerSnapshotJS takes it.
type Player struct {
	State      string       `json:"state"`      // the widget's data-state
	Mode       string       `json:"mode"`       // the widget's data-mode
	Status     string       `json:"status"`     // the status line
	Viewers    string       `json:"viewers"`    // the viewer count shown, if any
	Src        string       `json:"src"`        // the video's src
	Time       float64      `json:"time"`       // the video's currentTime, in seconds
	Frames     int          `json:"frames"`     // decoded video frames
	Dropped    int          `json:"dropped"`    // dropped video frames
	Paused     bool         `json:"paused"`     // the video is paused
	ReadyState int          `json:"readyState"` // the video's readyState
	Duration   string       `json:"duration"`   // a string: JSON has no Infinity
	Width      int          `json:"width"`      // the video's intrinsic width
	Height     int          `json:"height"`     // the video's intrinsic height
	Buffered   [][2]float64 `json:"buffered"`   // the buffered ranges, in seconds
	Error      string       `json:"error"`      // the video's MediaError, if any
	Now        float64      `json:"now"`        // the page's clock, in milliseconds
	Reconnects int          `json:"reconnects"` // times the player reconnected
	Skips      int          `json:"skips"`      // the server made it skip ahead
	Seeking    bool         `json:"seeking"`    // the video is seeking
	Nudges     int          `json:"nudges"`     // seeks the player made to start a stuck file again
}

// Player returns a snapshot of the tab's first player widget.
func (t *Tab) Player() Player {
	t.tb.Helper()
	return Eval[Player](t, PlayerSnapshotJS)
}

// Playback thresholds of AssertPlays.
const (
	// PlayWindow is how long AssertPlays watches playback at a time.
	PlayWindow = 2 * time.Second
	// MinAdvance is how many seconds of video a player must advance in a
	// PlayWindow of the page's clock.
	MinAdvance = 1.0
)

// AssertPlays checks that each tab's player plays: in a window of
// PlayWindow, measured with the page's clock, currentTime advances by at
// least MinAdvance (for a recording, by no more than the clock allows) and
// frames are decoded, while the video has no error and a picture, the
// player does not reconnect and stays in one of states. A busy machine can
// starve the browser for a moment, so a tab gets further windows until
// timeout; a stalled window is logged. AssertPlays fails tb at once
// (t.Fatal) when a check fails. It returns each tab's snapshot at the end
// of its good window.
func AssertPlays(tb testing.TB, timeout time.Duration, recording bool, tabs []*Tab, states ...string) []Player {
	tb.Helper()
	good := make([]Player, len(tabs))
	done := make([]bool, len(tabs))
	deadline := time.Now().Add(timeout)
	for {
		before := make([]Player, len(tabs))
		for i, tab := range tabs {
			if !done[i] {
				before[i] = tab.Player()
			}
		}
		// A measurement window, not synchronisation: playback is judged
		// by how far it gets in a known time of the page's clock.
		time.Sleep(PlayWindow)
		pending := 0
		for i, tab := range tabs {
			if done[i] {
				continue
			}
			s0, s1 := before[i], tab.Player()
			wall := (s1.Now - s0.Now) / 1000
			advanced := s1.Time - s0.Time
			tb.Logf("%s: %s, currentTime %.2f -> %.2f in %.2fs, frames %d -> %d (dropped %d), readyState %d, buffered %v, skips %d",
				tab.Name(), s1.State, s0.Time, s1.Time, wall, s0.Frames, s1.Frames, s1.Dropped, s1.ReadyState, s1.Buffered, s1.Skips)
			switch {
			case s1.Reconnects > 0:
				// The player showed an error and "Reconnecting…".
				tb.Fatalf("%s: the player reconnected %d times; want none (status %q)", tab.Name(), s1.Reconnects, s1.Status)
			case s1.Error != "":
				tb.Fatalf("%s: video error %s; status %q", tab.Name(), s1.Error, s1.Status)
			case !slices.Contains(states, s1.State):
				tb.Fatalf("%s: player state %q (status %q); want one of %q", tab.Name(), s1.State, s1.Status, states)
			case s1.Width == 0 || s1.Height == 0:
				tb.Fatalf("%s: video size %dx%d; want a picture", tab.Name(), s1.Width, s1.Height)
			case recording && advanced > 1.25*wall+0.25:
				tb.Fatalf("%s: the recording's currentTime advanced %.2fs in %.2fs; want about the wall time", tab.Name(), advanced, wall)
			case advanced >= MinAdvance && s1.Frames > s0.Frames:
				good[i], done[i] = s1, true
				continue
			}
			if time.Now().After(deadline) {
				tb.Fatalf("%s: not playing: currentTime advanced %.2fs in %.2fs (want >= %.1fs), totalVideoFrames %d -> %d; paused %v, readyState %d, status %q",
					tab.Name(), advanced, wall, MinAdvance, s0.Frames, s1.Frames, s1.Paused, s1.ReadyState, s1.Status)
			}
			tb.Logf("%s: stalled in this window; watching again", tab.Name())
			pending++
		}
		if pending == 0 {
			return good
		}
	}
}

// CheckNoPageErrors reports on tb (t.Error, so the test goes on) each tab
// whose current page threw an uncaught error, left a promise rejection
// unhandled or violated its Content-Security-Policy, as Tab.Errors says.
func CheckNoPageErrors(tb testing.TB, tabs ...*Tab) {
	tb.Helper()
	for _, tab := range tabs {
		if errs := tab.Errors(); len(errs) > 0 {
			tb.Errorf("%s: errors in the page: %q", tab.Name(), errs)
		}
	}
}
