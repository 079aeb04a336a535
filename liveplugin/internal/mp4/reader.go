package mp4

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/media"
)

// Kind is the kind of an [Event]: the container-neutral [media.Kind].
type Kind = media.Kind

// Event kinds, in MP4's words.
const (
	// KindInit reports that the init segment (everything before the first
	// moof: ftyp and moov) is complete; Offset is its length. Init, Tracks,
	// MIMEType and Playable are valid from this event on. It comes once,
	// when the first moof's header has been read.
	KindInit = media.KindInit
	// KindFragment reports a fragment: a moof at Offset (the absolute
	// offset of its first byte), with the decode time of its video track
	// (tfdt, else the time just past the track's previous fragment), or of
	// its first traf in a stream without video. It comes once the moof has
	// been read.
	KindFragment = media.KindFragment
	// KindSync reports that the fragment at Offset is a join point: the
	// first sample of its video track is a sync sample. It comes right
	// after the fragment's KindFragment, with the same Timecode. In a
	// stream without a video track every fragment is a join point.
	KindSync = media.KindSync
	// KindSample reports a track run (trun) of the fragment, after its
	// KindFragment and KindSync: Offset and Size are those of the run's
	// sample data, Track its track_ID, Timecode the decode time of its
	// first sample, and Keyframe whether that sample is a sync sample.
	// Runs without samples are not reported.
	KindSample = media.KindSample
)

// Event is something [Reader.Feed] found in the stream: a [media.Event].
type Event = media.Event

// Default limits.
const (
	// DefaultMaxInitBytes is the default Limits.MaxInitBytes, 1 MiB.
	DefaultMaxInitBytes = 1 << 20
	// DefaultMaxBoxBytes is the default Limits.MaxBoxBytes, 64 MiB.
	DefaultMaxBoxBytes = 64 << 20
	// DefaultMaxTracks is the default Limits.MaxTracks, 8. MediaRecorder
	// writes one or two tracks.
	DefaultMaxTracks = 8
	// DefaultMaxFragmentHeaderBytes is the default
	// Limits.MaxFragmentHeaderBytes, 1 MiB.
	DefaultMaxFragmentHeaderBytes = 1 << 20
	// DefaultMaxSamples is the default Limits.MaxSamples, 65536.
	DefaultMaxSamples = 1 << 16
)

// Limits bounds what a [Reader] accepts. A zero (or negative) field takes
// its default.
type Limits struct {
	// MaxInitBytes bounds the init segment: ftyp, moov and any box before
	// the first moof. The reader keeps a copy of it. Optional. Defaults to
	// 1 MiB.
	MaxInitBytes int
	// MaxBoxBytes bounds the declared size of any top-level box, mdat
	// included. Optional. Defaults to 64 MiB.
	MaxBoxBytes int64
	// MaxTracks bounds the number of traks in the moov; the one past it
	// fails Feed with ErrLimit ("more than 8 tracks") before it is read.
	// Optional. Defaults to 8.
	MaxTracks int
	// MaxFragmentHeaderBytes bounds a moof, which the reader collects and
	// parses in memory (its mdat is only counted). Optional. Defaults to
	// 1 MiB.
	MaxFragmentHeaderBytes int
	// MaxSamples bounds the sample_count of a trun, up to 2^30. Optional.
	// Defaults to 65536.
	MaxSamples int
}

// Reader states.
const (
	stateHeader uint8 = iota // reading a top-level box header
	stateKeep                // inside a box of the init segment, kept in init
	stateMoof                // inside a moof, collected in frag
	stateSkip                // inside a box that is counted and dropped
)

// toEnd is the end of a box of size 0, which runs to the end of the stream.
const toEnd = -1

// Sample flags (ISO/IEC 14496-12 8.8.3.1).
const (
	flagNonSync   = 0x00010000 // sample_is_non_sync_sample
	dependsMask   = 0x03000000 // sample_depends_on
	dependsOnMore = 0x01000000 // sample_depends_on == 1: not an I picture
)

