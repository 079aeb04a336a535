package mp4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"
)

// sealTestTrakDurations returns, for each trak of the moov of b, its
// tkhd and mdhd versions and durations.
func sealTestTrakDurations(b []byte) (vers []byte, tkhd, mdhd []uint64) {
	p := sealTestFind(b, "moov")
	for len(p) >= 8 {
		size := int(binary.BigEndian.Uint32(p))
		if string(p[4:8]) == "trak" {
			trak := p[:size]
			tk := sealTestFind(trak, "trak/tkhd")
			md := sealTestFind(trak, "trak/mdia/mdhd")
			_, d1 := sealTestFullDuration(tk, 2)
			_, d2 := sealTestFullDuration(md, 1)
			vers = append(vers, tk[0], md[0])
			tkhd, mdhd = append(tkhd, d1), append(mdhd, d2)
		}
		p = p[size:]
	}
	return vers, tkhd, mdhd
}

func TestSealHandBuilt(t *testing.T) {
	audio := sealTestTrack{id: 1, timescale: 48000}
	video := sealTestTrack{id: 2, video: true, timescale: 90000, trexFlags: sealNotSync}
	tests := []struct {
		name string
		give []byte
		// want
		duration  time.Duration
		last      time.Duration
		keyframes int
		refs      int // sidx references
		refDurs   []uint32
		sap       []bool
		mdhd      []uint64 // per track
		tkhd      []uint64
		vers      []byte // tkhd and mdhd versions, per track
		mvhd      uint64
	}{
		{
			name: "audio only, version 0 boxes, tfhd default durations",
			give: sealTestFile(sealTestInit(true, audio), 3, func(i int, at int64) []byte {
				return sealTestFragment(at, uint32(i+1), sealTestTraf{id: 1, tfdt: uint64(i) * 48000, count: 50, defDur: 960})
			}),
			duration: 3 * time.Second, last: 3*time.Second - 20*time.Millisecond,
			keyframes: 3, refs: 3, refDurs: []uint32{48000, 48000, 48000}, sap: []bool{true, true, true},
			mdhd: []uint64{144000}, tkhd: []uint64{3000}, vers: []byte{0, 0}, mvhd: 3000,
		},
		{
			// Chromium's last Opus sample of a fragment claims 1008 ticks
			// instead of 2880: the next fragment's tfdt gives the true
			// extent; the last one's can only be trusted as it is.
			name: "short last sample of each fragment",
			give: sealTestFile(sealTestInit(false, audio), 3, func(i int, at int64) []byte {
				durs := append(sealRepeat(2880, 9), 1008)
				return sealTestFragment(at, uint32(i+1), sealTestTraf{id: 1, tfdt: uint64(i) * 28800, count: 10, durs: durs})
			}),
			duration: 1800*time.Millisecond - 39*time.Millisecond, last: 1800*time.Millisecond - 60*time.Millisecond,
			keyframes: 3, refs: 3, refDurs: []uint32{28800, 28800, 28800 - 1872}, sap: []bool{true, true, true},
			mdhd: []uint64{86400 - 1872}, tkhd: []uint64{1761}, vers: []byte{1, 1}, mvhd: 1761,
		},
		{
			// Sync flags from first_sample_flags, else the trex's (not
			// sync); a fragment without video traf starts no keyframe;
			// durations from trex.
			name: "video keyframes and trex defaults",
			give: sealTestFile(sealTestInit(false, sealTestTrack{id: 1, timescale: 48000, trexDur: 960}, video), 4, func(i int, at int64) []byte {
				a := sealTestTraf{id: 1, tfdt: uint64(i) * 48000, count: 50}
				v := sealTestTraf{id: 2, tfdt: uint64(i) * 90000, count: 30, durs: sealRepeat(3000, 30)}
				switch i {
				case 0, 2:
					v.first = &sealSync
				case 3:
					return sealTestFragment(at, uint32(i+1), a)
				}
				return sealTestFragment(at, uint32(i+1), a, v)
			}),
			duration: 4 * time.Second, last: 4*time.Second - 20*time.Millisecond,
			keyframes: 2, refs: 4, refDurs: []uint32{90000, 90000, 90000, 0}, sap: []bool{true, false, true, false},
			mdhd: []uint64{192000, 270000}, tkhd: []uint64{4000, 3000}, vers: []byte{1, 1, 1, 1}, mvhd: 4000,
		},
		{
			// mdhd's duration no longer fits in 32 bits: the version 0
			// box becomes version 1 (tkhd's, in ms, still fits).
			name: "duration past 32 bits",
			give: sealTestFile(sealTestInit(true, video), 2, func(i int, at int64) []byte {
				return sealTestFragment(at, uint32(i+1), sealTestTraf{id: 2, tfdt: 5_000_000_000 + uint64(i)*90000, count: 30, durs: sealRepeat(3000, 30), first: &sealSync})
			}),
			duration:  time.Duration((5_000_180_000*int64(time.Second) + 45000) / 90000),
			last:      time.Duration((5_000_177_000*int64(time.Second) + 45000) / 90000),
			keyframes: 2, refs: 2, refDurs: []uint32{90000, 90000}, sap: []bool{true, true},
			mdhd: []uint64{5_000_180_000}, tkhd: []uint64{55557556}, vers: []byte{0, 1}, mvhd: 55557556,
		},
		{
			name: "no tfdt: samples follow on",
			give: sealTestFile(sealTestInit(false, audio), 3, func(i int, at int64) []byte {
				return sealTestFragment(at, uint32(i+1), sealTestTraf{id: 1, noTfdt: true, count: 50, defDur: 960})
			}),
			duration: 3 * time.Second, last: 3*time.Second - 20*time.Millisecond,
			keyframes: 3, refs: 3, refDurs: []uint32{48000, 48000, 48000}, sap: []bool{true, true, true},
			mdhd: []uint64{144000}, tkhd: []uint64{3000}, vers: []byte{1, 1}, mvhd: 3000,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, info := sealBytes(t, tc.give)
			s := sealTestCheck(t, out)
			if info.Duration != tc.duration || info.LastSample != tc.last || info.Keyframes != tc.keyframes || info.Index != tc.refs {
				t.Errorf("Seal() = %+v; want Duration %v, LastSample %v, Keyframes %d, Index %d", info, tc.duration, tc.last, tc.keyframes, tc.refs)
			}
			var durs []uint32
			var saps []bool
			for _, r := range s.sidx.refs {
				durs, saps = append(durs, r.dur), append(saps, r.sap)
			}
			if !slices.Equal(durs, tc.refDurs) || !slices.Equal(saps, tc.sap) {
				t.Errorf("sidx durations %v, SAPs %v; want %v, %v", durs, saps, tc.refDurs, tc.sap)
			}
			if len(s.tfra) != tc.keyframes {
				t.Errorf("%d tfra entries; want %d", len(s.tfra), tc.keyframes)
			}
			vers, tkhd, mdhd := sealTestTrakDurations(out)
			if !slices.Equal(vers, tc.vers) || !slices.Equal(tkhd, tc.tkhd) || !slices.Equal(mdhd, tc.mdhd) {
				t.Errorf("tkhd and mdhd versions %v, tkhd durations %v, mdhd durations %v; want %v, %v, %v", vers, tkhd, mdhd, tc.vers, tc.tkhd, tc.mdhd)
			}
			if _, d := sealTestFullDuration(sealTestFind(out, "moov/mvhd"), 1); d != tc.mvhd {
				t.Errorf("mvhd duration %d; want %d", d, tc.mvhd)
			}
			again, _ := sealBytes(t, out)
			if !bytes.Equal(again, out) {
				t.Errorf("resealing changes the file")
			}
		})
	}
}

