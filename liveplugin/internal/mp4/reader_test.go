package mp4

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestStreamEvents(t *testing.T) {
	s := testStream()
	res, r := feedPieces(t, Limits{}, [][]byte{s})
	if res.err != nil {
		t.Fatal(res.err)
	}
	parts := testParts()
	init := int64(len(parts[0]))
	var want []Event
	want = append(want, Event{Kind: KindInit, Offset: init})
	off := init
	for i, f := range []struct {
		audio, video uint64 // tfdt
		key          bool
	}{{0, 0, true}, {11520, 3000, false}, {23040, 6000, true}} {
		// The moof, then an mdat with 26 bytes of audio and 51 of video.
		n := len(parts[i+1])
		moofLen := int64(n - 8 - 26 - 51)
		vt := time.Duration(f.video) * time.Second / 20000
		want = append(want, Event{Kind: KindFragment, Offset: off, Timecode: vt})
		if f.key {
			want = append(want, Event{Kind: KindSync, Offset: off, Timecode: vt})
		}
		want = append(want,
			Event{Kind: KindSample, Offset: off + moofLen + 8, Timecode: time.Duration(f.audio) * time.Second / 48000, Track: 1, Keyframe: true, Size: 26},
			Event{Kind: KindSample, Offset: off + moofLen + 8 + 26, Timecode: vt, Track: 2, Keyframe: f.key, Size: 51})
		off += int64(n)
	}
	if !slices.Equal(res.events, want) {
		t.Errorf("events:\n%v\nwant\n%v", res.events, want)
	}
	if res.offset != int64(len(s)) {
		t.Errorf("Offset() = %d; want %d", res.offset, len(s))
	}
	if r.Repairs() != 3 || r.MissedRepairs() != 0 {
		t.Errorf("Repairs() = %d, MissedRepairs() = %d; want 3, 0", r.Repairs(), r.MissedRepairs())
	}
	wantTracks := []Track{
		{ID: 1, Type: Audio, Handler: "soun", Entry: "Opus", Codec: "opus", Timescale: 48000, SampleRate: 48000, Channels: 1},
		{ID: 2, Type: Video, Handler: "vide", Entry: "avc1", Codec: "avc1.42C01F", Timescale: 20000, Width: 640, Height: 360},
	}
	if got := r.Tracks(); !slices.Equal(got, wantTracks) {
		t.Errorf("Tracks() = %+v; want %+v", got, wantTracks)
	}
	if v, ok := r.VideoTrack(); !ok || v != wantTracks[1] {
		t.Errorf("VideoTrack() = %+v, %v; want %+v, true", v, ok, wantTracks[1])
	}
	if got, want := r.MIMEType(), `video/mp4; codecs="avc1.42C01F,opus"`; got != want {
		t.Errorf("MIMEType() = %s; want %s", got, want)
	}
	if err := r.Playable(); err != nil {
		t.Errorf("Playable() = %v", err)
	}
	if !bytes.Equal(r.Init(), s[:init]) {
		t.Error("Init() is not the stream's ftyp and moov")
	}
	if r.Settle() {
		t.Error("Settle() = true; want false")
	}
}

// TestSplitPoints feeds the test stream in two pieces, split at every
// point, and in pieces of 1 to 7 bytes: the events, error and offset are
// those of the whole stream, and every Opus run's last duration is
// repaired (2880) unless a call boundary cuts its field in two, which
// leaves it at 1008 and counts it as missed.
func TestSplitPoints(t *testing.T) {
	s := testStream()
	want, _ := feedPieces(t, Limits{}, [][]byte{s})
	fields := lastDurationFields(t, s)
	check := func(name string, pieces [][]byte) {
		got, r := feedPieces(t, Limits{}, pieces)
		checkSameResult(t, name, got, want)
		cuts := map[int64]bool{} // the call boundaries
		n := int64(0)
		for _, p := range pieces {
			n += int64(len(p))
			cuts[n] = true
		}
		missed := 0
		for _, f := range fields {
			wantV := uint32(2880)
			if cuts[f+1] || cuts[f+2] || cuts[f+3] {
				wantV = 1008
				missed++
			}
			if v := binary.BigEndian.Uint32(got.out[f:]); v != wantV {
				t.Fatalf("%s: last duration at %d = %d; want %d", name, f, v, wantV)
			}
		}
		if r.MissedRepairs() != missed || r.Repairs() != len(fields)-missed {
			t.Fatalf("%s: Repairs() = %d, MissedRepairs() = %d; want %d, %d", name, r.Repairs(), r.MissedRepairs(), len(fields)-missed, missed)
		}
	}
	for i := range len(s) + 1 {
		check(fmt.Sprintf("split at %d", i), [][]byte{s[:i], s[i:]})
	}
	for n := 1; n <= 7; n++ {
		check(fmt.Sprintf("split every %d", n), splitEvery(s, n))
	}
	for seed := range uint64(20) {
		check(fmt.Sprintf("random split %d", seed), splitRandom(s, seed, 200))
	}
}

// lastDurationFields returns the offsets of the last sample duration of
// every Opus run of a stream of testStream's shape.
func lastDurationFields(tb testing.TB, s []byte) []int64 {
	var out []int64
	for _, run := range opusRuns(tb, s, 1) {
		out = append(out, run.fields[len(run.fields)-1])
	}
	if len(out) == 0 {
		tb.Fatal("no Opus run")
	}
	return out
}

// TestZeroReader checks that the zero Reader reads like NewReader's with
// default limits, and that the init segment Init returns stays as it was
// while the stream goes on.
func TestZeroReader(t *testing.T) {
	parts := testParts()
	want, _ := feedPieces(t, Limits{}, parts)
	var r Reader
	var got feedResult
	var init []byte
	for i, p := range parts {
		var err error
		if got.events, err = r.Feed(got.events, bytes.Clone(p)); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			init = r.Init()
		}
	}
	got.offset = r.Offset()
	checkSameResult(t, "zero Reader", got, want)
	if !bytes.Equal(init, parts[0]) || !bytes.Equal(r.Init(), parts[0]) {
		t.Error("Init() changed as the stream went on")
	}
	if r.MIMEType() == "" || r.Playable() != nil {
		t.Errorf("MIMEType() = %q, Playable() = %v", r.MIMEType(), r.Playable())
	}
}

// TestBeforeInit checks what a reader reports before KindInit.
func TestBeforeInit(t *testing.T) {
	r := NewReader(Limits{})
	evs, err := r.Feed(nil, testParts()[0])
	if err != nil || len(evs) != 0 {
		t.Fatalf("Feed(init segment) = %v, %v; want no event yet", evs, err)
	}
	if r.Init() != nil || r.MIMEType() != "" {
		t.Errorf("before KindInit: Init() %d bytes, MIMEType() %q; want nil, empty", len(r.Init()), r.MIMEType())
	}
	// The tracks are known once the moov is read.
	if _, ok := r.VideoTrack(); !ok || len(r.Tracks()) != 2 {
		t.Errorf("after the moov: %d tracks, video %v; want 2, true", len(r.Tracks()), ok)
	}
	if r.Settle() {
		t.Error("Settle() = true")
	}
	p := []byte{1, 2, 3}
	r.Patch(0, p)
	if !bytes.Equal(p, []byte{1, 2, 3}) {
		t.Error("Patch changed bytes")
	}
}
