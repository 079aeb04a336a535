package mp4

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/fixture"
)

// sealSets returns the names of the MP4 fixture sets.
func sealSets(tb testing.TB) []string {
	tb.Helper()
	entries, err := os.ReadDir(fixture.Dir(tb))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "mp4-") {
			out = append(out, e.Name())
		}
	}
	if !slices.Contains(out, fixture.MP4) {
		tb.Fatalf("MP4 sets %v; want %s among them", out, fixture.MP4)
	}
	return out
}

// sealTestBox is a top-level box of a file, as the tests' own walk finds it.
type sealTestBox struct {
	typ       string
	off, size int64
}

// sealTestTop walks the top-level boxes of b, which must be whole.
func sealTestTop(tb testing.TB, b []byte) []sealTestBox {
	tb.Helper()
	var out []sealTestBox
	for off := int64(0); off < int64(len(b)); {
		if int64(len(b))-off < 8 {
			tb.Fatalf("box header cut short at %d", off)
		}
		size := int64(binary.BigEndian.Uint32(b[off:]))
		if size == 1 && int64(len(b))-off >= 16 {
			size = int64(binary.BigEndian.Uint64(b[off+8:]))
		}
		if size < 8 || size > int64(len(b))-off {
			tb.Fatalf("box at %d of size %d in %d bytes", off, size, len(b))
		}
		out = append(out, sealTestBox{typ: string(b[off+4 : off+8]), off: off, size: size})
		off += size
	}
	return out
}

// sealTestFind returns the payload of the first box at path (e.g.
// "moov/mvex/mehd") in b, a sequence of boxes, or nil.
func sealTestFind(b []byte, path string) []byte {
	first, rest, _ := strings.Cut(path, "/")
	for len(b) >= 8 {
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			return nil
		}
		if string(b[4:8]) == first {
			if rest == "" {
				return b[8:size]
			}
			return sealTestFind(b[8:size], rest)
		}
		b = b[size:]
	}
	return nil
}

// sealTestCount counts the boxes called typ among the children of the
// box at path of b.
func sealTestCount(b []byte, path, typ string) int {
	p := sealTestFind(b, path)
	n := 0
	for len(p) >= 8 {
		size := int(binary.BigEndian.Uint32(p))
		if size < 8 || size > len(p) {
			break
		}
		if string(p[4:8]) == typ {
			n++
		}
		p = p[size:]
	}
	return n
}

// sealTestFrag is a fragment of an input file, read by the tests' walk.
type sealTestFrag struct {
	off, size int64 // moof and mdat
}