// isSync reports whether sample flags describe a sync sample: not marked
// non-sync, and not depending on other samples.
func isSync(flags uint32) bool {
	return flags&flagNonSync == 0 && flags&dependsMask != dependsOnMore
}

// tfhd flags.
const (
	tfhdBaseDataOffset    = 0x000001
	tfhdSampleDescIndex   = 0x000002
	tfhdDefaultDuration   = 0x000008
	tfhdDefaultSize       = 0x000010
	tfhdDefaultFlags      = 0x000020
	tfhdDefaultBaseIsMoof = 0x020000
)

// trun flags.
const (
	trunDataOffset       = 0x000001
	trunFirstSampleFlags = 0x000004
	trunDuration         = 0x000100
	trunSize             = 0x000200
	trunFlags            = 0x000400
	trunCTO              = 0x000800
)

// tfhdBox is what a tfhd says: its flags, its track_ID and the optional
// fields its flags announce (zero when absent).
type tfhdBox struct {
	flags       uint32
	id          uint32
	base        uint64 // base_data_offset, with tfhdBaseDataOffset
	duration    uint32 // default_sample_duration, with tfhdDefaultDuration
	size        uint32 // default_sample_size, with tfhdDefaultSize
	sampleFlags uint32 // default_sample_flags, with tfhdDefaultFlags
}

// parseTfhd reads the payload of a tfhd box. ok is false when it is too
// short for its track_ID and the fields its flags announce.
func parseTfhd(b []byte) (h tfhdBox, ok bool) {
	_, flags, p, ok := fullBox(b)
	need := 4
	for _, fl := range [...]struct {
		bit uint32
		n   int
	}{{tfhdBaseDataOffset, 8}, {tfhdSampleDescIndex, 4}, {tfhdDefaultDuration, 4}, {tfhdDefaultSize, 4}, {tfhdDefaultFlags, 4}} {
		if flags&fl.bit != 0 {
			need += fl.n
		}
	}
	if !ok || len(p) < need {
		return tfhdBox{}, false
	}
	h.flags, h.id = flags, be32(p)
	p = p[4:]
	if flags&tfhdBaseDataOffset != 0 {
		h.base, p = be64(p), p[8:]
	}
	if flags&tfhdSampleDescIndex != 0 {
		p = p[4:]
	}
	if flags&tfhdDefaultDuration != 0 {
		h.duration, p = be32(p), p[4:]
	}
	if flags&tfhdDefaultSize != 0 {
		h.size, p = be32(p), p[4:]
	}
	if flags&tfhdDefaultFlags != 0 {
		h.sampleFlags = be32(p)
	}
	return h, true
}

// trunBox is what a trun says: its header, the optional fields its flags
// announce (zero when absent) and its per-sample fields.
type trunBox struct {
	version    uint8
	flags      uint32
	count      uint32 // sample_count
	dataOffset int32  // data_offset, with trunDataOffset
	firstFlags uint32 // first_sample_flags, with trunFirstSampleFlags
	per        int    // bytes of each sample's fields
	samples    []byte // the per-sample fields, not checked against count
}

// trunHeader reads the version, flags and sample_count at the start of
// the payload of a trun box and returns what follows them, for
// trunBox.fields. ok is false when b is too short for them.
func trunHeader(b []byte) (h trunBox, rest []byte, ok bool) {
	v, flags, p, ok := fullBox(b)
	if !ok || len(p) < 4 {
		return trunBox{}, nil, false
	}
	return trunBox{version: v, flags: flags, count: be32(p)}, p[4:], true
}

