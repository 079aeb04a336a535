package mp4

import (
	"encoding/binary"
	"slices"
)

// A small box writer for the tests: it builds the streams the reader is
// tested with, box by box.

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

func u8(v uint8) []byte   { return []byte{v} }
func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// box encodes a box with a 32-bit size.
func box(typ string, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat(u32(uint32(8+len(body))), []byte(typ), body)
}

// largeBox encodes a box with size 1 and a 64-bit largesize.
func largeBox(typ string, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat(u32(1), []byte(typ), u64(uint64(16+len(body))), body)
}

// fbox encodes a FullBox.
func fbox(typ string, version uint8, flags uint32, parts ...[]byte) []byte {
	return box(typ, cat(u32(uint32(version)<<24|flags), cat(parts...)))
}

func ftyp() []byte {
	return box("ftyp", []byte("isom"), u32(0x200), []byte("isomiso6mp41"))
}

// trackSpec describes a trak of a test moov.
type trackSpec struct {
	id        uint32
	handler   string // "vide", "soun", ...
	timescale uint32
	entry     []byte // sample entry box; nil: an empty stsd
	trexFlags uint32 // trex default_sample_flags
	trexDur   uint32 // trex default_sample_duration
	trexSize  uint32 // trex default_sample_size
}

func trak(t trackSpec) []byte {
	stsd := fbox("stsd", 0, 0, u32(0))
	if t.entry != nil {
		stsd = fbox("stsd", 0, 0, u32(1), t.entry)
	}
	return box("trak",
		fbox("tkhd", 0, 3, u32(0), u32(0), u32(t.id), u32(0), u32(0), make([]byte, 60)),
		box("mdia",
			fbox("mdhd", 0, 0, u32(0), u32(0), u32(t.timescale), u32(0), u16(0x55c4), u16(0)),
			fbox("hdlr", 0, 0, u32(0), []byte(t.handler), make([]byte, 12), []byte("handler\x00")),
			box("minf", box("stbl", stsd,
				fbox("stts", 0, 0, u32(0)), fbox("stsc", 0, 0, u32(0)),
				fbox("stsz", 0, 0, u32(0), u32(0)), fbox("stco", 0, 0, u32(0))))))
}

func trex(t trackSpec) []byte {
	return fbox("trex", 0, 0, u32(t.id), u32(1), u32(t.trexDur), u32(t.trexSize), u32(t.trexFlags))
}

// moov encodes a moov with the tracks and an mvex with their trex.
func moov(tracks ...trackSpec) []byte {
	parts := [][]byte{fbox("mvhd", 0, 0, make([]byte, 96))}
	var trexes [][]byte
	for _, t := range tracks {
		parts = append(parts, trak(t))
		trexes = append(trexes, trex(t))
	}
	parts = append(parts, box("mvex", trexes...))
	return box("moov", parts...)
}

// videoEntry encodes a visual sample entry with the given children.
func videoEntry(fourcc string, w, h uint16, children ...[]byte) []byte {
	head := cat(make([]byte, 6), u16(1), make([]byte, 16), u16(w), u16(h),
		u32(0x480000), u32(0x480000), u32(0), u16(1), make([]byte, 32), u16(0x18), u16(0xffff))
	return box(fourcc, head, cat(children...))
}

// audioEntry encodes an audio sample entry with the given children.
func audioEntry(fourcc string, channels uint16, rate uint32, children ...[]byte) []byte {
	head := cat(make([]byte, 6), u16(1), make([]byte, 8), u16(channels), u16(16), u16(0), u16(0), u32(rate<<16))
	return box(fourcc, head, cat(children...))
}

func avcC(profile, compat, level byte) []byte {
	return box("avcC", []byte{1, profile, compat, level, 0xff, 0xe0, 0})
}

func dOps(channels byte) []byte {
	return box("dOps", []byte{0, channels, 0x01, 0x38}, u32(48000), u16(0), u8(0))
}

// esds encodes an esds for MPEG-4 audio with an AudioSpecificConfig of
// the given audio object type (AAC LC: 2).
func esds(oti byte, asc []byte) []byte {
	dsi := cat([]byte{0x05, byte(len(asc))}, asc)
	dc := cat([]byte{0x04, byte(13 + len(dsi)), oti, 0x15, 0, 0, 0}, u32(128000), u32(128000), dsi)
	es := cat([]byte{0x03, byte(3 + len(dc) + 3)}, u16(1), u8(0), dc, []byte{0x06, 1, 2})
	return fbox("esds", 0, 0, es)
}

// Sample flags as Chromium writes them.
const (
	syncFlags    = 0x02000000 // sample_depends_on 2
	nonSyncFlags = 0x01010000 // sample_depends_on 1, sample_is_non_sync_sample
)

