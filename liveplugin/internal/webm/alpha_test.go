package webm

import (
	"bytes"
	"fmt"
	"testing"
)

// alphaModes finds, with a walk of its own, the AlphaMode elements of the
// video tracks in an init segment: the offset and length of each value.
func alphaModes(tb testing.TB, b []byte) [][2]int {
	tb.Helper()
	var out [][2]int
	var walk func(lo, hi int)
	walk = func(lo, hi int) {
		for off := lo; off < hi; {
			idLen := vintLen(b[off])
			if idLen > 4 || off+idLen >= hi {
				tb.Fatalf("bad element id at %d", off)
			}
			id := uint32(0)
			for _, c := range b[off : off+idLen] {
				id = id<<8 | uint32(c)
			}
			szLen := vintLen(b[off+idLen])
			if szLen > 8 || off+idLen+szLen > hi {
				tb.Fatalf("bad element size at %d", off)
			}
			size := int(b[off+idLen]) & (0xff >> szLen)
			for _, c := range b[off+idLen+1 : off+idLen+szLen] {
				size = size<<8 | int(c)
			}
			start := off + idLen + szLen
			end := start + size
			if size == 1<<(7*szLen)-1 || (id == idSegment && end > hi) { // the Segment, past the init segment
				end = hi
			}
			switch id {
			case idSegment, idTracks, idTrackEntry, idVideo:
				walk(start, end)
			case idAlphaMode:
				out = append(out, [2]int{start, size})
			}
			off = end
		}
	}
	walk(0, len(b))
	return out
}

// alphaValue returns the value of an AlphaMode found by alphaModes.
func alphaValue(b []byte, a [2]int) uint64 { return readUint(b[a[0] : a[0]+a[1]]) }

// videoTrackAlpha is videoTrack with extra elements in its Video.
func videoTrackAlpha(num uint64, video ...[]byte) []byte {
	v := append([][]byte{uintEl(idPixelWidth, 640), uintEl(idPixelHeight, 360)}, video...)
	return el(idTrackEntry, uintEl(idTrackNumber, num), uintEl(0x73C5, num), uintEl(idTrackType, 1),
		strEl(idCodecID, "V_VP8"), el(idVideo, v...))
}

// alphaGroup encodes a keyframe BlockGroup whose BlockAdditions carry n
// bytes of alpha data (BlockAddID 1).
func alphaGroup(track uint64, rel int16, n int) []byte {
	return el(idBlockGroup,
		el(idBlock, []byte{0x80 | byte(track), byte(uint16(rel) >> 8), byte(rel), 0}, make([]byte, 30)),
		el(idBlockAdditions, el(0xA6, uintEl(0xEE, 1), el(0xA5, bytes.Repeat([]byte{0x5A}, n)))))
}

// alphaStream is a live-style stream with audio track 1 and the video
// tracks given, then Clusters of blocks.
func alphaStream(tracks [][]byte, blocks ...[]byte) []byte {
	return cat(ebmlHeader("webm"), elUnknown(idSegment, 8), infoEl(1000000),
		el(idTracks, append([][]byte{audioTrack(1, "A_OPUS")}, tracks...)...),
		elUnknown(idCluster, 8, append([][]byte{uintEl(idTimecode, 0), simpleBlock(1, 0, true, 20)}, blocks...)...),
		elUnknown(idCluster, 8, uintEl(idTimecode, 300), simpleBlock(2, 0, false, 25), alphaGroup(2, 5, 9)))
}