// fields reads the optional fields of the trun from p, what trunHeader
// left, and sets per and samples. It returns false when p is too short
// for the optional fields; whether samples holds count samples is for the
// caller to check.
func (h *trunBox) fields(p []byte) bool {
	if h.flags&trunDataOffset != 0 {
		if len(p) < 4 {
			return false
		}
		h.dataOffset, p = int32(be32(p)), p[4:]
	}
	if h.flags&trunFirstSampleFlags != 0 {
		if len(p) < 4 {
			return false
		}
		h.firstFlags, p = be32(p), p[4:]
	}
	h.per = 0
	for _, bit := range [...]uint32{trunDuration, trunSize, trunFlags, trunCTO} {
		if h.flags&bit != 0 {
			h.per += 4
		}
	}
	h.samples = p
	return true
}

// offset returns the offset of the per-sample field bit (trunDuration,
// trunSize, trunFlags or trunCTO) in each sample's fields.
func (h *trunBox) offset(bit uint32) int {
	at := 0
	for _, f := range [...]uint32{trunDuration, trunSize, trunFlags} {
		if f == bit {
			break
		}
		if h.flags&f != 0 {
			at += 4
		}
	}
	return at
}

// Reader parses a fragmented MP4 stream fed to it piece by piece; see
// [Reader.Feed]. The zero Reader is ready to use with default [Limits]. A
// Reader is not safe for concurrent use.
type Reader struct {
	lim Limits
	err error // sticky
	off int64 // bytes consumed

	state uint8

	// Top-level box header being read, then the box being read.
	hdr    [16]byte
	hn     int
	hstart int64
	typ    uint32
	end    int64 // offset just past the box, or toEnd

	sawFtyp  bool
	sawMoov  bool
	initDone bool
	init     []byte // the bytes before the first moof
	frag     []byte // the moof being read, header included
	tracks   []trackState
	trackIdx map[uint32]int // track_ID to index in tracks, with many tracks
	video    int            // index in tracks of the first video track, plus 1; 0 if none

	repairs, missed int
	sc              scanner // the repairs of the moof being read

	// The current Feed call: the offset of its first byte and its bytes.
	call int64
	p    []byte
}

// NewReader returns a Reader with the given limits; zero fields take their
// defaults.
func NewReader(l Limits) *Reader {
	return &Reader{lim: l}
}

func (r *Reader) maxInit() int64 {
	if r.lim.MaxInitBytes > 0 {
		return int64(r.lim.MaxInitBytes)
	}
	return DefaultMaxInitBytes
}

func (r *Reader) maxBox() int64 {
	if r.lim.MaxBoxBytes > 0 {
		return r.lim.MaxBoxBytes
	}
	return DefaultMaxBoxBytes
}

func (r *Reader) maxTracks() int {
	if r.lim.MaxTracks > 0 {
		return r.lim.MaxTracks
	}
	return DefaultMaxTracks
}

func (r *Reader) maxFragment() int64 {
	if r.lim.MaxFragmentHeaderBytes > 0 {
		return int64(r.lim.MaxFragmentHeaderBytes)
	}
	return DefaultMaxFragmentHeaderBytes
}

func (r *Reader) maxSamples() uint32 {
	switch {
	case r.lim.MaxSamples > maxSamples:
		return maxSamples
	case r.lim.MaxSamples > 0:
		return uint32(r.lim.MaxSamples)
	}
	return DefaultMaxSamples
}

// maxSamples caps Limits.MaxSamples, so that a run's sizes and durations
// add up without overflow.
const maxSamples = 1 << 30

