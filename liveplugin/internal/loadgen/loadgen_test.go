package loadgen

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// generate returns d of a stream made with o, generated in ticks of tick,
// and the number of markers in it.
func generate(o Options, d, tick time.Duration) ([]byte, uint64) {
	s := NewStream(o)
	b := s.Init(nil)
	t0 := time.Unix(1_700_000_000, 0)
	for el := tick; el <= d; el += tick {
		b = s.AppendUntil(b, el, t0.Add(el))
	}
	if int64(len(b)) != s.Offset() {
		panic("Offset differs from the bytes generated")
	}
	return b, s.Markers()
}

func TestStreamParses(t *testing.T) {
	tests := []struct {
		name string
		give Options
	}{
		{name: "defaults", give: Options{}},
		{name: "1 Mbit/s, keyframe 1 s, 25 fps", give: Options{Bitrate: 1_000_000, Keyframe: time.Second, FrameRate: 25}},
		{name: "8 Mbit/s, keyframe 5 s", give: Options{Bitrate: 8_000_000, Keyframe: 5 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const d = 10 * time.Second
			b, markers := generate(tc.give, d, 125*time.Millisecond)
			r := webm.NewReader(webm.Limits{})
			r.Blocks = true
			evs, err := r.Feed(nil, b)
			if err != nil {
				t.Fatalf("Feed: %v", err)
			}
			if err := r.Playable(); err != nil {
				t.Fatalf("Playable: %v", err)
			}
			if got, want := r.MIMEType(), `video/webm; codecs="vp8,opus"`; got != want {
				t.Errorf("MIMEType() = %q; want %q", got, want)
			}
			o := tc.give.withDefaults()
			var syncs, clusters, blocks int
			for _, ev := range evs {
				switch ev.Kind {
				case webm.KindSync:
					syncs++
				case webm.KindCluster:
					clusters++
				case webm.KindBlock:
					blocks++
				}
			}
			want := 0 // keyframes before d
			ns := NewStream(o)
			for i := 0; time.Duration(i)*ns.frame < d; i += ns.gopFrames {
				want++
			}
			if syncs != want || clusters != want {
				t.Errorf("%d Clusters, %d join points; want %d of each", clusters, syncs, want)
			}
			if uint64(blocks) != markers {
				t.Errorf("%d blocks; want %d (one per marker)", blocks, markers)
			}
			rate := float64(len(b)) * 8 / d.Seconds()
			if rate < 0.95*float64(o.Bitrate) || rate > 1.05*float64(o.Bitrate) {
				t.Errorf("rate %.0f bit/s; want %d ± 5%%", rate, o.Bitrate)
			}
		})
	}
}

func TestScannerFindsEveryMarker(t *testing.T) {
	b, markers := generate(Options{Bitrate: 500_000}, 3*time.Second, 100*time.Millisecond)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, maxPiece := range []int{1, 7, 31, 33, 100, 5000, len(b)} {
		var sc Scanner
		var got []Marker
		for rest := b; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(maxPiece))
			got = sc.Scan(got, rest[:n])
			rest = rest[n:]
		}
		if uint64(len(got)) != markers {
			t.Fatalf("pieces of up to %d bytes: %d markers; want %d", maxPiece, len(got), markers)
		}
		for i, m := range got {
			if m.Seq != uint64(i) || m.Offset != m.Pos {
				t.Fatalf("pieces of up to %d bytes: marker %d = %+v; want Seq %d and Offset = Pos", maxPiece, i, m, i)
			}
		}
		if sc.Scanned() != int64(len(b)) {
			t.Errorf("Scanned() = %d; want %d", sc.Scanned(), len(b))
		}
	}
}

func TestScannerAllocatesNothing(t *testing.T) {
	b, _ := generate(Options{}, time.Second, 125*time.Millisecond)
	var sc Scanner
	dst := make([]Marker, 0, 1024)
	allocs := testing.AllocsPerRun(10, func() {
		for i := 0; i < len(b); i += 4000 {
			dst = sc.Scan(dst[:0], b[i:min(len(b), i+4000)])
		}
	})
	if allocs != 0 {
		t.Errorf("Scan allocates %.1f times per stream; want 0", allocs)
	}
}

func BenchmarkScanner(b *testing.B) {
	data, _ := generate(Options{}, 2*time.Second, 125*time.Millisecond)
	var sc Scanner
	dst := make([]Marker, 0, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dst = sc.Scan(dst[:0], data)
	}
}
