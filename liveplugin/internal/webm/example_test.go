package webm_test

import (
	"fmt"
	"slices"

	"github.com/amlive/amlive/internal/ebml"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

func Example() {
	// A stream shaped like MediaRecorder's, written with internal/ebml: EBML
	// header, then a Segment and Clusters of unknown size; Opus on track 1,
	// VP8 on track 2.
	track := func(num, typ uint64, codec string) func([]byte) []byte {
		return func(b []byte) []byte {
			b = ebml.AppendUint(b, 0xD7, num) // TrackNumber
			b = ebml.AppendUint(b, 0x83, typ) // TrackType
			return ebml.AppendString(b, 0x86, codec)
		}
	}
	block := func(b []byte, header []byte, payload string) []byte { // SimpleBlock
		return ebml.AppendBytes(b, 0xA3, append(header, payload...))
	}
	stream := ebml.AppendMaster(nil, 0x1A45DFA3, func(b []byte) []byte { // EBML
		return ebml.AppendString(b, 0x4282, "webm") // DocType
	})
	stream = ebml.AppendUnknownHeader(stream, 0x18538067, 8)               // Segment
	stream = ebml.AppendMaster(stream, 0x1654AE6B, func(b []byte) []byte { // Tracks
		b = ebml.AppendMaster(b, 0xAE, track(1, 2, "A_OPUS"))
		return ebml.AppendMaster(b, 0xAE, track(2, 1, "V_VP8"))
	})
	stream = ebml.AppendUnknownHeader(stream, 0x1F43B675, 8)  // Cluster
	stream = ebml.AppendUint(stream, 0xE7, 0)                 // Timecode
	stream = block(stream, []byte{0x81, 0, 0, 0x80}, "opus")  // track 1, keyframe
	stream = block(stream, []byte{0x82, 0, 10, 0x80}, "vp8k") // track 2 at +10, keyframe
	stream = ebml.AppendUnknownHeader(stream, 0x1F43B675, 8)
	stream = ebml.AppendUint(stream, 0xE7, 300)
	stream = block(stream, []byte{0x81, 0, 0, 0x80}, "opus")
	stream = block(stream, []byte{0x82, 0, 0, 0}, "vp8d") // not a keyframe

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
	// fragment 60 0s
	// sync 60 0s
	// fragment 95 300ms
	// video/webm; codecs="vp8,opus" 60 <nil>
}