// Feed consumes p, which may begin or end anywhere (inside a box header or
// payload), and appends to dst the events completed by the bytes so far,
// in stream order; it returns the extended dst. Events are the same
// however the stream is split: a moof's events come when its last byte
// has been read (the moof is collected and parsed in memory), and KindInit
// when the first moof's header has been read. Feed does not retain p;
// past the init segment it does not allocate when dst has room.
//
// Feed repairs the last sample duration of audio track runs in place, in
// p, when it is shorter than it should be (Chromium's MP4 recorder writes
// 1008 instead of 2880 at the end of every Opus fragment, which leaves a
// gap in the audio that Media Source playback reads as a discontinuity:
// see the package documentation). For an Opus track whose last sample's
// first bytes are in p too, the duration comes from the packet's TOC byte
// (RFC 6716); otherwise it is the one most of the run's other samples
// declare, else the one just before it. A duration only ever grows. Feed
// decides as soon as the field has arrived, while the moof is still
// incomplete, so a field is missed only when a call boundary cuts its four
// bytes in two (its first bytes came in an earlier call, which Feed must
// not rewrite): it is left as it is and counted by [Reader.MissedRepairs].
// Lengths never change. Events describe the durations as the stream
// declared them, so they do not depend on the repairs either.
//
// On error Feed returns dst with the events found before the fault and a
// [*SyntaxError] wrapping ErrNotMP4, ErrMalformed or ErrLimit. The Reader
// is then dead: every later call returns the same error and consumes
// nothing. The end of the stream is never an error: a live stream may
// stop inside a box.
func (r *Reader) Feed(dst []Event, p []byte) ([]Event, error) {
	if r.err != nil {
		return dst, r.err
	}
	r.call, r.p = r.off, p
	for len(p) > 0 {
		var n int
		var err error
		if r.state == stateHeader {
			dst, n, err = r.readHeader(dst, p)
		} else {
			dst, n, err = r.readPayload(dst, p)
		}
		p = p[n:]
		if err != nil {
			r.err = err
			break
		}
	}
	r.p = nil
	return dst, r.err
}

// Offset returns the number of bytes consumed so far.
func (r *Reader) Offset() int64 { return r.off }

// Init returns the init segment, the bytes before the first moof (ftyp
// and moov), or nil before KindInit. The reader owns the bytes: they never
// change, and the caller must not modify them.
func (r *Reader) Init() []byte {
	if !r.initDone {
		return nil
	}
	return r.init[:len(r.init):len(r.init)]
}

// Settle does nothing and returns false: an MP4 init segment describes the
// stream as MediaRecorder writes it.
func (r *Reader) Settle() bool { return false }

// Patch does nothing, since [Reader.Settle] changes nothing.
func (r *Reader) Patch(off int64, p []byte) {}

// Repairs returns the number of sample durations Feed has rewritten.
func (r *Reader) Repairs() int { return r.repairs }

// MissedRepairs returns the number of sample durations Feed would have
// rewritten had a call boundary not cut their field in two.
func (r *Reader) MissedRepairs() int { return r.missed }

// Tracks returns the tracks of the moov, in stream order; complete from
// KindInit on.
func (r *Reader) Tracks() []Track {
	out := make([]Track, len(r.tracks))
	for i, t := range r.tracks {
		out[i] = t.Track
	}
	return out
}

// VideoTrack returns the first video track, the one KindSync looks at, and
// whether there is one.
func (r *Reader) VideoTrack() (Track, bool) {
	if r.video == 0 {
		return Track{}, false
	}
	return r.tracks[r.video-1].Track, true
}

// MIMEType returns the stream's MIME type with codecs, derived from its
// tracks (video first, then audio), e.g. `video/mp4; codecs="avc1.42C01F,opus"`,
// or `audio/mp4; codecs="opus"` without a video track. Tracks whose codec
// string is unknown are left out of codecs. It returns "" before KindInit.
func (r *Reader) MIMEType() string {
	if !r.initDone {
		return ""
	}
	var codecs []string
	video, audio := false, false
	for _, typ := range [...]TrackType{Video, Audio} {
		for _, t := range r.tracks {
			if t.Type != typ {
				continue
			}
			if typ == Video {
				video = true
			} else {
				audio = true
			}
			if t.Codec != "" {
				codecs = append(codecs, t.Codec)
			}
		}
	}
	mime := "video/mp4"
	if audio && !video {
		mime = "audio/mp4"
	}
	if len(codecs) == 0 {
		return mime
	}
	return mime + `; codecs="` + strings.Join(codecs, ",") + `"`
}

