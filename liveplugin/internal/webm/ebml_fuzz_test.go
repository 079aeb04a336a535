package webm

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/ebml"
)

// FuzzEBMLRoundTrip checks the module's EBML writer, internal/ebml, against
// this package's reading of the same bytes: a header written with any size
// and width parses back to that ID and size, and a stream written with it
// from arbitrary values (TimecodeScale, track number, codec id,
// CodecPrivate, dimensions, sampling frequency, Cluster timecode, sizes
// known or unknown and of any width) reads back to those values.
func FuzzEBMLRoundTrip(f *testing.F) {
	f.Add(uint64(1000000), uint8(1), "V_VP8", []byte{1, 2}, uint64(640), 48000.0, uint64(300), int64(5), uint8(8), false)
	f.Add(uint64(1), uint8(126), "A_OPUS", []byte(nil), uint64(0), 0.0, uint64(0), int64(127), uint8(1), true)
	f.Add(uint64(1<<40), uint8(7), "", []byte("OpusHead"), uint64(1<<63), -1.5, uint64(1<<20-1), int64(ebml.MaxSize), uint8(3), true)
	f.Fuzz(func(t *testing.T, scale uint64, num uint8, codec string, priv []byte, width uint64, rate float64,
		tc uint64, size int64, w uint8, known bool) {
		// Headers: any size, shortest and at every width that holds it.
		if size < 0 {
			size = -(size + 1)
		}
		size %= ebml.MaxSize + 1
		for l := ebml.SizeLen(size); l <= 8; l++ {
			h := ebml.AppendSizeWidth(ebml.AppendID(nil, idCluster), size, l)
			if l == ebml.SizeLen(size) && !bytes.Equal(h, ebml.AppendHeader(nil, idCluster, size)) {
				t.Fatalf("AppendHeader(%d) differs from AppendSizeWidth at the shortest width", size)
			}
			id, n, got, ok := parseHeader(h)
			if !ok || id != idCluster || n != len(h) || got != size {
				t.Fatalf("parseHeader(% x) = %#x, %d, %d, %v; want %#x, %d, %d", h, id, n, got, ok, idCluster, len(h), size)
			}
		}
		width8 := int(w%8) + 1
		if _, _, got, ok := parseHeader(ebml.AppendUnknownHeader(nil, idSegment, width8)); !ok || got != unknownSize {
			t.Fatalf("unknown size of width %d parses as %d, %v", width8, got, ok)
		}

		// A stream written from the values reads back to them.
		scale = 1 + scale%(1<<40)
		track := uint64(1 + num%126) // a one-byte block track number
		codec = strings.TrimRight(codec, "\x00")
		tc %= 1 << 20
		tracks := ebml.AppendMaster(nil, idTracks, func(b []byte) []byte {
			return ebml.AppendMaster(b, idTrackEntry, func(b []byte) []byte {
				b = ebml.AppendUint(b, idTrackNumber, track)
				b = ebml.AppendUint(b, idTrackType, 1)
				b = ebml.AppendString(b, idCodecID, codec)
				b = ebml.AppendBytes(b, idCodecPrivate, priv)
				b = ebml.AppendMaster(b, idVideo, func(b []byte) []byte { return ebml.AppendUint(b, idPixelWidth, width) })
				return ebml.AppendMaster(b, idAudio, func(b []byte) []byte { return ebml.AppendFloat(b, idSamplingFrequency, rate) })
			})
		})
		s := ebml.AppendMaster(nil, idEBML, func(b []byte) []byte { return ebml.AppendString(b, idDocType, "webm") })
		s = ebml.AppendUnknownHeader(s, idSegment, width8)
		s = ebml.AppendMaster(s, idInfo, func(b []byte) []byte { return ebml.AppendUint(b, idTimecodeScale, scale) })
		s = append(s, tracks...)
		initLen := int64(len(s))
		cluster := ebml.AppendUint(nil, idTimecode, tc)
		cluster = ebml.AppendBytes(cluster, idSimpleBlock, []byte{0x80 | byte(track), 0, 0, 0x80, 1, 2, 3})
		if known {
			s = ebml.AppendSizeWidth(ebml.AppendID(s, idCluster), int64(len(cluster)), width8)
		} else {
			s = ebml.AppendUnknownHeader(s, idCluster, width8)
		}
		s = append(s, cluster...)

		r := NewReader(Limits{})
		evs, err := r.Feed(nil, s)
		if err != nil {
			t.Fatalf("Feed: %v", err)
		}
		tr := r.Tracks()
		if len(evs) < 3 || evs[0] != (Event{Kind: KindInit, Offset: initLen}) ||
			evs[1] != (Event{Kind: KindCluster, Offset: initLen, Timecode: time.Duration(tc) * time.Duration(scale)}) {
			t.Fatalf("events %+v; want init and cluster at %d, timecode %d", evs, initLen, tc)
		}
		if r.TimecodeScale() != time.Duration(scale) || len(tr) != 1 {
			t.Fatalf("TimecodeScale %v, %d tracks; want %d, 1", r.TimecodeScale(), len(tr), scale)
		}
		got := tr[0]
		sameRate := got.SampleRate == rate || (rate != rate && got.SampleRate != got.SampleRate) // NaN
		if got.Number != track || got.CodecID != codec || !bytes.Equal(got.CodecPrivate, priv) || got.Width != width || !sameRate {
			t.Fatalf("track %+v; want number %d, codec %q, private % x, width %d, rate %v", got, track, codec, priv, width, rate)
		}
	})
}
