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

// feedAll feeds b whole, then one byte at a time and in 3-byte pieces, and
// fails unless all three give the same result.
func feedAll(t *testing.T, lim Limits, blocks bool, b []byte) (feedResult, *Reader) {
	t.Helper()
	want, r := feedPieces(t, lim, blocks, [][]byte{b})
	for _, n := range []int{1, 3} {
		got, _ := feedPieces(t, lim, blocks, mediatest.SplitEvery(b, n))
		checkSameResult(t, fmt.Sprintf("split %d", n), got, want)
	}
	return want, r
}

func TestUnknownSizeWidths(t *testing.T) {
	for width := 1; width <= 8; width++ {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			head := cat(ebmlHeader("webm"), elUnknown(idSegment, width), infoEl(1000000),
				el(idTracks, videoTrack(1, "V_VP9", nil), audioTrack(2, "A_OPUS")))
			c1 := elUnknown(idCluster, width, uintEl(idTimecode, 0), simpleBlock(2, 0, true, 10), simpleBlock(1, 0, true, 100))
			c2 := elUnknown(idCluster, width, uintEl(idTimecode, 250), simpleBlock(1, 0, false, 10))
			res, r := feedAll(t, Limits{}, false, cat(head, c1, c2))
			if res.err != nil {
				t.Fatal(res.err)
			}
			off1, off2 := int64(len(head)), int64(len(head)+len(c1))
			want := []Event{
				{Kind: KindInit, Offset: off1},
				{Kind: KindCluster, Offset: off1},
				{Kind: KindSync, Offset: off1},
				{Kind: KindCluster, Offset: off2, Timecode: 250 * time.Millisecond},
			}
			if !slices.Equal(res.events, want) {
				t.Errorf("events = %v; want %v", res.events, want)
			}
			if got := r.MIMEType(); got != `video/webm; codecs="vp9,opus"` {
				t.Errorf("MIMEType() = %s; want %s", got, `video/webm; codecs="vp9,opus"`)
			}
		})
	}
}

func TestKnownSizes(t *testing.T) {
	// A finished file: known-size Segment holding SeekHead, Info, Tracks,
	// known-size Clusters (with a Void and a Position), Cues and Tags.
	tracks := el(idTracks, audioTrack(1, "A_OPUS"), videoTrack(2, "V_VP8", nil))
	tc1, pos := uintEl(idTimecode, 0), uintEl(0xA7, 0)
	b1, b2, void, b3 := simpleBlock(1, 0, true, 20), simpleBlock(2, 3, true, 50), el(idVoid, make([]byte, 5)), simpleBlock(2, 40, false, 20)
	body1 := cat(tc1, pos, b1, b2, void, b3)
	c1 := el(idCluster, body1)
	tc2, prev, b4 := uintEl(idTimecode, 100), uintEl(0xAB, uint64(len(c1))), simpleBlock(2, 0, false, 20)
	body2 := cat(tc2, prev, b4)
	c2 := el(idCluster, body2)
	body := cat(el(idSeekHead, el(0x4DBB, el(0x53AB, idBytes(idInfo)), uintEl(0x53AC, 10))),
		el(idVoid, make([]byte, 30)), infoEl(500000), tracks)
	tail := cat(el(idCues, el(0xBB, uintEl(0xB3, 0))), el(idTags, el(0x7373)))
	segHead := cat(idBytes(idSegment), sizeBytes(len(body)+len(c1)+len(c2)+len(tail)))
	head := cat(ebmlHeader("webm"), segHead, body)
	stream := cat(head, c1, c2, tail, el(idVoid))
	res, r := feedAll(t, Limits{}, true, stream)
	if res.err != nil {
		t.Fatal(res.err)
	}
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	size := func(b []byte) int64 { return int64(len(b)) }
	o1 := size(head)
	ob1 := o1 + size(c1) - size(body1) + size(tc1) + size(pos)
	ob2 := ob1 + size(b1)
	ob3 := ob2 + size(b2) + size(void)
	o2 := o1 + size(c1)
	ob4 := o2 + size(c2) - size(body2) + size(tc2) + size(prev)
	want := []Event{
		{Kind: KindInit, Offset: o1},
		{Kind: KindCluster, Offset: o1},
		{Kind: KindBlock, Offset: ob1, Track: 1, Keyframe: true, Size: size(b1)},
		{Kind: KindSync, Offset: o1},
		{Kind: KindBlock, Offset: ob2, Timecode: ms(1.5), Track: 2, Keyframe: true, Size: size(b2)},
		{Kind: KindBlock, Offset: ob3, Timecode: ms(20), Track: 2, Size: size(b3)},
		{Kind: KindCluster, Offset: o2, Timecode: ms(50)},
		{Kind: KindBlock, Offset: ob4, Timecode: ms(50), Track: 2, Size: size(b4)},
	}
	if !slices.Equal(res.events, want) {
		t.Errorf("events =\n%v; want\n%v", res.events, want)
	}
	if got := r.TimecodeScale(); got != 500*time.Microsecond {
		t.Errorf("TimecodeScale() = %v; want 500µs", got)
	}
	if !bytes.Equal(r.Init(), head) {
		t.Errorf("Init() = %d bytes; want the %d bytes before the first cluster", len(r.Init()), len(head))
	}
}

