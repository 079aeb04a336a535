package webm

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin/internal/media/mediatest"
)

// handBuiltStreams are the small streams of the unit tests, as fuzz seeds.
func handBuiltStreams() [][]byte {
	head := cat(ebmlHeader("webm"), elUnknown(idSegment, 8), infoEl(1000000))
	out := [][]byte{
		testStream(),
		cat(head, el(idTracks, audioTrack(1, "A_OPUS")),
			elUnknown(idCluster, 1, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 10)),
			elUnknown(idCluster, 2, uintEl(idTimecode, 60), simpleBlock(1, 0, true, 10))),
		cat(head, el(idTracks, audioTrack(1, "A_VORBIS"), videoTrack(2, "V_VP8", nil)),
			elUnknown(idCluster, 8, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 10), blockGroupEl(2, 0, false, 20)),
			elUnknown(idCluster, 8, uintEl(idTimecode, 1000), blockGroupEl(2, -5, true, 20))),
		cat(head, el(idTracks, videoTrack(1, "V_AV1", []byte{0x81, 0x08, 0x0C, 0x00})),
			el(idCluster, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 10))),
		cat(head, el(idTracks, videoTrack(1, "V_MPEG4/ISO/AVC", []byte{1, 0x42, 0xC0, 0x1F})),
			elUnknown(idCluster, 4, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 10))),
		cat(ebmlHeader("webm"), el(idSegment, infoEl(1000000), el(idTracks, audioTrack(1, "A_OPUS")),
			el(idCluster, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 10)), el(idCues))),
		cat(ebmlHeader("foo"), elUnknown(idSegment, 8)),
		cat(head, elUnknown(idCluster, 8, uintEl(idTimecode, 0))),
	}
	return out
}

// maxFuzzBytes caps the input FuzzReader parses, to keep each execution
// fast: the full-file seeds are cut to their first Clusters (past those they
// add no coverage). TestFixtureSplits covers the full files.
const maxFuzzBytes = 64 << 10

// FuzzReader checks that the reader never panics, that its events are
// ordered and lie within the bytes consumed, that two different splits
// of the same input give the same events, error and offset, and that the
// reader holds no more than checkFootprint allows, and that Settle and
// Patch keep every length and agree (checkSettle).
func FuzzReader(f *testing.F) {
	for _, s := range handBuiltStreams() {
		f.Add(s, uint64(1), uint16(0))
	}
	for _, name := range append(webmSets, mp4Set) {
		set := fixture.Load(f, name)
		for i, b := range append(set.Chunks, set.Full) {
			f.Add(b, uint64(i), uint16(0))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, maxInit uint16) {
		data = data[:min(len(data), maxFuzzBytes)]
		lim := Limits{MaxInitBytes: int(maxInit), MaxElementBytes: 1 << 20}
		want, r := feedPieces(t, lim, true, [][]byte{data})
		checkOrder(t, want.events)
		checkFootprint(t, r)
		got, r2 := feedPieces(t, lim, true, mediatest.SplitRandom(data, seed, 1+int(seed%300)))
		checkSameResult(t, fmt.Sprintf("split with seed %d", seed), got, want)
		checkFootprint(t, r2)
		checkSettle(t, data, r, r2)
	})
}

// checkOrder fails unless events come with strictly increasing offsets per
// kind, at most one KindInit comes first, and every KindSync follows the
// KindCluster of its Cluster.
func checkOrder(t *testing.T, evs []Event) {
	t.Helper()
	last := map[Kind]int64{}
	lastCluster := int64(-1)
	for i, ev := range evs {
		if ev.Kind == KindInit && i != 0 {
			t.Fatalf("event %d is %v; want init first or never", i, ev)
		}
		if prev, ok := last[ev.Kind]; ok && ev.Offset <= prev {
			t.Fatalf("event %d %v: offset not above the previous %s at %d", i, ev, ev.Kind, prev)
		}
		last[ev.Kind] = ev.Offset
		switch ev.Kind {
		case KindCluster:
			lastCluster = ev.Offset
		case KindSync:
			if ev.Offset != lastCluster {
				t.Fatalf("event %d %v: sync for a cluster other than the current one at %d", i, ev, lastCluster)
			}
		case KindBlock:
			if ev.Offset <= lastCluster || ev.Size <= 0 {
				t.Fatalf("event %d %v: block not inside the current cluster at %d", i, ev, lastCluster)
			}
		}
	}
}

