package liveplugin

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// FuzzChunks feeds arbitrary bytes to the encoded-chunk parsers, as a tracks
// message and as a chunk. Whatever they accept must be within the
// protocol's bounds and mux into a stream the WebM reader reads, with
// playable tracks and the frame's block; what they refuse is a chunkError.
func FuzzChunks(f *testing.F) {
	f.Add([]byte(`{"type":"tracks","video":{"codec":"vp8","width":640,"height":480},"audio":{"codec":"opus","sampleRate":48000,"numberOfChannels":2}}`))
	f.Add([]byte(`{"type":"tracks","video":{"codec":"av01.0.04M.08","width":1280,"height":720}}`))
	f.Add([]byte(`{"type":"tracks","video":{"codec":"vp09.00.10.08","width":2,"height":2,"description":"AAEC"}}`))
	f.Add([]byte(`{"type":"tracks","audio":{"codec":"opus","sampleRate":24000,"numberOfChannels":1,"description":"T3B1c0hlYWQBAjgBgLsAAAAAAA=="}}`))
	f.Add([]byte(`{"type":"tracks","video":null}`))
	f.Add(binary.BigEndian.AppendUint32(append([]byte{1, 1}, 0, 0, 0, 0, 0, 0, 0x03, 0xe8), 33333))
	f.Add(append(binary.BigEndian.AppendUint32(append([]byte{2, 0}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 20000), 0xfc, 0xff))
	f.Fuzz(func(t *testing.T, data []byte) {
		tracks, err := parseTracks(data)
		if err != nil {
			if _, ok := err.(*chunkError); !ok {
				t.Fatalf("parseTracks: %T %v; want a chunkError", err, err)
			}
		} else {
			if len(tracks) == 0 || len(tracks) > 2 {
				t.Fatalf("parseTracks gave %d tracks", len(tracks))
			}
			m := webm.NewMuxer(tracks)
			stream := m.Frame(nil, tracks[0].Number, 0, true, []byte{0x10, 0x02, 0x00})
			r := webm.NewReader(webm.Limits{})
			r.Blocks = true
			evs, err := r.Feed(nil, stream)
			if err != nil || r.Playable() != nil || len(r.Tracks()) != len(tracks) {
				t.Fatalf("muxed header of %q: %v, playable %v, %d tracks", data, err, r.Playable(), len(r.Tracks()))
			}
			if n := len(evs); n == 0 || evs[n-1].Kind != webm.KindBlock || evs[n-1].Offset+evs[n-1].Size != int64(len(stream)) {
				t.Fatalf("muxed frame of %q not read as the last block: %+v", data, evs)
			}
		}

		h, payload, err := parseChunk(data)
		if err != nil {
			if _, ok := err.(*chunkError); !ok {
				t.Fatalf("parseChunk: %T %v; want a chunkError", err, err)
			}
			return
		}
		switch {
		case h.track != chunkVideo && h.track != chunkAudio,
			h.duration > maxChunkDuration,
			h.timestamp > maxChunkTimestamp || h.timestamp < -maxChunkTimestamp,
			len(payload) == 0 || !bytes.Equal(payload, data[chunkHeaderLen:]):
			t.Fatalf("parseChunk(%x) accepted %+v with %d payload bytes", data, h, len(payload))
		}
	})
}
