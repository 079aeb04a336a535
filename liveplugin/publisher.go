package liveplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/media"
	"github.com/amlive/amlive/liveplugin/internal/record"
)

// publisher is the state of one broadcast's upload, which may span several
// connections. Its methods run on the owning upload handler's goroutine,
// except notify and watch, which run beside serve.
type publisher struct {
	p       *Plugin
	c       echo.Context // the first upload request's
	b       cluster.Origin
	log     *slog.Logger
	started time.Time
	claimed string // the client's MIME type, for the logs only

	// token lets the publisher, and nobody else, resume the broadcast.
	token string
	// takeover receives the connection of an upload that resumes the
	// broadcast; ended is closed once nothing will receive from it.
	takeover chan *websocket.Conn
	ended    chan struct{}
	// stop receives the site's reason when Plugin.End stops the
	// broadcast.
	stop chan string
	// meta is the broadcast's title and description.
	meta *pubMeta

	// reader reads the stream, in the container its first bytes (and
	// the upload's ?mime=) chose; nil until they arrived (see media).
	reader media.Reader
	// cuts keeps the pieces media feeds an MP4 reader from splitting a
	// moof; nil for WebM.
	cuts *moofCuts
	// delta turns the reader's offsets into the stream's: non-zero when
	// the reader was primed from a takeover's State (see takeOver).
	delta   int64
	events  []media.Event
	syncs   []int64
	pending [][]byte // chunks before the header was read (before the reader was chosen: not yet fed)
	live    bool     // header read, OnLive called
	carried bool     // the last chunk held media (a block, a track run): activity for IdleTimeout
	last    time.Duration

	rec    *record.Writer
	recErr error
	// recURL is the playback URL of the part of the recording this node
	// sealed when it handed the broadcast to a node that does not share
	// Dir.
	recURL string

	conn *websocket.Conn // the connection being served, for recordFailed

	thumbAt time.Time   // when the last thumbnail was taken in (see thumbnail)
	thumbc  chan []byte // the connection's thumbnail worker's input (see thumbnails)

	bitrate *rate.Limiter // bytes of media
	total   int64         // bytes of media received
	acked   atomic.Int64  // total, for notify
	ackCh   chan struct{} // a token when acked changed
	// unacked is when (unix nanos) the oldest message not yet
	// acknowledged arrived, 0 if none: for the ack lag metric.
	unacked atomic.Int64
}

// run serves the broadcast's connections, starting with conn, until the
// broadcast ends. A connection that drops leaves the broadcast waiting
// ResumeGrace for another.
func (pub *publisher) run(conn *websocket.Conn) {
	p := pub.p
	for {
		stopPing := pub.ping(conn)
		next, err := pub.serve(conn)
		if req, ok := errors.AsType[*handoverError](err); ok {
			stopPing()
			if pub.handOver(req.req) {
				return
			}
			pub.finish(errLost, nil)
			return
		}
		if next != nil {
			// A resuming upload replaced a connection that had not
			// noticed it was dead (watch closed it).
			stopPing()
			pub.log.Info("publisher resumed", "offset", pub.total, "replaced", true)
			p.metrics.resumed()
			conn = next
			continue
		}
		if !resumable(err) || p.cfg.ResumeGrace < 0 || p.pubCtx.Err() != nil {
			pub.finish(err, conn)
			stopPing()
			return
		}
		conn.CloseNow()
		stopPing()
		pub.log.Info("publisher lost; waiting for it to resume", "err", err, "offset", pub.total, "grace", p.cfg.ResumeGrace)
		pub.b.SetPublisherLost(true)
		grace := time.NewTimer(p.cfg.ResumeGrace)
		select {
		case conn = <-pub.takeover:
			grace.Stop()
			pub.b.SetPublisherLost(false)
			pub.log.Info("publisher resumed", "offset", pub.total)
			p.metrics.resumed()
		case <-grace.C:
			pub.finish(errLost, nil)
			return
		case reason := <-pub.stop:
			grace.Stop()
			pub.finish(&endedBySiteError{reason}, nil)
			return
		case req := <-pub.b.Handovers():
			grace.Stop()
			if pub.handOver(req) {
				return
			}
			pub.finish(errLost, nil)
			return
		case <-pub.b.Fenced():
			grace.Stop()
			pub.finish(errFenced, nil)
			return
		case <-p.pubCtx.Done():
			grace.Stop()
			pub.finish(ErrClosed, nil)
			return
		}
	}
}

// ping runs keepAlive on conn until the returned stop is called, which
// waits for a ping under way. Call stop once conn is closed: stopping a ping
// whose frame is being written closes the connection, and it must not cut
// it before finish has sent its close code. Bytes arriving count as
// answers to a ping.
func (pub *publisher) ping(conn *websocket.Conn) (stop func()) {
	return pub.p.keepAlive(conn, func() int64 { return pub.b.Info().Bytes }, pub.log)
}

