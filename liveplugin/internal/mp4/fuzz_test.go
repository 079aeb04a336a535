package mp4

import (
	"fmt"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
)

// maxFuzzBytes caps the input FuzzReader parses, to keep each execution
// fast; TestFixtureSplits covers the full fixtures.
const maxFuzzBytes = 64 << 10

// fuzzSeeds returns the small streams of the unit tests and, for each
// fixture, its chunks, the whole stream and its fragments with their
// mdats cut short (so that all of them fit in maxFuzzBytes).
func fuzzSeeds(tb testing.TB) [][]byte {
	parts := testParts()
	out := [][]byte{
		testStream(),
		cat(parts[0], parts[2]),
		cat(ftyp(), moov(opusTrack), frag(1, trafSpec{track: 1, runs: []runSpec{{durations: []uint32{2880, 1008}, sizes: []uint32{2, 2}, fill: []byte{0x10}}}})),
		cat(ftyp(), moov(avcTrack), frag(1, trafSpec{track: 2, noTfdt: true, runs: []runSpec{{sizes: []uint32{5, 5}, flags: []uint32{syncFlags, nonSyncFlags}}}})),
		oneTrack("vide", videoEntry("hvc1", 640, 360, hvcC(0x01, 0x60000000, [6]byte{0xB0}, 93))),
		oneTrack("vide", videoEntry("vp09", 640, 360, vpcC(0, 10, 8))),
		oneTrack("vide", videoEntry("av01", 640, 360, av1C(0, 4, false, false, false))),
		oneTrack("soun", audioEntry("mp4a", 2, 44100, esds(0x40, []byte{0x12, 0x10}))),
	}
	for _, name := range mp4Sets(tb) {
		set := fixture.Load(tb, name)
		out = append(out, set.Chunks...)
		out = append(out, set.Full)
		cut := append([]byte(nil), set.Chunks[0]...)
		b := set.Full[len(cut):]
		for len(b) >= 8 {
			n := int(be32(b))
			if n < 8 || n > len(b) {
				break
			}
			if string(b[4:8]) == "mdat" {
				cut = append(cut, box("mdat", b[8:min(n, 200)])...)
			} else {
				cut = append(cut, b[:n]...)
			}
			b = b[n:]
		}
		out = append(out, cut)
	}
	return out
}

// FuzzReader checks that the reader never panics; that its events are
// ordered (checkOrder); that the input split at a fuzz-chosen point, and
// split at random, gives the same events, error and offset; that the
// reader holds no more than checkFootprint allows; and that Feed changes
// only the bytes of the durations it repairs.
func FuzzReader(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint64(i), uint16(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, maxInit uint16) {
		data = data[:min(len(data), maxFuzzBytes)]
		lim := Limits{MaxInitBytes: int(maxInit), MaxBoxBytes: 1 << 20, MaxFragmentHeaderBytes: 1 << 16, MaxSamples: 1 << 12}
		want, r := feedPieces(t, lim, [][]byte{data})
		checkOrder(t, want.events)
		checkFootprint(t, r)
		at := int(seed % uint64(len(data)+1))
		got, r2 := feedPieces(t, lim, [][]byte{data[:at], data[at:]})
		checkSameResult(t, fmt.Sprintf("split at %d", at), got, want)
		checkFootprint(t, r2)
		got, r3 := feedPieces(t, lim, splitRandom(data, seed, 1+int(seed%300)))
		checkSameResult(t, fmt.Sprintf("split with seed %d", seed), got, want)
		checkFootprint(t, r3)
		if got.err == nil && len(got.out) != len(data) {
			t.Fatalf("Feed gave %d bytes back of %d", len(got.out), len(data))
		}
		// Fed whole, no repair is missed; fed in pieces, Feed changes no
		// more than the four bytes of each duration it repairs.
		if r.MissedRepairs() != 0 {
			t.Fatalf("fed whole, MissedRepairs() = %d; want 0", r.MissedRepairs())
		}
		for _, c := range []struct {
			res feedResult
			r   *Reader
		}{{want, r}, {got, r3}} {
			diff := 0
			for i := range c.res.out {
				if c.res.out[i] != data[i] {
					diff++
				}
			}
			if diff > 4*c.r.Repairs() {
				t.Fatalf("Feed changed %d bytes with %d repairs", diff, c.r.Repairs())
			}
		}
	})
}

// checkOrder fails unless at most one KindInit comes first, fragments
// come at strictly increasing offsets, each KindSync right after the
// KindFragment of its moof, and each KindSample after them, with data
// after its moof.
func checkOrder(tb testing.TB, evs []Event) {
	tb.Helper()
	frag := int64(-1)
	for i, ev := range evs {
		switch ev.Kind {
		case KindInit:
			if i != 0 || ev.Offset <= 0 {
				tb.Fatalf("event %d is %v; want init first or never", i, ev)
			}
		case KindFragment:
			if ev.Offset <= frag || (frag < 0 && (len(evs) == 0 || evs[0].Kind != KindInit || ev.Offset != evs[0].Offset)) {
				tb.Fatalf("event %d %v: not after the fragment at %d, or the first not at the init segment's end", i, ev, frag)
			}
			frag = ev.Offset
		case KindSync:
			if prev := evs[i-1]; prev.Kind != KindFragment || prev.Offset != ev.Offset || prev.Timecode != ev.Timecode {
				tb.Fatalf("event %d %v: not right after its fragment (%v)", i, ev, prev)
			}
		case KindSample:
			if frag < 0 || ev.Offset <= frag || ev.Size < 0 {
				tb.Fatalf("event %d %v: not data after the fragment at %d", i, ev, frag)
			}
		default:
			tb.Fatalf("event %d %v: unknown kind", i, ev)
		}
	}
}
