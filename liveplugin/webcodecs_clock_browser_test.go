package liveplugin_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amlive/amlive/internal/chrometest"
)

// peakStep is one push to, or query of, webcodecs.js's Peak.
type peakStep struct {
	At    float64 `json:"at"`    // ms
	V     float64 `json:"v"`     // the value pushed
	Push  bool    `json:"push"`  // a push (else a query)
	Clear bool    `json:"clear"` // a clear before it
}

// TestBrowserPeak checks the WebCodecs player's windowed maximum (the
// largest transit of the last span ms, which its clock keeps the offset
// at) against a brute force over random pushes, queries and clears at
// increasing times, in Chromium.
func TestBrowserPeak(t *testing.T) {
	tab := webCodecsTab(t, "peak")
	const span = 800.0
	rng := rand.New(rand.NewPCG(3, 4))
	var steps []peakStep
	at := 1.0
	for range 3000 {
		at += rng.Float64() * 40
		steps = append(steps, peakStep{At: at, V: math.Round(rng.NormFloat64()*100) / 10, Push: rng.IntN(3) > 0, Clear: rng.IntN(400) == 0})
	}
	data, err := json.Marshal(steps)
	if err != nil {
		t.Fatal(err)
	}
	// Each query's max and covers, from the page.
	got := chrometest.Eval[[][2]float64](tab, fmt.Sprintf(`(() => {
  const p = new amlive.webcodecs.Peak(%v), out = [];
  for (const s of %s) {
    if (s.clear) p.clear();
    if (s.push) p.push(s.at, s.v);
    else { const m = p.max(s.at); out.push([m === -Infinity ? -1e9 : m, p.covers(s.at)]); }
  }
  return out;
})()`, span, data))

	// The brute force: the values pushed since the last clear within span
	// ms; covers is the time since the first push of the spell (or since
	// the window's start, when older ones have left it), and 0 when no
	// value is counted, which ends the spell.
	var pushed []peakStep
	first := 0.0
	q := 0
	for _, s := range steps {
		if s.Clear {
			pushed, first = nil, 0
		}
		if s.Push {
			pushed = append(pushed, s)
			if first == 0 {
				first = s.At
			}
			continue
		}
		want := -1e9
		for _, p := range pushed {
			if p.At >= s.At-span && p.V > want {
				want = p.V
			}
		}
		wantCovers := 0.0
		if want == -1e9 {
			first = 0 // nothing counted: the next push starts a spell
		} else {
			wantCovers = s.At - max(first, s.At-span)
		}
		if q >= len(got) {
			t.Fatalf("the page answered %d queries; want more", len(got))
		}
		if got[q][0] != want || math.Abs(got[q][1]-wantCovers) > 1e-9 {
			t.Fatalf("query %d at %.1f ms: max %v, covers %v; want %v, %v", q, s.At, got[q][0], got[q][1], want, wantCovers)
		}
		q++
	}
	if q != len(got) || q < 500 {
		t.Fatalf("%d queries checked of %d answered; want them all, and many", q, len(got))
	}
	chrometest.CheckNoPageErrors(t, tab)
}