// serve runs one connection's read loop until it stops. It returns why,
// or the connection that replaced it.
func (pub *publisher) serve(conn *websocket.Conn) (next *websocket.Conn, err error) {
	p := pub.p
	// The read loop's context never ends: coder/websocket cuts a
	// connection whose read context ends, without a close frame. The
	// watcher closes it with a code and reason instead (idle, too long,
	// shutdown).
	ctx := context.WithoutCancel(p.pubCtx)
	defer p.metrics.publisherConnected()()

	// Stopping notify must not cancel the context of a write it may have
	// in flight: the websocket library closes the connection when that
	// happens, and the publisher would never see the close code of finish.
	var wg sync.WaitGroup
	defer wg.Wait()
	done := make(chan struct{})
	stopHelpers := sync.OnceFunc(func() { close(done) })
	defer stopHelpers()
	activity := make(chan struct{}, 1)
	var stop watchResult
	wg.Go(func() { stop = pub.watch(conn, done, activity) }) // exits once done is closed or it stopped the upload

	ready := newReady(pub.b.ID(), pub.token, max(p.cfg.ResumeGrace, 0), pub.total, p.cfg.MaxThumbnailBytes, p.cfg.ThumbnailInterval)
	if err := send(ctx, conn, p.cfg.WriteTimeout, ready); err != nil {
		stopHelpers()
		wg.Wait()
		return pub.stopReason(stop, err)
	}
	pub.log.Debug("publisher connected", "mime", pub.claimed, "offset", pub.total)
	if _, ver := pub.meta.current(); ver > 0 {
		pub.meta.poke() // the page learns a title set while it was away
	}
	wg.Go(func() { pub.notify(ctx, conn, done) }) // after ready; exits once done is closed
	pub.thumbc = make(chan []byte, 1)
	wg.Go(func() { pub.thumbnails(conn, pub.thumbc, done) }) // exits once done is closed
	pub.conn = conn
	if pub.recErr != nil {
		pub.sendRecordFailed() // again: the publisher may have missed it
	}
	// The read limit is ours to enforce with a close code the page can
	// explain, so the library's own limit only stops runaway frames.
	conn.SetReadLimit(p.cfg.MaxMessageBytes + 1)
	for {
		err := pub.readOne(ctx, conn)
		if err == nil {
			if pub.carried {
				select {
				case activity <- struct{}{}:
				default:
				}
			}
			continue
		}
		stopHelpers()
		wg.Wait()
		return pub.stopReason(stop, err)
	}
}

// watchResult is why watch stopped a connection, if it did.
type watchResult struct {
	err  error           // errStopped wrapping the reason
	next *websocket.Conn // the connection that replaced it
}

// handoverError is serve's error when another node asked to take the
// broadcast over.
type handoverError struct{ req *cluster.HandoverRequest }

func (e *handoverError) Error() string { return "liveplugin: broadcast handed over to another node" }

func (pub *publisher) stopReason(stop watchResult, err error) (*websocket.Conn, error) {
	if stop.next != nil {
		return stop.next, nil
	}
	if stop.err != nil {
		return nil, stop.err
	}
	return nil, err
}

// watch stops the upload on conn when the publisher has been silent for
// IdleTimeout, when the broadcast reaches MaxBroadcast, when the plugin
// closes, or when a resuming upload takes over. It returns when done is
// closed or once it stopped the upload.
func (pub *publisher) watch(conn *websocket.Conn, done, activity <-chan struct{}) watchResult {
	p := pub.p
	idle := time.NewTimer(p.cfg.IdleTimeout)
	defer idle.Stop()
	limit := time.NewTimer(p.cfg.MaxBroadcast - time.Since(pub.started))
	defer limit.Stop()
	for {
		var err error
		select {
		case <-done:
			return watchResult{}
		case <-activity:
			idle.Reset(p.cfg.IdleTimeout)
			continue
		case next := <-pub.takeover:
			// The publisher reconnected, so this connection is dead
			// even if the server has not noticed yet.
			conn.CloseNow() // the read loop then returns
			return watchResult{next: next}
		case req := <-pub.b.Handovers():
			if !pub.tokenMatches(req.Token) {
				_ = req.Reply(nil, errNoResume)
				continue
			}
			// The publisher reconnected through another node.
			conn.CloseNow()
			return watchResult{err: &handoverError{req}}
		case <-pub.b.Fenced():
			err = errFenced
		case reason := <-pub.stop:
			err = &endedBySiteError{reason}
		case <-idle.C:
			err = errIdle
		case <-limit.C:
			err = errTooLong
		case <-p.pubCtx.Done():
			err = ErrClosed
		}
		p.closeWith(conn, err) // the read loop then returns
		return watchResult{err: fmt.Errorf("%w: %w", errStopped, err)}
	}
}

// readOne reads and handles one message.
func (pub *publisher) readOne(ctx context.Context, conn *websocket.Conn) error {
	p := pub.p
	typ, r, err := conn.Reader(ctx)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(r, p.cfg.MaxMessageBytes+1))
	if err != nil {
		return err
	}
	p.metrics.received()
	if int64(len(data)) > p.cfg.MaxMessageBytes {
		return &tooLargeError{max: p.cfg.MaxMessageBytes}
	}
	if typ == websocket.MessageText {
		return pub.text(ctx, conn, data)
	}
	err = pub.media(data)
	pub.saveDescription()
	return err
}

