package webm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/ebml"
	"github.com/amlive/amlive/liveplugin/internal/media/mediatest"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		give int64
		want []byte
	}{
		{name: "zero", give: 0, want: []byte{0x80}},
		{name: "one byte max", give: 126, want: []byte{0xFE}},
		{name: "all ones is reserved", give: 127, want: []byte{0x40, 0x7F}},
		{name: "two bytes", give: 300, want: []byte{0x41, 0x2C}},
		{name: "two bytes max", give: 1<<14 - 2, want: []byte{0x7F, 0xFE}},
		{name: "three bytes", give: 1<<14 - 1, want: []byte{0x20, 0x3F, 0xFF}},
		{name: "eight bytes", give: ebml.MaxSize, want: []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ebml.AppendSize(nil, tc.give)
			if !bytes.Equal(got, tc.want) {
				t.Errorf("ebml.AppendSize(%d) = % x; want % x", tc.give, got, tc.want)
			}
			hdr := ebml.AppendHeader(nil, idCluster, tc.give)
			id, n, size, ok := parseHeader(hdr)
			if !ok || id != idCluster || n != len(hdr) || size != tc.give || n != ebml.HeaderLen(idCluster, tc.give) {
				t.Errorf("parseHeader(% x) = %#x, %d, %d, %v; want %#x, %d, %d, true", hdr, id, n, size, ok, idCluster, len(hdr), tc.give)
			}
			// A wider size than needed decodes the same.
			wide := ebml.AppendSizeWidth(ebml.AppendID(nil, idCluster), tc.give, 8)
			if _, _, size, _ := parseHeader(wide); size != tc.give {
				t.Errorf("parseHeader(% x) size = %d; want %d", wide, size, tc.give)
			}
		})
	}
	if _, _, size, ok := parseHeader([]byte{0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}); !ok || size != unknownSize {
		t.Errorf("parseHeader(unknown size) = %d, %v; want unknownSize, true", size, ok)
	}
	for _, b := range [][]byte{nil, {0x1F, 0x43}, {0x00, 0x81}, {0xA3, 0x00}, {0xA3}} {
		if _, _, _, ok := parseHeader(b); ok {
			t.Errorf("parseHeader(% x) ok; want not ok", b)
		}
	}
	uints := []struct {
		give uint64
		want []byte
	}{
		{give: 0, want: []byte{0xE7, 0x81, 0x00}},
		{give: 255, want: []byte{0xE7, 0x81, 0xFF}},
		{give: 256, want: []byte{0xE7, 0x82, 0x01, 0x00}},
		{give: math.MaxUint64, want: []byte{0xE7, 0x88, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
	}
	for _, tc := range uints {
		got := ebml.AppendUint(nil, idTimecode, tc.give)
		if !bytes.Equal(got, tc.want) || int64(len(got)) != ebml.UintElementLen(idTimecode, tc.give) {
			t.Errorf("ebml.AppendUint(%d) = % x; want % x", tc.give, got, tc.want)
		}
	}
	if got := ebml.AppendFloat(nil, idDuration, 12003); readFloat(got[3:]) != 12003 || len(got) != 3+ebml.FloatLen {
		t.Errorf("ebml.AppendFloat(12003) = % x", got)
	}
	for _, id := range []uint32{idCues, idTimecodeScale, idSeekID, idCuePoint} {
		// The reader's decoding of an ID: its length from the first byte,
		// then its bytes with the marker bits.
		if got := ebml.AppendID(nil, id); len(got) != ebml.IDLen(id) || vintLen(got[0]) != len(got) || uint32(readUint(got)) != id {
			t.Errorf("ebml.AppendID(%#x) = % x", id, got)
		}
	}
}

// blockInfo is a block found by the reader, with its element's bytes.
type blockInfo struct {
	Event
	data []byte
}

// readBlocks parses b with a Reader and returns its blocks, complete or
// not, and the Reader.
func readBlocks(tb testing.TB, b []byte) ([]blockInfo, *Reader, error) {
	tb.Helper()
	r := NewReader(Limits{})
	r.Blocks = true
	evs, err := r.Feed(nil, b)
	var out []blockInfo
	for _, ev := range evs {
		if ev.Kind == KindBlock {
			end := min(ev.Offset+ev.Size, int64(len(b)))
			out = append(out, blockInfo{Event: ev, data: b[ev.Offset:end]})
		}
	}
	return out, r, err
}

// completeBlocks returns the blocks of b that end by limit.
func completeBlocks(blocks []blockInfo, limit int64) []blockInfo {
	var out []blockInfo
	for _, bl := range blocks {
		if bl.Offset+bl.Size <= limit {
			out = append(out, bl)
		}
	}
	return out
}

// sealed is what checkSealed found in a sealed file.
type sealed struct {
	segData  int64 // offset of the Segment's payload
	duration float64
	scale    uint64
	clusters []int64 // offsets relative to segData
	cues     []cue
	seek     map[uint32]int64
	blocks   []blockInfo
	top      []uint32 // the Segment's children, in order (Clusters once)
}

type cue struct {
	time, track, pos, rel uint64
}

// checkSealed fails unless b is a well-formed sealed file: it parses with
// the Reader to its end, every master element has a known size that ends
// inside its parent, the SeekHead points at Info, Tracks and Cues, and
// every CuePoint points at a Cluster and a block of its track in it.
func checkSealed(tb testing.TB, b []byte) sealed {
	tb.Helper()
	blocks, r, err := readBlocks(tb, b)
	if err != nil {
		tb.Fatalf("sealed file does not parse: %v", err)
	}
	if r.midElement() {
		tb.Fatal("sealed file ends inside an element")
	}
	var s sealed
	s.blocks = blocks
	s.seek = map[uint32]int64{}
	s.scale = 1000000
	id, n, size, ok := parseHeader(b)
	if !ok || id != idEBML {
		tb.Fatal("no EBML header")
	}
	p := b[int64(n)+size:]
	id, n, size, ok = parseHeader(p)
	if !ok || id != idSegment || size == unknownSize || size != int64(len(p)-n) {
		tb.Fatalf("segment header %#x size %d; want a known size of %d", id, size, len(p)-n)
	}
	s.segData = int64(len(b) - len(p) + n)
	seg := p[n:]
	// children returns the child elements of payload p: ID, payload and
	// element length.
	children := func(p []byte, what string) [][3]any {
		var out [][3]any
		for len(p) > 0 {
			id, n, size, ok := parseHeader(p)
			if !ok || size == unknownSize || int64(n)+size > int64(len(p)) {
				tb.Fatalf("%s: bad child header % x", what, p[:min(len(p), 12)])
			}
			out = append(out, [3]any{id, p[n : int64(n)+size], int64(n) + size})
			p = p[int64(n)+size:]
		}
		return out
	}
	off := int64(0)
	for _, c := range children(seg, "segment") {
		id, pl := c[0].(uint32), c[1].([]byte)
		if len(s.top) == 0 || s.top[len(s.top)-1] != id || id != idCluster {
			s.top = append(s.top, id)
		}
		switch id {
		case idSeekHead:
			for _, e := range children(pl, "seekhead") {
				kids := children(e[1].([]byte), "seek")
				if len(kids) != 2 {
					tb.Fatalf("seek entry with %d children", len(kids))
				}
				s.seek[uint32(readUint(kids[0][1].([]byte)))] = int64(readUint(kids[1][1].([]byte)))
			}
		case idInfo:
			for _, k := range children(pl, "info") {
				switch k[0].(uint32) {
				case idDuration:
					s.duration = readFloat(k[1].([]byte))
				case idTimecodeScale:
					s.scale = readUint(k[1].([]byte))
				}
			}
		case idCluster:
			s.clusters = append(s.clusters, off)
			children(pl, "cluster")
		case idCues:
			for _, p := range children(pl, "cues") {
				var c cue
				for _, k := range children(p[1].([]byte), "cuepoint") {
					switch k[0].(uint32) {
					case idCueTime:
						c.time = readUint(k[1].([]byte))
					case idCueTrackPositions:
						for _, k := range children(k[1].([]byte), "cuetrackpositions") {
							v := readUint(k[1].([]byte))
							switch k[0].(uint32) {
							case idCueTrack:
								c.track = v
							case idCueClusterPosition:
								c.pos = v
							case idCueRelativePosition:
								c.rel = v
							}
						}
					}
				}
				s.cues = append(s.cues, c)
			}
		}
		if want, ok := s.seek[id]; ok && want == off && id != idSeekHead {
			delete(s.seek, id) // checked
		}
		off += c[2].(int64)
	}
	if len(s.seek) != 0 {
		tb.Errorf("seek entries pointing elsewhere than their element: %v", s.seek)
	}
	if s.duration < 0 || math.IsInf(s.duration, 0) || math.IsNaN(s.duration) {
		tb.Errorf("Info Duration = %v; want a finite number >= 0", s.duration)
	}
	for _, c := range s.cues {
		if !slices.Contains(s.clusters, int64(c.pos)) {
			tb.Errorf("cue %+v: no cluster at %d", c, c.pos)
			continue
		}
		at := s.segData + int64(c.pos)
		_, n, _, _ := parseHeader(b[at:])
		blockAt := at + int64(n) + int64(c.rel)
		i := slices.IndexFunc(blocks, func(bl blockInfo) bool { return bl.Offset == blockAt })
		if i < 0 || blocks[i].Track != c.track || uint64(max(blocks[i].Timecode, 0)/time.Duration(s.scale)) != c.time { // negative times are cued at 0
			tb.Errorf("cue %+v: no block of track %d at that time at %d", c, c.track, blockAt)
		}
	}
	return s
}

// sameBlocks fails unless got and want hold the same block bytes in order.
func sameBlocks(tb testing.TB, what string, got, want []blockInfo) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d blocks; want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].data, want[i].data) || got[i].Timecode != want[i].Timecode || got[i].Track != want[i].Track {
			tb.Fatalf("%s: block %d (track %d at %v) differs from the input's (track %d at %v)",
				what, i, got[i].Track, got[i].Timecode, want[i].Track, want[i].Timecode)
		}
	}
}

