package mp4

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"
)

// Sample flags (ISO/IEC 14496-12, 8.8.3.1).
const sealNonSync = 0x00010000 // sample_is_non_sync_sample

// tfhd flags.
const (
	sealTfhdBaseOffset  = 0x000001
	sealTfhdDescription = 0x000002
	sealTfhdDuration    = 0x000008
	sealTfhdSize        = 0x000010
	sealTfhdFlags       = 0x000020
)

// trun flags.
const (
	sealTrunDataOffset = 0x000001
	sealTrunFirstFlags = 0x000004
	sealTrunDuration   = 0x000100
	sealTrunSize       = 0x000200
	sealTrunFlags      = 0x000400
	sealTrunCTO        = 0x000800
)

// parseMoov reads the tracks of the moov b (in sc.moov): mvhd's
// timescale, each trak's track_ID, timescale and handler, mvex's trex
// defaults.
func (sc *sealScan) parseMoov(b sealBox) error {
	var mvhd, mvex bool
	err := sealChildren(sc.moov[b.hdr:], b.body(), func(c sealBox, p []byte) error {
		switch c.typ {
		case "mvhd":
			ts, _, err := sealTimescale(c, p)
			if err != nil {
				return err
			}
			mvhd, sc.movieScale = true, ts
		case "trak":
			if len(sc.tracks) == sealMaxTracks {
				return sealErr(c.off, ErrLimit, "more than %d tracks", sealMaxTracks)
			}
			t, err := sealParseTrak(c, p)
			if err != nil {
				return err
			}
			for _, u := range sc.tracks {
				if u.id == t.id {
					return sealErr(c.off, ErrMalformed, "two tracks with track_ID %d", t.id)
				}
			}
			sc.tracks = append(sc.tracks, t)
		case "mvex":
			mvex = true
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case !mvex:
		return sealErr(b.off, ErrNotMP4, "moov without mvex: not a fragmented file")
	case !mvhd || sc.movieScale == 0:
		return sealErr(b.off, ErrMalformed, "moov without mvhd timescale")
	case len(sc.tracks) == 0:
		return sealErr(b.off, ErrMalformed, "moov without trak")
	}
	// The trex defaults, now that every track is known.
	_ = sealChildren(sc.moov[b.hdr:], b.body(), func(c sealBox, p []byte) error {
		if c.typ != "mvex" {
			return nil
		}
		return sealChildren(p, c.body(), func(c sealBox, p []byte) error {
			if c.typ != "trex" || len(p) < 24 {
				return nil
			}
			id := binary.BigEndian.Uint32(p[4:])
			if t := sc.track(id); t != nil {
				t.defDur = binary.BigEndian.Uint32(p[12:])
				t.defFlags = binary.BigEndian.Uint32(p[20:])
			}
			return nil
		})
	})
	sc.ref = 0
	for i, t := range sc.tracks {
		if t.video {
			sc.ref = i
			break
		}
	}
	return nil
}

// track returns the track id, or nil.
func (sc *sealScan) track(id uint32) *sealTrack {
	for i := range sc.tracks {
		if sc.tracks[i].id == id {
			return &sc.tracks[i]
		}
	}
	return nil
}

// hasVideo reports whether the moov has a video track.
func (sc *sealScan) hasVideo() bool { return sc.tracks[sc.ref].video }

// sealParseTrak reads a trak's track_ID (tkhd), timescale (mdhd) and
// handler (hdlr).
func sealParseTrak(b sealBox, p []byte) (sealTrack, error) {
	var t sealTrack
	var tkhd bool
	err := sealChildren(p, b.body(), func(c sealBox, p []byte) error {
		switch c.typ {
		case "tkhd":
			// version/flags, then creation and modification times (32
			// or 64 bits each), then track_ID.
			at := 12
			if len(p) > 0 && p[0] == 1 {
				at = 20
			}
			if len(p) < at+4 {
				return sealErr(c.off, ErrMalformed, "tkhd cut short")
			}
			tkhd, t.id = true, binary.BigEndian.Uint32(p[at:])
		case "mdia":
			return sealChildren(p, c.body(), func(c sealBox, p []byte) error {
				switch c.typ {
				case "mdhd":
					ts, _, err := sealTimescale(c, p)
					t.timescale = ts
					return err
				case "hdlr":
					if len(p) < 12 {
						return sealErr(c.off, ErrMalformed, "hdlr cut short")
					}
					t.video = string(p[8:12]) == "vide"
				}
				return nil
			})
		}
		return nil
	})
	switch {
	case err != nil:
		return t, err
	case !tkhd:
		return t, sealErr(b.off, ErrMalformed, "trak without tkhd")
	case t.timescale == 0:
		return t, sealErr(b.off, ErrMalformed, "track %d without mdhd timescale", t.id)
	}
	return t, nil
}

// sealTimescale returns the timescale of an mvhd or mdhd box and the
// offset in p of its duration.
func sealTimescale(b sealBox, p []byte) (ts uint32, durAt int, err error) {
	at := 12 // version/flags, 32-bit creation and modification times
	durLen := 4
	if len(p) > 0 && p[0] == 1 {
		at, durLen = 20, 8
	}
	if len(p) < at+4+durLen {
		return 0, 0, sealErr(b.off, ErrMalformed, "%s cut short", b.typ)
	}
	return binary.BigEndian.Uint32(p[at:]), at + 4, nil
}

// fragment reads the moof b and its mdat, records the fragment and
// returns the offset after it.
func (sc *sealScan) fragment(b sealBox) (int64, error) {
	if b.size > sc.o.MaxMoofBytes {
		return 0, sealErr(b.off, ErrLimit, "moof of %d bytes, more than %d", b.size, sc.o.MaxMoofBytes)
	}
	mdat, err := sc.readHeader(b.end())
	if err != nil {
		return 0, err
	}
	if mdat.typ != "mdat" {
		return 0, sealErr(mdat.off, ErrMalformed, "%s box after a moof; want mdat", mdat.typ)
	}
	if len(sc.frags) == sc.o.MaxFragments {
		return 0, sealHard{sealErr(b.off, ErrLimit, "more than %d fragments", sc.o.MaxFragments)}
	}
	moof := make([]byte, b.size)
	if err := sealReadAt(sc.src, moof, b.off); err != nil {
		return 0, err
	}
	f := sealFrag{off: b.off, size: mdat.end() - b.off}
	// The tracks as they were before this fragment, restored if it
	// proves malformed: a Fault leaves out the whole fragment.
	saved := append([]sealTrack(nil), sc.tracks...)
	samples, err := sc.parseMoof(b, moof[b.hdr:], &f)
	if err != nil {
		copy(sc.tracks, saved)
		return 0, err
	}
	if !sc.hasVideo() {
		f.sync = true
	}
	if f.sync {
		sc.info.Keyframes++
	}
	sc.info.Samples += samples
	sc.frags = append(sc.frags, f)
	return mdat.end(), nil
}

// parseMoof reads the trafs of a moof, whose payload is p, into f and
// sc.tracks, and returns the number of samples.
func (sc *sealScan) parseMoof(b sealBox, p []byte, f *sealFrag) (int, error) {
	var samples int64
	var trafs int
	var seenRef bool
	err := sealChildren(p, b.body(), func(c sealBox, p []byte) error {
		if c.typ != "traf" {
			return nil
		}
		trafs++
		tf, err := sealParseTraf(c, p, sc)
		if err != nil {
			return err
		}
		if tf.baseOffset {
			if tf.base < uint64(f.off) || tf.base >= uint64(f.off+f.size) {
				return sealErr(c.off, ErrMalformed, "base_data_offset %d outside its fragment", tf.base)
			}
			f.patch = true
		}
		samples += tf.count
		if samples > sc.o.MaxSamples {
			return sealErr(c.off, ErrLimit, "more than %d samples in a fragment", sc.o.MaxSamples)
		}
		if tf.t == &sc.tracks[sc.ref] && !seenRef {
			seenRef = true
			f.traf = uint8(min(trafs, math.MaxUint8))
			f.ept = tf.ept
			f.sync = tf.count > 0 && tf.firstFlags&sealNonSync == 0
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if !seenRef {
		f.ept = sc.tracks[sc.ref].next
	}
	return int(samples), nil
}

// sealTraf is what a traf says.
type sealTraf struct {
	t          *sealTrack
	baseOffset bool
	base       uint64
	count      int64
	firstFlags uint32
	ept        uint64
}

// sealParseTraf reads a traf (tfhd, tfdt, truns) and advances its track.
func sealParseTraf(b sealBox, p []byte, sc *sealScan) (sealTraf, error) {
	var tf sealTraf
	var defDur, defFlags uint32
	var start uint64
	var haveStart, haveTfdt, firstRun bool
	firstRun = true
	err := sealChildren(p, b.body(), func(c sealBox, p []byte) error {
		switch c.typ {
		case "tfhd":
			if tf.t != nil {
				return sealErr(c.off, ErrMalformed, "two tfhd in a traf")
			}
			if len(p) < 8 {
				return sealErr(c.off, ErrMalformed, "tfhd cut short")
			}
			flags := binary.BigEndian.Uint32(p) & 0xffffff
			id := binary.BigEndian.Uint32(p[4:])
			if tf.t = sc.track(id); tf.t == nil {
				return sealErr(c.off, ErrMalformed, "traf of unknown track %d", id)
			}
			defDur, defFlags = tf.t.defDur, tf.t.defFlags
			r := sealFields{p: p, at: 8}
			if flags&sealTfhdBaseOffset != 0 {
				tf.baseOffset, tf.base = true, r.u64()
			}
			if flags&sealTfhdDescription != 0 {
				r.u32()
			}
			if flags&sealTfhdDuration != 0 {
				defDur = r.u32()
			}
			if flags&sealTfhdSize != 0 {
				r.u32()
			}
			if flags&sealTfhdFlags != 0 {
				defFlags = r.u32()
			}
			if r.bad {
				return sealErr(c.off, ErrMalformed, "tfhd cut short")
			}
		case "tfdt":
			if len(p) < 8 || (p[0] == 1 && len(p) < 12) {
				return sealErr(c.off, ErrMalformed, "tfdt cut short")
			}
			haveTfdt = true
			if p[0] == 1 {
				start = binary.BigEndian.Uint64(p[4:])
			} else {
				start = uint64(binary.BigEndian.Uint32(p[4:]))
			}
		case "trun":
			if tf.t == nil {
				return sealErr(c.off, ErrMalformed, "trun before tfhd")
			}
			if !haveStart {
				haveStart = true
				if !haveTfdt {
					start = tf.t.next
				}
				tf.ept = start
			}
			return sc.parseTrun(c, p, &tf, start, defDur, defFlags, &firstRun)
		}
		return nil
	})
	if err == nil && tf.t == nil {
		err = sealErr(b.off, ErrMalformed, "traf without tfhd")
	}
	if err == nil && !haveStart && haveTfdt {
		tf.t.next = start // a traf without samples still says where its track is
		tf.ept = start
	}
	return tf, err
}

// parseTrun reads a trun of traf tf, whose track's samples continue at
// its next decode time (start, for the traf's first trun).
func (sc *sealScan) parseTrun(b sealBox, p []byte, tf *sealTraf, start uint64, defDur, defFlags uint32, first *bool) error {
	if len(p) < 8 {
		return sealErr(b.off, ErrMalformed, "trun cut short")
	}
	t := tf.t
	flags := binary.BigEndian.Uint32(p) & 0xffffff
	signed := p[0] >= 1
	count := int64(binary.BigEndian.Uint32(p[4:]))
	if count > sc.o.MaxSamples {
		return sealErr(b.off, ErrLimit, "trun of %d samples, more than %d", count, sc.o.MaxSamples)
	}
	r := sealFields{p: p, at: 8}
	if flags&sealTrunDataOffset != 0 {
		r.u32()
	}
	firstFlags, haveFirst := uint32(0), flags&sealTrunFirstFlags != 0
	if haveFirst {
		firstFlags = r.u32()
	}
	per := 0
	for _, f := range []uint32{sealTrunDuration, sealTrunSize, sealTrunFlags, sealTrunCTO} {
		if flags&f != 0 {
			per += 4
		}
	}
	if r.bad || int64(len(p)-r.at) < count*int64(per) {
		return sealErr(b.off, ErrMalformed, "trun cut short")
	}
	if !*first {
		start = t.next
	}
	dt := start
	for i := range count {
		dur, sflags, cto := defDur, defFlags, int64(0)
		if flags&sealTrunDuration != 0 {
			dur = r.u32()
		}
		if flags&sealTrunSize != 0 {
			r.u32()
		}
		if flags&sealTrunFlags != 0 {
			sflags = r.u32()
		}
		if flags&sealTrunCTO != 0 {
			v := r.u32()
			if signed {
				cto = int64(int32(v))
			} else {
				cto = int64(v)
			}
		}
		if i == 0 && haveFirst {
			sflags = firstFlags
		}
		if i == 0 && *first {
			tf.firstFlags = sflags
			tf.ept = sealAddSigned(dt, cto)
		}
		t.last = max(t.last, dt)
		if per == 0 && count > 0 {
			// Every sample has the default duration: no need to loop.
			dt, _ = sealAddMul(dt, uint64(dur), uint64(count))
			t.last = max(t.last, dt-uint64(dur))
			break
		}
		dt = sealAdd(dt, uint64(dur))
	}
	if count > 0 {
		t.seen = true
		*first = false
		t.end = max(t.end, dt)
	}
	tf.count += count
	t.next = dt
	return nil
}

// sealFields reads big-endian fields off p, setting bad past its end.
type sealFields struct {
	p   []byte
	at  int
	bad bool
}

func (r *sealFields) u32() uint32 {
	if r.at+4 > len(r.p) {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint32(r.p[r.at:])
	r.at += 4
	return v
}

func (r *sealFields) u64() uint64 {
	if r.at+8 > len(r.p) {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.p[r.at:])
	r.at += 8
	return v
}

// sealAddSigned returns v+d, clamped at 0 and saturating.
func sealAddSigned(v uint64, d int64) uint64 {
	if d < 0 {
		if uint64(-d) > v {
			return 0
		}
		return v - uint64(-d)
	}
	return sealAdd(v, uint64(d))
}

// sealAdd returns a+b, saturating.
func sealAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}

// sealAddMul returns v+a*n, saturating, and whether it did not overflow.
func sealAddMul(v, a, n uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, n)
	sum, carry := bits.Add64(v, lo, 0)
	if hi != 0 || carry != 0 {
		return math.MaxUint64, false
	}
	return sum, true
}

// sealRescale returns v ticks of timescale from in timescale to,
// rounded to the nearest, saturating.
func sealRescale(v uint64, from, to uint64) uint64 {
	hi, lo := bits.Mul64(v, to)
	lo, c := bits.Add64(lo, from/2, 0)
	hi += c
	if hi >= from {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, from)
	return q
}

// sealTime returns v ticks of timescale ts as a Duration, saturating.
func sealTime(v uint64, ts uint32) time.Duration {
	d := sealRescale(v, uint64(ts), uint64(time.Second))
	if d > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}
