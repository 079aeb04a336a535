package webm

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/media"
)

// Kind is the kind of an [Event]: the container-neutral [media.Kind].
type Kind = media.Kind

// Event kinds, in WebM's words.
const (
	// KindInit reports that the init segment (everything before the first
	// Cluster) is complete; Offset is its length. Init, Tracks, MIMEType and
	// Playable are valid from this event on. It comes once, when the first
	// Cluster's header has been read.
	KindInit = media.KindInit
	// KindCluster reports a Cluster starting at Offset (the absolute offset
	// of its ID's first byte), with its Timecode. It comes once the
	// Cluster's Timecode child has been read.
	KindCluster = media.KindFragment
	// KindSync reports that the Cluster starting at Offset is a join point:
	// its first video block is a keyframe. Timecode is the Cluster timecode.
	// It comes when that block's header has been read, which may be after
	// blocks of other tracks and several Feed calls after KindCluster. In a
	// stream without a video track every Cluster is a join point, and
	// KindSync comes right after KindCluster.
	KindSync = media.KindSync
	// KindBlock reports a SimpleBlock, or a BlockGroup, of the current
	// Cluster; it comes only when Reader.Blocks is true. Offset and Size are
	// those of the SimpleBlock or BlockGroup element (Size includes its ID
	// and size header); Track, Timecode and Keyframe describe the block. A
	// SimpleBlock is reported once its block header has been read, a
	// BlockGroup once it ends (a BlockGroup without a ReferenceBlock is a
	// keyframe).
	KindBlock = media.KindSample
)

// Event is something [Reader.Feed] found in the stream: a [media.Event].
// Timecode is absolute: the Cluster timecode times TimecodeScale, plus the
// block's relative timecode for KindBlock.
type Event = media.Event

// Default limits.
const (
	// DefaultMaxInitBytes is the default Limits.MaxInitBytes, 1 MiB.
	DefaultMaxInitBytes = 1 << 20
	// DefaultMaxElementBytes is the default Limits.MaxElementBytes, 64 MiB.
	DefaultMaxElementBytes = 64 << 20
	// DefaultMaxTracks is the default Limits.MaxTracks, 8. MediaRecorder
	// writes one or two tracks.
	DefaultMaxTracks = 8
)

// Limits bounds what a [Reader] accepts. A zero (or negative) field takes its
// default.
type Limits struct {
	// MaxInitBytes bounds the init segment: the EBML header, the Segment
	// header, Info, Tracks and anything else before the first Cluster. The
	// reader keeps a copy of it. Optional. Defaults to 1 MiB.
	MaxInitBytes int
	// MaxElementBytes bounds the declared size of any element with a known
	// size, except the Segment (a sealed recording can be large). Optional.
	// Defaults to 64 MiB.
	MaxElementBytes int64
	// MaxTracks bounds the number of TrackEntries in Tracks; the one past
	// it fails Feed with ErrLimit ("more than 8 tracks") before it is
	// read. Whatever the header, the reader's work per block is then
	// constant: a block finds its track in a map. Optional. Defaults to 8.
	MaxTracks int
}

// Reader states.
const (
	stateHeader  uint8 = iota // reading an element ID and size
	statePayload              // inside a leaf, block or skipped element
)

// Payload actions.
const (
	actSkip  uint8 = iota // ignore the payload
	actLeaf               // decode the payload when complete
	actBlock              // read a block header, then ignore the rest
)

// frame is an open master element.
type frame struct {
	id    uint32
	start int64 // offset of the ID's first byte
	end   int64 // offset just past the element, or unknownSize
	bound int64 // end, or for an unknown-size element its parent's bound; unknownSize if none
}

// cluster is the state of the current Cluster.
type cluster struct {
	start     int64
	timecode  time.Duration
	haveTC    bool
	videoSeen bool // its first video block has been seen
}

// blockGroup is the state of the current BlockGroup.
type blockGroup struct {
	start, size int64
	haveBlock   bool
	track       uint64
	rel         int16
	referenced  bool // it holds a ReferenceBlock: not a keyframe
	additions   bool // it holds BlockAdditions (alpha data, in WebM)
}

// alphaFlag is a video track's AlphaMode 1 in the init segment.
type alphaFlag struct {
	track     uint64
	off, n    int64 // the value's offset in the stream and its length
	seen      bool  // the track's first block has been read
	additions bool  // and it was a BlockGroup with BlockAdditions
}

