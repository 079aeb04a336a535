package liveplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/amlive/amlive/liveplugin/internal/hub"
	"github.com/amlive/amlive/liveplugin/internal/record"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// isWebSocket reports whether r asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// accept validates the room (a plain HTTP error before the upgrade), then
// upgrades the connection. The caller must call done when its handler
// returns; conn is nil when the handler should just return nil.
func (p *Plugin) accept(c echo.Context, wg *sync.WaitGroup) (room string, conn *websocket.Conn, done func(), err error) {
	room = c.Param("id")
	if err := ValidRoom(room); err != nil {
		return "", nil, nil, toHTTPError(err)
	}
	if !isWebSocket(c.Request()) {
		return "", nil, nil, echo.NewHTTPError(http.StatusUpgradeRequired, "WebSocket upgrade required")
	}
	conn, err = websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{
		OriginPatterns: p.cfg.OriginPatterns,
	})
	if err != nil {
		// Accept has written the response (e.g. 403 for a foreign Origin).
		p.log.Debug("websocket refused", "room", room, "remote", c.RealIP(), "err", err)
		return "", nil, nil, nil
	}
	done, ok := p.track(wg)
	if !ok {
		closeWith(conn, ErrClosed)
		return "", nil, nil, nil
	}
	if ok, _ := p.upgrades.Allow(c.RealIP()); !ok {
		p.log.Warn("websocket refused", "room", room, "remote", c.RealIP(), "reason", "MaxUpgradesPerMinute")
		closeWith(conn, &LimitError{Name: "MaxUpgradesPerMinute", Max: int64(p.cfg.MaxUpgradesPerMinute)})
		done()
		return "", nil, nil, nil
	}
	return room, conn, done, nil
}

// closeWith closes conn with the code and reason for err.
func closeWith(conn *websocket.Conn, err error) {
	code, reason := closeStatus(err)
	_ = conn.Close(code, reason)
}

// upload receives a publisher's stream: GET /:id/upload?mime=… (WebSocket),
// or GET /:id/upload?resume=<token> to resume a broadcast whose connection
// dropped.
//
// The connection is authorised before any byte is read. The stream is
// parsed as it arrives; nothing is stored until its header has been read
// and its codecs are ones browsers can play, so an upload that is not WebM
// leaves no recording. Each chunk then goes to the hub (the viewers) and to
// the recording, in that order.
//
// The first upload handler of a broadcast owns it until it ends, across
// the connections that resume it: a resuming handler hands its connection
// over and returns.
func (p *Plugin) upload(c echo.Context) error {
	room, conn, done, err := p.accept(c, &p.pubs)
	if conn == nil {
		return err
	}
	defer done()
	handedOver := false
	defer func() {
		if !handedOver {
			conn.CloseNow()
		}
	}()
	log := p.log.With("room", room, "remote", c.RealIP())

	if err := p.cfg.Authorize(c, room, Publish); err != nil {
		err = authError(err)
		log.Warn("publish refused", "err", err)
		closeWith(conn, err)
		return nil
	}
	if token := c.QueryParam("resume"); token != "" {
		handedOver = p.sessions.resume(room, token, conn)
		if !handedOver {
			log.Info("resume refused", "err", ErrNoResume)
			closeWith(conn, ErrNoResume)
		}
		return nil
	}
	started := time.Now()
	id := newBroadcastID(started)
	b, err := p.hub.Start(room, id, started)
	if err != nil {
		log.Info("publish refused", "err", err)
		closeWith(conn, err)
		return nil
	}
	pub := &publisher{
		p:        p,
		c:        c,
		b:        b,
		log:      log.With("broadcast", id),
		started:  started,
		token:    newToken(),
		takeover: make(chan *websocket.Conn),
		ended:    make(chan struct{}),
		ackCh:    make(chan struct{}, 1),
		reader:   webm.NewReader(webm.Limits{MaxInitBytes: p.cfg.MaxInitBytes}),
		claimed:  c.QueryParam("mime"),
		// A token bucket in bytes: MaxBitrate/8 per second, bursts of
		// bitrateWindow seconds' worth.
		bitrate: rate.NewLimiter(rate.Limit(p.cfg.MaxBitrate/8), int(p.cfg.MaxBitrate*bitrateWindow/8)),
	}
	p.sessions.add(room, pub)
	pub.run(conn)
	return nil
}

