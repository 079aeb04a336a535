package webm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/amlive/amlive/internal/ebml"
)

// SealInfo describes the file [Seal] wrote.
type SealInfo struct {
	// Size is the number of bytes written.
	Size int64
	// Duration is the Duration written in Info: the end of the last frame,
	// the latest of each track's last block timestamp plus one frame of the
	// track (the median gap between its last blocks, at most a second).
	Duration time.Duration
	// LastBlock is the latest block timestamp.
	LastBlock time.Duration
	// Clusters is the number of Clusters written.
	Clusters int
	// Keyframes is the number of Clusters whose first video block is a
	// keyframe (in a stream without video, every Cluster): the Clusters a
	// player may start from.
	Keyframes int
	// Cues is the number of CuePoints written: one for each keyframe
	// Cluster at least SealOptions.CueInterval after the previous
	// CuePoint, at most SealOptions.MaxCues.
	Cues int
	// Blocks is the number of blocks written, SimpleBlocks and BlockGroups.
	Blocks int
	// Partial reports that src ended inside an element (a crash while it
	// was written): what followed the last complete block was left out.
	Partial bool
	// Fault is the error, a [*SyntaxError], that stopped the reading of src
	// early when it holds a malformed element after its first Cluster (a
	// crash may leave garbage at the end of a file). Everything from that
	// element on was left out. It is nil when src parsed to its end.
	Fault error
}

// Defaults of [SealOptions].
const (
	// DefaultCueInterval is the default SealOptions.CueInterval, 500 ms:
	// Chrome's VP9 recordings have keyframes some 600 ms apart.
	DefaultCueInterval = 500 * time.Millisecond
	// DefaultMaxCues is the default SealOptions.MaxCues, 131,072: a
	// CuePoint every 500 ms for more than 18 hours.
	DefaultMaxCues = 1 << 17
)

// SealOptions bound the Cues [SealWith] writes. A zero field takes its
// default.
type SealOptions struct {
	// CueInterval is the least time between two CuePoints: a keyframe
	// Cluster less than this after the previous CuePoint gets none. A
	// player seeks to the CuePoint before the target and decodes from
	// there, so this bounds the decoding a seek costs, not where it lands.
	// Optional. Defaults to 500 ms: with keyframes at least that far
	// apart, as browsers record them, every keyframe gets a CuePoint.
	// Negative: every keyframe Cluster, up to MaxCues.
	CueInterval time.Duration
	// MaxCues bounds the number of CuePoints, and the memory Seal holds
	// for them (24 bytes each, 3 MiB at the default). Past it, every other
	// CuePoint is dropped and CueInterval doubled, so that the Cues still
	// cover the whole file, more sparsely. Optional. Defaults to 131,072.
	MaxCues int
}

func (o SealOptions) withDefaults() SealOptions {
	if o.CueInterval == 0 {
		o.CueInterval = DefaultCueInterval
	}
	if o.MaxCues <= 0 {
		o.MaxCues = DefaultMaxCues
	}
	return o
}

// Seal is [SealWith] with default [SealOptions].
func Seal(dst io.Writer, src io.ReaderAt, size int64) (SealInfo, error) {
	return SealWith(dst, src, size, SealOptions{})
}