// Reader parses a WebM stream fed to it piece by piece; see [Reader.Feed].
// The zero Reader is ready to use with default [Limits]. A Reader is not
// safe for concurrent use.
type Reader struct {
	// Blocks makes Feed emit a KindBlock event for every block. Off for the
	// live path; set it before the first Feed.
	Blocks bool

	lim Limits
	err error // sticky
	off int64 // bytes consumed

	state uint8

	// Element header being read.
	hdr    [12]byte
	hn     int
	hstart int64
	idLen  int
	id     uint32
	size   int64 // payload size or unknownSize

	// Payload being read.
	act     uint8
	pid     uint32 // element ID
	pstart  int64  // element start
	pend    int64  // payload end
	psize   int64  // payload size
	leaf    leafKind
	small   [16]byte // collected bytes: block header, or leaf after the init segment
	sn      int
	collect int // bytes still to collect into small

	stack [4]frame
	depth int

	sawEBML    bool
	sawSegment bool
	docType    string

	initDone   bool
	init       []byte // all bytes until the first Cluster, then the init segment
	scale      time.Duration
	haveTracks bool
	tracks     []Track
	trackIdx   map[uint64]int // Track.Number to its index in tracks
	trackSmall [128]uint8     // for Track.Number < 128: its index in tracks + 1, or 0 (then see trackIdx)
	entries    int            // TrackEntries opened
	cur        Track          // TrackEntry being read
	curType    uint64
	curStart   int64
	hasVideo   bool
	videoNum   uint64
	curAlpha   alphaFlag   // the TrackEntry's AlphaMode 1, when n > 0
	alpha      []alphaFlag // video tracks that declare alpha
	settled    bool
	cleared    []alphaFlag // the flags Settle cleared

	cl  cluster
	grp blockGroup
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

func (r *Reader) maxTracks() int {
	if r.lim.MaxTracks > 0 {
		return r.lim.MaxTracks
	}
	return DefaultMaxTracks
}

func (r *Reader) maxElement() int64 {
	if r.lim.MaxElementBytes > 0 {
		return r.lim.MaxElementBytes
	}
	return DefaultMaxElementBytes
}

// Feed consumes p, which may begin or end anywhere (inside an element ID,
// size, header or payload), and appends to dst the events completed by the
// bytes so far, in stream order; it returns the extended dst. Events are the
// same however the stream is split. Feed does not retain p; past the init
// segment it does not allocate when dst has room.
//
// On error Feed returns dst with the events found before the fault and a
// [*SyntaxError] wrapping ErrNotWebM, ErrMalformed or ErrLimit. The Reader
// is then dead: every later call returns the same error and consumes
// nothing. The end of the stream is never an error: a live stream may stop
// inside a Cluster.
func (r *Reader) Feed(dst []Event, p []byte) ([]Event, error) {
	if r.err != nil {
		return dst, r.err
	}
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
			return dst, err
		}
	}
	return dst, nil
}

// Offset returns the number of bytes consumed so far.
func (r *Reader) Offset() int64 { return r.off }

// Init returns the init segment, the bytes before the first Cluster, or nil
// before KindInit; after [Reader.Settle], the settled init segment. The
// reader owns the bytes: those of a slice it returned never change, and the
// caller must not modify them.
func (r *Reader) Init() []byte {
	if !r.initDone {
		return nil
	}
	return r.init[:len(r.init):len(r.init)]
}

// Settle makes the init segment describe the stream as it is, and returns
// whether it changed anything.
//
// A video track's AlphaMode 1 declares that its blocks carry alpha data,
// which WebM holds in BlockGroups' BlockAdditions (a SimpleBlock cannot
// carry any). MediaRecorder in Chromium sets it on every VP8 and VP9 track,
// camera video included, and writes SimpleBlocks; WebKit's player then
// picks an alpha decoder, which fails on such a stream. Settle sets a
// track's AlphaMode to 0 unless the track's first block has been read
// already and is a BlockGroup with BlockAdditions. The value's bytes become
// 0 in place, so the init segment keeps its length and every offset in the
// stream stays the same.
//
// Settle decides once, from what has been read: a live relay calls it when
// it hands out the init segment, which viewers cannot take back. A stream
// whose first block of such a track comes later, or carries no alpha while
// later ones do, plays without its transparency, since decoders ignore
// BlockAdditions when AlphaMode is 0. Calls before KindInit, and after the
// first that did something, do nothing. From Settle on, Init returns the
// settled init segment and [Reader.Patch] rewrites copies of the stream to
// match.
func (r *Reader) Settle() bool {
	if !r.initDone || r.settled {
		return false
	}
	r.settled = true
	for _, a := range r.alpha {
		if !a.additions {
			r.cleared = append(r.cleared, a)
		}
	}
	if len(r.cleared) == 0 {
		return false
	}
	r.init = bytes.Clone(r.init) // slices Init returned before stay as they were
	r.Patch(0, r.init)
	return true
}