func TestBlockGroups(t *testing.T) {
	head := cat(ebmlHeader("matroska"), elUnknown(idSegment, 8), infoEl(1000000),
		el(idTracks, audioTrack(1, "A_VORBIS"), videoTrack(2, "V_VP8", nil)))
	// Cluster 1: audio, then a video BlockGroup with no ReferenceBlock: a keyframe.
	g1 := blockGroupEl(2, 0, false, 100)
	c1 := elUnknown(idCluster, 8, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 10), g1)
	// Cluster 2: the first video BlockGroup refers to another block: no join point.
	g2 := blockGroupEl(2, -5, true, 100)
	c2 := elUnknown(idCluster, 8, uintEl(idTimecode, 1000), g2, blockGroupEl(2, 10, false, 10))
	res, r := feedAll(t, Limits{}, true, cat(head, c1, c2))
	if res.err != nil {
		t.Fatal(res.err)
	}
	o1, o2 := int64(len(head)), int64(len(head)+len(c1))
	tcLen := int64(len(uintEl(idTimecode, 0)))
	tc2Len := int64(len(uintEl(idTimecode, 1000)))
	sb := int64(len(simpleBlock(1, 0, true, 10)))
	want := []Event{
		{Kind: KindInit, Offset: o1},
		{Kind: KindCluster, Offset: o1},
		{Kind: KindBlock, Offset: o1 + 12 + tcLen, Track: 1, Keyframe: true, Size: sb},
		{Kind: KindSync, Offset: o1},
		{Kind: KindBlock, Offset: o1 + 12 + tcLen + sb, Track: 2, Keyframe: true, Size: int64(len(g1))},
		{Kind: KindCluster, Offset: o2, Timecode: time.Second},
		{Kind: KindBlock, Offset: o2 + 12 + tc2Len, Timecode: 995 * time.Millisecond, Track: 2, Size: int64(len(g2))},
		{Kind: KindBlock, Offset: o2 + 12 + tc2Len + int64(len(g2)), Timecode: 1010 * time.Millisecond, Track: 2, Keyframe: true, Size: int64(len(blockGroupEl(2, 10, false, 10)))},
	}
	if !slices.Equal(res.events, want) {
		t.Errorf("events =\n%v; want\n%v", res.events, want)
	}
	if got := r.DocType(); got != "matroska" {
		t.Errorf("DocType() = %q; want %q", got, "matroska")
	}
}

