package mp4

import (
	"encoding/binary"
	"slices"
)

// A small builder of fragmented MP4 files for the tests, writing only the
// boxes Seal reads.

// sealTestBox32 returns a box with a 32-bit size.
func sealTestBox32(typ string, body ...[]byte) []byte {
	return sealAppendBox(nil, typ, body...)
}

func sealU32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func sealU64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// sealTestTrack describes a track of a built init segment.
type sealTestTrack struct {
	id        uint32
	video     bool
	timescale uint32
	trexDur   uint32 // trex default_sample_duration
	trexFlags uint32 // trex default_sample_flags
}

// sealTestInit returns ftyp and moov: version 0 boxes when v0, else
// version 1, durations 0, a movie timescale of 1000.
func sealTestInit(v0 bool, tracks ...sealTestTrack) []byte {
	ver := []byte{1, 0, 0, 0}
	times := make([]byte, 16)
	dur := make([]byte, 8)
	if v0 {
		ver, times, dur = []byte{0, 0, 0, 0}, make([]byte, 8), make([]byte, 4)
	}
	ftyp := sealTestBox32("ftyp", []byte("isom"), sealU32(0x200), []byte("isomiso6mp41"))
	mvhd := sealTestBox32("mvhd", ver, times, sealU32(1000), dur, sealU32(0x10000), []byte{1, 0}, make([]byte, 10+36+24), sealU32(uint32(len(tracks)+1)))
	moov := slices.Clone(mvhd)
	var mvex []byte
	for _, t := range tracks {
		tkhd := sealTestBox32("tkhd", []byte{ver[0], 0, 0, 3}, times, sealU32(t.id), make([]byte, 4), dur, make([]byte, 8+8+36+8))
		handler := "soun"
		if t.video {
			handler = "vide"
		}
		mdhd := sealTestBox32("mdhd", ver, times, sealU32(t.timescale), dur, []byte{0x55, 0xc4, 0, 0})
		hdlr := sealTestBox32("hdlr", make([]byte, 8), []byte(handler), make([]byte, 12), []byte{0})
		moov = append(moov, sealTestBox32("trak", tkhd, sealTestBox32("mdia", mdhd, hdlr))...)
		mvex = append(mvex, sealTestBox32("trex", make([]byte, 4), sealU32(t.id), sealU32(1), sealU32(t.trexDur), sealU32(0), sealU32(t.trexFlags))...)
	}
	moov = append(moov, sealTestBox32("mvex", mvex)...)
	return slices.Concat(ftyp, sealTestBox32("moov", moov))
}

// sealTestTraf describes a traf of a built fragment.
type sealTestTraf struct {
	id     uint32
	tfdt   uint64
	noTfdt bool
	count  int      // samples
	durs   []uint32 // per-sample durations, if any
	defDur uint32   // tfhd default_sample_duration, if not 0
	// first is the first sample's flags, if set.
	first *uint32
	// base writes an explicit base_data_offset, the mdat payload's
	// absolute offset, instead of default-base-is-moof.
	base bool
}

// sealSync and sealNotSync are sample flags.
var (
	sealSync    = uint32(0x02000000)
	sealNotSync = uint32(0x01010000)
)

// sealTestSample returns the 4 bytes of sample i of traf j of fragment
// seq.
func sealTestSample(seq uint32, j, i int) []byte {
	return []byte{byte(seq >> 8), byte(seq), byte(j), byte(i)}
}

// sealTestFragment returns a moof and its mdat, to be placed at offset at
// of the file, with 4 bytes per sample.
func sealTestFragment(at int64, seq uint32, trafs ...sealTestTraf) []byte {
	build := func(moofSize int64) []byte {
		moof := sealTestBox32("mfhd", make([]byte, 4), sealU32(seq))
		dataAt := int64(0) // offset in the mdat payload
		for j, tf := range trafs {
			flags := uint32(0x020000) // default-base-is-moof
			opt := []byte{}
			if tf.base {
				flags = 0x000001
				opt = append(opt, sealU64(uint64(at+moofSize+8))...)
			}
			if tf.defDur != 0 {
				flags |= 0x000008
				opt = append(opt, sealU32(tf.defDur)...)
			}
			tfhd := sealTestBox32("tfhd", sealU32(flags), sealU32(tf.id), opt)
			var tfdt []byte
			if !tf.noTfdt {
				tfdt = sealTestBox32("tfdt", []byte{1, 0, 0, 0}, sealU64(tf.tfdt))
			}
			trunFlags := uint32(0x000001 | 0x000200) // data_offset, sizes
			if tf.first != nil {
				trunFlags |= 0x000004
			}
			if tf.durs != nil {
				trunFlags |= 0x000100
			}
			off := dataAt
			if !tf.base {
				off += moofSize + 8
			}
			trun := []byte{0, byte(trunFlags >> 16), byte(trunFlags >> 8), byte(trunFlags)}
			trun = append(trun, sealU32(uint32(tf.count))...)
			trun = append(trun, sealU32(uint32(off))...)
			if tf.first != nil {
				trun = append(trun, sealU32(*tf.first)...)
			}
			for i := range tf.count {
				if tf.durs != nil {
					trun = append(trun, sealU32(tf.durs[i])...)
				}
				trun = append(trun, sealU32(4)...)
			}
			dataAt += 4 * int64(tf.count)
			_ = j
			moof = append(moof, sealTestBox32("traf", tfhd, tfdt, sealTestBox32("trun", trun))...)
		}
		return sealTestBox32("moof", moof)
	}
	moof := build(0)
	moof = build(int64(len(moof)))
	var data []byte
	for j, tf := range trafs {
		for i := range tf.count {
			data = append(data, sealTestSample(seq, j, i)...)
		}
	}
	return slices.Concat(moof, sealTestBox32("mdat", data))
}

// sealTestFile returns init followed by the fragments frags makes, each
// given its offset in the file.
func sealTestFile(init []byte, n int, frag func(i int, at int64) []byte) []byte {
	b := slices.Clone(init)
	for i := range n {
		b = append(b, frag(i, int64(len(b)))...)
	}
	return b
}

// sealRepeat returns n copies of v.
func sealRepeat(v uint32, n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = v
	}
	return out
}