// lastTimecode returns the latest block timecode.
func lastTimecode(blocks []blockInfo) time.Duration {
	var last time.Duration
	for _, b := range blocks {
		last = max(last, b.Timecode)
	}
	return last
}

func seal(tb testing.TB, b []byte) ([]byte, SealInfo) {
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

// maxFrameGap is the longest frame of the fixtures: Opus frames of 60 ms,
// plus a little for the last video frame.
const maxFrameGap = 70 * time.Millisecond

func TestSealFixtures(t *testing.T) {
	for _, name := range webmSets {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			in, _, err := readBlocks(t, fx.Full)
			if err != nil {
				t.Fatal(err)
			}
			out, info := seal(t, fx.Full)
			s := checkSealed(t, out)
			sameBlocks(t, "sealed", s.blocks, in)

			wantTop := []uint32{idSeekHead, idInfo, idTracks, idCluster, idCues}
			if !slices.Equal(s.top, wantTop) {
				t.Errorf("segment children %#x; want %#x", s.top, wantTop)
			}
			var keys []cue
			for _, c := range fx.St.Clusters {
				if c.FirstVideoBlockIsKey {
					keys = append(keys, cue{time: uint64(math.Round(c.TimecodeMS))})
				}
			}
			var keyTimes []uint64
			for _, ms := range fx.St.VideoKeyframePTSMS {
				keyTimes = append(keyTimes, uint64(math.Round(ms)))
			}
			wantTimes := spacedCues(keyTimes, uint64(DefaultCueInterval/time.Millisecond))
			if len(s.cues) != len(wantTimes) || info.Cues != len(wantTimes) || info.Keyframes != len(keys) {
				t.Errorf("%d cues (info %d), Keyframes %d; want %d, one per keyframe cluster %v apart, of %d",
					len(s.cues), info.Cues, info.Keyframes, len(wantTimes), DefaultCueInterval, len(keys))
			}
			for i, c := range s.cues {
				if c.track != fx.St.VideoTrack {
					t.Errorf("cue %d track %d; want the video track %d", i, c.track, fx.St.VideoTrack)
				}
				if i < len(wantTimes) && c.time != wantTimes[i] {
					t.Errorf("cue %d time %d; want keyframe at %v ms", i, c.time, wantTimes[i])
				}
			}
			if len(s.clusters) != len(fx.St.Clusters) || info.Clusters != len(s.clusters) {
				t.Errorf("%d clusters, info %d; want %d", len(s.clusters), info.Clusters, len(fx.St.Clusters))
			}
			last := lastTimecode(in)
			if info.LastBlock != last || info.Duration < last || info.Duration > last+maxFrameGap {
				t.Errorf("LastBlock %v, Duration %v; want %v and up to %v more", info.LastBlock, info.Duration, last, maxFrameGap)
			}
			if got := time.Duration(s.duration * float64(s.scale)); got != info.Duration {
				t.Errorf("Info Duration %v; want %v", got, info.Duration)
			}
			if info.Partial || info.Fault != nil || info.Blocks != len(in) {
				t.Errorf("info = %+v; want not partial, no fault, %d blocks", info, len(in))
			}

			// Sealing a sealed file gives the same file.
			again, _ := seal(t, out)
			if !bytes.Equal(again, out) {
				t.Errorf("resealing gives %d bytes, differing from the %d sealed", len(again), len(out))
			}

			path := filepath.Join(t.TempDir(), "sealed.webm")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			checkFFprobe(t, path, last)
			checkMkvinfo(t, path, s, len(wantTimes))
		})
	}
}