func TestSettleAlpha(t *testing.T) {
	alpha1 := uintEl(idAlphaMode, 1)
	tests := []struct {
		name string
		give []byte
		want []uint64 // the AlphaMode values after Settle, in stream order
	}{
		{"absent", alphaStream([][]byte{videoTrackAlpha(2)}, simpleBlock(2, 0, true, 50)), nil},
		{"zero", alphaStream([][]byte{videoTrackAlpha(2, uintEl(idAlphaMode, 0))}, simpleBlock(2, 0, true, 50)), []uint64{0}},
		{"empty", alphaStream([][]byte{videoTrackAlpha(2, el(idAlphaMode))}, simpleBlock(2, 0, true, 50)), []uint64{0}},
		{"one, SimpleBlocks", alphaStream([][]byte{videoTrackAlpha(2, alpha1)}, simpleBlock(2, 0, true, 50)), []uint64{0}},
		{"one, before other Video elements", alphaStream([][]byte{videoTrackAlpha(2, alpha1, uintEl(0x9A, 0))}, simpleBlock(2, 0, true, 50)), []uint64{0}},
		{"one in two bytes", alphaStream([][]byte{videoTrackAlpha(2, ebmlUintWidth(idAlphaMode, 1, 2))}, simpleBlock(2, 0, true, 50)), []uint64{0}},
		{"one, BlockGroup without additions", alphaStream([][]byte{videoTrackAlpha(2, alpha1)}, blockGroupEl(2, 0, false, 50)), []uint64{0}},
		{"one, first block with alpha data", alphaStream([][]byte{videoTrackAlpha(2, alpha1)}, alphaGroup(2, 0, 12)), []uint64{1}},
		{"one, alpha data only later", alphaStream([][]byte{videoTrackAlpha(2, alpha1)}, simpleBlock(2, 0, true, 50), alphaGroup(2, 10, 12)), []uint64{0}},
		{"two tracks, one with alpha data", alphaStream([][]byte{videoTrackAlpha(2, alpha1), videoTrackAlpha(3, alpha1)},
			alphaGroup(3, 0, 12), simpleBlock(2, 0, true, 50)), []uint64{0, 1}},
		{"two", alphaStream([][]byte{videoTrackAlpha(2, uintEl(idAlphaMode, 2))}, simpleBlock(2, 0, true, 50)), []uint64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := alphaModes(t, initOf(t, tt.give))
			for cut := 0; cut <= len(tt.give); cut++ {
				r := NewReader(Limits{})
				r.Blocks = cut%2 == 0
				for _, p := range [][]byte{tt.give[:cut], tt.give[cut:]} {
					if _, err := r.Feed(nil, p); err != nil {
						t.Fatalf("cut %d: %v", cut, err)
					}
				}
				before := r.Init()
				keep := bytes.Clone(before)
				changed := r.Settle()
				init := r.Init()
				if !bytes.Equal(before, keep) {
					t.Fatalf("cut %d: Settle changed a slice Init returned before", cut)
				}
				if len(init) != len(before) {
					t.Fatalf("cut %d: init segment %d bytes after Settle; want %d", cut, len(init), len(before))
				}
				got := alphaModes(t, init)
				if len(got) != len(tt.want) || len(got) != len(orig) {
					t.Fatalf("cut %d: %d AlphaModes (%d before); want %d", cut, len(got), len(orig), len(tt.want))
				}
				wantChanged := false
				for i, a := range got {
					if v := alphaValue(init, a); v != tt.want[i] {
						t.Fatalf("cut %d: AlphaMode %d = %d; want %d", cut, i, v, tt.want[i])
					}
					wantChanged = wantChanged || alphaValue(before, orig[i]) != tt.want[i]
				}
				if changed != wantChanged {
					t.Fatalf("cut %d: Settle() = %v; want %v", cut, changed, wantChanged)
				}
				checkPatch(t, r, before, tt.give)
				if r.Settle() {
					t.Fatalf("cut %d: second Settle() = true", cut)
				}
			}
		})
	}
}

// ebmlUintWidth encodes an unsigned integer element in width bytes.
func ebmlUintWidth(id uint32, v uint64, width int) []byte {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return el(id, b)
}

// initOf returns the init segment of a stream.
func initOf(t *testing.T, b []byte) []byte {
	t.Helper()
	r := NewReader(Limits{})
	if _, err := r.Feed(nil, b); err != nil || r.Init() == nil {
		t.Fatalf("Feed = %v, init %d bytes", err, len(r.Init()))
	}
	return r.Init()
}

