package mp4

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
)

// sealBufSize is the size of Seal's write buffer.
const sealBufSize = 64 << 10

// sealLayout is the sealed file: a head (ftyp, moov, sidx), the fragments
// copied from src, a tail (mfra).
type sealLayout struct {
	head  []byte
	frags []sealFrag
	tail  []byte
	size  int64
}

// layout plans the sealed file.
func (sc *sealScan) layout() (*sealLayout, error) {
	var movieDur uint64
	for _, t := range sc.tracks {
		movieDur = max(movieDur, sealRescale(t.end, uint64(t.timescale), uint64(sc.movieScale)))
	}
	moov, err := sc.buildMoov(movieDur)
	if err != nil {
		return nil, err
	}
	head := append(append([]byte(nil), sc.ftyp...), moov...)
	sidx, err := sc.buildSidx()
	if err != nil {
		return nil, err
	}
	head = append(head, sidx...)
	l := &sealLayout{head: head, frags: sc.frags}
	outOff := make([]int64, len(sc.frags))
	pos := int64(len(head))
	for i, f := range sc.frags {
		outOff[i] = pos
		pos += f.size
	}
	l.tail = sc.buildMfra(outOff)
	l.size = pos + int64(len(l.tail))
	return l, nil
}

// sealAppendBox appends the box typ with payload body to dst.
func sealAppendBox(dst []byte, typ string, body ...[]byte) []byte {
	n := 8
	for _, b := range body {
		n += len(b)
	}
	if uint64(n) > math.MaxUint32 {
		dst = binary.BigEndian.AppendUint32(dst, 1)
		dst = append(dst, typ...)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n+8))
	} else {
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
		dst = append(dst, typ...)
	}
	for _, b := range body {
		dst = append(dst, b...)
	}
	return dst
}

// buildMoov returns the moov with the durations of the fragments: movieDur
// in the movie timescale in mvhd and mehd, each track's in its tkhd and
// mdhd.
func (sc *sealScan) buildMoov(movieDur uint64) ([]byte, error) {
	var body []byte
	var err error
	b, _ := sealParseHeader(sc.moov, 0, int64(len(sc.moov)))
	perr := sealChildren(sc.moov[b.hdr:], 0, func(c sealBox, p []byte) error {
		switch c.typ {
		case "mvhd":
			p, err = sealPatchDuration(c, p, 1, movieDur)
		case "trak":
			p, err = sc.buildTrak(c, p)
		case "mvex":
			mehd := []byte{0, 0, 0, 0}
			if movieDur > math.MaxUint32 {
				mehd = binary.BigEndian.AppendUint64([]byte{1, 0, 0, 0}, movieDur)
			} else {
				mehd = binary.BigEndian.AppendUint32(mehd, uint32(movieDur))
			}
			mvex := sealAppendBox(nil, "mehd", mehd)
			err = sealChildren(p, c.body(), func(c sealBox, p []byte) error {
				if c.typ != "mehd" {
					mvex = sealAppendBox(mvex, c.typ, p)
				}
				return nil
			})
			p = mvex
		}
		if err != nil {
			return err
		}
		body = sealAppendBox(body, c.typ, p)
		return nil
	})
	if perr != nil {
		return nil, perr
	}
	return sealAppendBox(nil, "moov", body), nil
}

// buildTrak returns the payload of trak b with its track's duration in
// tkhd (movie timescale) and mdhd (media timescale).
func (sc *sealScan) buildTrak(b sealBox, p []byte) ([]byte, error) {
	t, err := sealParseTrak(b, p)
	if err != nil {
		return nil, err
	}
	t = *sc.track(t.id)
	movie := sealRescale(t.end, uint64(t.timescale), uint64(sc.movieScale))
	var body []byte
	err = sealChildren(p, b.body(), func(c sealBox, p []byte) error {
		var err error
		switch c.typ {
		case "tkhd":
			p, err = sealPatchDuration(c, p, 2, movie)
		case "mdia":
			var mdia []byte
			err = sealChildren(p, c.body(), func(c sealBox, p []byte) error {
				var err error
				if c.typ == "mdhd" {
					p, err = sealPatchDuration(c, p, 1, t.end)
				}
				mdia = sealAppendBox(mdia, c.typ, p)
				return err
			})
			p = mdia
		}
		body = sealAppendBox(body, c.typ, p)
		return err
	})
	return body, err
}

