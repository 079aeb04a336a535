package webm

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/amlive/amlive/internal/ebml"
)

// tinyClusters returns a stream of n Clusters of known size, each holding
// one 1-byte video block, tick timecode units after the previous one; every
// keyEvery-th block is a keyframe (0: every block). Audio is track 1, VP8
// track 2. Each Cluster takes some 15 bytes: within every byte limit, the
// most Clusters a stream of its size can hold.
func tinyClusters(n, keyEvery int, tick uint64) []byte {
	s := cat(ebmlHeader("webm"), elUnknown(idSegment, 8), infoEl(1000000),
		el(idTracks, audioTrack(1, "A_OPUS"), videoTrack(2, "V_VP8", nil)))
	for i := range n {
		key := keyEvery == 0 || i%keyEvery == 0
		flags := byte(0)
		if key {
			flags = 0x80
		}
		body := ebml.AppendUint(nil, idTimecode, uint64(i)*tick)
		body = ebml.AppendBytes(body, idSimpleBlock, []byte{0x82, 0, 0, flags, 0})
		s = ebml.AppendBytes(s, idCluster, body)
	}
	return s
}

// manyTracks returns a stream header with n TrackEntries (audio tracks
// numbered from 1) and one Cluster with a block of track n.
func manyTracks(n int) []byte {
	tracks := ebml.AppendMaster(nil, idTracks, func(b []byte) []byte {
		for i := range n {
			b = ebml.AppendMaster(b, idTrackEntry, func(b []byte) []byte {
				b = ebml.AppendUint(b, idTrackNumber, uint64(i+1))
				return ebml.AppendString(b, idCodecID, "A_OPUS")
			})
		}
		return b
	})
	return cat(ebmlHeader("webm"), elUnknown(idSegment, 8), infoEl(1000000), tracks,
		el(idCluster, uintEl(idTimecode, 0), el(idSimpleBlock, append(sizeBytes(n), 0, 0, 0x80, 0))))
}

// sealedOverhead bounds what Seal adds to a stream whose Clusters already
// have their shortest sizes, besides 44 bytes per CuePoint: SeekHead (3
// Seeks), Info's Duration, the Segment's 8-byte size and the Cues header.
const sealedOverhead = 140

// maxCuePointLen is the longest CuePoint: every number in 8 bytes.
const maxCuePointLen = 44

func TestSealTinyClusters(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		keyEvery int
		tick     uint64 // ms between Clusters
		opts     SealOptions
		wantCues int // with thinned, the least
		thinned  bool
	}{
		{name: "1 ms apart, all keyframes", n: 20_000, tick: 1, wantCues: 40},
		{name: "1 ms apart, keyframe every 10", n: 20_000, keyEvery: 10, tick: 1, wantCues: 40},
		{name: "499 ms apart", n: 1000, tick: 499, wantCues: 500},
		{name: "500 ms apart: every keyframe", n: 1000, tick: 500, wantCues: 1000},
		{name: "2 s apart, every 3rd a keyframe", n: 999, keyEvery: 3, tick: 2000, wantCues: 333},
		{name: "1 s apart over MaxCues 100: thinned", n: 1000, tick: 1000, opts: SealOptions{MaxCues: 100}, wantCues: 50, thinned: true},
		{name: "every keyframe up to MaxCues", n: 1000, tick: 1, opts: SealOptions{CueInterval: -1, MaxCues: 256}, wantCues: 128, thinned: true},
		{name: "MaxCues 1", n: 100, tick: 1000, opts: SealOptions{MaxCues: 1}, wantCues: 1, thinned: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tinyClusters(tc.n, tc.keyEvery, tc.tick)
			var out bytes.Buffer
			info, err := SealWith(&out, bytes.NewReader(src), int64(len(src)), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			maxCues := cmp.Or(tc.opts.MaxCues, DefaultMaxCues)
			if (!tc.thinned && info.Cues != tc.wantCues) || info.Cues < tc.wantCues || info.Cues > maxCues {
				t.Errorf("Cues = %d; want %d (MaxCues %d)", info.Cues, tc.wantCues, maxCues)
			}
			if info.Clusters != tc.n || info.Blocks != tc.n {
				t.Errorf("Clusters %d, Blocks %d; want %d", info.Clusters, info.Blocks, tc.n)
			}
			if limit := len(src) + sealedOverhead + maxCuePointLen*info.Cues; out.Len() > limit {
				t.Errorf("sealed %d bytes from %d; want at most %d", out.Len(), len(src), limit)
			}
			s := checkSealed(t, out.Bytes())
			if len(s.cues) != info.Cues {
				t.Fatalf("%d CuePoints in the file; info.Cues %d", len(s.cues), info.Cues)
			}
			// The Cues cover the whole file, in order.
			last := uint64(tc.n-1) * tc.tick
			for i, c := range s.cues {
				if i > 0 && c.time <= s.cues[i-1].time {
					t.Fatalf("cue %d at %d after %d", i, c.time, s.cues[i-1].time)
				}
			}
			if got := s.cues[len(s.cues)-1].time; tc.opts.CueInterval >= 0 && tc.opts.MaxCues != 1 && got < last/2 {
				t.Errorf("last cue at %d ms; want in the second half of the %d ms", got, last)
			}
		})
	}
}

