package loadgen

import (
	"bytes"
	"encoding/binary"
)

// MarkerLen is the length of a marker: 8 bytes of magic number, then the
// sequence number, the stream offset and the send time, each 8 bytes big
// endian.
const MarkerLen = 32

// magic opens every marker. Its bytes never occur in a Stream's padding
// (zeros) and, all eight in a row, not in its element headers either.
var magic = [8]byte{0xFE, 'L', 'D', 'M', 'A', 'R', 'K', 0xFE}

// Marker is the head of a synthetic frame's payload.
type Marker struct {
	Seq    uint64 // the block's number in its stream, from 0
	Offset int64  // stream offset of the marker's first byte
	Sent   int64  // when the block was generated, in Unix nanoseconds
	// Pos is, in a Scanner's result, the offset of the marker's first byte
	// in the bytes scanned so far; it is not part of the encoding.
	Pos int64
}

func (m Marker) append(b []byte) []byte {
	b = append(b, magic[:]...)
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Offset))
	return binary.BigEndian.AppendUint64(b, uint64(m.Sent))
}

func parseMarker(b []byte, pos int64) Marker {
	return Marker{
		Seq:    binary.BigEndian.Uint64(b[8:]),
		Offset: int64(binary.BigEndian.Uint64(b[16:])),
		Sent:   int64(binary.BigEndian.Uint64(b[24:])),
		Pos:    pos,
	}
}

// Scanner finds markers in a byte stream fed in pieces that may split a
// marker anywhere. Its zero value is ready to use; it is not safe for
// concurrent use. It allocates nothing once dst has grown.
type Scanner struct {
	tail [MarkerLen - 1]byte // the last bytes scanned, which may begin a marker
	nt   int                 // bytes in tail
	pos  int64               // bytes scanned so far
}

// Scanned returns the number of bytes scanned so far.
func (sc *Scanner) Scanned() int64 { return sc.pos }

// Scan appends to dst the markers that p completes, in order, and returns
// the extended slice.
func (sc *Scanner) Scan(dst []Marker, p []byte) []Marker {
	base := sc.pos // offset of p[0]
	if sc.nt > 0 {
		// Markers that begin in the tail and end in p.
		var buf [2 * (MarkerLen - 1)]byte
		k := copy(buf[:], sc.tail[:sc.nt])
		k += copy(buf[k:], p)
		b := buf[:k]
		for i := 0; i < sc.nt; i++ {
			j := bytes.Index(b[i:], magic[:])
			if j < 0 || i+j >= sc.nt {
				break
			}
			i += j
			if i+MarkerLen <= k {
				dst = append(dst, parseMarker(b[i:], base-int64(sc.nt)+int64(i)))
			}
		}
	}
	for i := 0; ; i += MarkerLen {
		j := bytes.Index(p[i:], magic[:])
		if j < 0 {
			break
		}
		i += j
		if i+MarkerLen > len(p) {
			break // the tail keeps its start
		}
		dst = append(dst, parseMarker(p[i:], base+int64(i)))
	}
	if len(p) >= len(sc.tail) {
		sc.nt = copy(sc.tail[:], p[len(p)-len(sc.tail):])
	} else {
		drop := max(0, sc.nt+len(p)-len(sc.tail))
		copy(sc.tail[:], sc.tail[drop:sc.nt])
		sc.nt -= drop
		sc.nt += copy(sc.tail[sc.nt:], p)
	}
	sc.pos += int64(len(p))
	return dst
}