// checkFFprobe checks that ffprobe finds a finite duration within one
// frame after the last block.
func checkFFprobe(t *testing.T, path string, last time.Duration) {
	t.Helper()
	cmd := exec.Command(mediatest.Tool(t, "ffprobe"), "-v", "error", "-show_entries", "format=duration", "-of", "json", path)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var res struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("ffprobe output %s: %v", b, err)
	}
	sec, err := strconv.ParseFloat(res.Format.Duration, 64)
	if err != nil || math.IsInf(sec, 0) {
		t.Fatalf("ffprobe duration %q; want a number", res.Format.Duration)
	}
	got := time.Duration(sec * float64(time.Second))
	if d := got - last; d < 0 || d > maxFrameGap {
		t.Errorf("ffprobe duration %v; want within %v after the last block at %v", got, maxFrameGap, last)
	}
	t.Logf("ffprobe duration %v, last block %v", got, last)
}

var (
	mkvCueTime = regexp.MustCompile(`Cue time: (\d+):(\d+):(\d+)\.(\d+)`)
	mkvCuePos  = regexp.MustCompile(`Cue cluster position: (\d+)`)
)

// checkMkvinfo checks that mkvmerge identifies the file without errors and
// that mkvinfo finds the cues s holds, one per keyframe Cluster.
func checkMkvinfo(t *testing.T, path string, s sealed, keys int) {
	t.Helper()
	b, err := exec.Command(mediatest.Tool(t, "mkvmerge"), "-J", path).Output()
	if err != nil {
		t.Fatalf("mkvmerge -J: %v", err)
	}
	var id struct {
		Errors    []string `json:"errors"`
		Warnings  []string `json:"warnings"`
		Container struct {
			Recognized bool `json:"recognized"`
			Supported  bool `json:"supported"`
			Properties struct {
				Duration int64 `json:"duration"`
			} `json:"properties"`
		} `json:"container"`
	}
	if err := json.Unmarshal(b, &id); err != nil {
		t.Fatalf("mkvmerge -J output: %v", err)
	}
	if len(id.Errors)+len(id.Warnings) > 0 || !id.Container.Supported || id.Container.Properties.Duration <= 0 {
		t.Errorf("mkvmerge -J = %+v; want a supported file with a duration, no errors or warnings", id)
	}
	b, err = exec.Command(mediatest.Tool(t, "mkvinfo"), "--all", path).Output()
	if err != nil {
		t.Fatalf("mkvinfo: %v", err)
	}
	times := mkvCueTime.FindAllStringSubmatch(string(b), -1)
	pos := mkvCuePos.FindAllStringSubmatch(string(b), -1)
	if len(times) != keys || len(pos) != keys {
		t.Fatalf("mkvinfo finds %d cue times, %d cue positions; want %d, one per keyframe cluster", len(times), len(pos), keys)
	}
	for i := range times {
		h, _ := strconv.Atoi(times[i][1])
		m, _ := strconv.Atoi(times[i][2])
		sec, _ := strconv.Atoi(times[i][3])
		ns, _ := strconv.Atoi(times[i][4])
		got := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ns)
		p, _ := strconv.ParseInt(pos[i][1], 10, 64)
		if want := time.Duration(s.cues[i].time) * time.Duration(s.scale); got != want || p != int64(s.cues[i].pos) || !slices.Contains(s.clusters, p) {
			t.Errorf("mkvinfo cue %d: %v at %d; want %v at %d, a cluster", i, got, p, want, s.cues[i].pos)
		}
	}
	t.Logf("mkvinfo: %d cue points", len(times))
}

