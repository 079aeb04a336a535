package mp4

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin/internal/media/mediatest"
)

// ffprobe-keyframes.json, beside each MP4 fixture, is ffprobe's list of
// the set's video packets (position, timestamps, flags: "K" for a
// keyframe) and the video stream's time base: an independent parse of
// the sync samples. It is made once with the command below (go generate in
// this folder); the tests read the file, and compare it with ffprobe's
// output when ffprobe is installed.
//
//go:generate sh -c "for d in ../../../internal/fixture/testdata/mp4-*/; do cat $DOLLAR{d}/chunk-*.bin | ffprobe -v error -select_streams v -show_entries stream=index,codec_name,time_base:packet=pts,dts,flags,pos -of json -i pipe:0 > $DOLLAR{d}/ffprobe-keyframes.json || exit 1; done"

// ffprobeArgs are the arguments of the command above, for the comparison.
var ffprobeArgs = []string{"-v", "error", "-select_streams", "v", "-show_entries",
	"stream=index,codec_name,time_base:packet=pts,dts,flags,pos", "-of", "json", "-i", "pipe:0"}

// probe is what ffprobe-keyframes.json holds.
type probe struct {
	Packets []struct {
		PTS   int64  `json:"pts"`
		DTS   int64  `json:"dts"`
		Pos   string `json:"pos"`
		Flags string `json:"flags"`
	} `json:"packets"`
	Streams []struct {
		Index     int    `json:"index"`
		CodecName string `json:"codec_name"`
		TimeBase  string `json:"time_base"`
	} `json:"streams"`
}

// keyframes returns the positions of the keyframe packets and of all
// packets.
func (p probe) keyframes(tb testing.TB) (key, all map[int64]bool) {
	key, all = map[int64]bool{}, map[int64]bool{}
	for _, pk := range p.Packets {
		pos, err := strconv.ParseInt(pk.Pos, 10, 64)
		if err != nil {
			tb.Fatalf("ffprobe packet pos %q: %v", pk.Pos, err)
		}
		all[pos] = true
		if strings.Contains(pk.Flags, "K") {
			key[pos] = true
		}
	}
	return key, all
}

// timescale returns the video stream's time base denominator.
func (p probe) timescale(tb testing.TB) uint32 {
	if len(p.Streams) != 1 {
		tb.Fatalf("ffprobe found %d video streams; want 1", len(p.Streams))
	}
	num, den, ok := strings.Cut(p.Streams[0].TimeBase, "/")
	ts, err := strconv.ParseUint(den, 10, 32)
	if !ok || num != "1" || err != nil {
		tb.Fatalf("ffprobe time base %q", p.Streams[0].TimeBase)
	}
	return uint32(ts)
}

// mp4Structure is the part of an MP4 set's structure.json the tests use.
type mp4Structure struct {
	InitSegmentEnd int64  `json:"init_segment_end"`
	MSECodecs      string `json:"mse_codecs"`
	Boxes          []struct {
		Type   string `json:"type"`
		Offset int64  `json:"offset"`
		Size   int64  `json:"size"`
		Traf   []struct {
			TrackID             uint32 `json:"track_id"`
			BaseMediaDecodeTime uint64 `json:"baseMediaDecodeTime"`
		} `json:"traf"`
	} `json:"boxes"`
}

// mp4Fixture is a set with its independent parses.
type mp4Fixture struct {
	fixture.Set
	st    mp4Structure
	probe probe
}

func loadMP4(tb testing.TB, name string) mp4Fixture {
	tb.Helper()
	fx := mp4Fixture{Set: fixture.Load(tb, name)}
	dir := filepath.Join(fixture.Dir(tb), name)
	for file, v := range map[string]any{"structure.json": &fx.st, "ffprobe-keyframes.json": &fx.probe} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			tb.Fatalf("%s/%s: %v", name, file, err)
		}
	}
	return fx
}