func TestAudioOnly(t *testing.T) {
	head := cat(ebmlHeader("webm"), elUnknown(idSegment, 8), infoEl(1000000), el(idTracks, audioTrack(1, "A_OPUS")))
	c1 := elUnknown(idCluster, 8, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 10))
	c2 := elUnknown(idCluster, 8, uintEl(idTimecode, 60), simpleBlock(1, 0, true, 10))
	res, r := feedAll(t, Limits{}, false, cat(head, c1, c2))
	if res.err != nil {
		t.Fatal(res.err)
	}
	o1, o2 := int64(len(head)), int64(len(head)+len(c1))
	want := []Event{
		{Kind: KindInit, Offset: o1},
		{Kind: KindCluster, Offset: o1},
		{Kind: KindSync, Offset: o1},
		{Kind: KindCluster, Offset: o2, Timecode: 60 * time.Millisecond},
		{Kind: KindSync, Offset: o2, Timecode: 60 * time.Millisecond},
	}
	if !slices.Equal(res.events, want) {
		t.Errorf("events = %v; want %v", res.events, want)
	}
	if got, want := r.MIMEType(), `audio/webm; codecs="opus"`; got != want {
		t.Errorf("MIMEType() = %s; want %s", got, want)
	}
	if _, ok := r.VideoTrack(); ok {
		t.Error("VideoTrack() found a video track in an audio-only stream")
	}
	if err := r.Playable(); err != nil {
		t.Errorf("Playable() = %v; want nil", err)
	}
}