// cutPoints returns where TestSealTruncated cuts fx: around every chunk
// boundary, around the init segment's end and the first Clusters, inside
// the headers, and every stride bytes.
func cutPoints(full []byte, chunkEnds []int64, initEnd int64, stride int) []int64 {
	var cuts []int64
	add := func(c int64) {
		if c > 0 && c <= int64(len(full)) {
			cuts = append(cuts, c)
		}
	}
	for _, e := range chunkEnds {
		add(e - 1)
		add(e)
		add(e + 1)
	}
	for d := int64(-2); d <= 20; d++ {
		add(initEnd + d)
	}
	for c := int64(1); c < int64(len(full)); c += int64(stride) {
		add(c)
	}
	slices.Sort(cuts)
	return slices.Compact(cuts)
}

func TestSealTruncated(t *testing.T) {
	for _, name := range webmSets {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			all, _, err := readBlocks(t, fx.Full)
			if err != nil {
				t.Fatal(err)
			}
			stride := 2477
			if testing.Short() {
				stride = 9973
			}
			_, hdr, _, _ := parseHeader(fx.Full[fx.St.InitSegmentEnd:])
			for _, cut := range cutPoints(fx.Full, fx.St.ChunkEndOffsets, fx.St.InitSegmentEnd, stride) {
				in := fx.Full[:cut]
				var out bytes.Buffer
				info, err := Seal(&out, bytes.NewReader(in), cut)
				if cut < fx.St.InitSegmentEnd+int64(hdr) { // before the first Cluster's header is whole
					if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotWebM) {
						t.Errorf("cut %d: Seal() error = %v; want ErrMalformed or ErrNotWebM", cut, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("cut %d: Seal() error = %v", cut, err)
				}
				want := completeBlocks(all, cut)
				s := checkSealed(t, out.Bytes())
				sameBlocks(t, fmt.Sprintf("cut %d", cut), s.blocks, want)
				if info.Fault != nil || info.Blocks != len(want) {
					t.Errorf("cut %d: info %+v; want no fault, %d blocks", cut, info, len(want))
				}
				inside := slices.ContainsFunc(all, func(b blockInfo) bool { return b.Offset < cut && cut < b.Offset+b.Size })
				boundary := slices.ContainsFunc(all, func(b blockInfo) bool { return cut == b.Offset || cut == b.Offset+b.Size })
				// With a Segment of known size, any cut leaves it open.
				if (inside && !info.Partial) || (boundary && fx.St.SegmentSizeUnknown && info.Partial) {
					t.Errorf("cut %d: Partial = %v; want %v", cut, info.Partial, inside)
				}
				if last := lastTimecode(want); info.LastBlock != last || info.Duration < last || info.Duration > last+maxFrameGap {
					t.Errorf("cut %d: LastBlock %v, Duration %v; want %v and up to %v more", cut, info.LastBlock, info.Duration, last, maxFrameGap)
				}
				if len(s.cues) != info.Cues || info.Cues > info.Keyframes {
					t.Errorf("cut %d: %d cues; want Cues = %d, at most Keyframes = %d", cut, len(s.cues), info.Cues, info.Keyframes)
				}
			}
		})
	}
}