// TestSealBaseDataOffset: a tfhd with an explicit base_data_offset (an
// absolute file offset) still points at its samples once the fragment has
// moved: here a free box before the first moof is dropped and a sidx
// added.
func TestSealBaseDataOffset(t *testing.T) {
	video := sealTestTrack{id: 2, video: true, timescale: 90000}
	init := append(sealTestInit(false, video), sealTestBox32("free", make([]byte, 100))...)
	in := sealTestFile(init, 3, func(i int, at int64) []byte {
		return sealTestFragment(at, uint32(i+1), sealTestTraf{id: 2, tfdt: uint64(i) * 90000, count: 5, durs: sealRepeat(18000, 5), first: &sealSync, base: true})
	})
	out, info := sealBytes(t, in)
	s := sealTestCheck(t, out)
	if info.Fragments != 3 || len(s.moofs) != 3 {
		t.Fatalf("Fragments %d; want 3", info.Fragments)
	}
	for i, off := range s.moofs {
		moof := out[off:]
		tfhd := sealTestFind(moof, "moof/traf/tfhd")
		trun := sealTestFind(moof, "moof/traf/trun")
		base := int64(binary.BigEndian.Uint64(tfhd[8:]))
		data := int64(binary.BigEndian.Uint32(trun[8:]))
		for j := range 5 {
			at := base + data + 4*int64(j)
			if got, want := out[at:at+4], sealTestSample(uint32(i+1), 0, j); !bytes.Equal(got, want) {
				t.Errorf("fragment %d sample %d: bytes %x at base_data_offset %d; want %x", i, j, got, base, want)
			}
		}
	}
	again, _ := sealBytes(t, out)
	if !bytes.Equal(again, out) {
		t.Errorf("resealing changes the file")
	}
	// A base_data_offset outside its fragment is refused.
	bad := bytes.Clone(in)
	frags := sealTestFrags(bad)
	tfhd := bytes.Index(bad[frags[0].off:], []byte("tfhd")) + int(frags[0].off)
	binary.BigEndian.PutUint64(bad[tfhd+8:], 5)
	var buf bytes.Buffer
	if _, err := Seal(&buf, bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrMalformed) {
		t.Errorf("Seal(base_data_offset outside the fragment) error = %v; want ErrMalformed", err)
	}
}

// TestSealManyFragments: past 65,535 fragments, a sidx reference covers
// several, so that the sidx still indexes the whole file.
func TestSealManyFragments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a file of 70,000 fragments")
	}
	audio := sealTestTrack{id: 1, timescale: 1000}
	const n = 70000
	in := sealTestFile(sealTestInit(false, audio), n, func(i int, at int64) []byte {
		return sealTestFragment(at, uint32(i+1), sealTestTraf{id: 1, tfdt: uint64(i) * 20, count: 1, defDur: 20})
	})
	out, info := sealBytes(t, in)
	s := sealTestCheck(t, out)
	if info.Fragments != n || len(s.moofs) != n || info.Index != n/2 || len(s.sidx.refs) != n/2 || len(s.tfra) != n {
		t.Errorf("Fragments %d, %d moofs, Index %d, %d references, %d tfra entries; want %d, %d, %d, %d, %d", info.Fragments, len(s.moofs), info.Index, len(s.sidx.refs), len(s.tfra), n, n, n/2, n/2, n)
	}
	for i, r := range s.sidx.refs {
		if r.dur != 40 || !r.sap {
			t.Fatalf("reference %d: duration %d, SAP %v; want 40, true", i, r.dur, r.sap)
		}
	}
	if info.Duration != n*20*time.Millisecond {
		t.Errorf("Duration %v; want %v", info.Duration, n*20*time.Millisecond)
	}
}
