package liveplugin

import (
	"slices"
	"time"
	"unsafe"

	"github.com/amlive/amlive/liveplugin/internal/media"
)

// Ingest: a publisher's chunks, parsed, go to the hub (the viewers) and to
// the recording.

// feedPiece is how much of a message media feeds the reader at a time.
const feedPiece = 16 << 10

// media parses one chunk and hands it to the hub and the recording. It
// sets pub.carried when the chunk held media (a WebM block, an MP4 track
// run).
func (pub *publisher) media(data []byte) (err error) {
	p := pub.p
	now := time.Now()
	pub.unacked.CompareAndSwap(0, now.UnixNano())
	p.metrics.media(len(data))
	if !pub.bitrate.AllowN(now, len(data)) {
		return &limitError{Name: "MaxBitrate", Max: p.cfg.MaxBitrate}
	}
	if pub.total += int64(len(data)); pub.total > p.cfg.MaxBroadcastBytes {
		return &limitError{Name: "MaxBroadcastBytes", Max: p.cfg.MaxBroadcastBytes}
	}
	if pub.reader == nil {
		var ok bool
		if data, ok, err = pub.choose(data); err != nil || !ok {
			pub.ack()
			pub.noteHeld()
			return err
		}
	}
	start := pub.reader.Offset()
	pub.syncs = pub.syncs[:0]
	pub.carried = false
	header := false // the header was completed by this message
	// Fed in pieces, keeping the first and last join points only (the hub
	// joins waiting viewers at the first and caches from the last), so that
	// a message of many tiny Clusters or blocks costs no memory per element:
	// the events of one piece are all the publisher holds. An MP4 piece
	// ends outside a moof (see moofCuts), which is at most maxMoofBytes.
	for p := data; len(p) > 0 && err == nil; {
		n := min(len(p), feedPiece)
		if pub.cuts != nil {
			n = pub.cuts.cut(p, pub.reader.Offset(), n)
		}
		pub.events, err = pub.reader.Feed(pub.events[:0], p[:n])
		p = p[n:]
		for _, e := range pub.events {
			switch e.Kind {
			case media.KindSample:
				pub.carried = true
			case media.KindInit:
				header = true
			case media.KindSync:
				x := e.Offset + pub.delta // the stream's offset
				if len(pub.syncs) == 2 {
					pub.syncs[1] = x
				} else {
					pub.syncs = append(pub.syncs, x)
				}
			case media.KindFragment:
				// A rough duration, should sealing fail: sealing reads every
				// block and sets the exact one.
				pub.last = max(pub.last, e.Timecode)
			}
		}
	}
	if header {
		// Live once the whole message is read, so that the header can
		// settle on what the blocks that came with it carry.
		if err := pub.goLive(start, data); err != nil {
			return err
		}
	}
	if err != nil {
		// The stream turned invalid: pass on and record what was valid of
		// the chunk, then stop with err.
		data = data[:validLen(err, start, len(data))]
	}
	defer pub.ack()
	defer pub.noteHeld()
	if !pub.live {
		pub.pending = append(pub.pending, data)
		return err
	}
	for _, d := range pub.pending {
		pub.b.Write(d, nil)
		pub.record(d)
	}
	pub.pending = nil
	pub.b.Write(data, pub.syncs)
	pub.record(data)
	return err
}

// held returns the bytes of ingest state the publisher holds from one
// message to the next, besides the media it shares with the hub and the
// reader's header: the events of one piece, the join points, and the
// chunks that came before the header.
func (pub *publisher) held() int64 {
	n := int64(cap(pub.events))*int64(unsafe.Sizeof(media.Event{})) + int64(cap(pub.syncs))*8
	for _, d := range pub.pending {
		n += int64(cap(d))
	}
	return n
}

// noteHeld raises the plugin's high-water mark of held.
func (pub *publisher) noteHeld() {
	n := pub.held()
	for {
		m := pub.p.heldMax.Load()
		if n <= m || pub.p.heldMax.CompareAndSwap(m, n) {
			return
		}
	}
}

// validLen returns how many bytes of a chunk of n bytes, which began at
// stream offset start, are valid WebM or MP4, given the error the reader's
// Feed returned for it: those before the element or box at fault, which a
// viewer's parser and the recording's sealing can take as they are. It is
// 0 when the fault lies at or before start, or err is not a syntax error.
func validLen(err error, start int64, n int) int {
	off, ok := faultOffset(err)
	if !ok || off <= start {
		return 0
	}
	return int(min(off-start, int64(n)))
}