// sealTestFrags returns the fragments of an unsealed file b, up to the
// first box that is not whole.
func sealTestFrags(b []byte) []sealTestFrag {
	var out []sealTestFrag
	var moof int64 = -1
	for off := int64(0); off+8 <= int64(len(b)); {
		size := int64(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > int64(len(b)) {
			break
		}
		switch string(b[off+4 : off+8]) {
		case "moof":
			moof = off
		case "mdat":
			if moof >= 0 {
				out = append(out, sealTestFrag{off: moof, size: off + size - moof})
			}
			moof = -1
		}
		off += size
	}
	return out
}

// sealTestSidx is a parsed sidx.
type sealTestSidx struct {
	refID, timescale uint32
	ept, first       uint64
	refs             []sealTestRef
}

type sealTestRef struct {
	size, dur uint32
	sap       bool
	sapType   uint32
}

// sealTestParseSidx parses the payload of a sidx.
func sealTestParseSidx(tb testing.TB, p []byte) sealTestSidx {
	tb.Helper()
	var s sealTestSidx
	if len(p) < 12 {
		tb.Fatalf("sidx of %d bytes", len(p))
	}
	s.refID = binary.BigEndian.Uint32(p[4:])
	s.timescale = binary.BigEndian.Uint32(p[8:])
	p2 := p[12:]
	if p[0] == 0 {
		s.ept, s.first = uint64(binary.BigEndian.Uint32(p2)), uint64(binary.BigEndian.Uint32(p2[4:]))
		p2 = p2[8:]
	} else {
		s.ept, s.first = binary.BigEndian.Uint64(p2), binary.BigEndian.Uint64(p2[8:])
		p2 = p2[16:]
	}
	n := int(binary.BigEndian.Uint16(p2[2:]))
	p2 = p2[4:]
	if len(p2) != 12*n {
		tb.Fatalf("sidx with %d references in %d bytes", n, len(p2))
	}
	for i := range n {
		e := p2[12*i:]
		typeSize := binary.BigEndian.Uint32(e)
		if typeSize>>31 != 0 {
			tb.Errorf("sidx reference %d points at a sidx; want media", i)
		}
		sap := binary.BigEndian.Uint32(e[8:])
		s.refs = append(s.refs, sealTestRef{size: typeSize & 0x7fffffff, dur: binary.BigEndian.Uint32(e[4:]), sap: sap>>31 == 1, sapType: sap >> 28 & 7})
	}
	return s
}

// sealTestSealed is what the tests read back from a sealed file.
type sealTestSealed struct {
	top      []sealTestBox
	sidx     sealTestSidx
	moofs    []int64 // offsets of the moofs
	duration time.Duration
	mehd     time.Duration
	tfra     []uint64 // moof offsets listed by the tfra
}

// sealTestCheck reads a sealed file back and checks its structure: ftyp,
// moov (with one mehd), sidx, fragments, mfra; the sidx references
// covering each fragment in turn; the mfra pointing at moofs.
func sealTestCheck(tb testing.TB, b []byte) sealTestSealed {
	tb.Helper()
	var s sealTestSealed
	s.top = sealTestTop(tb, b)
	var types []string
	for _, bx := range s.top {
		if bx.typ == "mdat" || (bx.typ == "moof" && len(types) > 0 && types[len(types)-1] == "moof+mdat") {
			continue
		}
		if bx.typ == "moof" {
			types = append(types, "moof+mdat")
			continue
		}
		types = append(types, bx.typ)
	}
	want := []string{"ftyp", "moov", "sidx", "moof+mdat", "mfra"}
	if !slices.Equal(types, want) && !slices.Equal(types, want[:4]) {
		tb.Fatalf("top-level boxes %v; want %v", types, want)
	}
	var sidxEnd int64
	for i, bx := range s.top {
		switch bx.typ {
		case "moof":
			s.moofs = append(s.moofs, bx.off)
			if i+1 == len(s.top) || s.top[i+1].typ != "mdat" {
				tb.Fatalf("moof at %d not followed by an mdat", bx.off)
			}
		case "sidx":
			s.sidx = sealTestParseSidx(tb, b[bx.off+8:bx.off+bx.size])
			sidxEnd = bx.off + bx.size
		}
	}
	if got := sealTestCount(b, "moov", "mvex"); got != 1 {
		tb.Fatalf("%d mvex; want 1", got)
	}
	if got := sealTestCount(b, "moov/mvex", "mehd"); got != 1 {
		tb.Fatalf("%d mehd; want 1", got)
	}
	mvhd := sealTestFind(b, "moov/mvhd")
	ts, dur := sealTestFullDuration(mvhd, 1)
	s.duration = time.Duration(float64(dur) / float64(ts) * float64(time.Second))
	mehd := sealTestFind(b, "moov/mvex/mehd")
	var md uint64
	if mehd[0] == 1 {
		md = binary.BigEndian.Uint64(mehd[4:])
	} else {
		md = uint64(binary.BigEndian.Uint32(mehd[4:]))
	}
	if md != dur {
		tb.Errorf("mehd fragment_duration %d; want mvhd's %d", md, dur)
	}
	s.mehd = time.Duration(float64(md) / float64(ts) * float64(time.Second))

	// Each reference covers the next fragments, from the first moof on.
	pos := sidxEnd + int64(s.sidx.first)
	if len(s.moofs) == 0 || pos != s.moofs[0] {
		tb.Fatalf("sidx first_offset leads to %d; want the first moof %v", pos, s.moofs[:min(1, len(s.moofs))])
	}
	var fragEnd int64
	for _, bx := range s.top {
		if bx.typ == "mdat" {
			fragEnd = bx.off + bx.size
		}
	}
	for i, r := range s.sidx.refs {
		pos += int64(r.size)
		if i+1 < len(s.sidx.refs) && !sealTestIsMoof(s.moofs, pos) {
			tb.Fatalf("sidx reference %d ends at %d, not at a moof", i, pos)
		}
	}
	if pos != fragEnd {
		tb.Fatalf("sidx references end at %d; want the end of the last mdat %d", pos, fragEnd)
	}
	last := s.top[len(s.top)-1]
	if last.typ == "mfra" {
		p := sealTestFind(b[last.off:], "mfra/tfra")
		mfro := sealTestFind(b[last.off:], "mfra/mfro")
		if p == nil || mfro == nil || int64(binary.BigEndian.Uint32(mfro[4:])) != last.size {
			tb.Fatalf("mfra without tfra, or mfro not giving its size %d", last.size)
		}
		if binary.BigEndian.Uint32(p[4:]) != s.sidx.refID {
			tb.Errorf("tfra track %d; want the sidx's %d", binary.BigEndian.Uint32(p[4:]), s.sidx.refID)
		}
		n := int(binary.BigEndian.Uint32(p[12:]))
		if p[0] != 1 || len(p) != 16+19*n {
			tb.Fatalf("tfra version %d with %d entries in %d bytes", p[0], n, len(p))
		}
		for i := range n {
			off := binary.BigEndian.Uint64(p[16+19*i+8:])
			if !sealTestIsMoof(s.moofs, int64(off)) {
				tb.Errorf("tfra entry %d points at %d, not a moof", i, off)
			}
			s.tfra = append(s.tfra, off)
		}
	}
	return s
}

// sealTestFullDuration returns the timescale and duration of an mvhd or
// mdhd payload (k=1), or the duration of a tkhd (k=2, timescale 0).
func sealTestFullDuration(p []byte, k int) (ts uint32, dur uint64) {
	if p[0] == 1 {
		if k == 1 {
			ts = binary.BigEndian.Uint32(p[20:])
		}
		return ts, binary.BigEndian.Uint64(p[20+4*k:])
	}
	if k == 1 {
		ts = binary.BigEndian.Uint32(p[12:])
	}
	return ts, uint64(binary.BigEndian.Uint32(p[12+4*k:]))
}

// sealBytes seals b and checks Size.
func sealBytes(tb testing.TB, b []byte) ([]byte, SealInfo) {
	tb.Helper()
	var out bytes.Buffer
	info, err := Seal(&out, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatalf("Seal(%d bytes) error = %v", len(b), err)
	}
	if info.Size != int64(out.Len()) {
		tb.Fatalf("Seal() Size = %d; wrote %d", info.Size, out.Len())
	}
	return out.Bytes(), info
}

// sealTool returns the path of an external program, skipping the test
// when it is missing, except in CI, where that is a failure.
func sealTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s not installed: %v", name, err)
		}
		tb.Skipf("%s not installed", name)
	}
	return p
}