// runSpec describes a trun of a test fragment.
type runSpec struct {
	durations []uint32 // per-sample durations; nil: none in the trun
	sizes     []uint32 // per-sample sizes (the sample count); the data is fill bytes
	first     *uint32  // first_sample_flags
	flags     []uint32 // per-sample flags
	fill      []byte   // the first bytes of every sample's data (an Opus TOC)
}

// trafSpec describes a traf of a test fragment.
type trafSpec struct {
	track    uint32
	tfdt     uint64
	noTfdt   bool
	defFlags *uint32 // tfhd default_sample_flags
	runs     []runSpec
}

func ptr(v uint32) *uint32 { return &v }

// frag encodes a moof and its mdat: every trun's data offset (from the
// moof, default-base-is-moof) points at its samples in the mdat, in order.
func frag(seq uint32, trafs ...trafSpec) []byte {
	build := func(offsets []int32) []byte {
		var trafBoxes [][]byte
		k := 0
		for _, tf := range trafs {
			flags := uint32(0x020000)
			var extra []byte
			if tf.defFlags != nil {
				flags |= 0x20
				extra = u32(*tf.defFlags)
			}
			parts := [][]byte{fbox("tfhd", 0, flags, u32(tf.track), extra)}
			if !tf.noTfdt {
				parts = append(parts, fbox("tfdt", 1, 0, u64(tf.tfdt)))
			}
			for _, run := range tf.runs {
				flags := uint32(0x000001 | 0x200)
				var head []byte
				if run.first != nil {
					flags |= 0x4
					head = u32(*run.first)
				}
				if run.durations != nil {
					flags |= 0x100
				}
				if run.flags != nil {
					flags |= 0x400
				}
				var samples []byte
				for i, sz := range run.sizes {
					if run.durations != nil {
						samples = append(samples, u32(run.durations[i])...)
					}
					samples = append(samples, u32(sz)...)
					if run.flags != nil {
						samples = append(samples, u32(run.flags[i])...)
					}
				}
				parts = append(parts, fbox("trun", 1, flags, u32(uint32(len(run.sizes))), u32(uint32(offsets[k])), head, samples))
				k++
			}
			trafBoxes = append(trafBoxes, box("traf", parts...))
		}
		return box("moof", fbox("mfhd", 0, 0, u32(seq)), cat(trafBoxes...))
	}
	var n int
	var data []byte
	for _, tf := range trafs {
		for _, run := range tf.runs {
			n++
			for _, sz := range run.sizes {
				s := make([]byte, sz)
				copy(s, run.fill)
				data = append(data, s...)
			}
		}
	}
	offsets := make([]int32, n)
	moofLen := len(build(offsets))
	pos := int32(moofLen + 8)
	k := 0
	for _, tf := range trafs {
		for _, run := range tf.runs {
			offsets[k] = pos
			k++
			for _, sz := range run.sizes {
				pos += int32(sz)
			}
		}
	}
	return cat(build(offsets), box("mdat", data))
}

// Test tracks: Opus audio 1 at 48 kHz and H.264 video 2 at 20 kHz, as
// Chromium writes them.
var (
	opusTrack  = trackSpec{id: 1, handler: "soun", timescale: 48000, entry: audioEntry("Opus", 1, 48000, dOps(1))}
	avcTrack   = trackSpec{id: 2, handler: "vide", timescale: 20000, entry: videoEntry("avc1", 640, 360, avcC(0x42, 0xC0, 0x1F))}
	opus60msOn = []byte{0xfb, 0x03} // CELT 20 ms, code 3, 3 frames: 60 ms
)

// testStream is a small live-style stream: ftyp, moov with Opus track 1
// and H.264 track 2, and three fragments, the first and the third starting
// with a video keyframe. Every Opus run ends with Chromium's short last
// duration.
func testStream() []byte { return cat(testParts()...) }

// testParts returns testStream's init segment, then each fragment.
func testParts() [][]byte {
	audio := func(tfdt uint64) trafSpec {
		return trafSpec{track: 1, tfdt: tfdt, defFlags: ptr(syncFlags), runs: []runSpec{{
			durations: []uint32{2880, 2880, 2880, 1008}, sizes: []uint32{5, 6, 7, 8}, fill: opus60msOn,
		}}}
	}
	video := func(tfdt uint64, key bool) trafSpec {
		first := uint32(nonSyncFlags)
		if key {
			first = syncFlags
		}
		return trafSpec{track: 2, tfdt: tfdt, defFlags: ptr(nonSyncFlags), runs: []runSpec{{
			durations: []uint32{1000, 1000, 1000}, sizes: []uint32{30, 10, 11}, first: &first,
		}}}
	}
	return [][]byte{cat(ftyp(), moov(opusTrack, avcTrack)),
		frag(1, audio(0), video(0, true)),
		frag(2, audio(11520), video(3000, false)),
		frag(3, audio(23040), video(6000, true))}
}