// Patch applies to p, the stream's bytes from offset off, the rewrites
// [Reader.Settle] made to the init segment, so that a copy of the stream
// (a relay's buffer, a recording) matches Init byte for byte. It changes
// only bytes of the init segment, never a length, and does nothing before
// Settle or when Settle changed nothing.
func (r *Reader) Patch(off int64, p []byte) {
	for _, a := range r.cleared {
		lo, hi := max(a.off, off), min(a.off+a.n, off+int64(len(p)))
		if lo < hi {
			clear(p[lo-off : hi-off])
		}
	}
}

// Tracks returns the tracks read so far, in stream order; complete from
// KindInit on. The caller may modify the slice but not the CodecPrivate
// bytes.
func (r *Reader) Tracks() []Track {
	return append([]Track(nil), r.tracks...)
}

// VideoTrack returns the first video track, the one KindSync looks at, and
// whether there is one.
func (r *Reader) VideoTrack() (Track, bool) {
	for _, t := range r.tracks {
		if t.Type == Video {
			return t, true
		}
	}
	return Track{}, false
}

// TimecodeScale returns the duration of one timecode unit, from Info.
// Defaults to 1ms.
func (r *Reader) TimecodeScale() time.Duration {
	if r.scale == 0 {
		return time.Millisecond
	}
	return r.scale
}

// DocType returns the EBML header's DocType ("webm" or "matroska" in a
// stream Feed accepts), or "" before it has been read.
func (r *Reader) DocType() string { return r.docType }

// MIMEType returns the stream's MIME type with codecs, derived from its
// tracks (video first, then audio), e.g. `video/webm; codecs="vp8,opus"`,
// or `audio/webm; codecs="opus"` without a video track. Tracks whose codec
// has no MSE name are left out of codecs. It returns "" before KindInit.
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
	mime := "video/webm"
	if audio && !video {
		mime = "audio/webm"
	}
	if len(codecs) == 0 {
		return mime
	}
	return mime + `; codecs="` + strings.Join(codecs, ",") + `"`
}

// Playable returns nil when Media Source Extensions in Chromium can play the
// stream in WebM (every video track VP8, VP9 or AV1, every audio track Opus
// or Vorbis, and at least one of them), or a [*CodecError] (which matches
// ErrUnsupportedCodec) naming the first codec it cannot play, e.g. H.264
// (V_MPEG4/ISO/AVC) or AAC. Tracks of other types are ignored.
func (r *Reader) Playable() error {
	media := false
	for _, t := range r.tracks {
		if t.Type == Other {
			continue
		}
		media = true
		if t.CodecID == "" {
			return &CodecError{Track: t.Number, Kind: t.Type.String()}
		}
		if !playable(t.CodecID) {
			return &CodecError{Codec: t.CodecID, Track: t.Number, Kind: t.Type.String()}
		}
	}
	if !media {
		return &CodecError{}
	}
	return nil
}