// Playable returns nil when browsers' Media Source Extensions can play the
// stream in MP4 (every video track H.264, HEVC, VP9 or AV1, every audio
// track AAC-LC, HE-AAC, HE-AACv2 or Opus, and at least one of them), or a
// [*CodecError] (which matches ErrUnsupportedCodec) naming the first track
// they cannot play. Tracks of other types are ignored.
func (r *Reader) Playable() error {
	media := false
	for _, t := range r.tracks {
		if t.Type == Other {
			continue
		}
		media = true
		if t.Entry == "" {
			return &CodecError{Track: t.ID, Kind: t.Type.String()}
		}
		if !playableCodec(t.Track) {
			return &CodecError{Codec: cmp.Or(t.Codec, t.Entry), Track: t.ID, Kind: t.Type.String()}
		}
	}
	if !media {
		return &CodecError{}
	}
	return nil
}

// take records consumed bytes: they count, and they belong to the init
// segment until the first moof.
func (r *Reader) take(b []byte) {
	r.off += int64(len(b))
	if !r.initDone {
		r.init = append(r.init, b...)
	}
}

// readHeader reads the bytes of a top-level box header from p. It returns
// the number of bytes consumed.
func (r *Reader) readHeader(dst []Event, p []byte) ([]Event, int, error) {
	for i, b := range p {
		if r.hn == 0 {
			r.hstart = r.off
		}
		if r.off >= 4 && r.off < 8 && b != "ftyp"[r.off-4] {
			return dst, i, fail(0, ErrNotMP4, "no ftyp box")
		}
		r.take(p[i : i+1])
		r.hdr[r.hn] = b
		r.hn++
		if r.hn == 8 && be32(r.hdr[:]) == 1 {
			continue // a 64-bit largesize follows
		}
		if r.hn == 8 || r.hn == 16 {
			var err error
			dst, err = r.startBox(dst)
			return dst, i + 1, err
		}
	}
	return dst, len(p), nil
}

// startBox handles the top-level box whose header was just read.
func (r *Reader) startBox(dst []Event) ([]Event, error) {
	typ, hdr, size, _ := boxHeader(r.hdr[:r.hn])
	r.hn = 0
	start := r.hstart
	r.typ = typ
	switch {
	case size == 0 && typ == typMdat && r.initDone:
		r.end, r.state = toEnd, stateSkip
		return dst, nil
	case size == 0:
		return dst, fail(start, ErrMalformed, "box %s of size 0 (to the end of the stream)", fourCC(typ))
	case size < uint64(hdr):
		return dst, fail(start, ErrMalformed, "box %s of size %d, smaller than its header", fourCC(typ), size)
	case size > uint64(r.maxBox()) || size > uint64(math.MaxInt64-start):
		return dst, fail(start, ErrLimit, "box %s of %d bytes exceeds %d", fourCC(typ), size, r.maxBox())
	}
	r.end = start + int64(size)
	state := stateSkip
	switch {
	case !r.sawFtyp:
		if size < 16 {
			return dst, fail(start, ErrNotMP4, "ftyp box of %d bytes", size)
		}
		r.sawFtyp = true
		state = stateKeep
	case !r.sawMoov:
		switch typ {
		case typMoov, typFree, typSkip, typUUID:
			state = stateKeep
		case typMoof, typMdat:
			return dst, fail(start, ErrMalformed, "%s before moov", fourCC(typ))
		case typFtyp:
			return dst, fail(start, ErrMalformed, "second ftyp box")
		default:
			return dst, fail(start, ErrMalformed, "box %s before moov", fourCC(typ))
		}
	case typ == typFtyp || typ == typMoov:
		return dst, fail(start, ErrMalformed, "second %s box", fourCC(typ))
	case typ == typMoof:
		state = stateMoof
	case !r.initDone && typ == typMdat:
		return dst, fail(start, ErrMalformed, "mdat before the first moof")
	case !r.initDone:
		state = stateKeep
	}
	switch state {
	case stateKeep:
		if r.end > r.maxInit() {
			return dst, fail(start, ErrLimit, "init segment exceeds %d bytes", r.maxInit())
		}
		r.init = slices.Grow(r.init, int(r.end)-len(r.init))
	case stateMoof:
		if int64(size) > r.maxFragment() {
			return dst, fail(start, ErrLimit, "moof of %d bytes exceeds %d", size, r.maxFragment())
		}
		if !r.initDone {
			r.initDone = true
			r.init = r.init[:start]
			dst = append(dst, Event{Kind: KindInit, Offset: start})
		}
		if int64(cap(r.frag)) < int64(size) {
			r.frag = make([]byte, 0, size)
		}
		r.frag = append(r.frag[:0], r.hdr[:hdr]...)
		r.sc = scanner{pos: hdr, trafs: 0}
	}
	r.state = state
	if r.off == r.end {
		return r.endBox(dst)
	}
	return dst, nil
}