// TestSealGarbageTail: a file whose end was filled with zeros or junk (as
// a crash may leave) is cut at the last complete block before the junk.
func TestSealGarbageTail(t *testing.T) {
	fx := loadFixture(t, "vp8-opus-250ms-kf2s")
	all, _, err := readBlocks(t, fx.Full)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cut   int64
		tail  []byte
		extra int // blocks the tail completes
	}{
		{name: "zeros after a block", cut: all[200].Offset, tail: make([]byte, 4096)},
		// Zeros are a valid block payload: the block the tail completes
		// stays, and the zeros after it are cut off.
		{name: "zeros inside a block", cut: all[200].Offset + 30, tail: make([]byte, 4096), extra: 1},
		{name: "junk id", cut: all[100].Offset, tail: []byte{0xFF, 0xFF, 0xFF, 0xFF}},
		{name: "second ebml header", cut: all[100].Offset, tail: fx.Full},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Concat(fx.Full[:tc.cut], tc.tail)
			out, info := seal(t, in)
			s := checkSealed(t, out)
			want := completeBlocks(all, tc.cut)
			if len(s.blocks) != len(want)+tc.extra {
				t.Fatalf("sealed: %d blocks; want %d", len(s.blocks), len(want)+tc.extra)
			}
			sameBlocks(t, "sealed", s.blocks[:len(want)], want)
			if info.Fault == nil && !info.Partial {
				t.Errorf("info %+v; want a Fault or Partial", info)
			}
		})
	}
}