// sealPatchDuration returns the payload p of a full box (mvhd, tkhd,
// mdhd: version and flags, creation and modification times, k 32-bit
// fields, duration) with duration d; a version 0 box becomes version 1
// when d does not fit in 32 bits.
func sealPatchDuration(b sealBox, p []byte, k int, d uint64) ([]byte, error) {
	if len(p) > 0 && p[0] == 1 {
		at := 4 + 16 + 4*k
		if len(p) < at+8 {
			return nil, sealErr(b.off, ErrMalformed, "%s cut short", b.typ)
		}
		out := append([]byte(nil), p...)
		binary.BigEndian.PutUint64(out[at:], d)
		return out, nil
	}
	at := 4 + 8 + 4*k
	if len(p) < at+4 {
		return nil, sealErr(b.off, ErrMalformed, "%s cut short", b.typ)
	}
	if d <= math.MaxUint32 {
		out := append([]byte(nil), p...)
		binary.BigEndian.PutUint32(out[at:], uint32(d))
		return out, nil
	}
	out := make([]byte, 0, len(p)+12)
	out = append(out, 1, p[1], p[2], p[3])
	out = binary.BigEndian.AppendUint64(out, uint64(binary.BigEndian.Uint32(p[4:])))
	out = binary.BigEndian.AppendUint64(out, uint64(binary.BigEndian.Uint32(p[8:])))
	out = append(out, p[12:at]...)
	out = binary.BigEndian.AppendUint64(out, d)
	return append(out, p[at+4:]...), nil
}

// perRef returns how many fragments each sidx reference covers.
func (sc *sealScan) perRef() int {
	return (len(sc.frags) + sealMaxRefs - 1) / sealMaxRefs
}

// buildSidx returns the sidx: one reference per fragment (per group of
// fragments past 65,535), in the reference track's timescale.
func (sc *sealScan) buildSidx() ([]byte, error) {
	t := sc.tracks[sc.ref]
	k := sc.perRef()
	ept := sc.frags[0].ept
	body := []byte{0, 0, 0, 0}
	if ept > math.MaxUint32 {
		body[0] = 1
	}
	body = binary.BigEndian.AppendUint32(body, t.id)
	body = binary.BigEndian.AppendUint32(body, t.timescale)
	if body[0] == 1 {
		body = binary.BigEndian.AppendUint64(body, ept)
		body = binary.BigEndian.AppendUint64(body, 0) // first_offset: the first moof follows
	} else {
		body = binary.BigEndian.AppendUint32(body, uint32(ept))
		body = binary.BigEndian.AppendUint32(body, 0)
	}
	n := (len(sc.frags) + k - 1) / k
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint16(body, uint16(n))
	for i := 0; i < len(sc.frags); i += k {
		j := min(i+k, len(sc.frags))
		var size int64
		for _, f := range sc.frags[i:j] {
			size += f.size
		}
		if size >= 1<<31 {
			return nil, sealErr(sc.frags[i].off, ErrLimit, "fragments of %d bytes, more than a sidx reference holds", size)
		}
		end := t.end
		if j < len(sc.frags) {
			end = sc.frags[j].ept
		}
		dur := uint64(0)
		if end > sc.frags[i].ept {
			dur = end - sc.frags[i].ept
		}
		if dur > math.MaxUint32 {
			return nil, sealErr(sc.frags[i].off, ErrLimit, "fragments of %d ticks, more than a sidx reference holds", dur)
		}
		sap := uint32(0)
		if sc.frags[i].sync {
			sap = 1<<31 | 1<<28 // starts_with_SAP, SAP_type 1
		}
		body = binary.BigEndian.AppendUint32(body, uint32(size))
		body = binary.BigEndian.AppendUint32(body, uint32(dur))
		body = binary.BigEndian.AppendUint32(body, sap)
	}
	sc.info.Index = n
	return sealAppendBox(nil, "sidx", body), nil
}