// sealTestPacket is a packet as ffprobe reports it.
type sealTestPacket struct {
	Stream int    `json:"stream_index"`
	PTS    string `json:"pts_time"`
	Flags  string `json:"flags"`
}

// sealFFprobe runs ffprobe on path and returns its format duration and
// its packets (of the video streams only, if video).
func sealFFprobe(tb testing.TB, path string, video bool) (time.Duration, []sealTestPacket) {
	tb.Helper()
	args := []string{"-v", "error", "-show_entries", "format=duration:packet=stream_index,pts_time,flags", "-show_packets", "-of", "json"}
	if video {
		args = append(args, "-select_streams", "v")
	}
	b, err := exec.Command(sealTool(tb, "ffprobe"), append(args, path)...).Output()
	if err != nil {
		tb.Fatalf("ffprobe %s: %v", path, err)
	}
	var res struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Packets []sealTestPacket `json:"packets"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		tb.Fatalf("ffprobe output: %v", err)
	}
	return sealSeconds(tb, res.Format.Duration), res.Packets
}

func sealSeconds(tb testing.TB, s string) time.Duration {
	tb.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		tb.Fatalf("ffprobe time %q; want a number", s)
	}
	return time.Duration(math.Round(f * float64(time.Second)))
}

// sealTestLastEnd returns the latest end of a stream, start time plus
// duration, as ffprobe reads the unsealed file at path by scanning its
// fragments.
func sealTestLastEnd(tb testing.TB, path string) time.Duration {
	tb.Helper()
	b, err := exec.Command(sealTool(tb, "ffprobe"), "-v", "error", "-show_entries", "stream=start_time,duration", "-of", "json", path).Output()
	if err != nil {
		tb.Fatalf("ffprobe %s: %v", path, err)
	}
	var res struct {
		Streams []struct {
			Start    string `json:"start_time"`
			Duration string `json:"duration"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(b, &res); err != nil || len(res.Streams) == 0 {
		tb.Fatalf("ffprobe output %s: %v", b, err)
	}
	var end time.Duration
	for _, st := range res.Streams {
		end = max(end, sealSeconds(tb, st.Start)+sealSeconds(tb, st.Duration))
	}
	return end
}