// trackBytes is the memory a Track takes in the reader besides its
// CodecPrivate: the Track value, its CodecID and Codec strings (their
// bytes are part of the init segment's size, counted again here), and
// its map entry.
const trackBytes = int(unsafe.Sizeof(Track{})) + 64

// readerFootprint returns the bytes r holds: the init segment's buffer,
// the tracks, their CodecPrivate, CodecID and Codec bytes and their index.
func readerFootprint(r *Reader) int {
	n := cap(r.init) + len(r.trackIdx)*16
	for _, t := range append(r.tracks, r.cur) {
		n += int(unsafe.Sizeof(t)) + cap(t.CodecPrivate) + len(t.CodecID) + len(t.Codec)
	}
	return n
}

// maxFootprint is what a Reader with limits lim may hold, however long
// the stream and whatever it holds: the init segment's buffer (at most
// twice MaxInitBytes while it grows, plus the 12 bytes of an element
// header that crosses the limit), as much again for the CodecPrivate,
// CodecID and Codec copies, which the init segment holds, and trackBytes
// per track, at most MaxTracks of them (plus the TrackEntry being read).
// Nothing grows per Cluster or per block.
func maxFootprint(lim Limits) int {
	r := NewReader(lim)
	maxInit := int(r.maxInit())
	return 2*(maxInit+12) + maxInit + 64 + (r.maxTracks()+1)*trackBytes
}

// checkFootprint fails unless r holds at most maxFootprint of its limits,
// at most MaxTracks tracks and one index entry per track.
func checkFootprint(t *testing.T, r *Reader) {
	t.Helper()
	if got, max := readerFootprint(r), maxFootprint(r.lim); got > max {
		t.Fatalf("reader holds %d bytes; want at most %d", got, max)
	}
	if len(r.tracks) > r.maxTracks() || len(r.trackIdx) != len(r.tracks) {
		t.Fatalf("reader holds %d tracks, %d indexed; want at most %d, all indexed", len(r.tracks), len(r.trackIdx), r.maxTracks())
	}
	if r.depth > len(r.stack) || (r.initDone && len(r.init) > int(r.maxInit())) {
		t.Fatalf("reader depth %d, init segment %d bytes; want at most %d, %d", r.depth, len(r.init), len(r.stack), r.maxInit())
	}
}

// checkSettle fails unless Settle, on two readers fed the same data split
// differently, gives the same init segment, of the length it had, which
// differs from the data only where an AlphaMode was cleared, and which
// Patch reproduces in a copy of data.
func checkSettle(t *testing.T, data []byte, r, r2 *Reader) {
	t.Helper()
	before := r.Init()
	changed := r.Settle()
	r2.Settle()
	init := r.Init()
	if !bytes.Equal(init, r2.Init()) || len(init) != len(before) || changed == bytes.Equal(init, before) {
		t.Fatalf("Settle() = %v: init segment %x, %x split otherwise; was %x", changed, init, r2.Init(), before)
	}
	for i := range init {
		if init[i] != before[i] && init[i] != 0 {
			t.Fatalf("Settle set byte %d to %#x", i, init[i])
		}
	}
	c := bytes.Clone(data)
	r.Patch(0, c)
	if !bytes.Equal(c[:len(init)], init) || !bytes.Equal(c[len(init):], data[len(init):]) {
		t.Fatal("Patch does not give the settled init segment and the rest unchanged")
	}
}
