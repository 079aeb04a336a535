package mp4

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
)

// mp4Sets returns the names of the fixture sets that hold fragmented MP4:
// every mp4-* folder of the fixtures. It fails tb when there is none.
func mp4Sets(tb testing.TB) []string {
	tb.Helper()
	dirs, err := filepath.Glob(filepath.Join(fixture.Dir(tb), "mp4-*"))
	if err != nil || len(dirs) == 0 {
		tb.Fatalf("no mp4-* fixture sets (%v)", err)
	}
	var out []string
	for _, d := range dirs {
		out = append(out, filepath.Base(d))
	}
	return out
}

// feedResult is what feeding a stream gave.
type feedResult struct {
	events []Event
	err    error
	offset int64
	out    []byte // the bytes fed, after Feed's repairs
}

// feedPieces feeds copies of pieces to a new reader, checking on the way
// that every event lies within the bytes consumed, that Feed keeps every
// length, and that the reader stays dead after an error.
func feedPieces(tb testing.TB, lim Limits, pieces [][]byte) (feedResult, *Reader) {
	tb.Helper()
	r := NewReader(lim)
	var res feedResult
	for _, piece := range pieces {
		p := bytes.Clone(piece)
		n := len(res.events)
		res.events, res.err = r.Feed(res.events, p)
		res.out = append(res.out, p...)
		for _, ev := range res.events[n:] {
			if ev.Offset >= r.Offset() && ev.Kind != KindSample {
				tb.Fatalf("event %+v beyond the %d bytes consumed", ev, r.Offset())
			}
		}
		if res.err != nil {
			off := r.Offset()
			again, err := r.Feed(nil, bytes.Clone(piece))
			if err != res.err || len(again) != 0 || r.Offset() != off {
				tb.Fatalf("Feed after error = %v, %v, offset %d; want nil, %v, offset %d", again, err, r.Offset(), res.err, off)
			}
			break
		}
	}
	res.offset = r.Offset()
	return res, r
}

// splitEvery splits b into pieces of n bytes.
func splitEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// splitRandom splits b into pieces of 1 to max bytes, chosen by seed.
func splitRandom(b []byte, seed uint64, max int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out [][]byte
	for len(b) > 0 {
		n := min(1+rng.IntN(max), len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// checkSameResult fails unless got and want are the same events, error and
// offset.
func checkSameResult(tb testing.TB, name string, got, want feedResult) {
	tb.Helper()
	if !sameError(got.err, want.err) {
		tb.Fatalf("%s: err = %v; want %v", name, got.err, want.err)
	}
	if got.offset != want.offset {
		tb.Fatalf("%s: offset = %d; want %d", name, got.offset, want.offset)
	}
	if !slices.Equal(got.events, want.events) {
		i := 0
		for i < min(len(got.events), len(want.events)) && got.events[i] == want.events[i] {
			i++
		}
		tb.Fatalf("%s: %d events, first difference at %d: got %v; want %v", name, len(got.events), i,
			sliceAt(got.events, i), sliceAt(want.events, i))
	}
}

func sliceAt(evs []Event, i int) any {
	if i < len(evs) {
		return evs[i]
	}
	return "no event"
}

// sameError reports whether a and b are both nil or equal SyntaxErrors.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	var sa, sb *SyntaxError
	if !errors.As(a, &sa) || !errors.As(b, &sb) {
		return false
	}
	return *sa == *sb
}
