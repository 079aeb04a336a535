package webm

import (
	"encoding/binary"
	"math"
)

// Element IDs the seal step writes, besides those the reader knows.
const (
	idDuration = 0x4489

	idSeek         = 0x4DBB
	idSeekID       = 0x53AB
	idSeekPosition = 0x53AC

	idCuePoint            = 0xBB
	idCueTime             = 0xB3
	idCueTrackPositions   = 0xB7
	idCueTrack            = 0xF7
	idCueClusterPosition  = 0xF1
	idCueRelativePosition = 0xF0
)

// maxSize is the largest element size a vint of 8 bytes can hold (all ones
// means unknown).
const maxSize = 1<<56 - 2

// idLen returns the length of an element ID written with its marker bits.
func idLen(id uint32) int {
	switch {
	case id < 1<<8:
		return 1
	case id < 1<<16:
		return 2
	case id < 1<<24:
		return 3
	}
	return 4
}

// appendID appends an element ID, marker bits included.
func appendID(b []byte, id uint32) []byte {
	for i := idLen(id) - 1; i >= 0; i-- {
		b = append(b, byte(id>>(8*i)))
	}
	return b
}

// sizeLen returns the length of the shortest vint that holds n, which must
// be in [0, maxSize]. A value with all bits set is reserved for "unknown",
// so 127 takes two bytes.
func sizeLen(n int64) int {
	l := 1
	for l < 8 && n >= 1<<(7*l)-1 {
		l++
	}
	return l
}

// appendSize appends n as a vint of l bytes; l must be at least sizeLen(n).
func appendSize(b []byte, n int64, l int) []byte {
	v := uint64(n) | 1<<(7*l)
	for i := l - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// headerLen returns the length of the header of element id with a payload
// of n bytes, written with the shortest size.
func headerLen(id uint32, n int64) int64 { return int64(idLen(id) + sizeLen(n)) }

// elementLen returns the length of element id with a payload of n bytes.
func elementLen(id uint32, n int64) int64 { return headerLen(id, n) + n }

// appendHeader appends the header of element id with a payload of n bytes,
// with the shortest size.
func appendHeader(b []byte, id uint32, n int64) []byte {
	return appendSize(appendID(b, id), n, sizeLen(n))
}

// uintLen returns the length of the shortest big-endian encoding of v (at
// least one byte).
func uintLen(v uint64) int {
	l := 1
	for l < 8 && v >= 1<<(8*l) {
		l++
	}
	return l
}

// uintElementLen returns the length of an unsigned integer element holding
// v in its shortest form.
func uintElementLen(id uint32, v uint64) int64 { return elementLen(id, int64(uintLen(v))) }

// appendUint appends an unsigned integer element holding v in l bytes; l
// must be at least uintLen(v).
func appendUint(b []byte, id uint32, v uint64, l int) []byte {
	b = appendHeader(b, id, int64(l))
	for i := l - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// appendFloat appends an 8-byte float element.
func appendFloat(b []byte, id uint32, f float64) []byte {
	b = appendHeader(b, id, 8)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
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