// buildMfra returns the mfra: a tfra for the reference track listing the
// fragments that start with a sync sample, at their offsets outOff in
// the sealed file, and the mfro. It returns nil when there is none.
func (sc *sealScan) buildMfra(outOff []int64) []byte {
	t := sc.tracks[sc.ref]
	body := []byte{1, 0, 0, 0} // version 1: 64-bit time and offset
	body = binary.BigEndian.AppendUint32(body, t.id)
	body = binary.BigEndian.AppendUint32(body, 0) // 1-byte traf, trun and sample numbers
	at := len(body)
	body = binary.BigEndian.AppendUint32(body, 0)
	var n uint32
	for i, f := range sc.frags {
		if !f.sync || f.traf == 0 {
			continue
		}
		n++
		body = binary.BigEndian.AppendUint64(body, f.ept)
		body = binary.BigEndian.AppendUint64(body, uint64(outOff[i]))
		body = append(body, f.traf, 1, 1)
	}
	if n == 0 {
		return nil
	}
	binary.BigEndian.PutUint32(body[at:], n)
	tfra := sealAppendBox(nil, "tfra", body)
	mfro := binary.BigEndian.AppendUint32([]byte{0, 0, 0, 0}, uint32(8+len(tfra)+16))
	return sealAppendBox(nil, "mfra", tfra, sealAppendBox(nil, "mfro", mfro))
}

// write writes the sealed file to dst, copying the fragments from src.
func (l *sealLayout) write(dst io.Writer, src io.ReaderAt) error {
	bw := bufio.NewWriterSize(dst, sealBufSize)
	if _, err := bw.Write(l.head); err != nil {
		return err
	}
	pos := int64(len(l.head))
	for _, f := range l.frags {
		off, n := f.off, f.size
		if f.patch {
			moof, err := sealShiftMoof(src, f, pos-f.off)
			if err != nil {
				return err
			}
			if _, err := bw.Write(moof); err != nil {
				return err
			}
			off, n = off+int64(len(moof)), n-int64(len(moof))
		}
		if _, err := io.CopyN(bw, io.NewSectionReader(src, off, n), n); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the file shrank
			}
			return err
		}
		pos += f.size
	}
	if _, err := bw.Write(l.tail); err != nil {
		return err
	}
	return bw.Flush()
}

// sealShiftMoof reads the moof of fragment f and moves each explicit
// base_data_offset of its tfhds by shift.
func sealShiftMoof(src io.ReaderAt, f sealFrag, shift int64) ([]byte, error) {
	var p [16]byte
	h := p[:min(16, f.size)]
	if err := sealReadAt(src, h, f.off); err != nil {
		return nil, err
	}
	b, err := sealParseHeader(h, f.off, f.size)
	if err != nil {
		return nil, err
	}
	moof := make([]byte, b.size)
	if err := sealReadAt(src, moof, f.off); err != nil {
		return nil, err
	}
	err = sealChildren(moof[b.hdr:], b.body(), func(c sealBox, p []byte) error {
		if c.typ != "traf" {
			return nil
		}
		return sealChildren(p, c.body(), func(c sealBox, p []byte) error {
			if c.typ == "tfhd" && len(p) >= 16 && binary.BigEndian.Uint32(p)&sealTfhdBaseOffset != 0 {
				v := int64(binary.BigEndian.Uint64(p[8:]))
				binary.BigEndian.PutUint64(p[8:], uint64(v+shift))
			}
			return nil
		})
	})
	return moof, err
}
