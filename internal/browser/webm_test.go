package browser_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
)

// A minimal EBML walker for the byte surgery the media tests do on the
// fixtures. It is test code: it handles what MediaRecorder writes (an
// unknown-size Segment and unknown-size Clusters) and no more.

// EBML IDs, with their length marker bits, as they appear in the file.
const (
	idSegment    = 0x18538067
	idTracks     = 0x1654AE6B
	idTrackEntry = 0xAE
	idVideo      = 0xE0
	idAlphaMode  = 0x53C0
	idCluster    = 0x1F43B675
)

// unknownSize is the value readSize gives for an element of unknown size.
const unknownSize = -1

// element is one EBML element in a buffer.
type element struct {
	id         uint32
	start      int // where its ID begins
	dataStart  int // where its data begins
	size       int // its data's size, or unknownSize
	headerSize int
}

// readID reads an element ID (1 to 4 bytes, marker kept) at b[off:].
func readID(b []byte, off int) (uint32, int, error) {
	if off >= len(b) {
		return 0, 0, errors.New("ebml: ID past the end")
	}
	n := 1
	for mask := byte(0x80); n <= 4 && b[off]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 4 || off+n > len(b) {
		return 0, 0, fmt.Errorf("ebml: bad ID at %d", off)
	}
	var id uint32
	for _, c := range b[off : off+n] {
		id = id<<8 | uint32(c)
	}
	return id, n, nil
}

// readSize reads an element data size (a 1 to 8 byte vint) at b[off:].
func readSize(b []byte, off int) (int, int, error) {
	if off >= len(b) {
		return 0, 0, errors.New("ebml: size past the end")
	}
	n := 1
	for mask := byte(0x80); n <= 8 && b[off]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 || off+n > len(b) {
		return 0, 0, fmt.Errorf("ebml: bad size at %d", off)
	}
	v := uint64(b[off] & (0xFF >> n))
	all := v == uint64(0xFF>>n)
	for _, c := range b[off+1 : off+n] {
		v = v<<8 | uint64(c)
		all = all && c == 0xFF
	}
	if all {
		return unknownSize, n, nil
	}
	return int(v), n, nil
}

// readElement reads the header of the element at b[off:].
func readElement(b []byte, off int) (element, error) {
	id, idLen, err := readID(b, off)
	if err != nil {
		return element{}, err
	}
	size, sizeLen, err := readSize(b, off+idLen)
	if err != nil {
		return element{}, err
	}
	e := element{id: id, start: off, dataStart: off + idLen + sizeLen, size: size, headerSize: idLen + sizeLen}
	if size != unknownSize && e.dataStart+size > len(b) {
		return e, fmt.Errorf("ebml: element %#x at %d runs past the end", id, off)
	}
	return e, nil
}

// appendElement appends an element with an 8-byte size vint.
func appendElement(dst []byte, id uint32, data []byte) []byte {
	var idb [4]byte
	binary.BigEndian.PutUint32(idb[:], id)
	i := 0
	for i < 3 && idb[i] == 0 {
		i++
	}
	dst = append(dst, idb[i:]...)
	var sz [8]byte
	binary.BigEndian.PutUint64(sz[:], uint64(len(data)))
	sz[0] = 0x01
	dst = append(dst, sz[:]...)
	return append(dst, data...)
}

// segmentBody returns where the Segment's children begin in full: it
// follows the EBML header.
func segmentBody(full []byte) (int, error) {
	hdr, err := readElement(full, 0)
	if err != nil {
		return 0, err
	}
	seg, err := readElement(full, hdr.dataStart+hdr.size)
	if err != nil {
		return 0, err
	}
	if seg.id != idSegment {
		return 0, fmt.Errorf("ebml: %#x where the Segment should be", seg.id)
	}
	return seg.dataStart, nil
}

// knownSizeClusters rewrites a MediaRecorder stream so that every Cluster
// has a known size (an unknown-size Cluster ends where the next Cluster
// begins, or at the end of the data). The rest is copied.
func knownSizeClusters(full []byte) ([]byte, error) {
	off, err := segmentBody(full)
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(full[:off])
	for off < len(full) {
		e, err := readElement(full, off)
		if err != nil {
			return nil, err
		}
		if e.size != unknownSize {
			out = append(out, full[e.start:e.dataStart+e.size]...)
			off = e.dataStart + e.size
			continue
		}
		if e.id != idCluster {
			return nil, fmt.Errorf("ebml: unknown-size element %#x at %d", e.id, e.start)
		}
		end := e.dataStart
		for end < len(full) {
			c, err := readElement(full, end)
			if err != nil || c.id == idCluster || c.size == unknownSize {
				break
			}
			end = c.dataStart + c.size
		}
		out = appendElement(out, idCluster, full[e.dataStart:end])
		off = end
	}
	return out, nil
}