// publisher is the state of one broadcast's upload, which may span several
// connections. Its methods run on the owning upload handler's goroutine,
// except notify and watch, which run beside serve.
type publisher struct {
	p       *Plugin
	c       echo.Context // the first upload request's
	b       *hub.Broadcast
	log     *slog.Logger
	started time.Time
	claimed string // the client's MIME type, for the logs only

	// token lets the publisher, and nobody else, resume the broadcast.
	token string
	// takeover receives the connection of an upload that resumes the
	// broadcast; ended is closed once nothing will receive from it.
	takeover chan *websocket.Conn
	ended    chan struct{}

	reader  *webm.Reader
	events  []webm.Event
	syncs   []int64
	pending [][]byte // chunks before the header was read
	live    bool     // header read, OnLive called
	last    time.Duration

	rec    *record.Writer
	recErr error

	conn *websocket.Conn // the connection being served, for recordFailed

	bitrate *rate.Limiter // bytes of media
	total   int64         // bytes of media received
	acked   atomic.Int64  // total, for notify
	ackCh   chan struct{} // a token when acked changed
}

type clientEvent struct {
	Type string `json:"type"`
}

// run serves the broadcast's connections, starting with conn, until the
// broadcast ends. A connection that drops leaves the broadcast waiting
// ResumeGrace for another.
func (pub *publisher) run(conn *websocket.Conn) {
	p := pub.p
	for {
		stopPing := pub.ping(conn)
		next, err := pub.serve(conn)
		if next != nil {
			// A resuming upload replaced a connection that had not
			// noticed it was dead (watch closed it).
			stopPing()
			pub.log.Info("publisher resumed", "offset", pub.total, "replaced", true)
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
		case <-grace.C:
			pub.finish(errLost, nil)
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

// errLost is a publisher that did not resume within ResumeGrace.
var errLost = errors.New("liveplugin: publisher lost and did not resume within ResumeGrace")

// resumable reports whether the error that ended a connection's read loop
// may be a network failure, as opposed to the publisher or the server
// ending the broadcast.
func resumable(err error) bool {
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		// 1000 and 1001 are the page closing the socket, or going away.
		return ce.Code != websocket.StatusNormalClosure && ce.Code != websocket.StatusGoingAway
	case errors.Is(err, errEnd), errors.Is(err, errBadMessage), errors.Is(err, ErrMessageTooLarge),
		errors.Is(err, errStopped), errors.As(err, new(*LimitError)),
		errors.Is(err, webm.ErrNotWebM), errors.Is(err, webm.ErrMalformed),
		errors.Is(err, webm.ErrLimit), errors.Is(err, webm.ErrUnsupportedCodec):
		return false
	}
	return true
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

	ready := map[string]any{
		"type":           "ready",
		"broadcast":      pub.b.ID(),
		"resume":         pub.token,
		"resumeWithinMs": max(p.cfg.ResumeGrace, 0).Milliseconds(),
		"offset":         pub.total,
	}
	if err := send(ctx, conn, p.cfg.WriteTimeout, ready); err != nil {
		stopHelpers()
		wg.Wait()
		return pub.stopReason(stop, err)
	}
	pub.log.Debug("publisher connected", "mime", pub.claimed, "offset", pub.total)
	wg.Go(func() { pub.notify(ctx, conn, done) }) // after ready; exits once done is closed
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
			select {
			case activity <- struct{}{}:
			default:
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

// errStopped wraps the reason the server stopped an upload by itself.
var errStopped = errors.New("stopped by the server")

func (pub *publisher) stopReason(stop watchResult, err error) (*websocket.Conn, error) {
	if stop.next != nil {
		return stop.next, nil
	}
	if stop.err != nil {
		return nil, stop.err
	}
	return nil, err
}

// Reasons the server stops an upload by itself.
var (
	errIdle    = errors.New("liveplugin: no data from the publisher within IdleTimeout")
	errTooLong = errors.New("liveplugin: broadcast reached MaxBroadcast")
)

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
		case <-idle.C:
			err = errIdle
		case <-limit.C:
			err = errTooLong
		case <-p.pubCtx.Done():
			err = ErrClosed
		}
		closeWith(conn, err) // the read loop then returns
		return watchResult{err: fmt.Errorf("%w: %w", errStopped, err)}
	}
}

// errEnd is the publisher saying {"type":"end"}.
var errEnd = errors.New("publisher ended the broadcast")

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
	if int64(len(data)) > p.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: over %d bytes", ErrMessageTooLarge, p.cfg.MaxMessageBytes)
	}
	if typ == websocket.MessageText {
		var e clientEvent
		if err := json.Unmarshal(data, &e); err != nil || e.Type != "end" {
			return errBadMessage
		}
		return errEnd
	}
	return pub.media(data)
}