func TestFixtures(t *testing.T) {
	for _, name := range mp4Sets(t) {
		t.Run(name, func(t *testing.T) {
			fx := loadMP4(t, name)
			res, r := feedPieces(t, Limits{}, fx.Chunks)
			if res.err != nil {
				t.Fatalf("Feed: %v", res.err)
			}
			if res.offset != int64(len(fx.Full)) {
				t.Errorf("Offset() = %d; want %d", res.offset, len(fx.Full))
			}
			end := fx.st.InitSegmentEnd
			if len(res.events) == 0 || res.events[0] != (Event{Kind: KindInit, Offset: end}) {
				t.Fatalf("first event = %v; want init at %d", sliceAt(res.events, 0), end)
			}
			if got := r.Init(); !bytes.Equal(got, fx.Full[:end]) {
				t.Errorf("Init() = %d bytes, not the stream's first %d", len(got), end)
			}
			if got, want := strings.ReplaceAll(r.MIMEType(), "; ", ";"), fx.st.MSECodecs; got != want {
				t.Errorf("MIMEType() = %s; want %s", got, want)
			}
			if err := r.Playable(); err != nil {
				t.Errorf("Playable() = %v; want nil", err)
			}
			video, ok := r.VideoTrack()
			if !ok {
				t.Fatal("no video track")
			}
			if ts := fx.probe.timescale(t); video.Timescale != ts {
				t.Errorf("video timescale %d; ffprobe says %d", video.Timescale, ts)
			}
			timescale := map[uint32]uint32{}
			for _, tr := range r.Tracks() {
				timescale[tr.ID] = tr.Timescale
			}

			// Fragments and runs against structure.json.
			var wantFrags, wantRuns []string
			for _, b := range fx.st.Boxes {
				if b.Type != "moof" {
					continue
				}
				tc := time.Duration(-1)
				for _, tf := range b.Traf {
					d := time.Duration(tf.BaseMediaDecodeTime) * time.Second / time.Duration(timescale[tf.TrackID])
					if tf.TrackID == video.ID || (tc < 0 && !ok) {
						tc = d
					}
					wantRuns = append(wantRuns, fmt.Sprint(b.Offset, " track ", tf.TrackID, " @", d))
				}
				wantFrags = append(wantFrags, fmt.Sprint(b.Offset, "@", tc))
			}
			// Sync samples against ffprobe.
			key, all := fx.probe.keyframes(t)
			var gotFrags, gotRuns, gotSync, wantSync []string
			frag := int64(-1)
			for _, ev := range res.events[1:] {
				switch ev.Kind {
				case KindInit:
					t.Errorf("second init event %v", ev)
				case KindFragment:
					frag = ev.Offset
					gotFrags = append(gotFrags, fmt.Sprint(ev.Offset, "@", ev.Timecode))
				case KindSync:
					gotSync = append(gotSync, fmt.Sprint(ev.Offset))
				case KindSample:
					gotRuns = append(gotRuns, fmt.Sprint(frag, " track ", ev.Track, " @", ev.Timecode))
					if ev.Offset+ev.Size > int64(len(fx.Full)) {
						t.Errorf("run %v ends past the stream", ev)
					}
					if ev.Track != uint64(video.ID) {
						continue
					}
					if !all[ev.Offset] {
						t.Errorf("video run %v: ffprobe has no packet at its offset", ev)
					}
					if ev.Keyframe != key[ev.Offset] {
						t.Errorf("video run %v: Keyframe %v; ffprobe says %v", ev, ev.Keyframe, key[ev.Offset])
					}
					if key[ev.Offset] && !slices.Contains(wantSync, fmt.Sprint(frag)) {
						wantSync = append(wantSync, fmt.Sprint(frag))
					}
				}
			}
			if !slices.Equal(gotFrags, wantFrags) {
				t.Errorf("fragments = %v; want %v", gotFrags, wantFrags)
			}
			if !slices.Equal(gotRuns, wantRuns) {
				t.Errorf("runs = %v; want %v", gotRuns, wantRuns)
			}
			if !slices.Equal(gotSync, wantSync) || len(gotSync) == 0 {
				t.Errorf("sync fragments = %v; want %v", gotSync, wantSync)
			}
		})
	}
}

