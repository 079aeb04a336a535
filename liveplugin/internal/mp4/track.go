package mp4

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// TrackType says what a [Track] carries.
type TrackType uint8

// Track types, from the track's handler (hdlr).
const (
	// Other is a track that is neither video nor audio (hint, text,
	// metadata, ...).
	Other TrackType = iota
	// Video is a track with handler "vide".
	Video
	// Audio is a track with handler "soun".
	Audio
)

// String returns "video", "audio" or "other".
func (t TrackType) String() string {
	switch t {
	case Video:
		return "video"
	case Audio:
		return "audio"
	default:
		return "other"
	}
}

// Track describes one trak of the stream's moov.
type Track struct {
	ID         uint32    // track_ID (tkhd), as trafs refer to it
	Type       TrackType // from the handler
	Handler    string    // handler_type (hdlr), e.g. "vide", "soun"; "" without hdlr
	Entry      string    // the first sample entry's four-character code, e.g. "avc1", "avc3", "hvc1", "hev1", "vp09", "av01", "mp4a", "Opus"; "" without one
	Codec      string    // MSE (RFC 6381) codec string, e.g. "avc1.42C01F", "opus", "mp4a.40.2"; "" when unknown
	Timescale  uint32    // units per second of the track's times (mdhd)
	Width      uint16    // video sample entry width
	Height     uint16    // video sample entry height
	SampleRate uint32    // audio sample entry sample rate in Hz
	Channels   uint16    // audio channels (dOps's output channel count for Opus)
}

// trackState is a track and what the reader keeps about it across
// fragments.
type trackState struct {
	Track
	trexDuration, trexSize, trexFlags uint32 // trex defaults
	haveTrex                          bool
	next                              uint64 // decode time just past the last fragment's samples
}

// playableCodec reports whether browsers' MSE play a track of this entry
// and codec string in MP4.
func playableCodec(t Track) bool {
	if t.Codec == "" {
		return false
	}
	switch t.Type {
	case Video:
		switch t.Entry {
		case "avc1", "avc3", "hvc1", "hev1", "vp09", "av01":
			return true
		}
	case Audio:
		switch t.Codec {
		case "mp4a.40.2", "mp4a.40.5", "mp4a.40.29", "opus":
			return true
		}
	}
	return false
}

