package mp4

import (
	"bytes"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
)

// FuzzSeal checks that Seal never panics, that what it writes is what its
// SealInfo says, a file of the expected structure (ftyp, moov, sidx,
// fragments, mfra) whose sidx covers every fragment, and that sealing it
// again gives the same file.
func FuzzSeal(f *testing.F) {
	fx := fixture.Load(f, fixture.MP4)
	f.Add(fx.Full)
	frags := sealTestFrags(fx.Full)
	f.Add(fx.Full[:frags[1].off+frags[1].size+100])
	sealed, _ := sealBytes(f, fx.Full[:frags[1].off+frags[1].size])
	f.Add(sealed)
	video := sealTestTrack{id: 2, video: true, timescale: 90000, trexFlags: sealNotSync}
	audio := sealTestTrack{id: 1, timescale: 48000, trexDur: 960}
	f.Add(sealTestFile(sealTestInit(true, audio, video), 3, func(i int, at int64) []byte {
		v := sealTestTraf{id: 2, tfdt: uint64(i) * 90000, count: 3, durs: sealRepeat(30000, 3), base: i == 1}
		if i != 1 {
			v.first = &sealSync
		}
		return sealTestFragment(at, uint32(i+1), sealTestTraf{id: 1, noTfdt: true, count: 4, defDur: 12000}, v)
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		info, err := SealWith(&out, bytes.NewReader(b), int64(len(b)), SealOptions{MaxFragments: 4096})
		if err != nil {
			if out.Len() != 0 {
				t.Fatalf("Seal() error %v after writing %d bytes", err, out.Len())
			}
			return
		}
		if info.Size != int64(out.Len()) || info.Fragments < 1 || info.Keyframes > info.Fragments || info.Index > info.Fragments || info.LastSample > info.Duration {
			t.Fatalf("Seal() info %+v for %d bytes written", info, out.Len())
		}
		s := sealTestCheck(t, out.Bytes())
		if len(s.moofs) != info.Fragments || len(s.sidx.refs) != info.Index {
			t.Fatalf("%d moofs, %d sidx references; info %+v", len(s.moofs), len(s.sidx.refs), info)
		}
		var again bytes.Buffer
		info2, err := Seal(&again, bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("resealing: %v, %d bytes, equal %v", err, again.Len(), bytes.Equal(again.Bytes(), out.Bytes()))
		}
		if info2.Duration != info.Duration || info2.Fragments != info.Fragments || info2.Keyframes != info.Keyframes || info2.Partial || info2.Fault != nil {
			t.Fatalf("resealing info %+v; want %+v", info2, info)
		}
	})
}
