package mp4

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Box types, as big-endian four-character codes.
const (
	typFtyp = 'f'<<24 | 't'<<16 | 'y'<<8 | 'p'
	typMoov = 'm'<<24 | 'o'<<16 | 'o'<<8 | 'v'
	typMoof = 'm'<<24 | 'o'<<16 | 'o'<<8 | 'f'
	typMdat = 'm'<<24 | 'd'<<16 | 'a'<<8 | 't'
	typFree = 'f'<<24 | 'r'<<16 | 'e'<<8 | 'e'
	typSkip = 's'<<24 | 'k'<<16 | 'i'<<8 | 'p'
	typUUID = 'u'<<24 | 'u'<<16 | 'i'<<8 | 'd'
	typTrak = 't'<<24 | 'r'<<16 | 'a'<<8 | 'k'
	typTkhd = 't'<<24 | 'k'<<16 | 'h'<<8 | 'd'
	typMdia = 'm'<<24 | 'd'<<16 | 'i'<<8 | 'a'
	typMdhd = 'm'<<24 | 'd'<<16 | 'h'<<8 | 'd'
	typHdlr = 'h'<<24 | 'd'<<16 | 'l'<<8 | 'r'
	typMinf = 'm'<<24 | 'i'<<16 | 'n'<<8 | 'f'
	typStbl = 's'<<24 | 't'<<16 | 'b'<<8 | 'l'
	typStsd = 's'<<24 | 't'<<16 | 's'<<8 | 'd'
	typMvex = 'm'<<24 | 'v'<<16 | 'e'<<8 | 'x'
	typTrex = 't'<<24 | 'r'<<16 | 'e'<<8 | 'x'
	typTraf = 't'<<24 | 'r'<<16 | 'a'<<8 | 'f'
	typTfhd = 't'<<24 | 'f'<<16 | 'h'<<8 | 'd'
	typTfdt = 't'<<24 | 'f'<<16 | 'd'<<8 | 't'
	typTrun = 't'<<24 | 'r'<<16 | 'u'<<8 | 'n'
	typAvcC = 'a'<<24 | 'v'<<16 | 'c'<<8 | 'C'
	typHvcC = 'h'<<24 | 'v'<<16 | 'c'<<8 | 'C'
	typVpcC = 'v'<<24 | 'p'<<16 | 'c'<<8 | 'C'
	typAv1C = 'a'<<24 | 'v'<<16 | '1'<<8 | 'C'
	typEsds = 'e'<<24 | 's'<<16 | 'd'<<8 | 's'
	typDOps = 'd'<<24 | 'O'<<16 | 'p'<<8 | 's'
)

// Handler types (hdlr).
const (
	handlerVideo = 'v'<<24 | 'i'<<16 | 'd'<<8 | 'e'
	handlerAudio = 's'<<24 | 'o'<<16 | 'u'<<8 | 'n'
)

// fourCC returns the four characters of a box type, or its value in hex
// when one of them is not printable ASCII.
func fourCC(t uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], t)
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%#08x", t)
		}
	}
	return string(b[:])
}

// boxHeader decodes the header at the start of b: its type, its length
// (8, or 16 with a 64-bit largesize) and the box's declared size, header
// included (0: "to the end of the file"). ok is false when b is too short
// to hold the header; size is not checked against anything.
func boxHeader(b []byte) (typ uint32, hdr int, size uint64, ok bool) {
	if len(b) < 8 {
		return 0, 0, 0, false
	}
	size = uint64(binary.BigEndian.Uint32(b))
	typ = binary.BigEndian.Uint32(b[4:])
	if size != 1 {
		return typ, 8, size, true
	}
	if len(b) < 16 {
		return 0, 0, 0, false
	}
	return typ, 16, binary.BigEndian.Uint64(b[8:]), true
}

// child is a box inside a buffer: its type, its payload and the absolute
// offset of its first byte in the stream.
type child struct {
	typ     uint32
	off     int64 // the box's first byte
	hdr     int   // header length: the payload starts at off+hdr
	payload []byte
}

// boxes iterates over the boxes that tile a buffer; see children.
type boxes struct {
	b   []byte
	off int64 // absolute offset of b
	pos int
}

// next returns the next box, or ok false at the end of the buffer or on
// error. A box whose header or declared size does not fit in the buffer,
// a size smaller than the header, or a size 0, is malformed: inside a
// parent every child has a size.
func (it *boxes) next() (c child, ok bool, err error) {
	if it.pos >= len(it.b) {
		return child{}, false, nil
	}
	typ, hdr, size, ok := boxHeader(it.b[it.pos:])
	at := it.off + int64(it.pos)
	switch {
	case !ok:
		return child{}, false, fail(at, ErrMalformed, "box header crosses the end of its parent")
	case size == 0:
		return child{}, false, fail(at, ErrMalformed, "box %s of size 0 inside a parent", fourCC(typ))
	case size < uint64(hdr):
		return child{}, false, fail(at, ErrMalformed, "box %s of size %d, smaller than its header", fourCC(typ), size)
	case size > uint64(len(it.b)-it.pos):
		return child{}, false, fail(at, ErrMalformed, "box %s of %d bytes is larger than its parent", fourCC(typ), size)
	}
	c = child{typ: typ, off: at, hdr: hdr, payload: it.b[it.pos+hdr : it.pos+int(size)]}
	it.pos += int(size)
	return c, true, nil
}

// children calls fn for each box that tiles b, whose first byte is at
// absolute offset off, in order, and stops at fn's first error; see
// boxes.next for what is malformed.
func children(b []byte, off int64, fn func(c child) error) error {
	it := boxes{b: b, off: off}
	for {
		c, ok, err := it.next()
		if !ok {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
	}
}

// fullBox splits a FullBox payload into its version, flags and the rest.
// ok is false when b is shorter than the 4 bytes of version and flags.
func fullBox(b []byte) (version uint8, flags uint32, rest []byte, ok bool) {
	if len(b) < 4 {
		return 0, 0, nil, false
	}
	return b[0], binary.BigEndian.Uint32(b) & 0xffffff, b[4:], true
}

// be16, be32 and be64 read big-endian integers.
func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// truncated returns the error for box typ at off whose payload is too
// short for its fields.
func truncated(off int64, typ uint32) error {
	return fail(off, ErrMalformed, "truncated %s box", fourCC(typ))
}

// fail returns a SyntaxError.
func fail(off int64, sentinel error, format string, args ...any) error {
	return &SyntaxError{Offset: off, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// ticks converts t units of a timescale to a duration, saturating at the
// longest time.Duration instead of overflowing.
func ticks(t uint64, timescale uint32) int64 {
	if timescale == 0 {
		return 0
	}
	ts := uint64(timescale)
	sec, rem := t/ts, t%ts
	if sec > math.MaxInt64/uint64(time.Second) {
		return math.MaxInt64
	}
	d := int64(sec)*1e9 + int64(rem*1e9/ts)
	if d < 0 {
		return math.MaxInt64
	}
	return d
}
