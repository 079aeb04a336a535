package webm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
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
	// keyframe, each with a CuePoint. In a stream without video every
	// Cluster has one.
	Keyframes int
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

// Seal rewrites the WebM stream in src, size bytes long, into a complete,
// seekable file written to dst, as a muxer finishing a file would have
// written it:
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
//   - Cues: one CuePoint per Cluster whose first video block is a keyframe
//     (per Cluster when there is no video), for that block.
//
// SeekHeads, Cues, Void and CRC-32 elements of src are dropped and so are
// elements after the last Cluster; media bytes are never changed. src may
// be a raw MediaRecorder stream (unknown sizes, no Duration, Cues or
// SeekHead), a stream cut anywhere (a partial element at its end is left
// out) or a sealed file, which seals to itself.
//
// Seal reads src twice from start to end and does not write to dst before
// its first read is done: src must not change meanwhile. Its memory grows
// with the number of Clusters (some 40 bytes each), never with their size.
// It returns a [*SyntaxError] wrapping ErrNotWebM, ErrMalformed or ErrLimit
// when src does not reach a first Cluster in good shape; later faults cut
// the file short and are reported in SealInfo.Fault. On a read or write
// error dst holds a partial file. Seal may run concurrently with other
// Seal calls.
func Seal(dst io.Writer, src io.ReaderAt, size int64) (SealInfo, error) {
	sc := scan{src: src}
	if err := sc.run(size); err != nil {
		return SealInfo{}, err
	}
	l, err := sc.layout()
	if err != nil {
		return SealInfo{}, err
	}
	info := sc.info
	info.Size = l.size
	if err := l.write(dst, src, &sc.clusters); err != nil {
		return info, err
	}
	return info, nil
}

// sealBufSize is the size of Seal's read and write buffers.
const sealBufSize = 64 << 10

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

// clusterChunk is how many Clusters one chunk of a clusterList holds.
const clusterChunk = 1024

// clusterList is an append-only list of Clusters, kept in chunks so that
// it grows without copying.
type clusterList struct {
	chunks [][]sealCluster
	n      int
}

func (l *clusterList) add(c sealCluster) {
	if l.n%clusterChunk == 0 {
		l.chunks = append(l.chunks, make([]sealCluster, 0, clusterChunk))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, c)
	l.n++
}

// all yields the Clusters in order, with their index.
func (l *clusterList) all() iter.Seq2[int, sealCluster] {
	return func(yield func(int, sealCluster) bool) {
		i := 0
		for _, chunk := range l.chunks {
			for _, c := range chunk {
				if !yield(i, c) {
					return
				}
				i++
			}
		}
	}
}

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

