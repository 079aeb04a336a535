package webm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/media/mediatest"
)

func TestFixtures(t *testing.T) {
	tests := []struct {
		name     string
		give     string // fixture set
		wantMIME string
	}{
		{name: "vp8", give: "vp8-opus-250ms", wantMIME: `video/webm; codecs="vp8,opus"`},
		{name: "vp8 keyframes every 2s", give: "vp8-opus-250ms-kf2s", wantMIME: `video/webm; codecs="vp8,opus"`},
		{name: "vp9", give: "vp9-opus-250ms", wantMIME: `video/webm; codecs="vp9,opus"`},
		{name: "vp9 video track 1", give: "vp9-opus-250ms-kf2s", wantMIME: `video/webm; codecs="vp9,opus"`},
		{name: "known sizes and cues", give: "vp8-opus-notimeslice-5s", wantMIME: `video/webm; codecs="vp8,opus"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := loadFixture(t, tc.give)
			st := fx.St
			res, r := feedPieces(t, Limits{}, true, fx.Chunks)
			if res.err != nil {
				t.Fatalf("Feed: %v", res.err)
			}
			if res.offset != int64(len(fx.Full)) {
				t.Errorf("Offset() = %d; want %d", res.offset, len(fx.Full))
			}

			if len(res.events) == 0 || res.events[0] != (Event{Kind: KindInit, Offset: st.InitSegmentEnd}) {
				t.Fatalf("first event = %v; want init at %d", sliceAt(res.events, 0), st.InitSegmentEnd)
			}
			if got, want := r.Init(), fx.Full[:st.InitSegmentEnd]; !bytes.Equal(got, want) {
				t.Errorf("Init() = %d bytes, not full.webm[:%d]", len(got), len(want))
			}
			if got := r.DocType(); got != "webm" {
				t.Errorf("DocType() = %q; want %q", got, "webm")
			}
			if got := r.TimecodeScale(); got != time.Millisecond {
				t.Errorf("TimecodeScale() = %v; want 1ms", got)
			}

			tracks := r.Tracks()
			var gotTracks, wantTracks []string
			for _, tr := range tracks {
				gotTracks = append(gotTracks, fmt.Sprint(tr.Number, tr.CodecID))
				switch tr.Type {
				case Video:
					if tr.Width != 640 || tr.Height != 360 {
						t.Errorf("video track %d is %dx%d; want 640x360", tr.Number, tr.Width, tr.Height)
					}
				case Audio:
					if tr.SampleRate != 48000 || tr.Channels != 1 {
						t.Errorf("audio track %d: %v Hz, %d channels; want 48000 Hz, 1", tr.Number, tr.SampleRate, tr.Channels)
					}
				}
			}
			for _, tr := range st.Tracks {
				wantTracks = append(wantTracks, fmt.Sprint(tr.Number, tr.Codec))
			}
			if !slices.Equal(gotTracks, wantTracks) {
				t.Errorf("Tracks() = %v; want %v", gotTracks, wantTracks)
			}
			if v, ok := r.VideoTrack(); !ok || v.Number != st.VideoTrack {
				t.Errorf("VideoTrack() = %d, %v; want %d, true", v.Number, ok, st.VideoTrack)
			}
			if got := r.MIMEType(); got != tc.wantMIME {
				t.Errorf("MIMEType() = %s; want %s", got, tc.wantMIME)
			}
			if err := r.Playable(); err != nil {
				t.Errorf("Playable() = %v; want nil", err)
			}

			var gotClusters, wantClusters, gotSync, wantSync []string
			var gotBlocks []int
			var gotKeys []time.Duration
			for _, ev := range res.events[1:] {
				switch ev.Kind {
				case KindInit:
					t.Errorf("second init event %v", ev)
				case KindCluster:
					gotClusters = append(gotClusters, fmt.Sprint(ev.Offset, "@", ev.Timecode))
					gotBlocks = append(gotBlocks, 0)
				case KindSync:
					gotSync = append(gotSync, fmt.Sprint(ev.Offset, "@", ev.Timecode))
				case KindBlock:
					if len(gotBlocks) == 0 {
						t.Fatalf("block %v before any cluster", ev)
					}
					gotBlocks[len(gotBlocks)-1]++
					if ev.Track == st.VideoTrack && ev.Keyframe {
						gotKeys = append(gotKeys, ev.Timecode)
					}
				}
			}
			var wantBlocks []int
			for _, c := range st.Clusters {
				s := fmt.Sprint(c.Offset, "@", time.Duration(c.TimecodeMS*float64(time.Millisecond)))
				wantClusters = append(wantClusters, s)
				if c.FirstVideoBlockIsKey {
					wantSync = append(wantSync, s)
				}
				wantBlocks = append(wantBlocks, c.Blocks)
			}
			if !slices.Equal(gotClusters, wantClusters) {
				t.Errorf("clusters = %v; want %v", gotClusters, wantClusters)
			}
			if !slices.Equal(gotSync, wantSync) {
				t.Errorf("sync clusters = %v; want %v", gotSync, wantSync)
			}
			if !slices.Equal(gotBlocks, wantBlocks) {
				t.Errorf("blocks per cluster = %v; want %v", gotBlocks, wantBlocks)
			}
			var wantKeys []time.Duration
			for _, ms := range st.VideoKeyframePTSMS {
				wantKeys = append(wantKeys, time.Duration(ms*float64(time.Millisecond)))
			}
			if !slices.Equal(gotKeys, wantKeys) {
				t.Errorf("video keyframe blocks at %v; want %v", gotKeys, wantKeys)
			}
		})
	}
}

func TestFixtureBlocks(t *testing.T) {
	// Blocks tile each Cluster of the known-size set exactly: every block's
	// Offset+Size is where the next element starts.
	fx := loadFixture(t, "vp8-opus-notimeslice-5s")
	res, _ := feedPieces(t, Limits{}, true, fx.Chunks)
	if res.err != nil {
		t.Fatal(res.err)
	}
	for _, ev := range res.events {
		if ev.Kind != KindBlock {
			continue
		}
		end := ev.Offset + ev.Size
		if end > int64(len(fx.Full)) {
			t.Fatalf("block %v ends past the file", ev)
		}
		if id := fx.Full[ev.Offset]; id != idSimpleBlock {
			t.Fatalf("block %v: element id %#x; want %#x", ev, id, idSimpleBlock)
		}
	}
}

func TestFixtureSplits(t *testing.T) {
	sets := webmSets
	if testing.Short() {
		sets = sets[:1]
	}
	for _, name := range sets {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			for _, blocks := range []bool{false, true} {
				want, _ := feedPieces(t, Limits{}, blocks, [][]byte{fx.Full})
				if want.err != nil {
					t.Fatal(want.err)
				}
				got, _ := feedPieces(t, Limits{}, blocks, fx.Chunks)
				checkSameResult(t, fmt.Sprintf("blocks=%v chunks", blocks), got, want)
				for n := 1; n <= 7; n++ {
					got, _ := feedPieces(t, Limits{}, blocks, mediatest.SplitEvery(fx.Full, n))
					checkSameResult(t, fmt.Sprintf("blocks=%v split %d", blocks, n), got, want)
				}
				for seed := range uint64(5) {
					got, _ := feedPieces(t, Limits{}, blocks, mediatest.SplitRandom(fx.Full, seed, 5000))
					checkSameResult(t, fmt.Sprintf("blocks=%v random split %d", blocks, seed), got, want)
				}
			}
		})
	}
}

func TestFixtureBlocksOff(t *testing.T) {
	// With Blocks off the events are those with Blocks on, minus KindBlock.
	fx := loadFixture(t, "vp9-opus-250ms-kf2s")
	on, _ := feedPieces(t, Limits{}, true, fx.Chunks)
	off, _ := feedPieces(t, Limits{}, false, fx.Chunks)
	want := slices.DeleteFunc(slices.Clone(on.events), func(ev Event) bool { return ev.Kind == KindBlock })
	if !slices.Equal(off.events, want) {
		t.Errorf("events with Blocks off = %v; want %v", off.events, want)
	}
}

func TestFixtureMP4(t *testing.T) {
	fx := loadFixture(t, mp4Set)
	r := NewReader(Limits{})
	evs, err := r.Feed(nil, fx.Chunks[0])
	if !errors.Is(err, ErrNotWebM) {
		t.Fatalf("Feed(mp4 chunk 0) = %v; want %v", err, ErrNotWebM)
	}
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 0 {
		t.Errorf("Feed(mp4 chunk 0) = %#v; want a *SyntaxError at offset 0", err)
	}
	if len(evs) != 0 || r.Init() != nil {
		t.Errorf("Feed(mp4 chunk 0) gave events %v, init %d bytes; want none", evs, len(r.Init()))
	}
}

func TestFeedZeroAllocs(t *testing.T) {
	// Once the init segment is read, Feed allocates nothing when dst has room,
	// however the bytes are split.
	fx := loadFixture(t, "vp8-opus-250ms-kf2s")
	c := fx.St.Clusters
	cl := fx.Full[c[1].Offset:c[2].Offset] // one whole Cluster, fed again and again
	for _, blocks := range []bool{false, true} {
		r := NewReader(Limits{})
		r.Blocks = blocks
		evs := make([]Event, 0, 64)
		evs, err := r.Feed(evs, fx.Full[:c[1].Offset])
		if err != nil {
			t.Fatal(err)
		}
		pieces := mediatest.SplitEvery(cl, 1000)
		allocs := testing.AllocsPerRun(100, func() {
			for _, p := range pieces {
				if evs, err = r.Feed(evs[:0], p); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs != 0 {
			t.Errorf("blocks=%v: %v allocations per Cluster; want 0", blocks, allocs)
		}
	}
}