// fail returns a SyntaxError.
func fail(off int64, sentinel error, format string, args ...any) error {
	return &SyntaxError{Offset: off, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// take records consumed bytes: they count, and they belong to the init
// segment until the first Cluster.
func (r *Reader) take(b []byte) {
	r.off += int64(len(b))
	if !r.initDone {
		r.init = append(r.init, b...)
	}
}

// bound returns the offset the innermost open element must end by, or
// unknownSize.
func (r *Reader) bound() int64 {
	if r.depth == 0 {
		return unknownSize
	}
	return r.stack[r.depth-1].bound
}

// readHeader reads the bytes of an element header from p. It returns the
// number of bytes consumed.
func (r *Reader) readHeader(dst []Event, p []byte) ([]Event, int, error) {
	for i, b := range p {
		if r.hn == 0 {
			r.hstart = r.off
		}
		if bd := r.bound(); bd >= 0 && r.off >= bd {
			return dst, i, fail(r.hstart, ErrMalformed, "element header crosses the end of its parent")
		}
		if r.off < int64(len(ebmlMagic)) && b != ebmlMagic[r.off] {
			return dst, i, fail(0, ErrNotWebM, "no ebml header")
		}
		r.take(p[i : i+1])
		r.hdr[r.hn] = b
		r.hn++
		switch {
		case r.hn == 1:
			r.idLen = vintLen(b)
			if r.idLen > 4 {
				return dst, i + 1, fail(r.hstart, ErrMalformed, "invalid element id")
			}
		case r.hn == r.idLen+1:
			if vintLen(b) > 8 {
				return dst, i + 1, fail(r.hstart, ErrMalformed, "invalid element size")
			}
		}
		if r.hn > r.idLen && r.hn == r.idLen+vintLen(r.hdr[r.idLen]) {
			r.id = uint32(readUint(r.hdr[:r.idLen]))
			sz := r.hdr[r.idLen:r.hn]
			v := uint64(sz[0]) & (0xff >> len(sz))
			for _, c := range sz[1:] {
				v = v<<8 | uint64(c)
			}
			if v == 1<<(7*len(sz))-1 {
				r.size = unknownSize
			} else {
				r.size = int64(v)
			}
			r.hn = 0
			var err error
			dst, err = r.element(dst)
			return dst, i + 1, err
		}
	}
	return dst, len(p), nil
}

// element handles a complete element header: r.id, r.size, r.hstart, with
// r.off just past the header.
func (r *Reader) element(dst []Event) ([]Event, error) {
	id, size, start := r.id, r.size, r.hstart

	// An element that cannot be a child of an unknown-size element ends it.
	for r.depth > 0 {
		f := &r.stack[r.depth-1]
		if f.end != unknownSize || !r.ends(f.id, id) {
			break
		}
		var err error
		if dst, err = r.closeFrame(dst); err != nil {
			return dst, err
		}
	}
	parent := uint32(0)
	if r.depth > 0 {
		parent = r.stack[r.depth-1].id
	}

	if size != unknownSize {
		if size > r.maxElement() && (id != idSegment || parent != 0) {
			return dst, fail(start, ErrLimit, "element %#x of %d bytes exceeds %d", id, size, r.maxElement())
		}
		if bd := r.bound(); bd >= 0 && r.off+size > bd {
			return dst, fail(start, ErrMalformed, "element %#x larger than its parent", id)
		}
	}

	switch parent {
	case 0:
		switch {
		case !r.sawEBML:
			r.sawEBML = true // the magic check let only idEBML through
			return r.push(dst, false)
		case id == idSegment && !r.sawSegment:
			r.sawSegment = true
			if !r.initDone && r.off > r.maxInit() {
				return dst, r.initLimit(start)
			}
			return r.push(dst, true)
		case id == idVoid || id == idCRC32:
			return r.payload(dst, actSkip, 0)
		case !r.sawSegment:
			return dst, fail(start, ErrNotWebM, "element %#x where a segment was expected", id)
		}
		return dst, fail(start, ErrMalformed, "element %#x after the segment", id)
	case idEBML:
		if id == idDocType {
			return r.payload(dst, actLeaf, leafString)
		}
	case idSegment:
		switch id {
		case idCluster:
			if !r.initDone {
				if !r.haveTracks {
					return dst, fail(start, ErrMalformed, "cluster before tracks")
				}
				if len(r.tracks) == 0 {
					return dst, fail(start, ErrMalformed, "no tracks")
				}
				if start > r.maxInit() {
					return dst, r.initLimit(start)
				}
				r.init = bytes.Clone(r.init[:start])
				r.initDone = true
				dst = append(dst, Event{Kind: KindInit, Offset: start})
			}
			r.cl = cluster{start: start}
			return r.push(dst, true)
		case idInfo, idTracks:
			if !r.initDone {
				return r.push(dst, false)
			}
		}
	case idInfo:
		if id == idTimecodeScale {
			return r.payload(dst, actLeaf, leafUint)
		}
	case idTracks:
		if id == idTrackEntry {
			if r.entries++; r.entries > r.maxTracks() {
				return dst, fail(start, ErrLimit, "more than %d tracks", r.maxTracks())
			}
			r.cur, r.curType, r.curStart, r.curAlpha = Track{}, 0, start, alphaFlag{}
			return r.push(dst, false)
		}
	case idTrackEntry:
		switch id {
		case idTrackNumber, idTrackType:
			return r.payload(dst, actLeaf, leafUint)
		case idCodecID:
			return r.payload(dst, actLeaf, leafString)
		case idCodecPrivate:
			return r.payload(dst, actLeaf, leafBinary)
		case idVideo, idAudio:
			return r.push(dst, false)
		}
	case idVideo:
		if id == idPixelWidth || id == idPixelHeight || id == idAlphaMode {
			return r.payload(dst, actLeaf, leafUint)
		}
	case idAudio:
		switch id {
		case idSamplingFrequency:
			return r.payload(dst, actLeaf, leafFloat)
		case idChannels:
			return r.payload(dst, actLeaf, leafUint)
		}
	case idCluster:
		switch {
		case id == idTimecode:
			return r.payload(dst, actLeaf, leafUint)
		case id == idSimpleBlock:
			return r.payload(dst, actBlock, 0)
		case id == idBlockGroup:
			r.grp = blockGroup{start: start, size: r.off - start + size}
			return r.push(dst, false)
		case topLevel(id):
			return dst, fail(start, ErrMalformed, "element %#x inside a cluster", id)
		}
	case idBlockGroup:
		switch id {
		case idBlock:
			return r.payload(dst, actBlock, 0)
		case idReferenceBlock:
			r.grp.referenced = true
		case idBlockAdditions:
			r.grp.additions = size > 0
		}
	}
	return r.payload(dst, actSkip, 0)
}

// ends reports whether an element id ends the open unknown-size element
// parent instead of being its child.
func (r *Reader) ends(parent, id uint32) bool {
	switch parent {
	case idCluster:
		return topLevel(id)
	case idSegment:
		return id == idEBML || id == idSegment
	}
	return true
}

func (r *Reader) initLimit(off int64) error {
	return fail(off, ErrLimit, "init segment exceeds %d bytes", r.maxInit())
}

// push opens the master element whose header was just read.
func (r *Reader) push(dst []Event, unknownOK bool) ([]Event, error) {
	if r.size == unknownSize && !unknownOK {
		return dst, fail(r.hstart, ErrMalformed, "element %#x of unknown size", r.id)
	}
	if !r.initDone && r.id != idSegment && r.id != idCluster && r.off+r.size > r.maxInit() {
		return dst, r.initLimit(r.hstart)
	}
	if r.depth == len(r.stack) {
		return dst, fail(r.hstart, ErrMalformed, "elements nested too deep")
	}
	f := frame{id: r.id, start: r.hstart, end: unknownSize, bound: r.bound()}
	if r.size != unknownSize {
		f.end = r.off + r.size
		f.bound = f.end
	}
	r.stack[r.depth] = f
	r.depth++
	return r.closeFrames(dst)
}

// payload starts reading the payload of the leaf, block or skipped element
// whose header was just read.
func (r *Reader) payload(dst []Event, act uint8, k leafKind) ([]Event, error) {
	if r.size == unknownSize {
		return dst, fail(r.hstart, ErrMalformed, "element %#x of unknown size", r.id)
	}
	if !r.initDone && r.off+r.size > r.maxInit() {
		return dst, r.initLimit(r.hstart)
	}
	if act == actLeaf && !validLeafSize(k, r.size) {
		return dst, fail(r.hstart, ErrMalformed, "element %#x has invalid size %d", r.id, r.size)
	}
	r.state = statePayload
	r.act, r.leaf = act, k
	r.pid, r.pstart, r.psize = r.id, r.hstart, r.size
	r.pend = r.off + r.size
	r.sn, r.collect = 0, 0
	switch {
	case act == actBlock:
		r.collect = 1 // the track number's first byte gives its length
	case act == actLeaf && r.initDone:
		// Only Cluster timecodes are read after the init segment: uints of at
		// most 8 bytes.
		if r.size > int64(len(r.small)) {
			return dst, fail(r.hstart, ErrMalformed, "element %#x has invalid size %d", r.id, r.size)
		}
		r.collect = int(r.size)
	}
	if r.off == r.pend {
		return r.endPayload(dst)
	}
	return dst, nil
}

// readPayload consumes payload bytes from p. It returns the number of bytes
// consumed.
func (r *Reader) readPayload(dst []Event, p []byte) ([]Event, int, error) {
	n := 0
	for r.collect > 0 && n < len(p) && r.off < r.pend {
		b := p[n]
		r.take(p[n : n+1])
		n++
		r.small[r.sn] = b
		r.sn++
		r.collect--
		if r.act != actBlock {
			continue
		}
		if r.sn == 1 {
			l := vintLen(b)
			if l > 8 {
				return dst, n, fail(r.pstart, ErrMalformed, "invalid block track number")
			}
			r.collect = l - 1 + 3 // rest of the track number, timecode, flags
		}
		if r.collect == 0 {
			var err error
			if dst, err = r.blockHeader(dst); err != nil {
				return dst, n, err
			}
		}
	}
	m := min(int64(len(p)-n), r.pend-r.off)
	r.take(p[n : n+int(m)])
	n += int(m)
	if r.off == r.pend {
		var err error
		dst, err = r.endPayload(dst)
		return dst, n, err
	}
	return dst, n, nil
}

// endPayload finishes the current payload and closes the elements that end
// with it.
func (r *Reader) endPayload(dst []Event) ([]Event, error) {
	r.state = stateHeader
	switch r.act {
	case actLeaf:
		var b []byte
		if r.initDone {
			b = r.small[:r.sn]
		} else {
			b = r.init[r.pend-r.psize : r.pend]
		}
		var err error
		if dst, err = r.leafValue(dst, b); err != nil {
			return dst, err
		}
	case actBlock:
		if r.collect > 0 {
			return dst, fail(r.pstart, ErrMalformed, "block shorter than its header")
		}
	}
	return r.closeFrames(dst)
}

// leafValue handles the decoded payload b of leaf r.pid.
func (r *Reader) leafValue(dst []Event, b []byte) ([]Event, error) {
	switch r.pid {
	case idDocType:
		r.docType = readString(b)
	case idTimecodeScale:
		v := readUint(b)
		if v == 0 || v > 1<<40 {
			return dst, fail(r.pstart, ErrMalformed, "invalid timecode scale %d", v)
		}
		r.scale = time.Duration(v)
	case idTrackNumber:
		r.cur.Number = readUint(b)
	case idTrackType:
		r.curType = readUint(b)
	case idCodecID:
		r.cur.CodecID = readString(b)
	case idCodecPrivate:
		r.cur.CodecPrivate = bytes.Clone(b)
	case idPixelWidth:
		r.cur.Width = readUint(b)
	case idPixelHeight:
		r.cur.Height = readUint(b)
	case idAlphaMode:
		r.curAlpha = alphaFlag{}
		if readUint(b) == 1 {
			r.curAlpha = alphaFlag{off: r.pend - r.psize, n: r.psize}
		}
	case idSamplingFrequency:
		r.cur.SampleRate = readFloat(b)
	case idChannels:
		r.cur.Channels = readUint(b)
	case idTimecode:
		if r.cl.haveTC {
			return dst, fail(r.pstart, ErrMalformed, "second cluster timecode")
		}
		r.cl.haveTC = true
		r.cl.timecode = time.Duration(readUint(b)) * r.TimecodeScale()
		dst = append(dst, Event{Kind: KindCluster, Offset: r.cl.start, Timecode: r.cl.timecode})
		if !r.hasVideo {
			r.cl.videoSeen = true
			dst = append(dst, Event{Kind: KindSync, Offset: r.cl.start, Timecode: r.cl.timecode})
		}
	}
	return dst, nil
}

// blockHeader handles a complete block header in r.small: track number,
// relative timecode, flags.
func (r *Reader) blockHeader(dst []Event) ([]Event, error) {
	if !r.cl.haveTC {
		return dst, fail(r.pstart, ErrMalformed, "block before the cluster timecode")
	}
	l := vintLen(r.small[0])
	track := readUint(r.small[:l]) &^ (1 << (7 * l))
	if r.trackIndex(track) < 0 {
		return dst, fail(r.pstart, ErrMalformed, "block for unknown track %d", track)
	}
	rel := int16(uint16(r.small[l])<<8 | uint16(r.small[l+1]))
	if r.pid == idBlock {
		if r.grp.haveBlock {
			return dst, fail(r.pstart, ErrMalformed, "second block in a block group")
		}
		r.grp.haveBlock, r.grp.track, r.grp.rel = true, track, rel
		return dst, nil
	}
	key := r.small[l+2]&0x80 != 0
	return r.block(dst, r.pstart, r.pend-r.pstart, track, rel, key, false), nil
}

// trackIndex returns the index in r.tracks of track number n, or -1. Its
// cost does not depend on the number of tracks.
func (r *Reader) trackIndex(n uint64) int {
	if n < uint64(len(r.trackSmall)) && r.trackSmall[n] != 0 {
		return int(r.trackSmall[n]) - 1
	}
	if i, ok := r.trackIdx[n]; ok {
		return i
	}
	return -1
}

// block emits the events of a block of the current cluster.
func (r *Reader) block(dst []Event, off, size int64, track uint64, rel int16, key, additions bool) []Event {
	if !r.settled {
		for i := range r.alpha {
			if a := &r.alpha[i]; a.track == track && !a.seen {
				a.seen, a.additions = true, additions
			}
		}
	}
	if !r.cl.videoSeen && track == r.videoNum {
		r.cl.videoSeen = true
		if key {
			dst = append(dst, Event{Kind: KindSync, Offset: r.cl.start, Timecode: r.cl.timecode})
		}
	}
	if r.Blocks {
		dst = append(dst, Event{
			Kind:     KindBlock,
			Offset:   off,
			Timecode: r.cl.timecode + time.Duration(rel)*r.TimecodeScale(),
			Track:    track,
			Keyframe: key,
			Size:     size,
		})
	}
	return dst
}

// closeFrames closes the open elements that end at the current offset.
func (r *Reader) closeFrames(dst []Event) ([]Event, error) {
	for r.depth > 0 && r.stack[r.depth-1].bound == r.off {
		var err error
		if dst, err = r.closeFrame(dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// closeFrame closes the innermost open element.
func (r *Reader) closeFrame(dst []Event) ([]Event, error) {
	r.depth--
	f := r.stack[r.depth]
	switch f.id {
	case idEBML:
		if r.docType != "webm" && r.docType != "matroska" {
			return dst, fail(f.start, ErrNotWebM, "doctype %q", r.docType)
		}
	case idTracks:
		r.haveTracks = true
	case idTrackEntry:
		return dst, r.endTrack()
	case idCluster:
		if !r.cl.haveTC {
			return dst, fail(f.start, ErrMalformed, "cluster without timecode")
		}
	case idBlockGroup:
		if r.grp.haveBlock {
			dst = r.block(dst, r.grp.start, r.grp.size, r.grp.track, r.grp.rel, !r.grp.referenced, r.grp.additions)
		}
	}
	return dst, nil
}

// endTrack adds the TrackEntry just read to the tracks.
func (r *Reader) endTrack() error {
	t := r.cur
	if t.Number == 0 {
		return fail(r.curStart, ErrMalformed, "track without a number")
	}
	if r.trackIndex(t.Number) >= 0 {
		return fail(r.curStart, ErrMalformed, "duplicate track %d", t.Number)
	}
	switch {
	case r.curType == 1:
		t.Type = Video
	case r.curType == 2:
		t.Type = Audio
	case r.curType == 0 && strings.HasPrefix(t.CodecID, "V_"):
		t.Type = Video
	case r.curType == 0 && strings.HasPrefix(t.CodecID, "A_"):
		t.Type = Audio
	}
	t.Codec = codecName(t.CodecID, t.CodecPrivate)
	if r.trackIdx == nil {
		r.trackIdx = make(map[uint64]int, 2)
	}
	r.trackIdx[t.Number] = len(r.tracks)
	if t.Number < uint64(len(r.trackSmall)) && len(r.tracks) < 255 {
		r.trackSmall[t.Number] = uint8(len(r.tracks) + 1) // the common case, without hashing
	}
	r.tracks = append(r.tracks, t)
	if t.Type == Video && r.curAlpha.n > 0 {
		a := r.curAlpha
		a.track = t.Number
		r.alpha = append(r.alpha, a)
	}
	if t.Type == Video && !r.hasVideo {
		r.hasVideo, r.videoNum = true, t.Number
	}
	return nil
}

// A Reader is a [media.Reader].
var _ media.Reader = (*Reader)(nil)