func TestSealFixtures(t *testing.T) {
	for _, name := range sealSets(t) {
		t.Run(name, func(t *testing.T) {
			fx := fixture.Load(t, name)
			dir := t.TempDir()
			inPath := filepath.Join(dir, "in.mp4")
			if err := os.WriteFile(inPath, fx.Full, 0o644); err != nil {
				t.Fatal(err)
			}
			frags := sealTestFrags(fx.Full)
			out, info := sealBytes(t, fx.Full)
			s := sealTestCheck(t, out)
			if info.Fragments != len(frags) || len(s.moofs) != len(frags) || info.Index != len(frags) || len(s.sidx.refs) != len(frags) {
				t.Errorf("Fragments %d, %d moofs, Index %d, %d sidx references; want %d each", info.Fragments, len(s.moofs), info.Index, len(s.sidx.refs), len(frags))
			}
			if info.Partial || info.Fault != nil {
				t.Errorf("Partial %v, Fault %v; want neither", info.Partial, info.Fault)
			}
			// The fragments are copied byte for byte.
			var body []byte
			for _, f := range frags {
				body = append(body, fx.Full[f.off:f.off+f.size]...)
			}
			first := s.moofs[0]
			if got := out[first : first+int64(len(body))]; !bytes.Equal(got, body) {
				t.Errorf("sealed fragments differ from the recording's")
			}
			if !bytes.Equal(out[:fx.St.InitSegmentEnd][:36], fx.Full[:36]) {
				t.Errorf("ftyp changed")
			}

			lastEnd := sealTestLastEnd(t, inPath)
			if d := info.Duration - lastEnd; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("Duration %v; want the last sample's end %v", info.Duration, lastEnd)
			}
			if d := s.duration - info.Duration; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("mvhd duration %v; want Duration %v", s.duration, info.Duration)
			}
			if info.LastSample >= info.Duration || info.LastSample < info.Duration-100*time.Millisecond {
				t.Errorf("LastSample %v; want shortly before Duration %v", info.LastSample, info.Duration)
			}

			outPath := filepath.Join(dir, "sealed.mp4")
			if err := os.WriteFile(outPath, out, 0o644); err != nil {
				t.Fatal(err)
			}
			dur, pkts := sealFFprobe(t, outPath, true)
			if d := dur - lastEnd; d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("ffprobe duration %v; want within 100 ms of the last sample's end %v", dur, lastEnd)
			}
			t.Logf("ffprobe duration %v, last sample end %v, %d fragments", dur, lastEnd, len(frags))

			// ffprobe's keyframes are the fragments the sidx says start
			// with a SAP, at the times it gives.
			var keys []time.Duration
			for _, p := range pkts {
				if strings.Contains(p.Flags, "K") {
					keys = append(keys, sealSeconds(t, p.PTS))
				}
			}
			var saps []time.Duration
			at := s.sidx.ept
			for _, r := range s.sidx.refs {
				if r.sap {
					if r.sapType != 1 {
						t.Errorf("SAP_type %d; want 1", r.sapType)
					}
					saps = append(saps, time.Duration(float64(at)/float64(s.sidx.timescale)*float64(time.Second)))
				}
				at += uint64(r.dur)
			}
			if len(keys) != len(saps) || info.Keyframes != len(keys) || len(s.tfra) != len(keys) {
				t.Fatalf("ffprobe keyframes at %v, sidx SAPs at %v, Keyframes %d, %d tfra entries; want the same", keys, saps, info.Keyframes, len(s.tfra))
			}
			for i := range keys {
				if d := keys[i] - saps[i]; d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("keyframe %d at %v; sidx says %v", i, keys[i], saps[i])
				}
			}
			if end := time.Duration(float64(at) / float64(s.sidx.timescale) * float64(time.Second)); end-info.Duration > time.Millisecond || info.Duration-end > 100*time.Millisecond {
				t.Errorf("sidx references end at %v; want about Duration %v", end, info.Duration)
			}

			// Sealing a sealed file gives the same file.
			again, info2 := sealBytes(t, out)
			if !bytes.Equal(again, out) {
				t.Errorf("resealing gives %d bytes, differing from the %d sealed", len(again), len(out))
			}
			if info2.Duration != info.Duration || info2.Keyframes != info.Keyframes || info2.Samples != info.Samples {
				t.Errorf("reseal info %+v; want %+v", info2, info)
			}
		})
	}
}

