package mp4

import (
	"encoding/binary"
	"math"
)

// scanner walks a moof as its bytes arrive, to make the repairs Feed
// describes while the bytes of each duration field are in the Feed call
// that brings them: so only a field that a call boundary cuts in two is
// missed, however the moof is split. It looks at tfhd and trun boxes only,
// each once, so its work is bounded by the moof's bytes; it stops at
// anything malformed, which the moof's parse, when it is complete,
// reports.
type scanner struct {
	done    bool
	pos     int // next child of the moof to look at, in frag
	inTraf  bool
	trafEnd int // end of the traf, in frag
	cpos    int // next child of the traf to look at
	trafs   int // trafs entered
	t       *trackState
	base    int64 // the traf's base data offset; -1 when unknown here
	defSize uint32
}

// scanHeader decodes the box header at b[pos:] of a parent that ends at
// end. wait is true when the header has not all arrived; ok is false when
// it is malformed.
func scanHeader(b []byte, pos, end int) (typ uint32, hdr, size int, wait, ok bool) {
	need := 8
	if pos+4 <= len(b) && be32(b[pos:]) == 1 {
		need = 16
	}
	if pos+need > end {
		return 0, 0, 0, false, false
	}
	if pos+need > len(b) {
		return 0, 0, 0, true, true
	}
	typ, hdr, sz, _ := boxHeader(b[pos:])
	if sz < uint64(hdr) || sz > uint64(end-pos) {
		return 0, 0, 0, false, false
	}
	return typ, hdr, int(sz), false, true
}

// scanRepairs advances the scanner over the bytes of the moof in r.frag.
func (r *Reader) scanRepairs() {
	s := &r.sc
	b := r.frag
	moofStart := r.off - int64(len(b))
	moofEnd := int(r.end - moofStart)
	for !s.done {
		if !s.inTraf {
			if s.pos >= moofEnd {
				s.done = true
				return
			}
			typ, hdr, size, wait, ok := scanHeader(b, s.pos, moofEnd)
			switch {
			case wait:
				return
			case !ok:
				s.done = true
				return
			case typ == typTraf:
				s.inTraf, s.trafEnd, s.cpos, s.t = true, s.pos+size, s.pos+hdr, nil
				s.trafs++
			}
			s.pos += size
			continue
		}
		if s.cpos >= s.trafEnd {
			s.inTraf = false
			continue
		}
		typ, hdr, size, wait, ok := scanHeader(b, s.cpos, s.trafEnd)
		switch {
		case wait:
			return
		case !ok:
			s.done = true
			return
		case typ == typTfhd:
			if s.cpos+size > len(b) {
				return
			}
			r.scanTfhd(b[s.cpos+hdr:s.cpos+size], moofStart)
		case typ == typTrun:
			if !r.scanTrun(b, s.cpos, hdr, size, moofStart, moofEnd) {
				return
			}
		}
		s.cpos += size
	}
}

// scanTfhd reads the payload p of a traf's tfhd: its track, base data
// offset and default sample size.
func (r *Reader) scanTfhd(p []byte, moofStart int64) {
	s := &r.sc
	_, flags, p, ok := fullBox(p)
	if !ok || len(p) < 4 {
		return
	}
	i := r.trackIndex(be32(p))
	if i < 0 {
		return
	}
	t := &r.tracks[i]
	s.t, s.base, s.defSize = t, -1, t.trexSize
	p = p[4:]
	switch {
	case flags&tfhdBaseDataOffset != 0:
		if len(p) < 8 || be64(p) > math.MaxInt64 {
			return
		}
		s.base = int64(be64(p))
		p = p[8:]
	case flags&tfhdDefaultBaseIsMoof != 0 || s.trafs == 1:
		s.base = moofStart
	}
	if flags&tfhdSampleDescIndex != 0 {
		p = p[min(4, len(p)):]
	}
	if flags&tfhdDefaultDuration != 0 {
		p = p[min(4, len(p)):]
	}
	if flags&tfhdDefaultSize != 0 && len(p) >= 4 {
		s.defSize = be32(p)
	}
}

