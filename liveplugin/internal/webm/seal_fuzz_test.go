package webm

import (
	"bytes"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
)

// FuzzSeal checks that Seal never panics, and that when it succeeds its
// output is a well-formed sealed file holding the input's complete blocks,
// which seals to itself.
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
		if err != nil {
			return
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