// sealCutPoints returns where TestSealTruncated cuts full: around every
// box boundary of the top level, and every stride bytes.
func sealCutPoints(full []byte, stride int) []int64 {
	var cuts []int64
	add := func(c int64) {
		if c > 0 && c <= int64(len(full)) {
			cuts = append(cuts, c)
		}
	}
	for off := int64(0); off+8 <= int64(len(full)); {
		size := int64(binary.BigEndian.Uint32(full[off:]))
		for d := int64(-1); d <= 17; d++ {
			add(off + d)
		}
		off += size
	}
	add(int64(len(full)) - 1)
	for c := int64(1); c < int64(len(full)); c += int64(stride) {
		add(c)
	}
	slices.Sort(cuts)
	return slices.Compact(cuts)
}

func TestSealTruncated(t *testing.T) {
	for _, name := range sealSets(t) {
		t.Run(name, func(t *testing.T) {
			fx := fixture.Load(t, name)
			all := sealTestFrags(fx.Full)
			stride := 997
			if testing.Short() {
				stride = 9973
			}
			for _, cut := range sealCutPoints(fx.Full, stride) {
				in := fx.Full[:cut]
				var out bytes.Buffer
				info, err := Seal(&out, bytes.NewReader(in), cut)
				switch {
				case cut < fx.St.InitSegmentEnd:
					if !errors.Is(err, ErrNotMP4) {
						t.Errorf("cut %d in the init segment: Seal() error = %v; want ErrNotMP4", cut, err)
					}
					continue
				case cut < all[0].off+all[0].size:
					if !errors.Is(err, ErrMalformed) {
						t.Errorf("cut %d in the first fragment: Seal() error = %v; want ErrMalformed", cut, err)
					}
					continue
				case err != nil:
					t.Fatalf("cut %d: Seal() error = %v", cut, err)
				}
				want := sealTestFrags(in)
				boundary := cut == int64(len(fx.Full)) || slices.ContainsFunc(all, func(f sealTestFrag) bool { return f.off+f.size == cut })
				if info.Fragments != len(want) || info.Partial == boundary || info.Fault != nil {
					t.Errorf("cut %d: Fragments %d, Partial %v, Fault %v; want %d, %v, nil", cut, info.Fragments, info.Partial, info.Fault, len(want), !boundary)
				}
				s := sealTestCheck(t, out.Bytes())
				if len(s.moofs) != len(want) {
					t.Errorf("cut %d: %d moofs; want %d", cut, len(s.moofs), len(want))
				}
				// The fragments kept are copied byte for byte.
				last := want[len(want)-1]
				n := last.off + last.size - want[0].off
				if !bytes.Equal(out.Bytes()[s.moofs[0]:s.moofs[0]+n], fx.Full[want[0].off:want[0].off+n]) {
					t.Errorf("cut %d: fragments differ from the recording's", cut)
				}
			}
		})
	}
}

