// Package ebml writes EBML, the binary format of Matroska and WebM: element
// IDs, variable-size integers (sizes, including fixed-width and unknown
// sizes) and elements holding unsigned integers, floats, strings, bytes or
// other elements.
//
// Every function appends to a byte slice and returns the extended slice, in
// the style of strconv.AppendInt, so that a caller can build a whole stream
// in one buffer without allocating per element. The Len functions give the
// encoded lengths without encoding, for planning a layout before writing
// it. Sizes are written in their shortest form unless a width is given.
//
//	b := ebml.AppendHeader(nil, 0x1A45DFA3, int64(ebml.StringLen(0x4282, "webm")))
//	b = ebml.AppendString(b, 0x4282, "webm") // DocType
//
// The package writes; it does not read (liveplugin/internal/webm does). It
// holds no state and every function is safe for concurrent use. Functions
// panic on arguments no valid element can have (an ID without its marker
// bits, a negative size, a width too small for the value): these are
// programming errors, not input errors.
package ebml

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MaxSize is the largest element size a variable-size integer can hold: 8
// bytes of value bits, minus the all-ones value that means "unknown".
const MaxSize = 1<<56 - 2

// IDLen returns the length of element ID id as written: the ID's bytes,
// marker bits included, so 1 for 0xA3 and 4 for 0x1A45DFA3. It panics if
// id is not a valid ID (zero, or its first byte's marker bit does not give
// its length).
func IDLen(id uint32) int {
	l := 4
	switch {
	case id == 0:
		panic("ebml: element id 0")
	case id < 1<<8:
		l = 1
	case id < 1<<16:
		l = 2
	case id < 1<<24:
		l = 3
	}
	first := byte(id >> (8 * (l - 1)))
	if first>>(8-l) != 1 {
		panic(fmt.Sprintf("ebml: element id %#x has no marker bit for %d bytes", id, l))
	}
	return l
}

// AppendID appends element ID id, marker bits included, to b.
func AppendID(b []byte, id uint32) []byte {
	for i := IDLen(id) - 1; i >= 0; i-- {
		b = append(b, byte(id>>(8*i)))
	}
	return b
}

// SizeLen returns the length of the shortest variable-size integer that
// holds size n, 1 to 8. The all-ones value of each width means "unknown",
// so 127 takes two bytes. It panics unless 0 <= n <= MaxSize.
func SizeLen(n int64) int {
	checkSize(n)
	l := 1
	for l < 8 && n >= 1<<(7*l)-1 {
		l++
	}
	return l
}

// AppendSize appends size n as the shortest variable-size integer. It
// panics unless 0 <= n <= MaxSize.
func AppendSize(b []byte, n int64) []byte {
	return AppendSizeWidth(b, n, SizeLen(n))
}

// AppendSizeWidth appends size n as a variable-size integer of exactly
// width bytes, as a writer does that patches the size in later or keeps a
// layout fixed. It panics unless 1 <= width <= 8 and n fits in width bytes
// (SizeLen(n) <= width).
func AppendSizeWidth(b []byte, n int64, width int) []byte {
	checkWidth(width)
	if SizeLen(n) > width {
		panic(fmt.Sprintf("ebml: size %d does not fit in %d bytes", n, width))
	}
	v := uint64(n) | 1<<(7*width)
	for i := width - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// AppendUnknownSize appends the "unknown size" marker of width bytes (all
// value bits set), as a live muxer writes for a Segment or Cluster whose
// end it does not know yet: 0xFF for width 1, 0x01 then seven 0xFF for
// width 8. It panics unless 1 <= width <= 8.
func AppendUnknownSize(b []byte, width int) []byte {
	checkWidth(width)
	b = append(b, byte(0xFF>>(width-1)))
	for range width - 1 {
		b = append(b, 0xFF)
	}
	return b
}

// HeaderLen returns the length of the header (ID and shortest size) of
// element id with a payload of n bytes.
func HeaderLen(id uint32, n int64) int { return IDLen(id) + SizeLen(n) }

// ElementLen returns the length of element id with a payload of n bytes,
// header included.
func ElementLen(id uint32, n int64) int64 { return int64(HeaderLen(id, n)) + n }

// AppendHeader appends the header of element id with a payload of n bytes:
// its ID and shortest size. The caller appends the n payload bytes.
func AppendHeader(b []byte, id uint32, n int64) []byte {
	return AppendSize(AppendID(b, id), n)
}

// AppendUnknownHeader appends the header of element id of unknown size,
// the size marker width bytes long.
func AppendUnknownHeader(b []byte, id uint32, width int) []byte {
	return AppendUnknownSize(AppendID(b, id), width)
}

// UintLen returns the length of the shortest big-endian encoding of v, 1 to
// 8 bytes (0 takes one byte).
func UintLen(v uint64) int {
	l := 1
	for l < 8 && v >= 1<<(8*l) {
		l++
	}
	return l
}

// UintElementLen returns the length of an unsigned integer element id
// holding v in its shortest form.
func UintElementLen(id uint32, v uint64) int64 { return ElementLen(id, int64(UintLen(v))) }

// AppendUint appends an unsigned integer element id holding v in its
// shortest form.
func AppendUint(b []byte, id uint32, v uint64) []byte {
	return AppendUintWidth(b, id, v, UintLen(v))
}

// AppendUintWidth appends an unsigned integer element id holding v in
// exactly width bytes, for a value patched in later. It panics unless
// 1 <= width <= 8 and v fits (UintLen(v) <= width).
func AppendUintWidth(b []byte, id uint32, v uint64, width int) []byte {
	checkWidth(width)
	if UintLen(v) > width {
		panic(fmt.Sprintf("ebml: %d does not fit in %d bytes", v, width))
	}
	b = AppendHeader(b, id, int64(width))
	for i := width - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// FloatLen is the length of the payload AppendFloat writes.
const FloatLen = 8

// AppendFloat appends a float element id holding f as an 8-byte IEEE 754
// double.
func AppendFloat(b []byte, id uint32, f float64) []byte {
	b = AppendHeader(b, id, FloatLen)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// AppendBytes appends a binary element id holding p. It also writes a
// master element whose children the caller encoded in p.
func AppendBytes(b []byte, id uint32, p []byte) []byte {
	return append(AppendHeader(b, id, int64(len(p))), p...)
}

// AppendString appends a string element id holding s, unpadded.
func AppendString(b []byte, id uint32, s string) []byte {
	return append(AppendHeader(b, id, int64(len(s))), s...)
}

// StringLen returns the length of the element AppendString writes.
func StringLen(id uint32, s string) int64 { return ElementLen(id, int64(len(s))) }

// AppendMaster appends a master element id whose children children
// appends to the slice it is given (which starts empty). The children are
// built in a buffer of their own, then copied after the header, since the
// header's length depends on theirs.
func AppendMaster(b []byte, id uint32, children func(b []byte) []byte) []byte {
	return AppendBytes(b, id, children(nil))
}

func checkSize(n int64) {
	if n < 0 || n > MaxSize {
		panic(fmt.Sprintf("ebml: element size %d out of range", n))
	}
}

func checkWidth(width int) {
	if width < 1 || width > 8 {
		panic(fmt.Sprintf("ebml: width %d out of range", width))
	}
}
