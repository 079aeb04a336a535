package mp4

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/fixture"
)

// sealLongRecording writes to path the MP4 fixture's init segment and its
// fragments repeated reps times, each repetition's decode times following
// on from the previous one's, and returns the file's size and duration.
func sealLongRecording(tb testing.TB, path string, reps int) (int64, time.Duration) {
	tb.Helper()
	fx := fixture.Load(tb, fixture.MP4)
	sc := sealScan{src: bytes.NewReader(fx.Full), size: int64(len(fx.Full)), o: SealOptions{}.withDefaults()}
	if err := sc.run(); err != nil {
		tb.Fatal(err)
	}
	frags := sealTestFrags(fx.Full)
	body := fx.Full[frags[0].off : frags[len(frags)-1].off+frags[len(frags)-1].size]
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(fx.Full[:frags[0].off]); err != nil {
		tb.Fatal(err)
	}
	for rep := range reps {
		b := bytes.Clone(body)
		for _, fr := range frags {
			moof := b[fr.off-frags[0].off:]
			moof = moof[:binary.BigEndian.Uint32(moof)]
			err := sealChildren(moof[8:], 0, func(c sealBox, p []byte) error {
				if c.typ != "traf" {
					return nil
				}
				t := sc.track(binary.BigEndian.Uint32(sealTestFind(p, "tfhd")[4:]))
				tfdt := sealTestFind(p, "tfdt")
				binary.BigEndian.PutUint64(tfdt[4:], binary.BigEndian.Uint64(tfdt[4:])+uint64(rep)*t.end)
				return nil
			})
			if err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := f.Write(b); err != nil {
			tb.Fatal(err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size(), time.Duration(reps) * sc.info.Duration
}

// BenchmarkSeal seals a recording of some 20 minutes (33 MB) of the MP4
// fixture from a file; it reports the throughput.
func BenchmarkSeal(b *testing.B) {
	path := filepath.Join(b.TempDir(), "long.mp4")
	size, d := sealLongRecording(b, path, 100)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		info, err := Seal(io.Discard, f, size)
		if err != nil || info.Fragments != 600 {
			b.Fatalf("Seal() = %+v, %v; want 600 fragments", info, err)
		}
		if diff := info.Duration - d; diff < -time.Second || diff > time.Second {
			b.Fatalf("Duration %v; want about %v", info.Duration, d)
		}
	}
}
