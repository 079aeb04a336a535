package webm

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Element IDs, with their marker bits, as they appear in the stream.
const (
	idEBML    = 0x1A45DFA3
	idDocType = 0x4282

	idSegment     = 0x18538067
	idSeekHead    = 0x114D9B74
	idInfo        = 0x1549A966
	idTracks      = 0x1654AE6B
	idCluster     = 0x1F43B675
	idCues        = 0x1C53BB6B
	idTags        = 0x1254C367
	idChapters    = 0x1043A770
	idAttachments = 0x1941A469

	idTimecodeScale = 0x2AD7B1

	idTrackEntry        = 0xAE
	idTrackNumber       = 0xD7
	idTrackType         = 0x83
	idCodecID           = 0x86
	idCodecPrivate      = 0x63A2
	idVideo             = 0xE0
	idPixelWidth        = 0xB0
	idPixelHeight       = 0xBA
	idAlphaMode         = 0x53C0
	idAudio             = 0xE1
	idSamplingFrequency = 0xB5
	idChannels          = 0x9F

	idTimecode       = 0xE7
	idSimpleBlock    = 0xA3
	idBlockGroup     = 0xA0
	idBlock          = 0xA1
	idReferenceBlock = 0xFB
	idBlockAdditions = 0x75A1

	idVoid  = 0xEC
	idCRC32 = 0xBF
)

// ebmlMagic is the EBML header ID, the first four bytes of every WebM stream.
var ebmlMagic = [4]byte{0x1A, 0x45, 0xDF, 0xA3}

// unknownSize marks an element whose size is unknown (all value bits set).
const unknownSize = -1

// vintLen returns the length of the variable-size integer whose first byte
// is b: 1 to 8, or 9 when b is 0 (invalid).
func vintLen(b byte) int { return bits.LeadingZeros8(b) + 1 }

// topLevel reports whether id can only appear at the top level or directly
// in a Segment, so that it ends an unknown-size Cluster.
func topLevel(id uint32) bool {
	switch id {
	case idEBML, idSegment, idSeekHead, idInfo, idTracks, idCluster, idCues,
		idTags, idChapters, idAttachments:
		return true
	}
	return false
}

// leafKind is how a leaf element's payload is decoded.
type leafKind uint8

const (
	leafUint leafKind = iota + 1
	leafFloat
	leafString
	leafBinary
)

// validLeafSize reports whether size is legal for a leaf of kind k.
func validLeafSize(k leafKind, size int64) bool {
	switch k {
	case leafUint:
		return size <= 8
	case leafFloat:
		return size == 0 || size == 4 || size == 8
	}
	return true
}

// readUint decodes a big-endian unsigned integer of up to 8 bytes.
func readUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// readFloat decodes a 0-, 4- or 8-byte big-endian IEEE 754 float.
func readFloat(b []byte) float64 {
	switch len(b) {
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b)))
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(b))
	}
	return 0
}

// readString decodes a string payload, which may be padded with zero bytes.
func readString(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}

// parseHeader decodes the element header at the start of b: the ID with
// its marker bits, the header's length and the payload size (unknownSize
// when all its bits are set). It reports false when b is too short or the
// header is invalid.
func parseHeader(b []byte) (id uint32, n int, size int64, ok bool) {
	if len(b) == 0 {
		return 0, 0, 0, false
	}
	il := vintLen(b[0])
	if il > 4 || len(b) <= il {
		return 0, 0, 0, false
	}
	sl := vintLen(b[il])
	if sl > 8 || len(b) < il+sl {
		return 0, 0, 0, false
	}
	id = uint32(readUint(b[:il]))
	v := uint64(b[il]) & (0xff >> sl)
	for _, c := range b[il+1 : il+sl] {
		v = v<<8 | uint64(c)
	}
	if v == 1<<(7*sl)-1 {
		return id, il + sl, unknownSize, true
	}
	return id, il + sl, int64(v), true
}