// TestBrowserPlaceSound checks where the WebCodecs player schedules decoded
// sound (webcodecs.js placeSound), in Chromium: in time, it plays at its
// time; overlapping the sound before, or past its time, it is cut from
// where it can start; after a small gap that the jitter buffer's growth
// left behind sound still playing, it starts where that ends, slowed by at
// most STRETCH_MIN_RATE, instead of leaving a click of silence; a larger
// gap, or one after silence, stays.
func TestBrowserPlaceSound(t *testing.T) {
	tab := webCodecsTab(t, "placesound")
	type placed struct {
		Start, Offset, Rate float64
	}
	const dur = 0.02 // a 20 ms Opus frame
	for _, tc := range []struct {
		name               string
		when, end, current float64
		want               placed
		stretched          bool // slowed: the rate is below 1
	}{
		{name: "in time, after the sound before", when: 1.0, end: 1.0, current: 0.9, want: placed{Start: 1.0, Rate: 1}},
		{name: "in time, after silence", when: 1.0, end: 0.5, current: 0.9, want: placed{Start: 1.0, Rate: 1}},
		{name: "overlapping the sound before", when: 0.99, end: 1.0, current: 0.9, want: placed{Start: 0.998, Offset: 0.008, Rate: 1}},
		{name: "past its time", when: 0.85, end: 0.8, current: 0.9, want: placed{Start: 0.9, Offset: 0.05, Rate: 1}},
		{name: "a small gap behind sound playing", when: 1.004, end: 1.0, current: 0.95, want: placed{Start: 1.0, Rate: 0.97}, stretched: true},
		{name: "a tiny gap, taken up at once", when: 1.0003, end: 1.0, current: 0.95, want: placed{Start: 1.0, Rate: dur / (dur + 0.0003)}, stretched: true},
		{name: "a gap too large to stretch", when: 1.05, end: 1.0, current: 0.95, want: placed{Start: 1.05, Rate: 1}},
		{name: "a small gap after the sound ended", when: 1.004, end: 1.0, current: 1.001, want: placed{Start: 1.004, Rate: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chrometest.Eval[placed](tab, fmt.Sprintf(`(() => { const p = amlive.webcodecs.placeSound(%v, %v, %v, %v); return {Start: p.start, Offset: p.offset, Rate: p.rate}; })()`,
				tc.when, dur, tc.end, tc.current))
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
			if !near(got.Start, tc.want.Start) || !near(got.Offset, tc.want.Offset) || !near(got.Rate, tc.want.Rate) {
				t.Errorf("placeSound(when %v, end %v, current %v) = %+v; want %+v", tc.when, tc.end, tc.current, got, tc.want)
			}
			if tc.stretched {
				// Slowed, it ends no later than its time: the gap is taken
				// up, not moved on.
				if ends := got.Start + dur/got.Rate; ends > tc.when+dur+1e-9 {
					t.Errorf("stretched sound ends at %v, after its own end %v", ends, tc.when+dur)
				}
			}
		})
	}
}

// TestBrowserJitter drives the WebCodecs player's clock (webcodecs.js
// Jitter) through a steady stream with two delays like each other, 15 s
// apart, in Chromium: it settles at the steady transit plus the margin;
// the first delay is a stall and raises it; the steady spell after it does
// not take that back while the stall is remembered, so the second delay is
// none; a spell without stalls longer than the memory gives the cushion
// back: the buffer grows after stalls and shrinks when steady.
func TestBrowserJitter(t *testing.T) {
	tab := webCodecsTab(t, "jitter")
	type point struct {
		At     float64 `json:"at"`     // s
		Offset float64 `json:"offset"` // s
		Late   float64 `json:"late"`   // s, of the media ready then
	}
	const (
		steady = 0.030 // the transit, s
		delay  = 0.070 // a delayed one
		lead   = 0.010 // the margin media is ready by
	)
	// Media every 20 ms, ready steady (or delay) after its timestamp;
	// ready's lateness past 0 is a stall, as the player counts one (its
	// margins aside). The page's clock is the media's: at = now * 1000, ms.
	got := chrometest.Eval[map[string]point](tab, fmt.Sprintf(`(() => {
  const j = new amlive.webcodecs.Jitter(), out = {};
  const marks = {9.9: 'settled', 10: 'first delay', 24.9: 'held', 25: 'second delay', 39.9: 'still held', 55: 'given back'};
  j.jump(0, 0);
  for (let k = 0; k <= 2750; k++) {
    const ts = k * 0.02, key = Math.round(ts * 10) / 10;
    const transit = marks[key] && marks[key].endsWith('delay') && Math.abs(ts - key) < 1e-9 ? %v : %v;
    const now = ts + transit, at = now * 1000;
    const late = j.ready(ts * 1e6, %v, at);
    if (late > 0) j.stalled(late, at);
    j.cut(at, false);
    if (marks[key] && Math.abs(ts - key) < 1e-9) out[marks[key]] = {at: ts, offset: j.offset, late};
  }
  return out;
})()`, delay, steady, lead))
	for _, name := range []string{"settled", "first delay", "held", "second delay", "still held", "given back"} {
		t.Logf("%-12s at %4.1fs: offset %5.1f ms, lateness %5.1f ms", name, got[name].At, got[name].Offset*1000, got[name].Late*1000)
	}
	base := steady + lead
	near := func(v, want float64) bool { return math.Abs(v-want) <= 0.006 }
	if p := got["settled"]; !near(p.Offset, base) {
		t.Errorf("after 10 s steady: offset %.1f ms; want %.0f ms (the transit and the margin)", p.Offset*1000, base*1000)
	}
	if p := got["first delay"]; p.Late < 0.03 {
		t.Errorf("first delay: lateness %.1f ms; want it late, a stall (about %.0f ms)", p.Late*1000, (delay-steady)*1000)
	}
	if p := got["held"]; !near(p.Offset, delay+lead) {
		t.Errorf("15 s steady after the stall: offset %.1f ms; want it held at %.0f ms", p.Offset*1000, (delay+lead)*1000)
	}
	if p := got["second delay"]; p.Late > 0.001 {
		t.Errorf("second delay, like the first: lateness %.1f ms; want none, in time", p.Late*1000)
	}
	if p := got["still held"]; !near(p.Offset, delay+lead) {
		t.Errorf("29.9 s after the stall: offset %.1f ms; want it still held at %.0f ms", p.Offset*1000, (delay+lead)*1000)
	}
	if p := got["given back"]; !near(p.Offset, base) {
		t.Errorf("45 s after the stall, 30 s after the last delay: offset %.1f ms; want it back at %.0f ms", p.Offset*1000, base*1000)
	}
	chrometest.CheckNoPageErrors(t, tab)
}