// SealWith rewrites the WebM stream in src, size bytes long, into a
// complete, seekable file written to dst, as a muxer finishing a file
// would have written it:
//
//   - the EBML header, copied;
//   - a Segment of known size, holding in order:
//   - a SeekHead pointing at Info, Tracks and Cues;
//   - Info with Duration added (or replaced);
//   - Tracks, and any Tags, Chapters or Attachments before the first
//     Cluster, copied;
//   - every Cluster that holds a complete block, with a known size, its
//     children copied byte for byte up to the end of its last complete
//     block (or, without any complete block, one empty Cluster);
//   - Cues: a CuePoint for the first keyframe Cluster and for each one at
//     least o.CueInterval after the previous CuePoint, at most o.MaxCues,
//     each for the Cluster's first video block (first block of the cue
//     track when there is no video).
//
// SeekHeads, Cues, Void and CRC-32 elements of src are dropped and so are
// elements after the last Cluster; media bytes are never changed. src may
// be a raw MediaRecorder stream (unknown sizes, no Duration, Cues or
// SeekHead), a stream cut anywhere (a partial element at its end is left
// out) or a sealed file, which seals to itself.
//
// The sealed file is at most as large as src plus the SeekHead, Info's
// Duration and the Cues it adds (at most 140 bytes, and 44 bytes per
// CuePoint), plus 1/127 of src: a Cluster's size is written in its
// shortest form, no longer than src's own unless src gave a Cluster of
// 127 bytes or more a 1-byte unknown size (and so on for each width);
// src's own SeekHead, Cues and Void elements are dropped.
//
// SealWith reads src three times from start to end (it parses it twice)
// and does not write to dst before its first read is done: src must not
// change meanwhile. Its memory does not grow with src or with the number
// of Clusters: all it allocates is at most 512 KiB (buffers), twice the
// init segment (at most DefaultMaxInitBytes), a few bytes per track and
// 48 bytes per CuePoint (24, and as much for the list's growth); with the
// default MaxCues, at most 8.5 MiB in all, whatever src.
// It returns a [*SyntaxError] wrapping ErrNotWebM, ErrMalformed or
// ErrLimit when src does not reach a first Cluster in good shape; later
// faults cut the file short and are reported in SealInfo.Fault. On a read
// or write error dst holds a partial file. SealWith may run concurrently
// with other SealWith calls.
func SealWith(dst io.Writer, src io.ReaderAt, size int64, o SealOptions) (SealInfo, error) {
	o = o.withDefaults()
	pl := planner{o: o}
	sc := scan{src: src}
	sc.emit = func(c sealCluster) error { return pl.add(c, sc.scale) }
	if err := sc.run(size); err != nil {
		return SealInfo{}, err
	}
	info := sc.info
	info.Keyframes, info.Cues = pl.keyframes, len(pl.cues)
	l, err := sc.layout(&pl, &info)
	if err != nil {
		return SealInfo{}, err
	}
	info.Size = l.size
	if err := l.write(dst, src, size); err != nil {
		return info, err
	}
	return info, nil
}

// sealBufSize is the size of Seal's read and write buffers.
const sealBufSize = 64 << 10

// sealMemory bounds the memory Seal allocates besides the init segment
// and the CuePoints: four buffers of sealBufSize (two read buffers, the
// copy buffer, the bufio.Writer), the events of sealFeedBytes in each
// pass, and the Readers.
const sealMemory = 512 << 10

// sealFeedBytes is how many bytes Seal feeds its Reader at a time. The
// events they hold take at most some 27 KiB: an event needs at least 7
// bytes of stream (a SimpleBlock with its header), 48 bytes each.
const sealFeedBytes = 4 << 10

// maxFrame bounds the frame duration Seal adds after the latest block, when
// a track's last two blocks are far apart.
const maxFrame = time.Second

// sealCluster is a Cluster of src that Seal keeps.
type sealCluster struct {
	start   int64  // offset of its payload in src
	end     int64  // offset just past its last complete block in src
	cueRel  int64  // offset of the cue block relative to start, or -1
	cueTime uint64 // timestamp of the cue block, in TimecodeScale units
}

// cuePoint is a CuePoint Seal writes.
type cuePoint struct {
	time uint64 // CueTime, in TimecodeScale units
	pos  int64  // the Cluster's offset relative to the first Cluster's
	rel  int64  // CueRelativePosition
}

// planner is what Seal's first pass keeps of the Clusters: their count,
// their total length as written, and the CuePoints. Its memory is bounded
// by MaxCues, whatever the number of Clusters.
type planner struct {
	o         SealOptions
	interval  int64 // CueInterval in TimecodeScale units; set by the scan
	clusters  int
	keyframes int
	length    int64 // the Clusters' length as written
	cues      []cuePoint
}

// add plans Cluster c, written after those added before; scale is the
// TimecodeScale.
func (pl *planner) add(c sealCluster, scale time.Duration) error {
	if pl.clusters == 0 && pl.o.CueInterval > 0 {
		pl.interval = int64((pl.o.CueInterval + scale - 1) / scale) // rounded up
	}
	pos := pl.length
	pl.clusters++
	pl.length += ebml.ElementLen(idCluster, c.end-c.start)
	if c.cueRel < 0 {
		return nil
	}
	pl.keyframes++
	if n := len(pl.cues); n > 0 && int64(c.cueTime) < int64(pl.cues[n-1].time)+pl.interval {
		return nil // too close to the previous CuePoint, or before it
	}
	if len(pl.cues) == pl.o.MaxCues {
		pl.thin()
		if len(pl.cues) == pl.o.MaxCues || int64(c.cueTime) < int64(pl.cues[len(pl.cues)-1].time)+pl.interval {
			return nil // still full (MaxCues 1), or too close now
		}
	}
	pl.cues = append(pl.cues, cuePoint{time: c.cueTime, pos: pos, rel: c.cueRel})
	return nil
}

