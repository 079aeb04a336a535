package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Defaults of [SealOptions].
const (
	// DefaultMaxSealFragments is the default SealOptions.MaxFragments,
	// 131,072: a fragment a second for more than 36 hours, a fragment per
	// keyframe two seconds apart (Chromium's) for 72 hours.
	DefaultMaxSealFragments = 1 << 17
	// DefaultMaxSealInitBytes is the default SealOptions.MaxInitBytes, 1
	// MiB: MediaRecorder's ftyp and moov take about 1 KiB.
	DefaultMaxSealInitBytes = 1 << 20
	// DefaultMaxSealMoofBytes is the default SealOptions.MaxMoofBytes, 4
	// MiB: MediaRecorder's moof of two seconds takes about 800 bytes.
	DefaultMaxSealMoofBytes = 4 << 20
	// DefaultMaxSealSamples is the default SealOptions.MaxSamples,
	// 1,048,576 samples in one fragment.
	DefaultMaxSealSamples = 1 << 20
)

// sealMaxTracks bounds the tracks of a moov Seal accepts.
const sealMaxTracks = 16

// sealMaxRefs is the most references one sidx holds (reference_count is
// 16 bits); past it, each reference covers several fragments.
const sealMaxRefs = math.MaxUint16

// SealOptions bound the work and memory of [SealWith]. A zero field takes
// its default.
type SealOptions struct {
	// MaxFragments bounds the number of fragments (moof and mdat), and
	// the memory Seal holds for them: about 100 bytes each (13 MiB at
	// the default). A longer file is refused with ErrLimit. Optional.
	// Defaults to DefaultMaxSealFragments.
	MaxFragments int
	// MaxInitBytes bounds the size of the ftyp and of the moov, which Seal
	// reads into memory. Optional. Defaults to DefaultMaxSealInitBytes.
	MaxInitBytes int64
	// MaxMoofBytes bounds the size of a moof, which Seal reads into
	// memory. Optional. Defaults to DefaultMaxSealMoofBytes.
	MaxMoofBytes int64
	// MaxSamples bounds the number of samples of one fragment. Optional.
	// Defaults to DefaultMaxSealSamples.
	MaxSamples int64
}

func (o SealOptions) withDefaults() SealOptions {
	if o.MaxFragments <= 0 {
		o.MaxFragments = DefaultMaxSealFragments
	}
	if o.MaxInitBytes <= 0 {
		o.MaxInitBytes = DefaultMaxSealInitBytes
	}
	if o.MaxMoofBytes <= 0 {
		o.MaxMoofBytes = DefaultMaxSealMoofBytes
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultMaxSealSamples
	}
	return o
}

// Seal is [SealWith] with default [SealOptions].
func Seal(dst io.Writer, src io.ReaderAt, size int64) (SealInfo, error) {
	return SealWith(dst, src, size, SealOptions{})
}

// SealWith rewrites the fragmented MP4 stream in src, size bytes long, as
// MediaRecorder writes it (ftyp, moov with mvex, then moof and mdat
// pairs), into a file that seeks in every browser, written to dst:
//
//   - the ftyp, copied;
//   - the moov with the real duration in mvhd, in each tkhd and mdhd, and
//     in an mvex/mehd (added, or replaced); a version 0 box whose duration
//     does not fit in 32 bits becomes version 1;
//   - a sidx indexing every fragment: its duration, and whether it starts
//     with a sync sample of the video track (of the first track, in a
//     stream without video), in the timescale of that track;
//   - every complete fragment, byte for byte, except that an explicit
//     base_data_offset in a tfhd is moved with its fragment;
//   - an mfra with a tfra listing the fragments that start with a sync
//     sample, and its mfro.
//
// The duration is the latest end of any track's last sample: the decode
// time of the track's last fragment (tfdt) plus the durations of its
// samples (trun, tfhd, trex). Other top-level boxes after the moov (free,
// skip, a previous seal's sidx and mfra) are dropped, so a sealed file
// seals to itself.
//
// A stream cut inside a box keeps every fragment before the cut and
// reports Partial; a malformed box after the first fragment stops the
// reading there and is reported in SealInfo.Fault. SealWith returns a
// [*SyntaxError] wrapping ErrNotMP4 when src does not start with ftyp and
// moov (of a fragmented file: with mvex), ErrMalformed when the moov or
// the first fragment is malformed or no fragment is complete, and
// ErrLimit when a bound of o is exceeded before the first fragment ends,
// or when there are more than o.MaxFragments fragments. On a read or
// write error dst holds a partial file; read errors are returned as they
// are.
//
// SealWith reads src twice and does not write to dst before its first
// read is done: src must not change meanwhile. Its memory is bounded by
// o: three copies of the moov, one moof at a time, about 100 bytes per
// fragment (the list and its growth, the sidx, the mfra) and 64 KiB of
// buffers: with the default SealOptions, at most about 20 MiB whatever
// src.
// SealWith may run concurrently with other SealWith calls.
func SealWith(dst io.Writer, src io.ReaderAt, size int64, o SealOptions) (SealInfo, error) {
	sc := sealScan{src: src, size: size, o: o.withDefaults()}
	if err := sc.run(); err != nil {
		return SealInfo{}, err
	}
	out, err := sc.layout()
	if err != nil {
		return SealInfo{}, err
	}
	info := sc.info
	info.Size = out.size
	if err := out.write(dst, src); err != nil {
		return info, err
	}
	return info, nil
}