// TestFixtureProbe checks ffprobe-keyframes.json against ffprobe itself,
// when it is installed.
func TestFixtureProbe(t *testing.T) {
	path, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed; the tests use the stored ffprobe-keyframes.json")
	}
	for _, name := range mp4Sets(t) {
		t.Run(name, func(t *testing.T) {
			fx := loadMP4(t, name)
			cmd := exec.Command(path, ffprobeArgs...)
			cmd.Stdin = bytes.NewReader(fx.Full)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("ffprobe: %v", err)
			}
			var got probe
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			gotKey, gotAll := got.keyframes(t)
			wantKey, wantAll := fx.probe.keyframes(t)
			if !mapsEqual(gotKey, wantKey) || !mapsEqual(gotAll, wantAll) {
				t.Errorf("ffprobe finds %d packets, %d keyframes; ffprobe-keyframes.json has %d, %d", len(gotAll), len(gotKey), len(wantAll), len(wantKey))
			}
		})
	}
}

func mapsEqual(a, b map[int64]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func TestFixtureSplits(t *testing.T) {
	for _, name := range mp4Sets(t) {
		t.Run(name, func(t *testing.T) {
			fx := loadMP4(t, name)
			want, _ := feedPieces(t, Limits{}, fx.Chunks)
			if want.err != nil {
				t.Fatal(want.err)
			}
			whole, _ := feedPieces(t, Limits{}, [][]byte{fx.Full})
			checkSameResult(t, "whole", whole, want)
			if !bytes.Equal(whole.out, want.out) {
				t.Error("whole: repaired bytes differ from those fed chunk by chunk")
			}
			for _, n := range []int{1, 7, 1000} {
				got, _ := feedPieces(t, Limits{}, mediatest.SplitEvery(fx.Full, n))
				checkSameResult(t, fmt.Sprintf("split %d", n), got, want)
			}
			for seed := range uint64(5) {
				got, _ := feedPieces(t, Limits{}, mediatest.SplitRandom(fx.Full, seed, 5000))
				checkSameResult(t, fmt.Sprintf("random split %d", seed), got, want)
			}
		})
	}
}

// opusRun is an audio run of a fragment, read by opusRuns.
type opusRun struct {
	moof      int64
	tfdt      uint64
	durations []uint32
	fields    []int64 // offsets of the duration fields
}

// opusRuns walks the fragments of a stream of the fixtures' shape
// (default-base-is-moof, tfdt, one trun per traf) and returns the runs of
// track, independently of the reader.
func opusRuns(tb testing.TB, b []byte, track uint32) []opusRun {
	tb.Helper()
	var out []opusRun
	be := binary.BigEndian
	for off := 0; off+8 <= len(b); {
		size := int(be.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			tb.Fatalf("box at %d: size %d", off, size)
		}
		if string(b[off+4:off+8]) == "moof" {
			for p := off + 8; p < off+size; p += int(be.Uint32(b[p:])) {
				if string(b[p+4:p+8]) != "traf" {
					continue
				}
				run := opusRun{moof: int64(off)}
				id := uint32(0)
				end := p + int(be.Uint32(b[p:]))
				for q := p + 8; q < end; q += int(be.Uint32(b[q:])) {
					switch string(b[q+4 : q+8]) {
					case "tfhd":
						id = be.Uint32(b[q+12:])
					case "tfdt":
						if b[q+8] == 1 {
							run.tfdt = be.Uint64(b[q+12:])
						} else {
							run.tfdt = uint64(be.Uint32(b[q+12:]))
						}
					case "trun":
						flags := be.Uint32(b[q+8:]) & 0xffffff
						n := int(be.Uint32(b[q+12:]))
						s := q + 16
						if flags&1 != 0 {
							s += 4
						}
						if flags&4 != 0 {
							s += 4
						}
						per := 4 * bitsSet(flags&0xf00)
						if flags&0x100 == 0 {
							tb.Fatalf("trun at %d without durations", q)
						}
						for i := range n {
							at := s + i*per
							run.durations = append(run.durations, be.Uint32(b[at:]))
							run.fields = append(run.fields, int64(at))
						}
					}
				}
				if id == track {
					out = append(out, run)
				}
			}
		}
		off += size
	}
	return out
}

func bitsSet(v uint32) int {
	n := 0
	for ; v != 0; v &= v - 1 {
		n++
	}
	return n
}

func sum(d []uint32) uint64 {
	var s uint64
	for _, v := range d {
		s += uint64(v)
	}
	return s
}

// opusTrackID returns the ID of the Opus track of the stream that begins
// with chunks[0], or 0 when it has none.
func opusTrackID(tb testing.TB, chunks [][]byte) uint32 {
	tb.Helper()
	_, r := feedPieces(tb, Limits{}, chunks[:1])
	for _, tr := range r.Tracks() {
		if tr.Entry == "Opus" {
			return tr.ID
		}
	}
	return 0
}

// jitterOpus returns a copy of full in which every Opus run of at least
// four samples has its second sample 480 ticks (10 ms) longer and its
// third as much shorter, as Chromium stamps packets on a busy machine (it
// stamps them by capture time): the run still ends where it did.
func jitterOpus(tb testing.TB, full []byte, track uint32) []byte {
	tb.Helper()
	out := bytes.Clone(full)
	for _, run := range opusRuns(tb, full, track) {
		if len(run.durations) < 4 || run.durations[2] <= 480 {
			continue
		}
		binary.BigEndian.PutUint32(out[run.fields[1]:], run.durations[1]+480)
		binary.BigEndian.PutUint32(out[run.fields[2]:], run.durations[2]-480)
	}
	return out
}

// resplit cuts b where the pieces of like are cut.
func resplit(b []byte, like [][]byte) [][]byte {
	out := make([][]byte, 0, len(like))
	for _, p := range like {
		out = append(out, b[:len(p)])
		b = b[len(p):]
	}
	return out
}

// TestFixtureOpusRepair shows Chromium's Opus durations before and after
// Feed: before, each fragment's durations fall 1872 ticks (39 ms) short of
// the next fragment's tfdt; after, they reach it (within the one tick by
// which the recorder's tfdt rounds, once), and Feed changed nothing but
// those duration fields. So it is fed chunk by chunk, in the publisher's
// 16 KiB pieces and at random; only a field that a call boundary cuts in
// two is missed. The same holds of the fixture with its durations made
// uneven, as a busy machine's Chromium writes them.
func TestFixtureOpusRepair(t *testing.T) {
	for _, name := range mp4Sets(t) {
		for _, jittered := range []bool{false, true} {
			testFixtureOpusRepair(t, name, jittered)
		}
	}
}

func testFixtureOpusRepair(t *testing.T, set string, jittered bool) {
	name := set
	if jittered {
		name += "/jittered"
	}
	t.Run(name, func(t *testing.T) {
		fx := loadMP4(t, set)
		opus := opusTrackID(t, fx.Chunks)
		if opus == 0 {
			t.Skip("no Opus track")
		}
		if jittered {
			full := jitterOpus(t, fx.Full, opus)
			fx.Full, fx.Chunks = full, resplit(full, fx.Chunks)
		}
		before := opusRuns(t, fx.Full, opus)
		if len(before) < 2 {
			t.Fatalf("%d Opus runs; want at least 2", len(before))
		}
		short := 0
		for i := range before[1:] {
			gap := int64(before[i+1].tfdt) - int64(before[i].tfdt)
			if gap-int64(sum(before[i].durations)) > 1 {
				short++
			}
		}
		if short == 0 {
			t.Fatal("no fragment falls short before Feed: the fixture does not show the fault")
		}
		splits := map[string][][]byte{
			"chunks":       fx.Chunks,
			"16 KiB":       mediatest.SplitEvery(fx.Full, 16<<10),
			"1000 bytes":   mediatest.SplitEvery(fx.Full, 1000),
			"random 1":     mediatest.SplitRandom(fx.Full, 1, 3000),
			"random 2":     mediatest.SplitRandom(fx.Full, 2, 50),
			"byte by byte": mediatest.SplitEvery(fx.Full, 1),
		}
		for split, pieces := range splits {
			res, r := feedPieces(t, Limits{}, pieces)
			if res.err != nil {
				t.Fatal(res.err)
			}
			cuts := map[int64]bool{}
			n := int64(0)
			for _, p := range pieces {
				n += int64(len(p))
				cuts[n] = true
			}
			after := opusRuns(t, res.out, opus)
			if len(after) != len(before) {
				t.Fatalf("%s: %d Opus runs after Feed, %d before", split, len(after), len(before))
			}
			changed := map[int64]bool{}
			missed := 0
			for i := range before {
				f := before[i].fields[len(before[i].fields)-1]
				cut := cuts[f+1] || cuts[f+2] || cuts[f+3]
				if cut {
					missed++
				}
				if split == "chunks" {
					t.Logf("fragment at %d: tfdt %d, %d samples, last %d before, %d after", before[i].moof,
						before[i].tfdt, len(before[i].durations), before[i].durations[len(before[i].durations)-1],
						after[i].durations[len(after[i].durations)-1])
				}
				if i+1 < len(before) && !cut {
					gap := int64(before[i+1].tfdt) - int64(before[i].tfdt)
					if g := gap - int64(sum(after[i].durations)); g < -1 || g > 1 {
						t.Errorf("%s: fragment at %d: durations sum to %d after Feed; the next tfdt is %d later", split, after[i].moof, sum(after[i].durations), gap)
					}
				}
				for k, d := range after[i].durations {
					if d != before[i].durations[k] {
						changed[after[i].fields[k]] = true
					}
				}
			}
			if r.Repairs() != len(changed) || r.Repairs() < short-missed || r.MissedRepairs() != missed {
				t.Errorf("%s: Repairs() = %d, MissedRepairs() = %d; want %d fields changed, at least %d, %d missed", split, r.Repairs(), r.MissedRepairs(), len(changed), short-missed, missed)
			}
			if split == "chunks" || split == "16 KiB" {
				if missed != 0 || r.Repairs() != len(before) {
					t.Errorf("%s: %d repairs, %d missed; want all %d repaired", split, r.Repairs(), missed, len(before))
				}
			}
			for i := range fx.Full {
				if fx.Full[i] != res.out[i] && !changed[int64(i)] && !changed[int64(i-1)] && !changed[int64(i-2)] && !changed[int64(i-3)] {
					t.Fatalf("%s: Feed changed byte %d, outside the duration fields", split, i)
				}
			}
		}
	})
}

// TestFixtureWebM feeds the WebM fixtures: the reader rejects them at
// their first bytes, with ErrNotMP4.
func TestFixtureWebM(t *testing.T) {
	for _, name := range fixture.WebM {
		t.Run(name, func(t *testing.T) {
			set := fixture.Load(t, name)
			r := NewReader(Limits{})
			evs, err := r.Feed(nil, set.Chunks[0])
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrNotMP4) || se.Offset != 0 || r.Offset() > 8 {
				t.Errorf("Feed(webm chunk 0) = %v after %d bytes; want ErrNotMP4 at offset 0 within 8 bytes", err, r.Offset())
			}
			if len(evs) != 0 || r.Init() != nil || r.MIMEType() != "" {
				t.Errorf("Feed(webm chunk 0) gave events %v, init %d bytes, MIME %q; want none", evs, len(r.Init()), r.MIMEType())
			}
		})
	}
}
