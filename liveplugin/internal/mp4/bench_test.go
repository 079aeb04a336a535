package mp4

import (
	"bytes"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
)

// BenchmarkReader feeds the fixture chunk by chunk, as a relay does.
func BenchmarkReader(b *testing.B) {
	set := fixture.Load(b, fixture.MP4)
	chunks := make([][]byte, len(set.Chunks))
	for i, c := range set.Chunks {
		chunks[i] = bytes.Clone(c) // Feed repairs in place
	}
	b.SetBytes(int64(len(set.Full)))
	b.ReportAllocs()
	evs := make([]Event, 0, 256)
	for b.Loop() {
		r := NewReader(Limits{})
		for _, c := range chunks {
			var err error
			if evs, err = r.Feed(evs[:0], c); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFragments feeds small fragments to a reader that has read the
// init segment: the cost per fragment, moof parsing and all, without the
// mdat bytes that dominate BenchmarkReader.
func BenchmarkFragments(b *testing.B) {
	parts := testParts()
	r := NewReader(Limits{})
	if _, err := r.Feed(nil, parts[0]); err != nil {
		b.Fatal(err)
	}
	frags := cat(parts[1], parts[2], parts[3])
	evs := make([]Event, 0, 64)
	b.SetBytes(int64(len(frags)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if evs, err = r.Feed(evs[:0], frags); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(3*b.N), "ns/fragment")
}
