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