// TestBrowserSoundClock feeds broadcaster.js's SoundClock the arrivals of
// 10 ms of sound at a time and checks where it places them: counting on
// from the sound before whatever the arrival's jitter; after an epoch in
// which even the soonest sound came too late (the microphone lost some),
// that much silence first; after one in which it came too early (the
// microphone's clock is faster), as much sound cut; beyond
// SOUND_FILL_MAX_US, a jump instead of silence.
func TestBrowserSoundClock(t *testing.T) {
	tab := scriptsTab(t, "soundclock", "protocol.js", "core.js", "broadcaster.js")
	const rate = 48000
	type result struct {
		Filled, Cut, Jumped float64 // µs
		Silence             int     // samples of silence placed
		Dropped             int     // arrivals cut
		End                 float64 // where the sound placed ends, µs
		Last                float64 // the last arrival, µs
		Gaps                int     // sound not placed where the sound before it ended
	}
	// run places arrivals of 480 samples every 10 ms of the wall clock
	// of sound for seconds, the sound starting at 0: jitter (µs,
	// alternately added and taken) moves each arrival; lost is a span of
	// the wall clock (from, to, µs) whose sound never arrives; speed is how
	// much faster than the wall clock the microphone gives sound (1.01: 1 %
	// fast).
	run := func(seconds float64, jitter int, lostFrom, lostTo int, speed float64) result {
		t.Helper()
		return chrometest.Eval[result](tab, fmt.Sprintf(`(() => {
  const c = new amlive.SoundClock(%d, 0);
  const out = {Filled: 0, Cut: 0, Jumped: 0, Silence: 0, Dropped: 0, End: 0, Gaps: 0, Last: 0};
  let end = 0;
  for (let i = 1; i * 10000 <= %v * 1e6; i++) {
    const now = i * 10000 / %v + (i %% 2 ? %d : -%d);
    if (now >= %d && now < %d) continue;
    out.Last = now;
    const s = c.take(now, 480);
    if (s.drop) { out.Dropped++; continue; }
    if (s.silence) {
      if (s.at !== end) out.Gaps++;
      out.Silence += s.silence;
      end = s.at + s.silence * 1e6 / %d;
    }
    if (Math.abs(s.ts - end) > 1 && !c.jumpedUs) out.Gaps++;
    end = s.ts + 480 * 1e6 / %d;
  }
  out.Filled = c.filledUs; out.Cut = c.cutUs; out.Jumped = c.jumpedUs; out.End = c.end();
  return out;
})()`, rate, seconds, speed, jitter, jitter, lostFrom, lostTo, rate, rate))
	}
	near := func(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

	t.Run("steady with jitter", func(t *testing.T) {
		r := run(10, 8000, -1, -1, 1)
		if r.Filled != 0 || r.Cut != 0 || r.Dropped != 0 || r.Gaps != 0 || !near(r.End, r.Last, 20000) {
			t.Errorf("%+v; want every arrival placed after the one before, nothing filled or cut, ending at 10 s", r)
		}
	})
	t.Run("sound lost", func(t *testing.T) {
		// 500 ms of sound never arrives: the sound after it is placed
		// that late again, behind silence, within an epoch or two.
		r := run(6, 2000, 2000000, 2500000, 1)
		if !near(r.Filled, 500000, 30000) || r.Cut != 0 || r.Jumped != 0 || r.Gaps != 0 {
			t.Errorf("%+v; want 500 ms of silence filled in, no gap", r)
		}
		if !near(r.End, r.Last, 2*20000) {
			t.Errorf("the sound ends at %.0f µs; want near the last arrival, %.0f µs", r.End, r.Last)
		}
	})
	t.Run("microphone fast", func(t *testing.T) {
		// 1 % more sound than the clock: 200 ms over 20 s, cut away in
		// steps; the sound placed ends near the clock.
		r := run(20, 1000, -1, -1, 1.01)
		if r.Cut < 150000 || r.Filled != 0 || !near(r.End, r.Last, 2*20000) {
			t.Errorf("%+v; want about 200 ms of sound cut, the end near the last arrival", r)
		}
	})
	t.Run("microphone slow", func(t *testing.T) {
		r := run(20, 1000, -1, -1, 0.99)
		if r.Filled < 150000 || r.Cut != 0 || r.Gaps != 0 || !near(r.End, r.Last, 2*20000) {
			t.Errorf("%+v; want about 200 ms of silence filled in, the end near the last arrival", r)
		}
	})
	t.Run("long loss", func(t *testing.T) {
		// 5 s lost: 2 s of silence (SOUND_FILL_MAX_US), the rest jumped.
		r := run(9, 0, 2000000, 7000000, 1)
		if !near(r.Filled, 2e6, 1) || !near(r.Jumped, 3e6, 30000) || !near(r.End, r.Last, 20000) {
			t.Errorf("%+v; want 2 s of silence and a 3 s jump, ending near 9 s", r)
		}
	})
}

// TestBrowserFrameStore has the WebCodecs player's feed hold a buffer of
// 1.55 s, longer than its frames held cover (MAX_FRAMES, 30: a second at
// 30 frames a second), as a burst of stalls can grow it, and hands it a
// live stream of 30 frames a second for 3 s, in Chromium. The picture must
// move: the clock comes forward so that the oldest frame held is due, and
// the buffer is what the frames cover. (Dropping the oldest, the one due
// next, dropped every frame before its time: the picture froze until the
// buffer came down, 8 s in a benchmark run.)
func TestBrowserFrameStore(t *testing.T) {
	tab := webCodecsTab(t, "frame store")
	type result struct {
		Shown    int     `json:"shown"`
		Dropped  int     `json:"dropped"`
		Buffer   float64 `json:"buffer"` // due of the newest frame less now, s
		Fallback string  `json:"fallback"`
	}
	got := chrometest.Eval[result](tab, `(async () => {
  const box = document.createElement('div');
  const v = document.createElement('video');
  box.append(v);
  document.body.append(box);
  let fallback = '';
  const scope = { timeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id) };
  const conf = { onClose() {}, onText() {}, onStall() {}, onFirstMedia() {}, onMuted() {}, onFallback(r) { fallback = r; } };
  // No server: the socket fails and the feed is given frames by hand.
  const f = new amlive.webcodecs.Feed(v, 'ws://127.0.0.1:9/', scope, conf);
  const src = new OffscreenCanvas(64, 36);
  const ctx = src.getContext('2d');
  const t0 = performance.now();
  f.jit.jump(0, t0);
  f.jit.offset += 1.5; // media of timestamp 0 due 1.55 s from now
  // As if media had come that late: the window of transits holds it, so
  // the buffer is not cut while the stream plays.
  f.jit.worst.push(t0, f.jit.due(0) - t0 / 1000);
  const frame = 1e6 / 30;
  let k = 0, newest = 0;
  await new Promise((done) => {
    const tick = () => {
      // Each frame arrives at its time: k frames in k / 30 s.
      while (k * frame <= (performance.now() - t0) * 1000) {
        ctx.fillStyle = k % 2 ? '#f00' : '#0f0';
        ctx.fillRect(0, 0, 64, 36);
        newest = k * frame;
        f._onFrame(new VideoFrame(src, { timestamp: newest, duration: frame }));
        k++;
      }
      if (performance.now() - t0 < 3000) setTimeout(tick, 5);
      else done();
    };
    tick();
  });
  const out = { shown: f.stats.shown, dropped: f.stats.dropped, buffer: f.due(newest) - f.now(), fallback };
  f.close();
  box.remove();
  return out;
})()`)
	t.Logf("in 3 s of 30 frames a second with a 1.55 s buffer: %d frames shown, %d dropped; the newest due %.0f ms later", got.Shown, got.Dropped, got.Buffer*1000)
	if got.Fallback != "" {
		t.Fatalf("the feed fell back: %s", got.Fallback)
	}
	// From 1 s on, when the frames held fill up, every frame is due as it
	// comes: about 60 of them; half leaves room for a loaded machine.
	if got.Shown < 30 {
		t.Errorf("%d frames shown; want the picture moving once the frames held fill up (about 60)", got.Shown)
	}
	if got.Buffer > 1.1 {
		t.Errorf("the newest frame is due %.0f ms after it came; want the buffer brought down to what the frames held cover (1 s)", got.Buffer*1000)
	}
	chrometest.CheckNoPageErrors(t, tab)
}
