package webm

import (
	"errors"
	"slices"
	"testing"

	"github.com/amlive/amlive/internal/ebml"
	"github.com/amlive/amlive/internal/fixture"
)

// webmSets are the fixture sets that hold WebM.
var webmSets = fixture.WebM

const mp4Set = fixture.MP4

// loadFixture reads a set: its chunks, full file and structure.json.
func loadFixture(tb testing.TB, name string) fixture.Set {
	tb.Helper()
	return fixture.Load(tb, name)
}

// feedResult is what feeding a stream gave.
type feedResult struct {
	events []Event
	err    error
	offset int64
}

// feedPieces feeds pieces to a new reader, checking on the way that every
// event lies within the bytes consumed, and that the reader stays dead after
// an error.
func feedPieces(tb testing.TB, lim Limits, blocks bool, pieces [][]byte) (feedResult, *Reader) {
	tb.Helper()
	r := NewReader(lim)
	r.Blocks = blocks
	var res feedResult
	for _, p := range pieces {
		n := len(res.events)
		res.events, res.err = r.Feed(res.events, p)
		for _, ev := range res.events[n:] {
			if ev.Offset >= r.Offset() {
				tb.Fatalf("event %+v beyond the %d bytes consumed", ev, r.Offset())
			}
		}
		if res.err != nil {
			off := r.Offset()
			again, err := r.Feed(nil, p)
			if err != res.err || len(again) != 0 || r.Offset() != off {
				tb.Fatalf("Feed after error = %v, %v, offset %d; want nil, %v, offset %d", again, err, r.Offset(), res.err, off)
			}
			break
		}
	}
	res.offset = r.Offset()
	return res, r
}

// checkSameResult fails unless got and want are the same events, error and
// offset.
func checkSameResult(tb testing.TB, name string, got, want feedResult) {
	tb.Helper()
	if !sameError(got.err, want.err) {
		tb.Fatalf("%s: err = %v; want %v", name, got.err, want.err)
	}
	if got.offset != want.offset {
		tb.Fatalf("%s: offset = %d; want %d", name, got.offset, want.offset)
	}
	if !slices.Equal(got.events, want.events) {
		i := 0
		for i < min(len(got.events), len(want.events)) && got.events[i] == want.events[i] {
			i++
		}
		tb.Fatalf("%s: %d events, first difference at %d: got %v; want %v", name, len(got.events), i,
			sliceAt(got.events, i), sliceAt(want.events, i))
	}
}

func sliceAt(evs []Event, i int) any {
	if i < len(evs) {
		return evs[i]
	}
	return "no event"
}

// sameError reports whether a and b are both nil or equal SyntaxErrors.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	var sa, sb *SyntaxError
	if !errors.As(a, &sa) || !errors.As(b, &sb) {
		return false
	}
	return *sa == *sb
}

// Stream builders.

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// The builders below encode with internal/ebml, the module's one EBML
// writer, which the seal uses too.

// idBytes encodes an element ID.
func idBytes(id uint32) []byte { return ebml.AppendID(nil, id) }

// sizeBytes encodes n as the shortest EBML size that is not the unknown-size
// marker.
func sizeBytes(n int) []byte { return ebml.AppendSize(nil, int64(n)) }

// el encodes an element of known size.
func el(id uint32, parts ...[]byte) []byte { return ebml.AppendBytes(nil, id, cat(parts...)) }

// elUnknown encodes an element of unknown size, marker of the given width.
func elUnknown(id uint32, width int, parts ...[]byte) []byte {
	return append(ebml.AppendUnknownHeader(nil, id, width), cat(parts...)...)
}

func uintEl(id uint32, v uint64) []byte { return ebml.AppendUint(nil, id, v) }

func strEl(id uint32, s string) []byte { return ebml.AppendString(nil, id, s) }

func floatEl(id uint32, f float64) []byte { return ebml.AppendFloat(nil, id, f) }

func ebmlHeader(docType string) []byte {
	return el(idEBML,
		uintEl(0x4286, 1), uintEl(0x42F7, 1), uintEl(0x42F2, 4), uintEl(0x42F3, 8),
		strEl(idDocType, docType), uintEl(0x4287, 4), uintEl(0x4285, 2))
}

func infoEl(scale uint64) []byte {
	return el(idInfo, uintEl(idTimecodeScale, scale), strEl(0x4D80, "test"), strEl(0x5741, "test"))
}

func videoTrack(num uint64, codecID string, priv []byte) []byte {
	parts := [][]byte{uintEl(idTrackNumber, num), uintEl(0x73C5, num), uintEl(idTrackType, 1), strEl(idCodecID, codecID)}
	if priv != nil {
		parts = append(parts, el(idCodecPrivate, priv))
	}
	parts = append(parts, el(idVideo, uintEl(idPixelWidth, 640), uintEl(idPixelHeight, 360)))
	return el(idTrackEntry, parts...)
}

func audioTrack(num uint64, codecID string) []byte {
	return el(idTrackEntry, uintEl(idTrackNumber, num), uintEl(0x73C5, num), uintEl(idTrackType, 2),
		strEl(idCodecID, codecID), el(idAudio, floatEl(idSamplingFrequency, 48000), uintEl(idChannels, 1)))
}

// simpleBlock encodes a SimpleBlock with an n-byte payload.
func simpleBlock(track uint64, rel int16, key bool, n int) []byte {
	flags := byte(0)
	if key {
		flags = 0x80
	}
	return el(idSimpleBlock, []byte{0x80 | byte(track), byte(uint16(rel) >> 8), byte(rel), flags}, make([]byte, n))
}

// blockGroup encodes a BlockGroup; referenced adds a ReferenceBlock.
func blockGroupEl(track uint64, rel int16, referenced bool, n int) []byte {
	parts := [][]byte{el(idBlock, []byte{0x80 | byte(track), byte(uint16(rel) >> 8), byte(rel), 0}, make([]byte, n))}
	if referenced {
		parts = append(parts, el(idReferenceBlock, []byte{0xff, 0xd8}))
	}
	parts = append(parts, uintEl(0x9B, 33)) // BlockDuration
	return el(idBlockGroup, parts...)
}

// testStream is a small live-style stream: unknown-size Segment and
// Clusters, audio track 1, VP8 track 2.
func testStream() []byte {
	return cat(
		ebmlHeader("webm"),
		elUnknown(idSegment, 8),
		infoEl(1000000),
		el(idTracks, audioTrack(1, "A_OPUS"), videoTrack(2, "V_VP8", nil)),
		elUnknown(idCluster, 8, uintEl(idTimecode, 0), simpleBlock(1, 0, true, 40), simpleBlock(2, 1, true, 300)),
		elUnknown(idCluster, 8, uintEl(idTimecode, 300), simpleBlock(1, 0, true, 40), simpleBlock(2, 10, false, 30)),
		elUnknown(idCluster, 8, uintEl(idTimecode, 600), simpleBlock(1, 0, true, 40), simpleBlock(2, 5, true, 200)),
	)
}