// TestSealGarbageTail: a file whose end was filled with zeros or junk (as
// a crash may leave) keeps the fragments before the junk and says why it
// stopped.
func TestSealGarbageTail(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	all := sealTestFrags(fx.Full)
	cut := all[3].off // after three fragments
	tests := []struct {
		name    string
		tail    []byte
		partial bool // the junk looks like a box running past the end
	}{
		{name: "zeros", tail: make([]byte, 4096)},
		{name: "ff", tail: bytes.Repeat([]byte{0xff}, 64)},
		{name: "box running past the end", tail: []byte{0, 0, 1, 0, 'm', 'o', 'o', 'f', 1, 2, 3}, partial: true},
		{name: "unknown box", tail: []byte{0, 0, 0, 16, 'j', 'u', 'n', 'k', 1, 2, 3, 4, 5, 6, 7, 8}},
		{name: "non-printable type", tail: []byte{0, 0, 0, 8, 0, 1, 2, 3}},
		{name: "a second ftyp", tail: fx.Full},
		{name: "moof without mdat", tail: slices.Concat(fx.Full[all[3].off:all[3].off+8+int64(binary.BigEndian.Uint32(fx.Full[all[3].off:]))-8], []byte{0, 0, 0, 8, 'f', 'r', 'e', 'e'})},
		{name: "box smaller than its header", tail: []byte{0, 0, 0, 4, 'm', 'o', 'o', 'f'}},
		{name: "moof with a bad child", tail: []byte{0, 0, 0, 16, 'm', 'o', 'o', 'f', 0, 0, 0, 99, 't', 'r', 'a', 'f', 0, 0, 0, 8, 'm', 'd', 'a', 't'}},
		{name: "traf of an unknown track", tail: []byte{0, 0, 0, 36, 'm', 'o', 'o', 'f', 0, 0, 0, 28, 't', 'r', 'a', 'f', 0, 0, 0, 20, 't', 'f', 'h', 'd', 0, 2, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0, 8, 'm', 'd', 'a', 't'}},
		{name: "a short header", tail: []byte{0, 0, 0}, partial: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Concat(fx.Full[:cut], tc.tail)
			out, info := sealBytes(t, in)
			s := sealTestCheck(t, out)
			if info.Fragments != 3 || len(s.moofs) != 3 {
				t.Errorf("Fragments %d, %d moofs; want 3", info.Fragments, len(s.moofs))
			}
			var se *SyntaxError
			switch {
			case tc.partial && (!info.Partial || info.Fault != nil):
				t.Errorf("Partial %v, Fault %v; want Partial", info.Partial, info.Fault)
			case !tc.partial && (!errors.As(info.Fault, &se) || info.Partial):
				t.Errorf("Partial %v, Fault %v; want a *SyntaxError", info.Partial, info.Fault)
			case !tc.partial && se.Offset < cut:
				t.Errorf("Fault at %d; want at or after %d", se.Offset, cut)
			}
			want, _ := sealBytes(t, fx.Full[:cut])
			if !bytes.Equal(out, want) {
				t.Errorf("sealed file differs from the seal of the file cut before the junk")
			}
		})
	}
}