// sealAlloc returns the bytes Seal allocates sealing src.
func sealAlloc(t *testing.T, src []byte) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := Seal(io.Discard, bytes.NewReader(src), int64(len(src))); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestSealMemory checks that Seal's memory does not grow with the number
// of Clusters: sealing 200,000 tiny Clusters allocates no more than
// sealing 2,000 (already past the first 64 KiB buffer) plus the extra Cues,
// and both stay within the bound SealWith states: sealMemory plus 48
// bytes per CuePoint (24, doubled by append's growth) plus the init
// segment, twice. These are all the bytes it allocates, not only those it
// holds at once.
func TestSealMemory(t *testing.T) {
	small := tinyClusters(5000, 0, 1)
	large := tinyClusters(200_000, 0, 1)
	a, b := sealAlloc(t, small), sealAlloc(t, large)
	init := uint64(len(tinyClusters(0, 0, 1)))
	cues := uint64(200_000/500 + 1)
	bound := sealMemory + 48*cues + 2*init
	if b > bound || b > a+48*cues+8<<10 {
		t.Errorf("Seal allocates %d bytes for 5,000 Clusters, %d for 200,000; want at most %d, and about the same", a, b, bound)
	}
	t.Logf("Seal allocates %d bytes for 5,000 Clusters, %d for 200,000 (%d bytes of input)", a, b, len(large))
}

func TestReaderMaxTracks(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		lim     Limits
		wantErr bool
	}{
		{name: "8 tracks", n: 8},
		{name: "9 tracks", n: 9, wantErr: true},
		{name: "20,000 tracks", n: 20_000, wantErr: true},
		{name: "20,000 tracks allowed", n: 20_000, lim: Limits{MaxTracks: 20_000}},
		{name: "3 tracks, MaxTracks 2", n: 3, lim: Limits{MaxTracks: 2}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := manyTracks(tc.n)
			r := NewReader(tc.lim)
			evs, err := r.Feed(nil, src)
			max := cmp.Or(tc.lim.MaxTracks, DefaultMaxTracks)
			if !tc.wantErr {
				if err != nil || len(r.Tracks()) != tc.n || len(evs) == 0 {
					t.Fatalf("Feed: %v, %d tracks; want nil, %d", err, len(r.Tracks()), tc.n)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrLimit) || se.Reason != fmt.Sprintf("more than %d tracks", max) {
				t.Fatalf("Feed error = %v; want a SyntaxError wrapping ErrLimit, more than %d tracks", err, max)
			}
			// The reader stops at the header of the first TrackEntry too
			// many: it has read no more than the TrackEntries it allows.
			if entry := int64(len(manyTracks(max+1)) - len(manyTracks(max))); r.Offset() > int64(len(manyTracks(0)))+int64(max+1)*entry {
				t.Errorf("read %d bytes before the error; want it at the %d-th TrackEntry", r.Offset(), max+1)
			}
		})
	}
}

// BenchmarkSealTinyClusters seals a stream of 100,000 one-block Clusters
// 1 ms apart, all keyframes, from memory and from a file: the worst case a
// client can send for the seal's per-Cluster work. out/in is the sealed
// file's size over the input's.
func BenchmarkSealTinyClusters(b *testing.B) {
	src := tinyClusters(100_000, 0, 1)
	path := filepath.Join(b.TempDir(), "tiny.webm")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, bc := range []struct {
		name string
		src  io.ReaderAt
	}{
		{name: "memory", src: bytes.NewReader(src)},
		{name: "file", src: f},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			var out bytes.Buffer
			var info SealInfo
			for b.Loop() {
				out.Reset()
				var err error
				if info, err = Seal(&out, bc.src, int64(len(src))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.Len())/float64(len(src)), "out/in")
			b.ReportMetric(float64(info.Keyframes), "keyframes")
		})
	}
}

// BenchmarkReaderTracks parses a header with 20,000 TrackEntries, well
// under MaxInitBytes, with MaxTracks raised to allow them: the parse is
// linear in the number of tracks.
func BenchmarkReaderTracks(b *testing.B) {
	src := manyTracks(20_000)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		r := NewReader(Limits{MaxTracks: 20_000})
		if _, err := r.Feed(nil, src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFeedTracks feeds Clusters of blocks of the last of 2 or 8
// tracks to a reader that has read the header: the time per block is the
// same.
func BenchmarkFeedTracks(b *testing.B) {
	for _, n := range []int{2, 8} {
		b.Run(fmt.Sprintf("tracks=%d", n), func(b *testing.B) {
			head := manyTracks(n)
			head = head[:len(head)-len(el(idCluster, uintEl(idTimecode, 0), el(idSimpleBlock, append(sizeBytes(n), 0, 0, 0x80, 0))))]
			var body []byte
			const blocks = 1000
			for range blocks {
				body = append(body, el(idSimpleBlock, append(sizeBytes(n), 0, 0, 0x80, 0))...)
			}
			cluster := el(idCluster, uintEl(idTimecode, 0), body)
			r := NewReader(Limits{})
			r.Blocks = true
			if _, err := r.Feed(nil, head); err != nil {
				b.Fatal(err)
			}
			evs := make([]Event, 0, blocks+4)
			var err error
			b.SetBytes(int64(len(cluster)))
			b.ReportAllocs()
			for b.Loop() {
				if evs, err = r.Feed(evs[:0], cluster); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*blocks), "ns/block")
		})
	}
}