// readPayload consumes payload bytes of the current box from p. It
// returns the number of bytes consumed.
func (r *Reader) readPayload(dst []Event, p []byte) ([]Event, int, error) {
	n := len(p)
	if r.end != toEnd {
		n = int(min(int64(n), r.end-r.off))
	}
	switch r.state {
	case stateKeep:
		r.take(p[:n])
	case stateMoof:
		r.frag = append(r.frag, p[:n]...)
		r.off += int64(n)
		r.scanRepairs()
	default:
		r.off += int64(n)
	}
	if r.off != r.end {
		return dst, n, nil
	}
	dst, err := r.endBox(dst)
	return dst, n, err
}

// endBox handles the end of the current top-level box.
func (r *Reader) endBox(dst []Event) ([]Event, error) {
	state := r.state
	r.state = stateHeader
	switch {
	case state == stateKeep && r.typ == typMoov && !r.sawMoov:
		b := r.init[r.hstart:r.end] // the init segment starts the stream
		_, hdr, _, _ := boxHeader(b)
		tracks, err := parseMoov(r.hstart, b[hdr:], r.hstart+int64(hdr), r.maxTracks())
		if err != nil {
			return dst, err
		}
		r.tracks, r.sawMoov = tracks, true
		if len(tracks) > 8 {
			r.trackIdx = make(map[uint32]int, len(tracks))
		}
		for i, t := range slices.Backward(tracks) {
			if t.Type == Video {
				r.video = i + 1 // the first
			}
			if r.trackIdx != nil {
				r.trackIdx[t.ID] = i
			}
		}
	case state == stateMoof:
		return r.moof(dst)
	}
	return dst, nil
}

// trackIndex returns the index in r.tracks of track id, or -1. Its cost
// does not grow with the number of tracks past a few.
func (r *Reader) trackIndex(id uint32) int {
	if r.trackIdx != nil {
		if i, ok := r.trackIdx[id]; ok {
			return i
		}
		return -1
	}
	for i := range r.tracks {
		if r.tracks[i].ID == id {
			return i
		}
	}
	return -1
}

// traf is the state of the track fragment being read.
type traf struct {
	t           *trackState
	haveTfhd    bool
	haveTfdt    bool
	runs        int
	base        int64 // base data offset
	defDuration uint32
	defSize     uint32
	defFlags    uint32
	dt          uint64 // decode time of the next sample
	dataEnd     int64  // end of the last run's data
}

// fragment is the state of the moof being read.
type fragment struct {
	start, end int64
	trafs      int
	dataEnd    int64 // end of the last run's data, for the next traf's base
	haveTime   bool  // time has been set from the video traf
	time       uint64
	timescale  uint32
	videoSeen  bool // the first video run with samples has been seen
	sync       bool
}