func TestSealNotMP4(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	webm := fixture.Load(t, "vp8-opus-250ms")
	moov := int64(binary.BigEndian.Uint32(fx.Full)) // offset of the moov
	all := sealTestFrags(fx.Full)
	noMvex := slices.Clone(fx.Full)
	copy(noMvex[bytes.Index(noMvex, []byte("mvex")):], "xxxx")
	tests := []struct {
		name string
		give []byte
		want error
	}{
		{name: "empty", give: nil, want: ErrNotMP4},
		{name: "webm", give: webm.Full, want: ErrNotMP4},
		{name: "ftyp only", give: fx.Full[:moov], want: ErrNotMP4},
		{name: "moof before moov", give: slices.Concat(fx.Full[:moov], fx.Full[all[0].off:]), want: ErrNotMP4},
		{name: "moov without mvex", give: noMvex, want: ErrNotMP4},
		{name: "init segment only", give: fx.Full[:fx.St.InitSegmentEnd], want: ErrMalformed},
		{name: "junk before the first fragment", give: slices.Concat(fx.Full[:fx.St.InitSegmentEnd], []byte{0, 0, 0, 8, 'j', 'u', 'n', 'k'}, fx.Full[all[0].off:]), want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Seal(&out, bytes.NewReader(tc.give), int64(len(tc.give)))
			var se *SyntaxError
			if !errors.Is(err, tc.want) || !errors.As(err, &se) {
				t.Errorf("Seal() error = %v; want a *SyntaxError wrapping %v", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("Seal() wrote %d bytes; want none", out.Len())
			}
		})
	}
}

func TestSealLimits(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	all := sealTestFrags(fx.Full)
	tests := []struct {
		name      string
		o         SealOptions
		want      error // nil: sealed, with a Fault wrapping ErrLimit
		fragments int
	}{
		{name: "fragments", o: SealOptions{MaxFragments: len(all) - 1}, want: ErrLimit},
		{name: "fragments exactly", o: SealOptions{MaxFragments: len(all)}, fragments: len(all)},
		{name: "init", o: SealOptions{MaxInitBytes: 1000}, want: ErrLimit},
		{name: "first moof", o: SealOptions{MaxMoofBytes: 700}, want: ErrLimit},
		// The first moof holds 114 samples, the later ones fewer.
		{name: "samples", o: SealOptions{MaxSamples: 10}, want: ErrLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			info, err := SealWith(&out, bytes.NewReader(fx.Full), int64(len(fx.Full)), tc.o)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Errorf("SealWith() error = %v; want %v", err, tc.want)
				}
				return
			}
			if err != nil || info.Fragments != tc.fragments {
				t.Errorf("SealWith() = %d fragments, %v; want %d", info.Fragments, err, tc.fragments)
			}
		})
	}
	// A moof past the bound after the first fragment cuts the file there.
	sizes := make([]int64, len(all))
	for i, f := range all {
		sizes[i] = int64(binary.BigEndian.Uint32(fx.Full[f.off:]))
	}
	big := slices.Max(sizes)
	var out bytes.Buffer
	info, err := SealWith(&out, bytes.NewReader(fx.Full), int64(len(fx.Full)), SealOptions{MaxMoofBytes: big})
	if err != nil || info.Fault != nil {
		t.Fatalf("SealWith(MaxMoofBytes %d) = %v, Fault %v", big, err, info.Fault)
	}
	// Make the third moof larger than the others with a trailing free box.
	third := all[2].off
	moofSize := sizes[2]
	grown := slices.Concat(fx.Full[:third], binary.BigEndian.AppendUint32(nil, uint32(moofSize+big)), fx.Full[third+4:third+moofSize],
		binary.BigEndian.AppendUint32(nil, uint32(big)), []byte("free"), make([]byte, big-8), fx.Full[third+moofSize:])
	info, err = SealWith(&out, bytes.NewReader(grown), int64(len(grown)), SealOptions{MaxMoofBytes: big})
	if err != nil || info.Fragments != 2 || !errors.Is(info.Fault, ErrLimit) {
		t.Errorf("SealWith(a large third moof) = %d fragments, Fault %v, %v; want 2, ErrLimit, nil", info.Fragments, info.Fault, err)
	}
}