// setReader gives the publisher a reader of container c.
func (pub *publisher) setReader(c container) {
	pub.reader = newReader(c, pub.p.cfg)
	if c == containerMP4 {
		pub.cuts = &moofCuts{}
	}
}

// choose picks the reader of the stream once its first bytes are in:
// those of the chunks held so far (not yet fed, see pending) and data.
// It returns them as one chunk to feed with ok true, or ok false while
// they are too few to tell (data is then held in pending).
func (pub *publisher) choose(data []byte) (head []byte, ok bool, err error) {
	head = data
	if len(pub.pending) > 0 {
		head = slices.Concat(slices.Concat(pub.pending...), data)
	}
	c, err := pickContainer(head, pub.claimed, pub.p.containers)
	if err != nil || c == "" {
		if err == nil && len(data) > 0 {
			pub.pending = append(pub.pending, data)
		}
		return nil, false, err
	}
	pub.setReader(c)
	pub.pending = nil
	return head, true, nil
}

// goLive runs once the stream header is read, at the end of the message
// data, which began at stream offset start: it checks the codecs, settles
// the header (see media.Reader.Settle), starts the recording and publishes
// the header to viewers. The pending chunks and data, which hold the
// header, are rewritten to match, so viewers, the recording and every
// offset see the same bytes.
func (pub *publisher) goLive(start int64, data []byte) error {
	if err := pub.reader.Playable(); err != nil {
		return err
	}
	if pub.reader.Settle() {
		off := start
		for _, d := range pub.pending {
			off -= int64(len(d))
		}
		for _, d := range pub.pending {
			pub.reader.Patch(off, d)
			off += int64(len(d))
		}
		pub.reader.Patch(start, data)
	}
	p := pub.p
	mime := pub.reader.MIMEType()
	pub.b.SetInit(mime, pub.reader.Init())
	pub.live = true
	rec, err := p.store.Create(pub.b.Room(), pub.b.ID(), mime, pub.started)
	if err != nil {
		pub.recordFailed(err)
	} else {
		pub.rec = rec
		pub.newRecording()
	}
	pub.log.Info("room live", "mime", mime)
	if p.cfg.OnLive != nil {
		p.cfg.OnLive(pub.c, pub.info())
	}
	p.emitLive(pub.info())
	return nil
}

func (pub *publisher) record(data []byte) {
	if pub.rec == nil || pub.recErr != nil {
		return
	}
	if _, err := pub.rec.Write(data); err != nil {
		pub.recordFailed(err)
		return
	}
	pub.p.metrics.recorded(len(data))
}

// recordFailed keeps the broadcast live for its viewers and tells the
// publisher that the recording stopped.
func (pub *publisher) recordFailed(err error) {
	pub.recErr = err
	pub.p.metrics.recordingFailed()
	pub.log.Error("recording failed", "err", err)
	pub.p.emitRecordingFailed(pub.b.Room(), pub.b.ID(), err)
	pub.sendRecordFailed()
}

// recordFailedMessage is the error event's sentence when the recording
// stops.
const recordFailedMessage = "Recording failed on the server; you are still live."

func (pub *publisher) sendRecordFailed() {
	_ = send(pub.p.pubCtx, pub.conn, pub.p.cfg.WriteTimeout, newError(recordFailedMessage))
}

// finishRecording finishes and seals the recording, if any, applies the
// retention limits and returns the recording's playback URL (empty when
// nothing was recorded).
func (pub *publisher) finishRecording() (url string) {
	if pub.rec == nil {
		return ""
	}
	p := pub.p
	pub.saveDescription()
	sealStart := time.Now()
	m, finishErr := pub.rec.Finish(sealStart, pub.last)
	if finishErr != nil {
		pub.log.Error("recording not finished", "err", finishErr)
	}
	sm, sealErr := p.store.Seal(m.Room, m.Broadcast)
	if sealErr != nil {
		pub.log.Error("recording not sealed", "err", sealErr)
		if pub.recErr == nil {
			p.emitRecordingFailed(m.Room, m.Broadcast, sealErr)
		}
	} else {
		m = sm
		if pub.recErr == nil {
			p.emitRecordingSealed(m)
		}
	}
	p.metrics.sealed(sealStart, finishErr == nil && sealErr == nil)
	if m.Bytes > 0 {
		url = p.playbackURL(m.Room, m.Broadcast)
	}
	pub.log.Info("recording saved", "bytes", m.Bytes, "duration", m.Duration)
	p.pruneRecordings()
	return url
}