func TestSealHandBuilt(t *testing.T) {
	head := cat(ebmlHeader("webm"), elUnknown(idSegment, 8), infoEl(1000000))
	tests := []struct {
		name      string
		give      []byte
		wantCues  []cue // pos is the index of the cluster
		wantDur   time.Duration
		wantTop   []uint32
		wantBlock int
	}{
		{
			name:      "audio only: every cluster is cued",
			give:      cat(head, el(idTracks, audioTrack(3, "A_OPUS")), elUnknown(idCluster, 8, uintEl(idTimecode, 0), simpleBlock(3, 0, false, 10), simpleBlock(3, 20, false, 10)), elUnknown(idCluster, 1, uintEl(idTimecode, 500), simpleBlock(3, 0, false, 10), simpleBlock(3, 20, false, 10))),
			wantCues:  []cue{{time: 0, track: 3}, {time: 500, track: 3, pos: 1}},
			wantDur:   540 * time.Millisecond,
			wantTop:   []uint32{idSeekHead, idInfo, idTracks, idCluster, idCues},
			wantBlock: 4,
		},
		{
			name: "keyframe clusters closer than CueInterval share a cue",
			give: cat(head, el(idTracks, videoTrack(1, "V_VP8", nil)),
				elUnknown(idCluster, 8, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 10)),
				elUnknown(idCluster, 8, uintEl(idTimecode, 499), simpleBlock(1, 0, true, 10)),
				elUnknown(idCluster, 8, uintEl(idTimecode, 500), simpleBlock(1, 0, true, 10)),
				elUnknown(idCluster, 8, uintEl(idTimecode, 999), simpleBlock(1, 0, true, 10)),
				elUnknown(idCluster, 8, uintEl(idTimecode, 1001), simpleBlock(1, 0, true, 10))),
			wantCues:  []cue{{time: 0, track: 1}, {time: 500, track: 1, pos: 2}, {time: 1001, track: 1, pos: 4}},
			wantDur:   1003 * time.Millisecond, // gaps 499, 1, 499, 2 ms: a frame is taken as their median, 2 ms
			wantTop:   []uint32{idSeekHead, idInfo, idTracks, idCluster, idCues},
			wantBlock: 5,
		},
		{
			name:      "block groups",
			give:      handBuiltStreams()[2],
			wantCues:  []cue{{time: 0, track: 2}},
			wantDur:   1990 * time.Millisecond, // video blocks at 0 and 995 ms: one frame is taken as 995 ms
			wantTop:   []uint32{idSeekHead, idInfo, idTracks, idCluster, idCues},
			wantBlock: 3,
		},
		{
			name:      "no keyframe cluster: no cues",
			give:      cat(head, el(idTracks, videoTrack(1, "V_VP8", nil)), elUnknown(idCluster, 8, uintEl(idTimecode, 5), simpleBlock(1, 0, false, 10))),
			wantDur:   5 * time.Millisecond,
			wantTop:   []uint32{idSeekHead, idInfo, idTracks, idCluster},
			wantBlock: 1,
		},
		{
			name: "no info, void, tags and an empty cluster",
			give: cat(ebmlHeader("webm"), el(idVoid, make([]byte, 3)), elUnknown(idSegment, 8), el(idVoid, make([]byte, 10)),
				el(idTracks, videoTrack(1, "V_VP8", nil)), el(idTags, el(0x7373)),
				elUnknown(idCluster, 8, uintEl(idTimecode, 0)),
				elUnknown(idCluster, 8, uintEl(idTimecode, 10), simpleBlock(1, 0, true, 10), simpleBlock(1, 33, false, 10))),
			wantCues:  []cue{{time: 10, track: 1}},
			wantDur:   (10 + 33 + 33) * time.Millisecond,
			wantTop:   []uint32{idSeekHead, idInfo, idTracks, idTags, idCluster, idCues},
			wantBlock: 2,
		},
		{
			name: "timecode scale 1 µs",
			give: cat(ebmlHeader("webm"), elUnknown(idSegment, 8), infoEl(1000), el(idTracks, audioTrack(1, "A_OPUS")),
				elUnknown(idCluster, 8, uintEl(idTimecode, 1000000), simpleBlock(1, 0, true, 10), simpleBlock(1, 20000, true, 10))),
			wantCues:  []cue{{time: 1000000, track: 1}},
			wantDur:   1040 * time.Millisecond,
			wantTop:   []uint32{idSeekHead, idInfo, idTracks, idCluster, idCues},
			wantBlock: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _, err := readBlocks(t, tc.give)
			if err != nil {
				t.Fatal(err)
			}
			out, info := seal(t, tc.give)
			s := checkSealed(t, out)
			sameBlocks(t, "sealed", s.blocks, in)
			if !slices.Equal(s.top, tc.wantTop) {
				t.Errorf("segment children %#x; want %#x", s.top, tc.wantTop)
			}
			if len(s.cues) != len(tc.wantCues) {
				t.Fatalf("cues %+v; want %+v", s.cues, tc.wantCues)
			}
			for i, c := range s.cues {
				w := tc.wantCues[i]
				if c.time != w.time || c.track != w.track || int64(c.pos) != s.clusters[w.pos] {
					t.Errorf("cue %d = %+v; want time %d, track %d in cluster %d", i, c, w.time, w.track, w.pos)
				}
			}
			if info.Duration != tc.wantDur || info.Blocks != tc.wantBlock {
				t.Errorf("Duration %v, Blocks %d; want %v, %d", info.Duration, info.Blocks, tc.wantDur, tc.wantBlock)
			}
			if again, _ := seal(t, out); !bytes.Equal(again, out) {
				t.Error("resealing changes the file")
			}
		})
	}
}