// scan is Seal's first pass over src.
type scan struct {
	src io.ReaderAt
	r   *Reader
	hdr [8]byte

	scale    time.Duration
	cueTrack uint64
	cueVideo bool // cue points need a keyframe
	times    []trackTimes

	clusters  clusterList
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
		evs, fault = sc.r.Feed(evs[:0], buf[:n])
		for _, ev := range evs {
			if err := sc.event(ev); err != nil {
				return err
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
	sc.endCluster()
	sc.info.Clusters = sc.clusters.n
	sc.info.Duration, sc.info.LastBlock = sc.duration()
	return nil
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
		sc.endCluster()
		// A Cluster ID is 4 bytes; the first size byte gives its length.
		if err := readFull(sc.src, sc.hdr[:5], ev.Offset); err != nil {
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
	for i := range sc.times {
		if sc.times[i].num == ev.Track {
			sc.times[i].add(ticks)
			break
		}
	}
}

// endCluster keeps the current Cluster if it holds a complete block.
func (sc *scan) endCluster() {
	if !sc.inCluster {
		return
	}
	sc.inCluster = false
	if sc.cur.end > sc.cur.start {
		sc.clusters.add(sc.cur)
		if sc.cur.cueRel >= 0 {
			sc.info.Keyframes++
		}
	}
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
	clusters []int64  // each Cluster's offset relative to the Segment's data
	cueTrack uint64   // the track CuePoints name
	empty    []byte   // an empty Cluster, when src has no complete block
	cuesPos  int64    // Cues' offset relative to the Segment's data
	cuesLen  int64    // Cues' payload length; 0 without Cues
	segLen   int64    // the Segment's payload length
	size     int64    // the file's length
}

// segHeaderLen is the length of the Segment header Seal writes: its ID and
// an 8-byte size.
const segHeaderLen = 12

// seekEntryLen is the length of one Seek: SeekID (4 bytes) and
// SeekPosition (8 bytes).
const seekEntryLen = 2 + 1 + (2 + 1 + 4) + (2 + 1 + 8)

// layout plans the sealed file from what run found.
func (sc *scan) layout() (*layout, error) {
	l := &layout{cueTrack: sc.cueTrack}
	init := sc.r.Init()
	b := init
	var infoPos, tracksPos int64 = -1, -1
	// The SeekHead comes first; its length depends only on whether there
	// are Cues.
	nSeek := int64(2)
	if sc.info.Keyframes > 0 {
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
	if sc.clusters.n == 0 {
		// Every WebM file has a Cluster: write an empty one.
		l.empty = ebml.AppendUint(ebml.AppendHeader(nil, idCluster, 3), idTimecode, 0)
		kept = append(kept, l.empty)
		pos += int64(len(l.empty))
		sc.info.Clusters = 1
	}
	l.clusters = make([]int64, 0, sc.clusters.n)
	for _, c := range sc.clusters.all() {
		l.clusters = append(l.clusters, pos)
		pos += ebml.ElementLen(idCluster, c.end-c.start)
	}
	l.cuesPos = pos
	if sc.info.Keyframes > 0 {
		for i, c := range sc.clusters.all() {
			if c.cueRel >= 0 {
				l.cuesLen += cuePointLen(c, sc.cueTrack, l.clusters[i])
			}
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
	if sc.info.Keyframes > 0 {
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

// cueTrackPositionsLen returns the payload length of c's CueTrackPositions.
func cueTrackPositionsLen(c sealCluster, track uint64, pos int64) int64 {
	return ebml.UintElementLen(idCueTrack, track) +
		ebml.UintElementLen(idCueClusterPosition, uint64(pos)) +
		ebml.UintElementLen(idCueRelativePosition, uint64(c.cueRel))
}

// cuePointPayloadLen returns the payload length of c's CuePoint.
func cuePointPayloadLen(c sealCluster, track uint64, pos int64) int64 {
	return ebml.UintElementLen(idCueTime, c.cueTime) +
		ebml.ElementLen(idCueTrackPositions, cueTrackPositionsLen(c, track, pos))
}

// cuePointLen returns the length of c's CuePoint element.
func cuePointLen(c sealCluster, track uint64, pos int64) int64 {
	return ebml.ElementLen(idCuePoint, cuePointPayloadLen(c, track, pos))
}

// appendCuePoint appends c's CuePoint; pos is the Cluster's position.
func appendCuePoint(b []byte, c sealCluster, track uint64, pos int64) []byte {
	b = ebml.AppendHeader(b, idCuePoint, cuePointPayloadLen(c, track, pos))
	b = ebml.AppendUint(b, idCueTime, c.cueTime)
	b = ebml.AppendHeader(b, idCueTrackPositions, cueTrackPositionsLen(c, track, pos))
	b = ebml.AppendUint(b, idCueTrack, track)
	b = ebml.AppendUint(b, idCueClusterPosition, uint64(pos))
	return ebml.AppendUint(b, idCueRelativePosition, uint64(c.cueRel))
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

// write writes the planned file to dst, copying the Clusters' payloads from
// src.
func (l *layout) write(dst io.Writer, src io.ReaderAt, clusters *clusterList) error {
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
	for _, c := range clusters.all() {
		n := c.end - c.start
		put(ebml.AppendHeader(hdr[:0], idCluster, n))
		for off := c.start; off < c.end && werr == nil; {
			p := buf[:min(int64(len(buf)), c.end-off)]
			if err := readFull(src, p, off); err != nil {
				return err
			}
			put(p)
			off += int64(len(p))
		}
	}
	if l.cuesLen > 0 {
		put(ebml.AppendHeader(hdr[:0], idCues, l.cuesLen))
		for i, c := range clusters.all() {
			if c.cueRel >= 0 {
				put(appendCuePoint(hdr[:0], c, l.cueTrack, l.clusters[i]))
			}
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