// sealFailReader fails every read at or after off.
type sealFailReader struct {
	r   *bytes.Reader
	off int64
	err error
}

func (f sealFailReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, f.err
	}
	return f.r.ReadAt(p, off)
}

// sealFailWriter fails once n bytes are written.
type sealFailWriter struct{ n int }

var errSealTest = errors.New("test: i/o failure")

func (w *sealFailWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errSealTest
	}
	w.n -= len(p)
	return len(p), nil
}

func TestSealErrors(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	size := int64(len(fx.Full))
	for _, off := range []int64{0, 100, fx.St.InitSegmentEnd + 10, size - 10} {
		t.Run(fmt.Sprintf("read fails at %d", off), func(t *testing.T) {
			_, err := Seal(&bytes.Buffer{}, sealFailReader{r: bytes.NewReader(fx.Full), off: off, err: errSealTest}, size)
			if !errors.Is(err, errSealTest) {
				t.Errorf("Seal() error = %v; want the read error", err)
			}
		})
	}
	t.Run("file shrank", func(t *testing.T) {
		_, err := Seal(&bytes.Buffer{}, bytes.NewReader(fx.Full[:size-100]), size)
		if err == nil {
			t.Errorf("Seal() of a file shorter than its size: no error")
		}
	})
	for _, n := range []int{0, 2000, 200000} {
		t.Run(fmt.Sprintf("write fails at %d", n), func(t *testing.T) {
			_, err := Seal(&sealFailWriter{n: n}, bytes.NewReader(fx.Full), size)
			if !errors.Is(err, errSealTest) {
				t.Errorf("Seal() error = %v; want the write error", err)
			}
		})
	}
}

// TestSealLong: the fixture's fragments repeated ten times (two minutes)
// seal into a file whose duration and keyframes ffprobe reads as Seal
// says.
func TestSealLong(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "long.mp4")
	_, want := sealLongRecording(t, in, 10)
	raw, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	out, info := sealBytes(t, raw)
	s := sealTestCheck(t, out)
	if info.Fragments != 60 || info.Keyframes != 60 || len(s.sidx.refs) != 60 {
		t.Errorf("Fragments %d, Keyframes %d, %d references; want 60 each", info.Fragments, info.Keyframes, len(s.sidx.refs))
	}
	if d := info.Duration - want; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("Duration %v; want %v", info.Duration, want)
	}
	path := filepath.Join(dir, "sealed.mp4")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	dur, pkts := sealFFprobe(t, path, true)
	if d := dur - info.Duration; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("ffprobe duration %v; want within 100 ms of %v", dur, info.Duration)
	}
	keys := 0
	for _, p := range pkts {
		if strings.Contains(p.Flags, "K") {
			keys++
		}
	}
	if keys != 60 {
		t.Errorf("ffprobe finds %d keyframes; want 60", keys)
	}
}

// sealTestIsMoof reports whether off is in moofs, sorted offsets.
func sealTestIsMoof(moofs []int64, off int64) bool {
	_, ok := slices.BinarySearch(moofs, off)
	return ok
}