// failingReaderAt fails every read at or past off.
type failingReaderAt struct {
	b   []byte
	off int64
}

var errDisk = errors.New("disk on fire")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errDisk
	}
	return copy(p, f.b[off:]), nil
}

// failingWriter fails once n bytes were written.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errDisk
	}
	f.n -= len(p)
	return len(p), nil
}

func TestSealErrors(t *testing.T) {
	fx := loadFixture(t, "vp8-opus-250ms")
	full := fx.Full
	size := int64(len(full))
	tests := []struct {
		name string
		dst  io.Writer
		src  io.ReaderAt
		size int64
		want error
	}{
		{name: "empty", dst: io.Discard, src: bytes.NewReader(nil), size: 0, want: ErrMalformed},
		{name: "not webm", dst: io.Discard, src: bytes.NewReader([]byte("hello world")), size: 11, want: ErrNotWebM},
		{name: "header only", dst: io.Discard, src: bytes.NewReader(full[:fx.St.InitSegmentEnd]), size: fx.St.InitSegmentEnd, want: ErrMalformed},
		{name: "size beyond src", dst: io.Discard, src: bytes.NewReader(full), size: size + 1, want: io.ErrUnexpectedEOF},
		{name: "read error in pass 1", dst: io.Discard, src: failingReaderAt{b: full, off: size / 2}, size: size, want: errDisk},
		{name: "write error", dst: &failingWriter{n: 100000}, src: bytes.NewReader(full), size: size, want: errDisk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Seal(tc.dst, tc.src, tc.size)
			if !errors.Is(err, tc.want) {
				t.Errorf("Seal() error = %v; want %v", err, tc.want)
			}
		})
	}
}

// spacedCues returns the times, in order, that get a CuePoint with the
// given interval: the first, then each at least interval after the last
// one kept.
func spacedCues(times []uint64, interval uint64) []uint64 {
	var out []uint64
	for _, t := range times {
		if len(out) == 0 || t >= out[len(out)-1]+interval {
			out = append(out, t)
		}
	}
	return out
}