// thin drops every other CuePoint, the first kept, and doubles the
// interval, so that the Cues keep covering the whole file.
func (pl *planner) thin() {
	kept := pl.cues[:0]
	for i, c := range pl.cues {
		if i%2 == 0 {
			kept = append(kept, c)
		}
	}
	clear(pl.cues[len(kept):])
	pl.cues = kept
	pl.interval = min(max(2*pl.interval, 1), maxCueInterval)
}

// maxCueInterval bounds the interval thinning doubles, in TimecodeScale
// units, far below overflow.
const maxCueInterval = 1 << 56

// frameGaps is how many of a track's last timestamp gaps Seal keeps to
// estimate its frame duration.
const frameGaps = 8

// trackTimes holds a track's last block timestamp and the gaps between its
// last distinct timestamps, in TimecodeScale units.
type trackTimes struct {
	num  uint64
	last int64
	seen bool
	gaps [frameGaps]int64 // a ring
	n    int              // gaps seen
}

// add records a block at ticks.
func (t *trackTimes) add(ticks int64) {
	switch {
	case !t.seen:
		t.last, t.seen = ticks, true
	case ticks > t.last:
		t.gaps[t.n%frameGaps] = ticks - t.last
		t.n++
		t.last = ticks
	}
}

// frame estimates the track's frame duration: the median of its last gaps,
// which ignores a gap left by a lost frame or packet. It is 0 for a track
// with a single timestamp.
func (t *trackTimes) frame() int64 {
	g := t.gaps[:min(t.n, frameGaps)]
	if len(g) == 0 {
		return 0
	}
	s := slices.Clone(g)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// scan is a pass of Seal over src: it finds the Clusters to keep and
// hands each to emit, in order, once it knows where its last complete
// block ends. Both passes scan alike, so they find the same Clusters.
type scan struct {
	src    io.ReaderAt
	emit   func(sealCluster) error
	r      *Reader
	hdr    [8]byte
	buf    []byte // the bytes of src read last, at bufOff
	bufOff int64

	scale    time.Duration
	cueTrack uint64
	cueVideo bool // cue points need a keyframe
	times    []trackTimes

	clusters  int // emitted
	cur       sealCluster
	inCluster bool
	cueSeen   bool  // the current Cluster's first cue-track block was seen
	pending   Event // the last block, complete once anything follows it
	havePend  bool

	info SealInfo
}

// run reads src, size bytes, to the end or to its first fault.
func (sc *scan) run(size int64) error {
	sc.r = NewReader(Limits{})
	sc.r.Blocks = true
	buf := make([]byte, sealBufSize)
	var evs []Event
	var fault error
	for off := int64(0); off < size && fault == nil; {
		n := int(min(int64(len(buf)), size-off))
		if err := readFull(sc.src, buf[:n], off); err != nil {
			return err
		}
		sc.buf, sc.bufOff = buf[:n], off
		// Fed in pieces, so that the events of one piece, however tiny its
		// elements, take little memory.
		for p := buf[:n]; len(p) > 0 && fault == nil; {
			k := min(len(p), sealFeedBytes)
			evs, fault = sc.r.Feed(evs[:0], p[:k])
			p = p[k:]
			for _, ev := range evs {
				if err := sc.event(ev); err != nil {
					return err
				}
			}
		}
		off += int64(n)
	}
	if !sc.r.initDone {
		if fault != nil {
			return fault
		}
		return fail(size, ErrMalformed, "stream ends before its first cluster")
	}
	limit := size
	if fault != nil {
		sc.info.Fault = fault
		var se *SyntaxError
		if errors.As(fault, &se) {
			limit = min(limit, se.Offset)
		}
	} else {
		sc.info.Partial = sc.r.midElement()
	}
	if sc.havePend {
		if sc.pending.Offset+sc.pending.Size <= limit {
			sc.commit()
		} else {
			sc.havePend = false
			sc.info.Partial = true
		}
	}
	if err := sc.endCluster(); err != nil {
		return err
	}
	sc.info.Clusters = sc.clusters
	sc.info.Duration, sc.info.LastBlock = sc.duration()
	return nil
}

// window returns the n bytes of src at off from the bytes read last, if
// they hold them, which saves a read for small elements.
func (sc *scan) window(off, n int64) ([]byte, bool) {
	if off < sc.bufOff || off+n > sc.bufOff+int64(len(sc.buf)) {
		return nil, false
	}
	return sc.buf[off-sc.bufOff : off-sc.bufOff+n], true
}

// readFull reads len(p) bytes at off.
func readFull(src io.ReaderAt, p []byte, off int64) error {
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("webm: seal: read at %d: %w", off, err)
}

// midElement reports whether the bytes so far end inside an element: a
// header or payload being read, or a master element of known size still
// open.
func (r *Reader) midElement() bool {
	if r.state == statePayload || r.hn > 0 {
		return true
	}
	for _, f := range r.stack[:r.depth] {
		if f.end != unknownSize {
			return true
		}
	}
	return false
}

func (sc *scan) event(ev Event) error {
	switch ev.Kind {
	case KindInit:
		sc.scale = sc.r.TimecodeScale()
		if t, ok := sc.r.VideoTrack(); ok {
			sc.cueTrack, sc.cueVideo = t.Number, true
		} else {
			sc.cueTrack = sc.r.tracks[0].Number
			for _, t := range sc.r.tracks {
				if t.Type == Audio {
					sc.cueTrack = t.Number
					break
				}
			}
		}
		for _, t := range sc.r.tracks {
			sc.times = append(sc.times, trackTimes{num: t.Number})
		}
	case KindCluster:
		sc.commit()
		if err := sc.endCluster(); err != nil {
			return err
		}
		// A Cluster ID is 4 bytes; the first size byte gives its length.
		if b, ok := sc.window(ev.Offset, 5); ok {
			copy(sc.hdr[:5], b)
		} else if err := readFull(sc.src, sc.hdr[:5], ev.Offset); err != nil {
			return err
		}
		start := ev.Offset + 4 + int64(vintLen(sc.hdr[4]))
		sc.cur = sealCluster{start: start, end: start, cueRel: -1}
		sc.inCluster, sc.cueSeen = true, false
	case KindBlock:
		sc.commit()
		sc.pending, sc.havePend = ev, true
	}
	return nil
}

// commit adds the pending block, now known to be complete, to the current
// Cluster.
func (sc *scan) commit() {
	if !sc.havePend {
		return
	}
	ev := sc.pending
	sc.havePend = false
	c := &sc.cur
	c.end = ev.Offset + ev.Size
	ticks := int64(ev.Timecode / sc.scale)
	if ev.Track == sc.cueTrack && !sc.cueSeen {
		sc.cueSeen = true
		if ev.Keyframe || !sc.cueVideo {
			c.cueRel = ev.Offset - c.start
			c.cueTime = uint64(max(ticks, 0))
		}
	}
	sc.info.Blocks++
	if i := sc.r.trackIndex(ev.Track); i >= 0 { // sc.times is in track order
		sc.times[i].add(ticks)
	}
}

// endCluster emits the current Cluster if it holds a complete block.
func (sc *scan) endCluster() error {
	if !sc.inCluster {
		return nil
	}
	sc.inCluster = false
	if sc.cur.end <= sc.cur.start {
		return nil
	}
	sc.clusters++
	return sc.emit(sc.cur)
}

// duration returns the end of the last frame and the latest block
// timestamp.
func (sc *scan) duration() (end, last time.Duration) {
	var endTicks, lastTicks int64
	for _, t := range sc.times {
		if !t.seen {
			continue
		}
		e := t.last + min(t.frame(), int64(maxFrame/sc.scale))
		endTicks = max(endTicks, e)
		lastTicks = max(lastTicks, t.last)
	}
	return time.Duration(endTicks) * sc.scale, time.Duration(lastTicks) * sc.scale
}

// layout is the sealed file's plan: what goes where.
type layout struct {
	ebml     []byte   // the EBML header
	head     [][]byte // the Segment's children before the first Cluster, SeekHead first
	empty    []byte   // an empty Cluster, when src has no complete block
	first    int64    // the first Cluster's offset relative to the Segment's data
	clusters int      // Clusters to copy from src
	cues     []cuePoint
	cueTrack uint64 // the track CuePoints name
	cuesPos  int64  // Cues' offset relative to the Segment's data
	cuesLen  int64  // Cues' payload length; 0 without Cues
	segLen   int64  // the Segment's payload length
	size     int64  // the file's length
}

// segHeaderLen is the length of the Segment header Seal writes: its ID and
// an 8-byte size.
const segHeaderLen = 12

// seekEntryLen is the length of one Seek: SeekID (4 bytes) and
// SeekPosition (8 bytes).
const seekEntryLen = 2 + 1 + (2 + 1 + 4) + (2 + 1 + 8)

// layout plans the sealed file from what the first pass found; it sets
// info.Clusters to 1 when it plans an empty Cluster.
func (sc *scan) layout(pl *planner, info *SealInfo) (*layout, error) {
	l := &layout{cueTrack: sc.cueTrack, clusters: pl.clusters, cues: pl.cues}
	init := sc.r.Init()
	b := init
	var infoPos, tracksPos int64 = -1, -1
	// The SeekHead comes first; its length depends only on whether there
	// are Cues.
	nSeek := int64(2)
	if len(l.cues) > 0 {
		nSeek = 3
	}
	pos := ebml.ElementLen(idSeekHead, nSeek*seekEntryLen)
	var kept [][]byte
	for len(b) > 0 {
		id, n, size, ok := parseHeader(b)
		if !ok {
			return nil, fail(int64(len(init)-len(b)), ErrMalformed, "invalid element header")
		}
		switch {
		case id == idEBML && l.ebml == nil:
			l.ebml = b[:int64(n)+size]
		case id == idSegment:
			size = 0 // its children follow
		case id == idInfo:
			if infoPos < 0 {
				infoPos = pos
			}
			el := sc.infoElement(b[n : int64(n)+size])
			kept = append(kept, el)
			pos += int64(len(el))
		case id == idSeekHead, id == idCues, id == idVoid, id == idCRC32:
		default:
			el := b[:int64(n)+size]
			if id == idTracks && tracksPos < 0 {
				if infoPos < 0 { // no Info: make one
					infoPos = pos
					el := sc.infoElement(nil)
					kept = append(kept, el)
					pos += int64(len(el))
				}
				tracksPos = pos
			}
			kept = append(kept, el)
			pos += int64(len(el))
		}
		b = b[int64(n)+size:]
	}
	if pl.clusters == 0 {
		// Every WebM file has a Cluster: write an empty one.
		l.empty = ebml.AppendUint(ebml.AppendHeader(nil, idCluster, 3), idTimecode, 0)
		kept = append(kept, l.empty)
		pos += int64(len(l.empty))
		info.Clusters = 1
	}
	l.first = pos
	pos += pl.length
	l.cuesPos = pos
	if len(l.cues) > 0 {
		for _, c := range l.cues {
			l.cuesLen += cuePointLen(c, l.cueTrack, l.first)
		}
		pos += ebml.ElementLen(idCues, l.cuesLen)
	}
	l.segLen = pos
	if l.segLen > ebml.MaxSize {
		return nil, fail(0, ErrLimit, "sealed segment of %d bytes too large", l.segLen)
	}

	sh := ebml.AppendHeader(nil, idSeekHead, nSeek*seekEntryLen)
	sh = appendSeek(sh, idInfo, infoPos)
	sh = appendSeek(sh, idTracks, tracksPos)
	if len(l.cues) > 0 {
		sh = appendSeek(sh, idCues, l.cuesPos)
	}
	l.head = append([][]byte{sh}, kept...)
	l.size = int64(len(l.ebml)) + segHeaderLen + l.segLen
	return l, nil
}

// infoElement returns the Info element with payload p (its children), Duration
// added or replaced, and Void and CRC-32 dropped.
func (sc *scan) infoElement(p []byte) []byte {
	var kids []byte
	for len(p) > 0 {
		id, n, size, ok := parseHeader(p)
		if !ok || size == unknownSize || int64(n)+size > int64(len(p)) {
			break // the reader accepted it: cannot happen
		}
		el := p[:int64(n)+size]
		p = p[len(el):]
		if id != idDuration && id != idVoid && id != idCRC32 {
			kids = append(kids, el...)
		}
	}
	kids = ebml.AppendFloat(kids, idDuration, float64(sc.info.Duration)/float64(sc.scale))
	return ebml.AppendBytes(nil, idInfo, kids)
}

// appendSeek appends a Seek entry for element id at pos.
func appendSeek(b []byte, id uint32, pos int64) []byte {
	b = ebml.AppendHeader(b, idSeek, seekEntryLen-3)
	b = ebml.AppendHeader(b, idSeekID, 4)
	b = ebml.AppendID(b, id)
	return ebml.AppendUintWidth(b, idSeekPosition, uint64(pos), 8)
}

// cueTrackPositionsLen returns the payload length of c's
// CueTrackPositions; first is the first Cluster's position.
func cueTrackPositionsLen(c cuePoint, track uint64, first int64) int64 {
	return ebml.UintElementLen(idCueTrack, track) +
		ebml.UintElementLen(idCueClusterPosition, uint64(first+c.pos)) +
		ebml.UintElementLen(idCueRelativePosition, uint64(c.rel))
}

// cuePointPayloadLen returns the payload length of c's CuePoint.
func cuePointPayloadLen(c cuePoint, track uint64, first int64) int64 {
	return ebml.UintElementLen(idCueTime, c.time) +
		ebml.ElementLen(idCueTrackPositions, cueTrackPositionsLen(c, track, first))
}

// cuePointLen returns the length of c's CuePoint element.
func cuePointLen(c cuePoint, track uint64, first int64) int64 {
	return ebml.ElementLen(idCuePoint, cuePointPayloadLen(c, track, first))
}

// appendCuePoint appends c's CuePoint; first is the first Cluster's
// position.
func appendCuePoint(b []byte, c cuePoint, track uint64, first int64) []byte {
	b = ebml.AppendHeader(b, idCuePoint, cuePointPayloadLen(c, track, first))
	b = ebml.AppendUint(b, idCueTime, c.time)
	b = ebml.AppendHeader(b, idCueTrackPositions, cueTrackPositionsLen(c, track, first))
	b = ebml.AppendUint(b, idCueTrack, track)
	b = ebml.AppendUint(b, idCueClusterPosition, uint64(first+c.pos))
	return ebml.AppendUint(b, idCueRelativePosition, uint64(c.rel))
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (cw *countWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += int64(n)
	return n, err
}

// write writes the planned file to dst. A second scan of src, size bytes,
// finds the Clusters again, and each is copied from src once the scan has
// gone past its end.
func (l *layout) write(dst io.Writer, src io.ReaderAt, size int64) error {
	cw := &countWriter{w: dst}
	w := bufio.NewWriterSize(cw, sealBufSize)
	var werr error
	put := func(b []byte) {
		if werr == nil {
			_, werr = w.Write(b)
		}
	}
	hdr := append([]byte(nil), l.ebml...)
	hdr = ebml.AppendID(hdr, idSegment)
	put(ebml.AppendSizeWidth(hdr, l.segLen, 8))
	for _, el := range l.head {
		put(el)
	}
	buf := make([]byte, sealBufSize)
	var sc scan
	copyCluster := func(c sealCluster) error {
		n := c.end - c.start
		put(ebml.AppendHeader(hdr[:0], idCluster, n))
		if b, ok := sc.window(c.start, n); ok {
			put(b) // the scan has just read it
			return werr
		}
		for off := c.start; off < c.end && werr == nil; {
			p := buf[:min(int64(len(buf)), c.end-off)]
			if err := readFull(src, p, off); err != nil {
				return err
			}
			put(p)
			off += int64(len(p))
		}
		return werr
	}
	sc.src, sc.emit = src, copyCluster
	if err := sc.run(size); err != nil && werr == nil {
		return err
	}
	if werr == nil && sc.clusters != l.clusters {
		return fmt.Errorf("webm: seal: found %d clusters, then %d: the source changed", l.clusters, sc.clusters)
	}
	if l.cuesLen > 0 {
		put(ebml.AppendHeader(hdr[:0], idCues, l.cuesLen))
		for _, c := range l.cues {
			put(appendCuePoint(hdr[:0], c, l.cueTrack, l.first))
		}
	}
	if werr == nil {
		werr = w.Flush()
	}
	if werr != nil {
		return fmt.Errorf("webm: seal: write: %w", werr)
	}
	if cw.n != l.size {
		return fmt.Errorf("webm: seal: wrote %d bytes, planned %d", cw.n, l.size)
	}
	return nil
}
