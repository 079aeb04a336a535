package webm

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestMuxer muxes frames of a video and an audio track and reads them back:
// the header describes the tracks, a Cluster starts at each video keyframe
// and each is a join point, a late audio frame (before the previous
// block) starts a Cluster that is not one, and a gap too long for a
// relative timecode starts a Cluster.
func TestMuxer(t *testing.T) {
	m := NewMuxer([]MuxTrack{
		{Number: 1, Type: Video, CodecID: "V_VP8", Width: 640, Height: 360},
		{Number: 2, Type: Audio, CodecID: "A_OPUS", SampleRate: 48000, Channels: 2, CodecPrivate: []byte("OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00"), CodecDelay: 6500000, SeekPreRoll: 80000000},
	})
	type frame struct {
		track uint64
		ms    int64
		key   bool
	}
	in := []frame{{1, 0, true}, {2, 0, true}, {2, 20, true}, {1, 33, false}, {2, 30, true}, {1, 2000, true}, {2, 2001, true}, {1, 40000, false}}
	want := []struct {
		ms      int64
		cluster bool
	}{{0, true}, {0, false}, {20, false}, {33, false}, {30, true}, {2000, true}, {2001, false}, {40000, true}}
	var stream []byte
	var starts []int64
	for i, f := range in {
		before := len(stream)
		stream = m.Frame(stream, f.track, f.ms, f.key, []byte{byte(i), 0xAA})
		if i == 0 {
			// The header came with the first frame.
			if !bytes.HasPrefix(stream[before:], ebmlMagic[:]) {
				t.Fatal("the first frame has no stream header")
			}
		}
		if want[i].cluster {
			starts = append(starts, want[i].ms)
		}
	}
	r := NewReader(Limits{})
	r.Blocks = true
	evs, err := r.Feed(nil, stream)
	if err != nil {
		t.Fatal(err)
	}
	if r.Playable() != nil || r.MIMEType() != `video/webm; codecs="vp8,opus"` || r.TimecodeScale() != time.Millisecond {
		t.Errorf("header: playable %v, %q, scale %v", r.Playable(), r.MIMEType(), r.TimecodeScale())
	}
	tr := r.Tracks()
	if len(tr) != 2 || tr[0].Width != 640 || tr[0].Height != 360 || tr[1].Channels != 2 || tr[1].SampleRate != 48000 || len(tr[1].CodecPrivate) != 19 {
		t.Errorf("tracks %+v", tr)
	}
	var blocks, clusters, syncs []int64
	for _, ev := range evs {
		switch ev.Kind {
		case KindBlock:
			blocks = append(blocks, ev.Timecode.Milliseconds())
		case KindCluster:
			clusters = append(clusters, ev.Timecode.Milliseconds())
		case KindSync:
			syncs = append(syncs, ev.Timecode.Milliseconds())
		}
	}
	for i, w := range want {
		if i >= len(blocks) || blocks[i] != w.ms {
			t.Fatalf("blocks at %v ms; want %+v", blocks, want)
		}
	}
	if !slices.Equal(clusters, starts) || !slices.Equal(syncs, []int64{0, 2000}) {
		t.Errorf("clusters at %v, join points at %v; want clusters at %v, join points at the keyframes", clusters, syncs, starts)
	}
}

// TestMuxerAudioOnly: without video, a Cluster starts every
// MuxAudioCluster ms, each a join point.
func TestMuxerAudioOnly(t *testing.T) {
	m := NewMuxer([]MuxTrack{{Number: 2, Type: Audio, CodecID: "A_OPUS", SampleRate: 48000, Channels: 1}})
	var stream []byte
	for ms := int64(0); ms < 12000; ms += 20 {
		stream = m.Frame(stream, 2, ms, true, []byte{1})
	}
	r := NewReader(Limits{})
	evs, err := r.Feed(nil, stream)
	if err != nil {
		t.Fatal(err)
	}
	var syncs []int64
	for _, ev := range evs {
		if ev.Kind == KindSync {
			syncs = append(syncs, ev.Timecode.Milliseconds())
		}
	}
	if !slices.Equal(syncs, []int64{0, 5000, 10000}) {
		t.Errorf("join points at %v; want every 5 s", syncs)
	}
}

// TestMuxerRestore hands a stream over between muxers at every frame: a
// muxer restored from another's State goes on with the same bytes as one
// muxer muxing them all, and a state survives JSON.
func TestMuxerRestore(t *testing.T) {
	tracks := []MuxTrack{
		{Number: 1, Type: Video, CodecID: "V_VP8", Width: 640, Height: 360},
		{Number: 2, Type: Audio, CodecID: "A_OPUS", SampleRate: 48000, Channels: 1},
	}
	type frame struct {
		track uint64
		ms    int64
		key   bool
	}
	in := []frame{{1, 0, true}, {2, 0, true}, {2, 20, true}, {1, 33, false}, {2, 30, true}, {1, 2000, true}, {2, 2001, true}, {1, 40000, false}, {1, 40033, true}}
	var want []byte
	one := NewMuxer(tracks)
	for i, f := range in {
		want = one.Frame(want, f.track, f.ms, f.key, []byte{byte(i)})
	}
	for cut := range len(in) + 1 {
		m := NewMuxer(tracks)
		var got []byte
		for i, f := range in[:cut] {
			got = m.Frame(got, f.track, f.ms, f.key, []byte{byte(i)})
		}
		data, err := json.Marshal(m.State())
		if err != nil {
			t.Fatal(err)
		}
		var st MuxerState
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatal(err)
		}
		m = NewMuxer(tracks)
		m.Restore(st)
		for i, f := range in[cut:] {
			got = m.Frame(got, f.track, f.ms, f.key, []byte{byte(cut + i)})
		}
		if !bytes.Equal(got, want) {
			t.Errorf("handed over after %d frames: %d bytes, differing from one muxer's %d", cut, len(got), len(want))
		}
	}
}