// parseMoov reads the tracks of a complete moov box that starts at
// absolute offset start, whose payload b starts at off, then their trex
// defaults. It fails with ErrLimit on the trak past maxTracks, before
// reading it.
func parseMoov(start int64, b []byte, off int64, maxTracks int) ([]trackState, error) {
	var tracks []trackState
	mvex := false
	err := children(b, off, func(c child) error {
		switch c.typ {
		case typTrak:
			if len(tracks) == maxTracks {
				return fail(c.off, ErrLimit, "more than %d tracks", maxTracks)
			}
			t, err := parseTrak(c)
			if err != nil {
				return err
			}
			for _, o := range tracks {
				if o.ID == t.ID {
					return fail(c.off, ErrMalformed, "duplicate track %d", t.ID)
				}
			}
			tracks = append(tracks, trackState{Track: t})
		case typMvex:
			mvex = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !mvex {
		return nil, fail(start, ErrNotMP4, "moov without mvex: not a fragmented stream")
	}
	err = children(b, off, func(c child) error {
		if c.typ != typMvex {
			return nil
		}
		return children(c.payload, c.off+int64(c.hdr), func(c child) error {
			if c.typ != typTrex {
				return nil
			}
			_, _, p, ok := fullBox(c.payload)
			if !ok || len(p) < 20 {
				return truncated(c.off, c.typ)
			}
			id := be32(p)
			for i := range tracks {
				if t := &tracks[i]; t.ID == id {
					if t.haveTrex {
						return fail(c.off, ErrMalformed, "second trex for track %d", id)
					}
					t.haveTrex = true
					t.trexDuration, t.trexSize, t.trexFlags = be32(p[8:]), be32(p[12:]), be32(p[16:])
					return nil
				}
			}
			return fail(c.off, ErrMalformed, "trex for unknown track %d", id)
		})
	})
	return tracks, err
}

// parseTrak reads a trak box.
func parseTrak(trak child) (Track, error) {
	var t Track
	var haveTkhd, haveMdhd bool
	var stsd child
	err := children(trak.payload, trak.off+int64(trak.hdr), func(c child) error {
		switch c.typ {
		case typTkhd:
			v, _, p, ok := fullBox(c.payload)
			n := 12 // creation, modification, track_ID
			if v == 1 {
				n = 20
			}
			if !ok || len(p) < n {
				return truncated(c.off, c.typ)
			}
			t.ID, haveTkhd = be32(p[n-4:]), true
		case typMdia:
			return children(c.payload, c.off+int64(c.hdr), func(c child) error {
				switch c.typ {
				case typMdhd:
					v, _, p, ok := fullBox(c.payload)
					n := 12 // creation, modification, timescale
					if v == 1 {
						n = 20
					}
					if !ok || len(p) < n {
						return truncated(c.off, c.typ)
					}
					t.Timescale, haveMdhd = be32(p[n-4:]), true
				case typHdlr:
					_, _, p, ok := fullBox(c.payload)
					if !ok || len(p) < 8 {
						return truncated(c.off, c.typ)
					}
					h := be32(p[4:])
					t.Handler = fourCC(h)
					switch h {
					case handlerVideo:
						t.Type = Video
					case handlerAudio:
						t.Type = Audio
					}
				case typMinf:
					return children(c.payload, c.off+int64(c.hdr), func(c child) error {
						if c.typ != typStbl {
							return nil
						}
						return children(c.payload, c.off+int64(c.hdr), func(c child) error {
							if c.typ == typStsd {
								stsd = c
							}
							return nil
						})
					})
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	switch {
	case !haveTkhd:
		return t, fail(trak.off, ErrMalformed, "trak without tkhd")
	case t.ID == 0:
		return t, fail(trak.off, ErrMalformed, "track_ID 0")
	case !haveMdhd:
		return t, fail(trak.off, ErrMalformed, "track %d without mdhd", t.ID)
	case t.Timescale == 0:
		return t, fail(trak.off, ErrMalformed, "track %d has timescale 0", t.ID)
	}
	if stsd.payload != nil {
		err = parseStsd(&t, stsd)
	}
	return t, err
}

// parseStsd reads the first sample entry of an stsd box into t.
func parseStsd(t *Track, stsd child) error {
	_, _, p, ok := fullBox(stsd.payload)
	if !ok || len(p) < 4 {
		return truncated(stsd.off, stsd.typ)
	}
	if be32(p) == 0 {
		return nil
	}
	first := true
	return children(p[4:], stsd.off+int64(stsd.hdr)+8, func(c child) error {
		if !first {
			return nil
		}
		first = false
		return parseEntry(t, c)
	})
}

// parseEntry reads a sample entry: its size fields and its codec
// configuration box.
func parseEntry(t *Track, e child) error {
	t.Entry = fourCC(e.typ)
	p := e.payload
	var n int // bytes before the child boxes
	switch t.Type {
	case Video:
		// SampleEntry (8), pre_defined and reserved (16), width, height,
		// resolutions, reserved, frame_count, compressorname, depth,
		// pre_defined.
		n = 78
		if len(p) < n {
			return truncated(e.off, e.typ)
		}
		t.Width, t.Height = be16(p[24:]), be16(p[26:])
	case Audio:
		// SampleEntry (8), version (QuickTime: 1 and 2 add fields),
		// reserved, channelcount, samplesize, pre_defined, reserved,
		// samplerate (16.16).
		n = 28
		if len(p) < n {
			return truncated(e.off, e.typ)
		}
		switch be16(p[8:]) {
		case 1:
			n += 16
		case 2:
			n += 36
		}
		if len(p) < n {
			return truncated(e.off, e.typ)
		}
		t.Channels, t.SampleRate = be16(p[16:]), be32(p[24:])>>16
	default:
		return nil
	}
	var cfgType uint32
	switch t.Entry {
	case "avc1", "avc3":
		cfgType = typAvcC
	case "hvc1", "hev1":
		cfgType = typHvcC
	case "vp09":
		cfgType = typVpcC
	case "av01":
		cfgType = typAv1C
	case "mp4a":
		cfgType = typEsds
	case "Opus":
		cfgType = typDOps
	default:
		return nil // unknown entry: no codec string, Playable says so
	}
	var cfg child
	err := children(p[n:], e.off+int64(e.hdr+n), func(c child) error {
		if c.typ == cfgType && cfg.payload == nil {
			cfg = c
		}
		return nil
	})
	if err != nil {
		return err
	}
	if cfg.payload == nil {
		return fail(e.off, ErrMalformed, "%s sample entry without %s", t.Entry, fourCC(cfgType))
	}
	codec, err := codecString(t, cfg)
	t.Codec = codec
	return err
}

// codecString returns the MSE codec string for the entry of t from its
// configuration box cfg, or a SyntaxError when cfg is too short or
// invalid.
func codecString(t *Track, cfg child) (string, error) {
	b := cfg.payload
	bad := truncated(cfg.off, cfg.typ)
	switch cfg.typ {
	case typAvcC:
		// configurationVersion, AVCProfileIndication, profile_compatibility,
		// AVCLevelIndication.
		if len(b) < 4 {
			return "", bad
		}
		if b[0] != 1 {
			return "", fail(cfg.off, ErrMalformed, "avcC version %d", b[0])
		}
		return fmt.Sprintf("%s.%02X%02X%02X", t.Entry, b[1], b[2], b[3]), nil
	case typHvcC:
		if len(b) < 23 {
			return "", bad
		}
		return hevcCodec(t.Entry, b), nil
	case typVpcC:
		// FullBox, profile, level, bitDepth(4) chromaSubsampling(3)
		// videoFullRangeFlag(1).
		_, _, p, ok := fullBox(b)
		if !ok || len(p) < 3 {
			return "", bad
		}
		return fmt.Sprintf("vp09.%02d.%02d.%02d", p[0], p[1], p[2]>>4), nil
	case typAv1C:
		// marker(1) version(7) | seq_profile(3) seq_level_idx_0(5) |
		// seq_tier_0(1) high_bitdepth(1) twelve_bit(1) ...
		if len(b) < 4 {
			return "", bad
		}
		if b[0] != 0x81 {
			return "", fail(cfg.off, ErrMalformed, "av1C marker and version %#02x", b[0])
		}
		profile, level := b[1]>>5, b[1]&0x1f
		tier := byte('M')
		if b[2]&0x80 != 0 {
			tier = 'H'
		}
		depth := 8
		if b[2]&0x40 != 0 {
			depth = 10
			if profile == 2 && b[2]&0x20 != 0 {
				depth = 12
			}
		}
		return fmt.Sprintf("av01.%d.%02d%c.%02d", profile, level, tier, depth), nil
	case typEsds:
		return esdsCodec(cfg)
	case typDOps:
		// Version, OutputChannelCount, PreSkip, InputSampleRate,
		// OutputGain, ChannelMappingFamily.
		if len(b) < 11 {
			return "", bad
		}
		if b[0] != 0 {
			return "", fail(cfg.off, ErrMalformed, "dOps version %d", b[0])
		}
		t.Channels = uint16(b[1])
		return "opus", nil
	}
	return "", nil
}

// hevcCodec builds the codec string of an HEVCDecoderConfigurationRecord
// per ISO/IEC 14496-15 Annex E: profile space and profile, compatibility
// flags in reverse bit order, tier and level, then the constraint
// indicator bytes without the trailing zero ones, e.g. "hvc1.1.6.L93.B0".
func hevcCodec(entry string, b []byte) string {
	var s strings.Builder
	s.WriteString(entry)
	s.WriteByte('.')
	if space := b[1] >> 6; space > 0 {
		s.WriteByte('A' + space - 1)
	}
	s.WriteString(strconv.Itoa(int(b[1] & 0x1f)))
	s.WriteByte('.')
	s.WriteString(strconv.FormatUint(uint64(bits.Reverse32(be32(b[2:]))), 16))
	if b[1]&0x20 != 0 {
		s.WriteString(".H")
	} else {
		s.WriteString(".L")
	}
	s.WriteString(strconv.Itoa(int(b[12])))
	cons := b[6:12]
	for len(cons) > 0 && cons[len(cons)-1] == 0 {
		cons = cons[:len(cons)-1]
	}
	for _, c := range cons {
		fmt.Fprintf(&s, ".%X", c)
	}
	return s.String()
}

// Descriptor tags of an esds (ISO/IEC 14496-1).
const (
	tagES             = 0x03
	tagDecoderConfig  = 0x04
	tagDecoderSpecInf = 0x05
)

// descriptor reads the descriptor header at the start of b: tag and
// expandable size (at most 4 bytes of 7 bits). It returns the payload and
// what follows it; ok is false when b is too short.
func descriptor(b []byte) (tag byte, payload, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	tag = b[0]
	size, i := 0, 1
	for {
		if i == len(b) || i > 4 {
			return 0, nil, nil, false
		}
		c := b[i]
		i++
		size = size<<7 | int(c&0x7f)
		if c&0x80 == 0 {
			break
		}
	}
	if size > len(b)-i {
		return 0, nil, nil, false
	}
	return tag, b[i : i+size], b[i+size:], true
}

// esdsCodec builds "mp4a.40.N" from an esds box: the
// DecoderConfigDescriptor's objectTypeIndication (0x40, MPEG-4 audio) and
// the AudioSpecificConfig's audio object type N; "mp4a.XX" in hex for
// another object type (0x69, 0x6B: MPEG audio).
func esdsCodec(cfg child) (string, error) {
	bad := fail(cfg.off, ErrMalformed, "invalid esds box")
	_, _, b, ok := fullBox(cfg.payload)
	if !ok {
		return "", bad
	}
	tag, es, _, ok := descriptor(b)
	if !ok || tag != tagES || len(es) < 3 {
		return "", bad
	}
	flags := es[2]
	es = es[3:]          // ES_ID, flags
	if flags&0x80 != 0 { // streamDependenceFlag
		if len(es) < 2 {
			return "", bad
		}
		es = es[2:]
	}
	if flags&0x40 != 0 { // URL_Flag
		if len(es) < 1 || len(es) < 1+int(es[0]) {
			return "", bad
		}
		es = es[1+int(es[0]):]
	}
	if flags&0x20 != 0 { // OCRstreamFlag
		if len(es) < 2 {
			return "", bad
		}
		es = es[2:]
	}
	tag, dc, _, ok := descriptor(es)
	if !ok || tag != tagDecoderConfig || len(dc) < 13 {
		return "", bad
	}
	oti := dc[0]
	if oti != 0x40 {
		return fmt.Sprintf("mp4a.%02X", oti), nil
	}
	tag, asc, _, ok := descriptor(dc[13:])
	if !ok || tag != tagDecoderSpecInf || len(asc) < 1 {
		return "", fail(cfg.off, ErrMalformed, "esds without an AudioSpecificConfig")
	}
	aot := int(asc[0] >> 3)
	if aot == 31 {
		if len(asc) < 2 {
			return "", fail(cfg.off, ErrMalformed, "esds without an AudioSpecificConfig")
		}
		aot = 32 + (int(asc[0]&7)<<3 | int(asc[1]>>5))
	}
	return "mp4a.40." + strconv.Itoa(aot), nil
}
