package loadgen

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestScannerFindsEveryMarker(t *testing.T) {
	b, markers := Generate(Options{Bitrate: 500_000}, 3*time.Second, 100*time.Millisecond)
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
	b, _ := Generate(Options{}, time.Second, 125*time.Millisecond)
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
	data, _ := Generate(Options{}, 2*time.Second, 125*time.Millisecond)
	var sc Scanner
	dst := make([]Marker, 0, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dst = sc.Scan(dst[:0], data)
	}
}