// scanTrun looks at the trun at b[pos:], of header length hdr and size
// bytes, and repairs its last duration if it should. It returns false
// when it must wait for more of the trun's bytes.
func (r *Reader) scanTrun(b []byte, pos, hdr, size int, moofStart int64, moofEnd int) bool {
	s := &r.sc
	head := pos + hdr + 8 // version, flags, sample_count
	if head > len(b) {
		return false
	}
	flags := be32(b[pos+hdr:]) & 0xffffff
	count := int(be32(b[pos+hdr+4:]))
	dataOff, haveOff := int32(0), flags&trunDataOffset != 0
	if haveOff {
		head += 4
	}
	if flags&trunFirstSampleFlags != 0 {
		head += 4
	}
	if head > pos+size {
		return true // malformed: the parse says so
	}
	if head > len(b) {
		return false
	}
	if haveOff {
		dataOff = int32(be32(b[pos+hdr+8:]))
	}
	per := 0
	for _, bit := range [...]uint32{trunDuration, trunSize, trunFlags, trunCTO} {
		if flags&bit != 0 {
			per += 4
		}
	}
	t := s.t
	if t == nil || t.Type != Audio || flags&trunDuration == 0 || count < 1 ||
		count > int(r.maxSamples()) || int64(head)+int64(count)*int64(per) > int64(pos+size) {
		return true
	}
	field := head + (count-1)*per // the last sample's duration
	if field+4 > len(b) {
		return false
	}
	d := typicalDuration(b, head, per, count-1)
	last := be32(b[field:])
	// Where the last sample's data is, for its Opus TOC: after the data of
	// the samples before it, when the run says where its data starts.
	data, n := int64(-1), int64(-1)
	if haveOff && s.base >= 0 {
		data = s.base + int64(dataOff)
		for i := range count - 1 {
			if flags&trunSize != 0 {
				data += int64(be32(b[head+i*per+4:]))
			} else {
				data += int64(s.defSize)
			}
		}
		if flags&trunSize != 0 && field+8 <= len(b) {
			n = int64(be32(b[field+4:]))
		}
		if data < moofStart+int64(moofEnd) {
			data = -1
		}
	}
	r.repair(t, moofStart+int64(field), d, last, data, n)
	return true
}

// typicalDuration returns the duration most of the first n samples of a
// trun declare (its entries, per bytes each, start at b[head:]): the one
// more than half of them have, else the last of them (an encoder's packets
// keep one length; a capture clock's jitter makes a few of their
// durations longer or shorter). It returns 0 when n is 0.
func typicalDuration(b []byte, head, per, n int) uint32 {
	if n == 0 {
		return 0
	}
	// Boyer and Moore's majority vote, then a count to confirm it.
	var cand uint32
	votes := 0
	for i := range n {
		d := be32(b[head+i*per:])
		switch {
		case votes == 0:
			cand, votes = d, 1
		case d == cand:
			votes++
		default:
			votes--
		}
	}
	same := 0
	for i := range n {
		if be32(b[head+i*per:]) == cand {
			same++
		}
	}
	if 2*same > n {
		return cand
	}
	return be32(b[head+(n-1)*per:])
}

// repair rewrites the duration field at absolute offset field, of a last
// sample that declares last ticks after samples of typically d ticks (0:
// no sample before it), whose data (n bytes; -1: unknown) is at absolute
// offset data (-1: unknown); see Feed. A field whose first bytes came in
// an earlier call is missed.
func (r *Reader) repair(t *trackState, field int64, d, last uint32, data, n int64) {
	v := d
	if i := data - r.call; t.Entry == "Opus" && data >= r.call && n != 0 && i < int64(len(r.p)) {
		end := min(i+2, int64(len(r.p)))
		if n > 0 {
			end = min(end, i+n)
		}
		if s := opusSamples(r.p[i:end]); s > 0 {
			v = uint32(min(uint64(s)*uint64(t.Timescale)/48000, math.MaxUint32))
		}
	}
	if v <= last {
		return // the packet is as short as declared, or nothing says otherwise
	}
	if field < r.call {
		r.missed++
		return
	}
	binary.BigEndian.PutUint32(r.p[field-r.call:], v)
	r.repairs++
}