// moof parses the complete moof in r.frag and emits its events.
func (r *Reader) moof(dst []Event) ([]Event, error) {
	b := r.frag
	_, hdr, _, _ := boxHeader(b)
	f := fragment{start: r.off - int64(len(b)), end: r.off}
	f.dataEnd = f.start
	n0 := len(dst)
	dst = append(dst, Event{Kind: KindFragment, Offset: f.start})
	it := boxes{b: b[hdr:], off: f.start + int64(hdr)}
	for {
		c, ok, err := it.next()
		if err == nil && ok && c.typ == typTraf {
			dst, err = r.traf(dst, &f, c)
		}
		if err != nil {
			return dst[:n0], err
		}
		if !ok {
			break
		}
	}
	if !f.haveTime && len(r.tracks) > 0 {
		// No traf of the video track (or none at all): its next decode time.
		t := &r.tracks[max(r.video-1, 0)]
		f.time, f.timescale = t.next, t.Timescale
	}
	tc := time.Duration(ticks(f.time, f.timescale))
	dst[n0].Timecode = tc
	if r.video == 0 || f.sync {
		dst = append(dst, Event{})
		copy(dst[n0+2:], dst[n0+1:])
		dst[n0+1] = Event{Kind: KindSync, Offset: f.start, Timecode: tc}
	}
	return dst, nil
}

// traf reads a traf of the moof f, emitting a KindSample event per run.
func (r *Reader) traf(dst []Event, f *fragment, c child) ([]Event, error) {
	tf := traf{}
	first := f.trafs == 0
	f.trafs++
	it := boxes{b: c.payload, off: c.off + int64(c.hdr)}
	for {
		c, ok, err := it.next()
		if err == nil && ok {
			dst, err = r.trafChild(dst, f, &tf, first, c)
		}
		if err != nil {
			return dst, err
		}
		if !ok {
			break
		}
	}
	if !tf.haveTfhd {
		return dst, fail(c.off, ErrMalformed, "traf without tfhd")
	}
	tf.t.next = tf.dt
	if tf.runs > 0 {
		f.dataEnd = tf.dataEnd
	}
	return dst, nil
}

// trafChild reads a child box of a traf.
func (r *Reader) trafChild(dst []Event, f *fragment, tf *traf, first bool, c child) ([]Event, error) {
	switch c.typ {
	case typTfhd:
		if tf.haveTfhd {
			return dst, fail(c.off, ErrMalformed, "second tfhd in a traf")
		}
		return dst, r.tfhd(tf, f, first, c)
	case typTfdt:
		switch {
		case !tf.haveTfhd:
			return dst, fail(c.off, ErrMalformed, "tfdt before tfhd")
		case tf.haveTfdt:
			return dst, fail(c.off, ErrMalformed, "second tfdt in a traf")
		case tf.runs > 0:
			return dst, fail(c.off, ErrMalformed, "tfdt after trun")
		}
		v, _, p, ok := fullBox(c.payload)
		switch {
		case ok && v == 1 && len(p) >= 8:
			tf.dt = be64(p)
		case ok && v == 0 && len(p) >= 4:
			tf.dt = uint64(be32(p))
		default:
			return dst, truncated(c.off, c.typ)
		}
		tf.haveTfdt = true
		r.trafTime(f, tf)
	case typTrun:
		if !tf.haveTfhd {
			return dst, fail(c.off, ErrMalformed, "trun before tfhd")
		}
		return r.trun(dst, f, tf, c)
	}
	return dst, nil
}

// trafTime sets the fragment's time from the traf, once its decode time is
// known, if it is the first of the video track, or the first traf of a
// stream without video.
func (r *Reader) trafTime(f *fragment, tf *traf) {
	if f.haveTime {
		return
	}
	isVideo := r.video > 0 && tf.t == &r.tracks[r.video-1]
	if isVideo || r.video == 0 {
		f.haveTime, f.time, f.timescale = true, tf.dt, tf.t.Timescale
	}
}

