package webm_test

import (
	"fmt"
	"slices"

	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// el encodes an EBML element with a one-byte size.
func el(id []byte, payload ...[]byte) []byte {
	p := slices.Concat(payload...)
	return slices.Concat(id, []byte{0x80 | byte(len(p))}, p)
}

func Example() {
	var (
		unknownSize = []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
		segment     = []byte{0x18, 0x53, 0x80, 0x67}
		cluster     = []byte{0x1F, 0x43, 0xB6, 0x75}
		timecode    = []byte{0xE7}
		simpleBlock = []byte{0xA3}
	)
	// A stream shaped like MediaRecorder's: EBML header, then a Segment and
	// Clusters of unknown size; Opus on track 1, VP8 on track 2.
	stream := slices.Concat(
		el([]byte{0x1A, 0x45, 0xDF, 0xA3}, el([]byte{0x42, 0x82}, []byte("webm"))),
		segment, unknownSize,
		el([]byte{0x16, 0x54, 0xAE, 0x6B},
			el([]byte{0xAE}, el([]byte{0xD7}, []byte{1}), el([]byte{0x83}, []byte{2}), el([]byte{0x86}, []byte("A_OPUS"))),
			el([]byte{0xAE}, el([]byte{0xD7}, []byte{2}), el([]byte{0x83}, []byte{1}), el([]byte{0x86}, []byte("V_VP8"))),
		),
		cluster, unknownSize,
		el(timecode, []byte{0}),
		el(simpleBlock, []byte{0x81, 0, 0, 0x80}, []byte("opus")),  // track 1, keyframe
		el(simpleBlock, []byte{0x82, 0, 10, 0x80}, []byte("vp8k")), // track 2 at +10, keyframe
		cluster, unknownSize,
		el(timecode, []byte{0x01, 0x2C}), // 300
		el(simpleBlock, []byte{0x81, 0, 0, 0x80}, []byte("opus")),
		el(simpleBlock, []byte{0x82, 0, 0, 0}, []byte("vp8d")), // not a keyframe
	)

	r := webm.NewReader(webm.Limits{})
	var events []webm.Event
	// Like MediaRecorder's chunks, these pieces do not end on element boundaries.
	for piece := range slices.Chunk(stream, 7) {
		var err error
		if events, err = r.Feed(events, piece); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, ev := range events {
		fmt.Println(ev.Kind, ev.Offset, ev.Timecode)
	}
	fmt.Println(r.MIMEType(), len(r.Init()), r.Playable())
	// Output:
	// init 60 0s
	// cluster 60 0s
	// sync 60 0s
	// cluster 95 300ms
	// video/webm; codecs="vp8,opus" 60 <nil>
}