// alphaModeOffsets returns the offsets of the AlphaMode elements in the
// Tracks of full.
func alphaModeOffsets(full []byte) ([]element, error) {
	off, err := segmentBody(full)
	if err != nil {
		return nil, err
	}
	var found []element
	var walk func(from, to int, path []uint32) error
	walk = func(from, to int, path []uint32) error {
		for from < to {
			e, err := readElement(full, from)
			if err != nil {
				return err
			}
			if e.size == unknownSize {
				return nil // a Cluster: Tracks are behind us
			}
			switch {
			case len(path) == 0 && e.id == idTracks,
				len(path) == 1 && e.id == idTrackEntry,
				len(path) == 2 && e.id == idVideo:
				if err := walk(e.dataStart, e.dataStart+e.size, append(path, e.id)); err != nil {
					return err
				}
			case len(path) == 3 && e.id == idAlphaMode:
				found = append(found, e)
			}
			from = e.dataStart + e.size
		}
		return nil
	}
	if err := walk(off, len(full), nil); err != nil {
		return nil, err
	}
	return found, nil
}

// withAlphaMode returns a copy of full whose AlphaMode elements are set to
// v (1 byte each, as MediaRecorder writes them).
func withAlphaMode(full []byte, v byte) ([]byte, error) {
	els, err := alphaModeOffsets(full)
	if err != nil {
		return nil, err
	}
	if len(els) == 0 {
		return nil, errors.New("ebml: no AlphaMode")
	}
	out := bytes.Clone(full)
	for _, e := range els {
		if e.size != 1 {
			return nil, fmt.Errorf("ebml: AlphaMode of %d bytes", e.size)
		}
		out[e.dataStart] = v
	}
	return out, nil
}

// withoutAlphaMode returns a copy of full with its AlphaMode elements
// removed, and the sizes of the Video, TrackEntry and Tracks elements
// around them rewritten.
func withoutAlphaMode(full []byte) ([]byte, error) {
	off, err := segmentBody(full)
	if err != nil {
		return nil, err
	}
	// rebuild returns the children of b[from:to] without AlphaMode,
	// rebuilding the masters on the way to it.
	var rebuild func(from, to, depth int) ([]byte, error)
	rebuild = func(from, to, depth int) ([]byte, error) {
		var out []byte
		for from < to {
			e, err := readElement(full, from)
			if err != nil {
				return nil, err
			}
			end := e.dataStart + e.size
			switch {
			case depth == 0 && e.id == idTracks, depth == 1 && e.id == idTrackEntry, depth == 2 && e.id == idVideo:
				data, err := rebuild(e.dataStart, end, depth+1)
				if err != nil {
					return nil, err
				}
				out = appendElement(out, e.id, data)
			case depth == 3 && e.id == idAlphaMode:
				// dropped
			default:
				out = append(out, full[e.start:end]...)
			}
			from = end
		}
		return out, nil
	}
	// The Segment's children up to the first Cluster (of unknown size).
	end := off
	for end < len(full) {
		e, err := readElement(full, end)
		if err != nil {
			return nil, err
		}
		if e.size == unknownSize {
			break
		}
		end = e.dataStart + e.size
	}
	head, err := rebuild(off, end, 0)
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(full[:off])
	out = append(out, head...)
	return append(out, full[end:]...), nil
}

// TestSurgery checks the byte surgery on a fixture: the AlphaMode flag is
// found, set and removed; Clusters get known sizes; nothing else changes.
func TestSurgery(t *testing.T) {
	set := fixture.Load(t, "vp8-opus-250ms-kf2s")
	els, err := alphaModeOffsets(set.Full)
	if err != nil || len(els) != 1 || set.Full[els[0].dataStart] != 1 {
		t.Fatalf("alphaModeOffsets = %v, %v; want one AlphaMode of 1", els, err)
	}
	zero, err := withAlphaMode(set.Full, 0)
	if err != nil {
		t.Fatal(err)
	}
	if els, _ := alphaModeOffsets(zero); len(els) != 1 || zero[els[0].dataStart] != 0 || len(zero) != len(set.Full) {
		t.Errorf("withAlphaMode(0): AlphaMode %v, size %d; want 0 and %d", els, len(zero), len(set.Full))
	}
	gone, err := withoutAlphaMode(set.Full)
	if err != nil {
		t.Fatal(err)
	}
	if els, err := alphaModeOffsets(gone); len(els) != 0 || err != nil {
		t.Errorf("withoutAlphaMode: AlphaMode %v, %v; want none", els, err)
	}
	// The Clusters are untouched: the stream ends the same.
	tail := set.Full[set.St.Clusters[0].Offset:]
	if !bytes.HasSuffix(gone, tail) {
		t.Error("withoutAlphaMode changed the Clusters")
	}
	known, err := knownSizeClusters(set.Full)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := segmentBody(known)
	clusters := 0
	for off < len(known) {
		e, err := readElement(known, off)
		if err != nil || e.size == unknownSize {
			t.Fatalf("knownSizeClusters: element %+v, %v; want a known size", e, err)
		}
		if e.id == idCluster {
			clusters++
		}
		off = e.dataStart + e.size
	}
	if clusters != len(set.St.Clusters) {
		t.Errorf("knownSizeClusters: %d Clusters; want %d", clusters, len(set.St.Clusters))
	}
}