// text handles a text message: its type first, then the message of that
// type, with no unknown fields. A type that is not ours closes the upload
// with 1003; a meta message that is refused gets an error event.
func (pub *publisher) text(ctx context.Context, conn *websocket.Conn, data []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return errBadMessage
	}
	switch head.Type {
	case typeEnd:
		var e clientEvent
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return errBadMessage
		}
		return errEnd
	case typeMeta:
		return pub.onMeta(ctx, conn, data)
	case typeThumbnail:
		return pub.thumbnail(conn, data)
	}
	return errBadMessage
}

// ack lets notify tell the publisher that the server holds the stream's
// first pub.total bytes: a publisher that reconnects resends from there.
func (pub *publisher) ack() {
	pub.acked.Store(pub.total)
	select {
	case pub.ackCh <- struct{}{}:
	default:
	}
}

// notify tells the publisher on conn the offset the server holds the
// stream up to whenever it grows, the viewer count whenever it changes, at
// most every 250 ms, and the audience (see Audience) when it changed, at
// most every reports.audienceEvery. It returns when done is closed (after
// finishing the write under way, if any) or when a write fails. ctx never
// ends (see serve).
func (pub *publisher) notify(ctx context.Context, conn *websocket.Conn, done <-chan struct{}) {
	timeout := pub.p.cfg.WriteTimeout
	lastViewers, lastAck := -1, pub.acked.Load()
	viewersDue := time.NewTimer(0) // the count is due at once
	defer viewersDue.Stop()
	var viewersReady <-chan time.Time = viewersDue.C
	audienceDue := time.NewTicker(pub.p.reports.audienceEvery())
	defer audienceDue.Stop()
	var lastAudience Audience
	for {
		select {
		case <-done:
			return
		case <-audienceDue.C:
			a := pub.p.reports.summary(pub.b.Room())
			if a == nil {
				a = &Audience{}
			}
			if *a != lastAudience {
				lastAudience = *a
				if err := send(ctx, conn, timeout, newAudience(*a)); err != nil {
					return
				}
			}
		case <-pub.b.ViewersChanged():
			if viewersReady == nil {
				viewersReady = viewersDue.C
			}
			continue
		case <-viewersReady:
			viewersReady = nil
			if n := pub.b.Viewers(); n != lastViewers {
				lastViewers = n
				if err := send(ctx, conn, timeout, newViewers(n)); err != nil {
					return
				}
			}
			viewersDue.Reset(250 * time.Millisecond)
		case <-pub.meta.changed:
			d, _ := pub.meta.current()
			if err := send(ctx, conn, timeout, newMeta(d)); err != nil {
				return
			}
		case <-pub.ackCh:
			since := pub.unacked.Swap(0) // before acked: the ack covers it
			if n := pub.acked.Load(); n != lastAck {
				lastAck = n
				if err := send(ctx, conn, timeout, newAck(n)); err != nil {
					return
				}
				pub.p.metrics.acked(since)
			}
		}
	}
}

// finish ends the broadcast after the read loop stopped with err: it
// finishes the recording, tells the viewers, then closes conn (nil when
// the publisher is gone) with the close code of err's class, which also
// says how the end is logged.
func (pub *publisher) finish(err error, conn *websocket.Conn) {
	p := pub.p
	close(pub.ended) // refuse resumes from now on
	p.sessions.remove(pub.b.Room(), pub)
	recURL := pub.finishRecording()
	if recURL == "" {
		recURL = pub.recURL
	}
	reason := ""
	if es, ok := errors.AsType[*endedBySiteError](err); ok {
		reason = es.reason
	}
	pub.b.EndBecause(recURL, reason)
	info := pub.info()
	info.Ended = time.Now()
	info.Recording = recURL
	info.Thumbnail = p.recordingThumbnailURL(pub.b.Room(), pub.b.ID())

	c := classify(err)
	attrs := []any{"err", err}
	if c.logReason != "" {
		attrs = []any{"reason", c.logReason, "err", err}
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		attrs = append(attrs, "code", ce.Code)
	}
	if c.code == StatusUnsupportedData || c.code == StatusTooLarge {
		attrs = append(attrs, "claimed", pub.claimed)
	}
	pub.log.Log(context.Background(), c.level, c.logMsg, attrs...)
	if conn != nil && c.code != 0 {
		p.metrics.closed(int(c.code), err)
		_ = conn.Close(c.code, c.closeReason(err))
	}
	p.emitLimit(pub.b.Room(), "publisher", err)
	if pub.live && p.cfg.OnEnd != nil {
		p.cfg.OnEnd(pub.c, info)
	}
	if pub.live {
		p.emitEnded(info, err)
	}
}

func (pub *publisher) info() BroadcastInfo {
	return pub.p.broadcastInfo(pub.b.Info())
}