// sealBox is a box header: its type, where it starts, its header length
// and its whole size.
type sealBox struct {
	typ  string
	off  int64
	hdr  int64
	size int64
}

// body returns the offset of the box's payload.
func (b sealBox) body() int64 { return b.off + b.hdr }

// end returns the offset after the box.
func (b sealBox) end() int64 { return b.off + b.size }

// sealHard wraps an error that refuses the whole file, even after its
// first fragment.
type sealHard struct{ error }

// errSealShort reports that the file ends inside a box.
var errSealShort = errors.New("mp4: file ends inside a box")

// sealErr returns a *SyntaxError.
func sealErr(off int64, err error, format string, args ...any) error {
	return &SyntaxError{Offset: off, Reason: fmt.Sprintf(format, args...), Err: err}
}

// sealPrintable reports whether t looks like a box type: four printable
// ASCII characters.
func sealPrintable(t []byte) bool {
	for _, c := range t {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// sealReadAt reads len(p) bytes at off, which the caller has checked are
// within the file.
func sealReadAt(src io.ReaderAt, p []byte, off int64) error {
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF // the file shrank
	}
	return err
}

// readHeader reads the header of the top-level box at off. It returns
// errSealShort when the file ends inside the header or the box, and a
// *SyntaxError wrapping ErrMalformed when the header is not a box's.
func (sc *sealScan) readHeader(off int64) (sealBox, error) {
	var p [16]byte
	n := min(int64(len(p)), sc.size-off)
	if n < 8 {
		return sealBox{}, errSealShort
	}
	if err := sealReadAt(sc.src, p[:n], off); err != nil {
		return sealBox{}, err
	}
	b, err := sealParseHeader(p[:n], off, sc.size-off)
	if err != nil {
		return sealBox{}, err
	}
	if binary.BigEndian.Uint32(p[:]) == 0 {
		// "To the end of the file": no longer true once the seal has
		// appended its mfra. MediaRecorder never writes it.
		return sealBox{}, sealErr(off, ErrMalformed, "%s box of size 0 (to the end of the file) at the top level", b.typ)
	}
	if b.size > sc.size-off {
		return sealBox{}, errSealShort
	}
	return b, nil
}

// sealParseHeader parses the box header at the start of p, whose box
// starts at offset off and may take at most room bytes: the rest of its
// parent. A box too large for room is returned as it is when p holds only
// the header (top level: the caller decides), else refused.
func sealParseHeader(p []byte, off, room int64) (sealBox, error) {
	if len(p) < 8 {
		return sealBox{}, sealErr(off, ErrMalformed, "box header cut short")
	}
	b := sealBox{typ: string(p[4:8]), off: off, hdr: 8}
	if !sealPrintable(p[4:8]) {
		return sealBox{}, sealErr(off, ErrMalformed, "box type %q is not printable", p[4:8])
	}
	switch sz := binary.BigEndian.Uint32(p); sz {
	case 0:
		b.size = room // extends to the end of its parent
	case 1:
		if len(p) < 16 {
			return sealBox{}, errSealShort
		}
		large := binary.BigEndian.Uint64(p[8:])
		if large > math.MaxInt64 {
			return sealBox{}, sealErr(off, ErrMalformed, "%s box size %d too large", b.typ, large)
		}
		b.hdr, b.size = 16, int64(large)
	default:
		b.size = int64(sz)
	}
	if b.size < b.hdr {
		return sealBox{}, sealErr(off, ErrMalformed, "%s box size %d smaller than its header", b.typ, b.size)
	}
	return b, nil
}

// sealChildren calls fn for each box in p, the payload of a box that
// starts at offset off of the file, with each child's header and its
// payload.
func sealChildren(p []byte, off int64, fn func(b sealBox, body []byte) error) error {
	for pos := int64(0); pos < int64(len(p)); {
		room := int64(len(p)) - pos
		b, err := sealParseHeader(p[pos:], off+pos, room)
		if errors.Is(err, errSealShort) || (err == nil && b.size > room) {
			return sealErr(off+pos, ErrMalformed, "box larger than its parent")
		}
		if err != nil {
			return err
		}
		if err := fn(b, p[pos+b.hdr:pos+b.size]); err != nil {
			return err
		}
		pos += b.size
	}
	return nil
}

// sealTrack is a track of the moov, with what the fragments say of it.
type sealTrack struct {
	id        uint32
	timescale uint32
	video     bool
	// The trex defaults.
	defDur, defFlags uint32

	next uint64 // decode time after the last sample read
	end  uint64 // latest end of a sample
	last uint64 // latest decode time of a sample
	seen bool   // a sample was read
}

// sealFrag is a fragment to copy: a moof and its mdat.
type sealFrag struct {
	off, size int64
	ept       uint64 // earliest presentation time of the reference track
	sync      bool   // starts with a sync sample of the reference track
	traf      uint8  // 1-based index of the reference track's traf; 0 if none
	patch     bool   // a tfhd holds an explicit base_data_offset
}

// sealScan is the first read of src: the init segment and the fragments.
type sealScan struct {
	src  io.ReaderAt
	size int64
	o    SealOptions

	ftyp, moov []byte // whole boxes
	moovOff    int64  // offset of the moov after the ftyp
	movieScale uint32
	tracks     []sealTrack
	ref        int // index in tracks of the track the index is for

	frags []sealFrag
	info  SealInfo
}

// run reads src: the init segment, then each fragment.
func (sc *sealScan) run() error {
	if err := sc.readInit(); err != nil {
		return err
	}
	off := int64(len(sc.ftyp)) + sc.moovEnd()
	for off < sc.size {
		b, err := sc.readHeader(off)
		if err == nil {
			off, err = sc.topBox(b)
		}
		if err == nil {
			continue
		}
		var se *SyntaxError
		var hard sealHard
		switch {
		case errors.As(err, &hard):
			return hard.error
		case errors.Is(err, errSealShort):
			sc.info.Partial = true
		case errors.As(err, &se) && len(sc.frags) > 0:
			sc.info.Fault = err
		default:
			return err
		}
		break
	}
	if len(sc.frags) == 0 {
		return sealErr(off, ErrMalformed, "no complete fragment")
	}
	sc.info.Fragments = len(sc.frags)
	for _, t := range sc.tracks {
		if !t.seen {
			continue
		}
		sc.info.Duration = max(sc.info.Duration, sealTime(t.end, t.timescale))
		sc.info.LastSample = max(sc.info.LastSample, sealTime(t.last, t.timescale))
	}
	return nil
}

// moovEnd returns the offset after the moov, relative to the end of the
// ftyp: the moov and any free boxes before it.
func (sc *sealScan) moovEnd() int64 { return sc.moovOff + int64(len(sc.moov)) }

// topBox handles the top-level box b after the moov and returns the offset
// after it.
func (sc *sealScan) topBox(b sealBox) (int64, error) {
	switch b.typ {
	case "moof":
		return sc.fragment(b)
	case "free", "skip", "sidx", "mfra", "styp", "prft", "uuid", "emsg":
		return b.end(), nil // dropped: the seal writes its own index
	}
	return 0, sealErr(b.off, ErrMalformed, "unexpected %s box at the top level", b.typ)
}

// readInit reads the ftyp and the moov.
func (sc *sealScan) readInit() error {
	notMP4 := func(off int64, why string) error {
		return sealErr(off, ErrNotMP4, "%s", why)
	}
	b, err := sc.readHeader(0)
	if err != nil && !errors.Is(err, errSealShort) && !errors.Is(err, ErrMalformed) {
		return err // a read error
	}
	if err != nil || b.typ != "ftyp" {
		return notMP4(0, "no ftyp box at the start")
	}
	if b.size > sc.o.MaxInitBytes {
		return sealErr(0, ErrLimit, "ftyp of %d bytes, more than %d", b.size, sc.o.MaxInitBytes)
	}
	sc.ftyp = make([]byte, b.size)
	if err := sealReadAt(sc.src, sc.ftyp, 0); err != nil {
		return err
	}
	off := b.end()
	for {
		b, err := sc.readHeader(off)
		if err != nil && !errors.Is(err, errSealShort) && !errors.Is(err, ErrMalformed) {
			return err
		}
		if err != nil {
			return notMP4(off, "no complete moov box after the ftyp")
		}
		if b.typ == "free" || b.typ == "skip" {
			off = b.end()
			continue
		}
		if b.typ != "moov" {
			return notMP4(off, fmt.Sprintf("%s box where the moov should be", b.typ))
		}
		if b.size > sc.o.MaxInitBytes {
			return sealErr(off, ErrLimit, "moov of %d bytes, more than %d", b.size, sc.o.MaxInitBytes)
		}
		sc.moov = make([]byte, b.size)
		sc.moovOff = off - int64(len(sc.ftyp))
		if err := sealReadAt(sc.src, sc.moov, off); err != nil {
			return err
		}
		return sc.parseMoov(b)
	}
}