// errBadMessage is a text message that is not one of ours.
var errBadMessage = errors.New("liveplugin: unsupported message")

// feedPiece is how much of a message media feeds the reader at a time.
const feedPiece = 16 << 10

// media parses one chunk and hands it to the hub and the recording.
func (pub *publisher) media(data []byte) error {
	p := pub.p
	if !pub.bitrate.AllowN(time.Now(), len(data)) {
		return &LimitError{Name: "MaxBitrate", Max: p.cfg.MaxBitrate}
	}
	if pub.total += int64(len(data)); pub.total > p.cfg.MaxBroadcastBytes {
		return &LimitError{Name: "MaxBroadcastBytes", Max: p.cfg.MaxBroadcastBytes}
	}
	start := pub.reader.Offset()
	var err error
	pub.syncs = pub.syncs[:0]
	// Fed in pieces, keeping the first and last join points only (the hub
	// joins waiting viewers at the first and caches from the last), so that
	// a message of many tiny Clusters costs no memory per Cluster.
	for p := data; len(p) > 0 && err == nil; p = p[min(len(p), feedPiece):] {
		pub.events, err = pub.reader.Feed(pub.events[:0], p[:min(len(p), feedPiece)])
		for _, e := range pub.events {
			switch e.Kind {
			case webm.KindInit:
				if err := pub.goLive(); err != nil {
					return err
				}
			case webm.KindSync:
				if len(pub.syncs) == 2 {
					pub.syncs[1] = e.Offset
				} else {
					pub.syncs = append(pub.syncs, e.Offset)
				}
			case webm.KindCluster:
				// A rough duration, should sealing fail: sealing reads every
				// block and sets the exact one.
				pub.last = max(pub.last, e.Timecode)
			}
		}
	}
	if err != nil {
		// The stream turned invalid: pass on and record what was valid of
		// the chunk, then stop with err.
		data = data[:validLen(err, start, len(data))]
	}
	defer pub.ack()
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

// ack lets notify tell the publisher that the server holds the stream's
// first pub.total bytes: a publisher that reconnects resends from there.
func (pub *publisher) ack() {
	pub.acked.Store(pub.total)
	select {
	case pub.ackCh <- struct{}{}:
	default:
	}
}

// goLive runs once the stream header is read: it checks the codecs,
// starts the recording and publishes the header to viewers.
func (pub *publisher) goLive() error {
	if err := pub.reader.Playable(); err != nil {
		return err
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
	}
	pub.log.Info("room live", "mime", mime)
	if p.cfg.OnLive != nil {
		p.cfg.OnLive(pub.c, pub.info())
	}
	return nil
}

func (pub *publisher) record(data []byte) {
	if pub.rec == nil || pub.recErr != nil {
		return
	}
	if _, err := pub.rec.Write(data); err != nil {
		pub.recordFailed(err)
	}
}

// recordFailed keeps the broadcast live for its viewers and tells the
// publisher that the recording stopped.
func (pub *publisher) recordFailed(err error) {
	pub.recErr = err
	pub.log.Error("recording failed", "err", err)
	pub.sendRecordFailed()
}

func (pub *publisher) sendRecordFailed() {
	_ = send(pub.p.pubCtx, pub.conn, pub.p.cfg.WriteTimeout,
		map[string]string{"type": "error", "message": "Recording failed on the server; you are still live."})
}

// finish ends the broadcast after the read loop stopped with err: it
// finishes the recording, tells the viewers, then closes conn (nil when
// the publisher is gone).
func (pub *publisher) finish(err error, conn *websocket.Conn) {
	p := pub.p
	close(pub.ended) // refuse resumes from now on
	p.sessions.remove(pub.b.Room(), pub)
	recURL := ""
	if pub.rec != nil {
		m, ferr := pub.rec.Finish(time.Now(), pub.last)
		if ferr != nil {
			pub.log.Error("recording not finished", "err", ferr)
		}
		if sm, serr := p.store.Seal(m.Room, m.Broadcast); serr != nil {
			pub.log.Error("recording not sealed", "err", serr)
		} else {
			m = sm
		}
		if m.Bytes > 0 {
			recURL = p.playbackURL(m.Room, m.Broadcast)
		}
		pub.log.Info("recording saved", "bytes", m.Bytes, "duration", m.Duration)
		p.pruneRecordings()
	}
	pub.b.End(recURL)
	info := pub.info()
	info.Ended = time.Now()
	info.Recording = recURL

	var ce websocket.CloseError
	switch {
	case conn == nil:
		pub.log.Info("room ended", "reason", err.Error())
	case errors.Is(err, errStopped):
		// watch has closed the connection with the reason.
		pub.log.Info("room ended", "reason", err.Error())
	case errors.Is(err, errEnd):
		pub.log.Info("room ended", "reason", "publisher ended")
		_ = conn.Close(websocket.StatusNormalClosure, "broadcast ended")
	case errors.As(err, &ce):
		pub.log.Info("room ended", "reason", "publisher closed", "code", ce.Code)
	case errors.As(err, new(*LimitError)):
		pub.log.Warn("upload stopped", "err", err)
		closeWith(conn, err)
	case errors.Is(err, ErrMessageTooLarge), errors.Is(err, webm.ErrNotWebM),
		errors.Is(err, webm.ErrMalformed), errors.Is(err, webm.ErrLimit), errors.Is(err, webm.ErrUnsupportedCodec):
		pub.log.Warn("upload rejected", "err", err, "claimed", pub.claimed)
		closeWith(conn, err)
	case errors.Is(err, errBadMessage):
		pub.log.Warn("upload rejected", "err", err)
		_ = conn.Close(websocket.StatusUnsupportedData, "unsupported message")
	default:
		pub.log.Info("room ended", "reason", "connection lost", "err", err)
	}
	if pub.live && p.cfg.OnEnd != nil {
		p.cfg.OnEnd(pub.c, info)
	}
}

func (pub *publisher) info() BroadcastInfo {
	return pub.p.broadcastInfo(pub.b.Info())
}

// send writes v as a JSON text event to conn, within timeout.
func send(ctx context.Context, conn *websocket.Conn, timeout time.Duration, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, data)
}