// tfhd reads a track fragment header.
func (r *Reader) tfhd(tf *traf, f *fragment, first bool, c child) error {
	h, ok := parseTfhd(c.payload)
	if !ok {
		return truncated(c.off, c.typ)
	}
	i := r.trackIndex(h.id)
	if i < 0 {
		return fail(c.off, ErrMalformed, "traf for unknown track %d", h.id)
	}
	t := &r.tracks[i]
	tf.t, tf.haveTfhd = t, true
	tf.dt = t.next
	tf.defDuration, tf.defSize, tf.defFlags = t.trexDuration, t.trexSize, t.trexFlags
	switch {
	case h.flags&tfhdBaseDataOffset != 0:
		if h.base > math.MaxInt64 {
			return fail(c.off, ErrMalformed, "base data offset %d", h.base)
		}
		tf.base = int64(h.base)
	case h.flags&tfhdDefaultBaseIsMoof != 0 || first:
		tf.base = f.start
	default:
		tf.base = f.dataEnd
	}
	if h.flags&tfhdDefaultDuration != 0 {
		tf.defDuration = h.duration
	}
	if h.flags&tfhdDefaultSize != 0 {
		tf.defSize = h.size
	}
	if h.flags&tfhdDefaultFlags != 0 {
		tf.defFlags = h.sampleFlags
	}
	tf.dataEnd = tf.base
	return nil
}

// trun reads a track run and emits its KindSample event. The repairs were
// made as the moof's bytes came (see scanRepairs); r.frag holds the bytes
// as the stream declared them.
func (r *Reader) trun(dst []Event, f *fragment, tf *traf, c child) ([]Event, error) {
	if tf.runs == 0 {
		r.trafTime(f, tf)
	}
	tf.runs++
	h, p, ok := trunHeader(c.payload)
	if !ok {
		return dst, truncated(c.off, c.typ)
	}
	count, flags := h.count, h.flags
	if count > r.maxSamples() {
		return dst, fail(c.off, ErrLimit, "trun of %d samples exceeds %d", count, r.maxSamples())
	}
	if !h.fields(p) {
		return dst, truncated(c.off, c.typ)
	}
	p, per := h.samples, h.per
	if int64(len(p)) < int64(count)*int64(per) {
		return dst, fail(c.off, ErrMalformed, "trun of %d samples is truncated", count)
	}
	if count == 0 {
		return dst, nil
	}
	start := tf.dataEnd
	if flags&trunDataOffset != 0 {
		start = tf.base + int64(h.dataOffset)
	}
	// Durations and sizes the run does not declare are the defaults, and so
	// is the first sample's flags: the work is bounded by the moof's bytes,
	// however many samples a run without per-sample fields declares.
	sumDur := uint64(count) * uint64(tf.defDuration)
	size := int64(count) * int64(tf.defSize)
	firstFlags := h.firstFlags
	if flags&trunFirstSampleFlags == 0 {
		firstFlags = tf.defFlags // tfhd's default, else trex's
		if flags&trunFlags != 0 {
			firstFlags = be32(p[h.offset(trunFlags):])
		}
	}
	if flags&trunDuration != 0 {
		sumDur = 0
		at := h.offset(trunDuration)
		for i := range int(count) {
			sumDur += uint64(be32(p[i*per+at:]))
		}
	}
	if flags&trunSize != 0 {
		at := h.offset(trunSize)
		size = 0
		for i := range int(count) {
			size += int64(be32(p[i*per+at:]))
		}
	}
	if start < f.end || start > math.MaxInt64-size {
		return dst, fail(c.off, ErrMalformed, "trun data at offset %d, not after its moof", start)
	}
	key := isSync(firstFlags)
	t := tf.t
	dst = append(dst, Event{
		Kind:     KindSample,
		Offset:   start,
		Timecode: time.Duration(ticks(tf.dt, t.Timescale)),
		Track:    uint64(t.ID),
		Keyframe: key,
		Size:     size,
	})
	if t.Type == Video && r.video > 0 && t == &r.tracks[r.video-1] && !f.videoSeen {
		f.videoSeen, f.sync = true, key
	}
	tf.dt += sumDur
	tf.dataEnd = start + size
	return dst, nil
}

// A Reader is a [media.Reader].
var _ media.Reader = (*Reader)(nil)
