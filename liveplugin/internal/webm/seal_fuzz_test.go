package webm

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
)

// FuzzSeal checks that Seal never panics, that its allocations stay
// within the bound SealWith states, and that when it succeeds its output
// is a well-formed sealed file holding the input's complete blocks, which
// seals to itself, no larger than SealWith says.
func FuzzSeal(f *testing.F) {
	for _, s := range handBuiltStreams() {
		f.Add(s)
	}
	for _, name := range fixture.WebM {
		fx := loadFixture(f, name)
		f.Add(fx.Full[:min(len(fx.Full), maxFuzzBytes)])
		f.Add(fx.Chunks[0])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:min(len(data), maxFuzzBytes)]
		var out bytes.Buffer
		info, err := Seal(&out, bytes.NewReader(data), int64(len(data)))
		// Seal's own allocations, writing to io.Discard: the bound SealWith
		// states, with the init segment at most the input, plus 64 KiB for
		// anything else the process allocates meanwhile. Measured up to
		// three times before failing, since other goroutines of the
		// process (the fuzzing engine's) may allocate meanwhile.
		limit := sealMemory + 2*uint64(len(data)) + 48*uint64(info.Cues) + 64<<10
		for i := 0; ; i++ {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _ = Seal(io.Discard, bytes.NewReader(data), int64(len(data)))
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc <= limit {
				break
			} else if i == 2 {
				t.Fatalf("Seal of %d bytes allocated %d bytes, three times; want at most %d", len(data), alloc, limit)
			}
		}
		if err != nil {
			return
		}
		if info.Cues > DefaultMaxCues || info.Cues > info.Keyframes {
			t.Fatalf("%d cues for %d keyframes; want at most those and %d", info.Cues, info.Keyframes, DefaultMaxCues)
		}
		if limit := len(data) + sealedOverhead + maxCuePointLen*info.Cues + len(data)/127; out.Len() > limit {
			t.Fatalf("sealed %d bytes from %d; want at most %d", out.Len(), len(data), limit)
		}
		if info.Size != int64(out.Len()) {
			t.Fatalf("Size = %d; wrote %d", info.Size, out.Len())
		}
		s := checkSealed(t, out.Bytes())
		if len(s.blocks) != info.Blocks || len(s.clusters) != info.Clusters || len(s.cues) != info.Cues || info.Cues > info.Keyframes {
			t.Fatalf("sealed file has %d blocks, %d clusters, %d cues; info %+v", len(s.blocks), len(s.clusters), len(s.cues), info)
		}
		in, _, _ := readBlocks(t, data)
		if len(in) < info.Blocks {
			t.Fatalf("sealed %d blocks out of %d", info.Blocks, len(in))
		}
		sameBlocks(t, "sealed", s.blocks, in[:info.Blocks])
		again, info2 := seal(t, out.Bytes())
		if !bytes.Equal(again, out.Bytes()) || info2.Partial || info2.Fault != nil || info2.Duration != info.Duration {
			t.Fatalf("resealing: %d bytes, info %+v; want the same %d bytes, info %+v", len(again), info2, out.Len(), info)
		}
	})
}