func TestCodecs(t *testing.T) {
	avcC := []byte{1, 0x42, 0xC0, 0x1F, 0xFF, 0xE1}
	tests := []struct {
		name         string
		give         []byte // TrackEntry elements
		wantMIME     string
		wantPlayable bool
	}{
		{
			name:         "vp8 opus",
			give:         cat(videoTrack(1, "V_VP8", nil), audioTrack(2, "A_OPUS")),
			wantMIME:     `video/webm; codecs="vp8,opus"`,
			wantPlayable: true,
		},
		{
			name:         "audio listed first",
			give:         cat(audioTrack(1, "A_VORBIS"), videoTrack(2, "V_VP9", nil)),
			wantMIME:     `video/webm; codecs="vp9,vorbis"`,
			wantPlayable: true,
		},
		{
			name:     "h264",
			give:     cat(videoTrack(1, "V_MPEG4/ISO/AVC", avcC), audioTrack(2, "A_OPUS")),
			wantMIME: `video/webm; codecs="avc1.42C01F,opus"`,
		},
		{
			name:     "h264 without codec private",
			give:     videoTrack(1, "V_MPEG4/ISO/AVC", nil),
			wantMIME: `video/webm; codecs="avc1"`,
		},
		{
			name:     "aac",
			give:     audioTrack(1, "A_AAC"),
			wantMIME: `audio/webm; codecs="mp4a.40.2"`,
		},
		{
			name:     "unknown codec",
			give:     cat(videoTrack(1, "V_THEORA", nil), audioTrack(2, "A_OPUS")),
			wantMIME: `video/webm; codecs="opus"`,
		},
		{
			name:         "av1 main 8 bit",
			give:         videoTrack(1, "V_AV1", []byte{0x81, 0x08, 0x0C, 0x00}),
			wantMIME:     `video/webm; codecs="av01.0.08M.08"`,
			wantPlayable: true,
		},
		{
			name:         "av1 high tier 10 bit",
			give:         videoTrack(1, "V_AV1", []byte{0x81, 0x2D, 0xC0, 0x00}),
			wantMIME:     `video/webm; codecs="av01.1.13H.10"`,
			wantPlayable: true,
		},
		{
			name:         "av1 professional 12 bit",
			give:         videoTrack(1, "V_AV1", []byte{0x81, 0x53, 0x60, 0x00}),
			wantMIME:     `video/webm; codecs="av01.2.19M.12"`,
			wantPlayable: true,
		},
		{
			name:         "av1 without codec private",
			give:         cat(videoTrack(1, "V_AV1", nil), audioTrack(2, "A_OPUS")),
			wantMIME:     `video/webm; codecs="av01.0.08M.08,opus"`,
			wantPlayable: true,
		},
		{
			name:     "no audio or video",
			give:     el(idTrackEntry, uintEl(idTrackNumber, 1), uintEl(idTrackType, 0x11), strEl(idCodecID, "S_TEXT/WEBVTT")),
			wantMIME: "video/webm",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := cat(ebmlHeader("webm"), elUnknown(idSegment, 8), el(idTracks, tc.give),
				elUnknown(idCluster, 8, uintEl(idTimecode, 0)))
			res, r := feedAll(t, Limits{}, false, stream)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if got := r.MIMEType(); got != tc.wantMIME {
				t.Errorf("MIMEType() = %s; want %s", got, tc.wantMIME)
			}
			err := r.Playable()
			if tc.wantPlayable && err != nil {
				t.Errorf("Playable() = %v; want nil", err)
			}
			if !tc.wantPlayable && !errors.Is(err, ErrUnsupportedCodec) {
				t.Errorf("Playable() = %v; want %v", err, ErrUnsupportedCodec)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	head := cat(ebmlHeader("webm"), elUnknown(idSegment, 8))
	tracks := el(idTracks, audioTrack(1, "A_OPUS"), videoTrack(2, "V_VP8", nil))
	live := cat(head, infoEl(1000000), tracks)
	tests := []struct {
		name       string
		give       []byte
		limits     Limits
		want       error
		wantOffset int64
	}{
		{name: "empty mp4 box", give: []byte{0, 0, 0, 0x24, 'f', 't', 'y', 'p'}, want: ErrNotWebM},
		{name: "ebml magic broken late", give: []byte{0x1A, 0x45, 0xDF, 0xA4, 0x9F}, want: ErrNotWebM},
		{name: "text", give: []byte("<!DOCTYPE html>"), want: ErrNotWebM},
		{name: "doctype foo", give: cat(ebmlHeader("foo"), elUnknown(idSegment, 8)), want: ErrNotWebM},
		{name: "no doctype", give: el(idEBML, uintEl(0x4286, 1)), want: ErrNotWebM},
		{name: "no segment", give: cat(ebmlHeader("webm"), tracks), want: ErrNotWebM, wantOffset: int64(len(ebmlHeader("webm")))},
		{
			name:       "cluster before tracks",
			give:       cat(head, infoEl(1000000), elUnknown(idCluster, 8, uintEl(idTimecode, 0))),
			want:       ErrMalformed,
			wantOffset: int64(len(head) + len(infoEl(1000000))),
		},
		{name: "no tracks", give: cat(head, el(idTracks), elUnknown(idCluster, 8)), want: ErrMalformed, wantOffset: int64(len(head) + 5)},
		{name: "track without number", give: cat(head, el(idTracks, el(idTrackEntry, strEl(idCodecID, "V_VP8")))), want: ErrMalformed, wantOffset: int64(len(head) + 5)},
		{
			name:       "duplicate track",
			give:       cat(head, el(idTracks, audioTrack(1, "A_OPUS"), videoTrack(1, "V_VP8", nil))),
			want:       ErrMalformed,
			wantOffset: int64(len(head) + 5 + len(audioTrack(1, "A_OPUS"))),
		},
		{name: "invalid id", give: cat(head, []byte{0x00, 0x81}), want: ErrMalformed, wantOffset: int64(len(head))},
		{name: "invalid size", give: cat(head, []byte{0xEC, 0x00}), want: ErrMalformed, wantOffset: int64(len(head))},
		{name: "unknown-size info", give: cat(head, elUnknown(idInfo, 1)), want: ErrMalformed, wantOffset: int64(len(head))},
		{name: "unknown-size void", give: cat(head, elUnknown(idVoid, 1)), want: ErrMalformed, wantOffset: int64(len(head))},
		{name: "child larger than parent", give: cat(head, []byte{0x15, 0x49, 0xA9, 0x66, 0x83, 0xEC, 0x85}), want: ErrMalformed, wantOffset: int64(len(head) + 5)},
		{name: "header crosses parent end", give: cat(head, []byte{0x15, 0x49, 0xA9, 0x66, 0x81, 0x2A, 0xD7}), want: ErrMalformed, wantOffset: int64(len(head) + 5)},
		{name: "invalid uint size", give: cat(head, el(idInfo, el(idTimecodeScale, make([]byte, 9)))), want: ErrMalformed, wantOffset: int64(len(head) + 5)},
		{name: "invalid float size", give: cat(head, el(idTracks, el(idTrackEntry, el(idAudio, el(idSamplingFrequency, make([]byte, 3)))))), want: ErrMalformed, wantOffset: int64(len(head) + 5 + 2 + 2)},
		{name: "zero timecode scale", give: cat(head, el(idInfo, uintEl(idTimecodeScale, 0))), want: ErrMalformed, wantOffset: int64(len(head) + 5)},
		{
			name:       "block before timecode",
			give:       cat(live, elUnknown(idCluster, 8, simpleBlock(1, 0, true, 3))),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 12),
		},
		{
			name:       "block for unknown track",
			give:       cat(live, elUnknown(idCluster, 8, uintEl(idTimecode, 0), simpleBlock(3, 0, true, 3))),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 12 + 3),
		},
		{
			name: "block shorter than its header",
			give: cat(live, elUnknown(idCluster, 8, uintEl(idTimecode, 0), el(idSimpleBlock, []byte{0x81, 0})),
				uintEl(idTimecode, 1)),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 12 + 3),
		},
		{
			name:       "invalid block track number",
			give:       cat(live, elUnknown(idCluster, 8, uintEl(idTimecode, 0), el(idSimpleBlock, []byte{0, 0, 0, 0}))),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 12 + 3),
		},
		{
			name:       "second block in a group",
			give:       cat(live, elUnknown(idCluster, 8, uintEl(idTimecode, 0), el(idBlockGroup, el(idBlock, []byte{0x81, 0, 0, 0}), el(idBlock, []byte{0x81, 0, 0, 0})))),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 12 + 3 + 2 + 6),
		},
		{
			name:       "second cluster timecode",
			give:       cat(live, elUnknown(idCluster, 8, uintEl(idTimecode, 0), uintEl(idTimecode, 0))),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 12 + 3),
		},
		{
			name:       "cluster without timecode",
			give:       cat(live, elUnknown(idCluster, 8, uintEl(0xA7, 0)), elUnknown(idCluster, 8)),
			want:       ErrMalformed,
			wantOffset: int64(len(live)),
		},
		{
			name:       "segment element in known-size cluster",
			give:       cat(live, el(idCluster, uintEl(idTimecode, 0), el(idTags))),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 5 + 3),
		},
		{
			name:       "unknown-size element in cluster",
			give:       cat(live, elUnknown(idCluster, 8, uintEl(idTimecode, 0), elUnknown(idBlockGroup, 1))),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 12 + 3),
		},
		{
			name:       "second segment",
			give:       cat(live, elUnknown(idCluster, 8, uintEl(idTimecode, 0)), elUnknown(idSegment, 8)),
			want:       ErrMalformed,
			wantOffset: int64(len(live) + 12 + 3),
		},
		{
			name:       "data after known-size segment",
			give:       cat(ebmlHeader("webm"), el(idSegment, infoEl(1000000)), el(idVoid), tracks),
			want:       ErrMalformed,
			wantOffset: int64(len(ebmlHeader("webm")) + len(el(idSegment, infoEl(1000000))) + 2),
		},
		{
			name:       "absurd element size",
			give:       cat(live, []byte{0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0, 0, 0, 0, 0, 0}),
			want:       ErrLimit,
			wantOffset: int64(len(live)),
		},
		{
			name:       "element over MaxElementBytes",
			give:       cat(live, el(idCluster, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 200))),
			limits:     Limits{MaxElementBytes: 100},
			want:       ErrLimit,
			wantOffset: int64(len(live)),
		},
		{
			name:       "init over MaxInitBytes",
			give:       cat(head, el(idVoid, make([]byte, 200)), tracks, elUnknown(idCluster, 8, uintEl(idTimecode, 0))),
			limits:     Limits{MaxInitBytes: 200},
			want:       ErrLimit,
			wantOffset: int64(len(head)),
		},
		{
			name:       "unknown-size segment header over MaxInitBytes",
			give:       head,
			limits:     Limits{MaxInitBytes: len(head) - 1},
			want:       ErrLimit,
			wantOffset: int64(len(ebmlHeader("webm"))),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, r := feedAll(t, tc.limits, true, tc.give)
			if !errors.Is(res.err, tc.want) {
				t.Fatalf("Feed() = %v; want %v", res.err, tc.want)
			}
			var se *SyntaxError
			if !errors.As(res.err, &se) {
				t.Fatalf("Feed() = %T; want *SyntaxError", res.err)
			}
			if se.Offset != tc.wantOffset {
				t.Errorf("Feed() = %v at offset %d; want offset %d", se, se.Offset, tc.wantOffset)
			}
			// The reader is dead: valid bytes give the same error.
			if _, err := r.Feed(nil, testStream()); err != res.err {
				t.Errorf("Feed after error = %v; want %v", err, res.err)
			}
		})
	}
}