// notify tells the publisher on conn the offset the server holds the
// stream up to whenever it grows, and the viewer count whenever it
// changes, at most every 250 ms. It returns when done is closed (after
// finishing the write under way, if any), when ctx is done or when a write
// fails.
func (pub *publisher) notify(ctx context.Context, conn *websocket.Conn, done <-chan struct{}) {
	timeout := pub.p.cfg.WriteTimeout
	lastViewers, lastAck := -1, pub.acked.Load()
	viewersDue := time.NewTimer(0) // the count is due at once
	defer viewersDue.Stop()
	var viewersReady <-chan time.Time = viewersDue.C
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-pub.b.ViewersChanged():
			if viewersReady == nil {
				viewersReady = viewersDue.C
			}
			continue
		case <-viewersReady:
			viewersReady = nil
			if n := pub.b.Viewers(); n != lastViewers {
				lastViewers = n
				if err := send(ctx, conn, timeout, map[string]any{"type": "viewers", "count": n}); err != nil {
					return
				}
			}
			viewersDue.Reset(250 * time.Millisecond)
		case <-pub.ackCh:
			if n := pub.acked.Load(); n != lastAck {
				lastAck = n
				if err := send(ctx, conn, timeout, map[string]any{"type": "ack", "offset": n}); err != nil {
					return
				}
			}
		}
	}
}