// checkPatch fails unless Patch, applied to a copy of the stream cut into
// pieces at every byte, gives the settled init segment followed by the rest
// of the stream unchanged, and changes no byte Settle did not.
func checkPatch(t *testing.T, r *Reader, before, stream []byte) {
	t.Helper()
	init := r.Init()
	for _, n := range []int{1, 2, 3, 7, len(stream)} {
		c := bytes.Clone(stream)
		for off := 0; off < len(c); off += n {
			r.Patch(int64(off), c[off:min(off+n, len(c))])
		}
		if !bytes.Equal(c[:len(init)], init) || !bytes.Equal(c[len(init):], stream[len(init):]) {
			t.Fatalf("Patch in pieces of %d does not give the settled init segment and the rest unchanged", n)
		}
	}
	if !bytes.Equal(stream[:len(before)], before) {
		t.Fatal("Init before Settle is not the stream's first bytes")
	}
	// A reader of the patched stream reads the same tracks.
	c := bytes.Clone(stream)
	r.Patch(0, c)
	r2 := NewReader(Limits{})
	if _, err := r2.Feed(nil, c); err != nil {
		t.Fatalf("patched stream: %v", err)
	}
	if fmt.Sprint(r2.Tracks()) != fmt.Sprint(r.Tracks()) || r2.MIMEType() != r.MIMEType() {
		t.Fatalf("patched stream reads as %v %q; want %v %q", r2.Tracks(), r2.MIMEType(), r.Tracks(), r.MIMEType())
	}
}

func TestSettleBeforeInit(t *testing.T) {
	s := alphaStream([][]byte{videoTrackAlpha(2, uintEl(idAlphaMode, 1))}, simpleBlock(2, 0, true, 50))
	n := len(initOf(t, s))
	r := NewReader(Limits{})
	if _, err := r.Feed(nil, s[:n]); err != nil {
		t.Fatal(err)
	}
	if r.Settle() || r.Init() != nil {
		t.Fatal("Settle before KindInit did something")
	}
	c := bytes.Clone(s)
	r.Patch(0, c)
	if !bytes.Equal(c, s) {
		t.Fatal("Patch before Settle changed bytes")
	}
	if _, err := r.Feed(nil, s[n:]); err != nil {
		t.Fatal(err)
	}
	if !r.Settle() {
		t.Fatal("Settle after KindInit = false; want true")
	}
}

// TestSettleFixtures settles every WebM fixture as the ingest does, at the
// end of the chunk that completes the header: each carries AlphaMode 1, as
// Chromium records it, and no alpha data, so it is cleared in place.
func TestSettleFixtures(t *testing.T) {
	for _, name := range webmSets {
		t.Run(name, func(t *testing.T) {
			set := loadFixture(t, name)
			r := NewReader(Limits{})
			r.Blocks = true
			settled := false
			for _, c := range set.Chunks {
				evs, err := r.Feed(nil, c)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					if ev.Kind == KindInit {
						before := r.Init()
						orig := alphaModes(t, before)
						if len(orig) != 1 || alphaValue(before, orig[0]) != 1 {
							t.Fatalf("AlphaModes %v; want one of value 1 (as Chromium records it)", orig)
						}
						if !r.Settle() {
							t.Fatal("Settle() = false; want true")
						}
						init := r.Init()
						if got := alphaModes(t, init); len(init) != len(before) || len(got) != 1 || alphaValue(init, got[0]) != 0 {
							t.Fatalf("settled init segment %d bytes (want %d), AlphaModes %v", len(init), len(before), got)
						}
						if int64(len(init)) != set.St.InitSegmentEnd {
							t.Fatalf("init segment %d bytes; structure.json says %d", len(init), set.St.InitSegmentEnd)
						}
						settled = true
					}
				}
			}
			if !settled {
				t.Fatal("no KindInit")
			}
			checkPatch(t, r, set.Full[:len(r.Init())], set.Full)
		})
	}
}