func TestInitAtMaxInitBytes(t *testing.T) {
	// An init segment of exactly MaxInitBytes is accepted.
	s := testStream()
	res, _ := feedAll(t, Limits{MaxInitBytes: 1 << 20}, false, s)
	init := res.events[0].Offset
	res, r := feedAll(t, Limits{MaxInitBytes: int(init)}, false, s)
	if res.err != nil {
		t.Fatalf("Feed with MaxInitBytes = init length: %v", res.err)
	}
	if int64(len(r.Init())) != init {
		t.Errorf("Init() = %d bytes; want %d", len(r.Init()), init)
	}
	res, _ = feedAll(t, Limits{MaxInitBytes: int(init) - 1}, false, s)
	if !errors.Is(res.err, ErrLimit) {
		t.Errorf("Feed with MaxInitBytes = init length - 1: %v; want %v", res.err, ErrLimit)
	}
}

func TestReaderBeforeInit(t *testing.T) {
	r := NewReader(Limits{})
	if _, err := r.Feed(nil, testStream()[:100]); err != nil {
		t.Fatal(err)
	}
	if r.Init() != nil || r.MIMEType() != "" {
		t.Errorf("Init() = %d bytes, MIMEType() = %q before the first cluster; want nil, \"\"", len(r.Init()), r.MIMEType())
	}
	if err := r.Playable(); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("Playable() = %v before tracks; want %v", err, ErrUnsupportedCodec)
	}
}

func TestZeroReader(t *testing.T) {
	var r Reader
	evs, err := r.Feed(nil, testStream())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(evs); n != 6 {
		t.Errorf("zero Reader gave %d events (%v); want 6", n, evs)
	}
}

func TestSyntaxError(t *testing.T) {
	err := error(&SyntaxError{Offset: 1234, Reason: "cluster before tracks", Err: ErrMalformed})
	if got, want := err.Error(), "webm: offset 1234: cluster before tracks"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrLimit) {
		t.Errorf("errors.Is(%v) does not see ErrMalformed alone", err)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name string
		give fmt.Stringer
		want string
	}{
		{name: "init", give: KindInit, want: "init"},
		{name: "cluster", give: KindCluster, want: "fragment"},
		{name: "sync", give: KindSync, want: "sync"},
		{name: "block", give: KindBlock, want: "sample"},
		{name: "bad kind", give: Kind(0), want: "Kind(0)"},
		{name: "video", give: Video, want: "video"},
		{name: "audio", give: Audio, want: "audio"},
		{name: "other", give: Other, want: "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.give.String(); got != tc.want {
				t.Errorf("String() = %q; want %q", got, tc.want)
			}
		})
	}
}
