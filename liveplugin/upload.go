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

// upload receives a publisher's stream: GET /:id/upload?mime=… (WebSocket).
//
// The connection is authorised before any byte is read. The stream is
// parsed as it arrives; nothing is stored until its header has been read
// and its codecs are ones browsers can play, so an upload that is not WebM
// leaves no recording. Each chunk then goes to the hub (the viewers) and to
// the recording, in that order.
func (p *Plugin) upload(c echo.Context) error {
	room, conn, done, err := p.accept(c, &p.pubs)
	if conn == nil {
		return err
	}
	defer done()
	defer conn.CloseNow()
	log := p.log.With("room", room, "remote", c.RealIP())

	if err := p.cfg.Authorize(c, room, Publish); err != nil {
		err = authError(err)
		log.Warn("publish refused", "err", err)
		closeWith(conn, err)
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
		p:       p,
		c:       c,
		conn:    conn,
		b:       b,
		log:     log.With("broadcast", id),
		started: started,
		reader:  webm.NewReader(webm.Limits{MaxInitBytes: p.cfg.MaxInitBytes}),
		claimed: c.QueryParam("mime"),
		// A token bucket in bytes: MaxBitrate/8 per second, bursts of
		// bitrateWindow seconds' worth.
		bitrate: rate.NewLimiter(rate.Limit(p.cfg.MaxBitrate/8), int(p.cfg.MaxBitrate*bitrateWindow/8)),
	}
	pub.run()
	return nil
}

// publisher is the state of one upload connection. Its methods run on the
// upload handler's goroutine, except sendViewers.
type publisher struct {
	p       *Plugin
	c       echo.Context
	conn    *websocket.Conn
	b       *hub.Broadcast
	log     *slog.Logger
	started time.Time
	claimed string // the client's MIME type, for the logs only

	reader  *webm.Reader
	events  []webm.Event
	syncs   []int64
	pending [][]byte // chunks before the header was read
	live    bool     // header read, OnLive called
	last    time.Duration

	rec    *record.Writer
	recErr error

	stopErr atomic.Pointer[error] // why watch stopped the upload, if it did

	bitrate *rate.Limiter // bytes of media
	total   int64         // bytes of media received
}

type clientEvent struct {
	Type string `json:"type"`
}

// run is the upload's read loop. It returns when the stream ends for any
// reason, after the broadcast was ended and the recording finished.
func (pub *publisher) run() {
	p := pub.p
	// Reads are not cancelled by Close, which would cut the connection:
	// Close makes the server say goodbye with 1001 instead.
	// The read loop's context never ends: coder/websocket cuts a
	// connection whose read context ends, without a close frame. The
	// watcher closes it with a code and reason instead (idle, too long,
	// shutdown).
	ctx := context.WithoutCancel(p.pubCtx)

	// Stopping sendViewers must not cancel the context of a write it may
	// have in flight: the websocket library closes the connection when that
	// happens, and the publisher would never see the close code of finish.
	var wg sync.WaitGroup
	defer wg.Wait()
	done := make(chan struct{})
	stopHelpers := sync.OnceFunc(func() { close(done) })
	defer stopHelpers()
	activity := make(chan struct{}, 1)
	wg.Go(func() { pub.sendViewers(ctx, done) }) // exits once done is closed
	wg.Go(func() { pub.watch(done, activity) })  // exits once done is closed or it stopped the upload

	// keepAlive exits once done is closed, or once it cut a peer that
	// stopped answering pings; bytes arriving count as answers.
	wg.Go(func() { p.keepAlive(pub.conn, done, func() int64 { return pub.b.Info().Bytes }, pub.log) })

	if err := pub.send(ctx, map[string]string{"type": "ready", "broadcast": pub.b.ID()}); err != nil {
		pub.finish(err)
		return
	}
	pub.log.Debug("publisher connected", "mime", pub.claimed)
	// The read limit is ours to enforce with a close code the page can
	// explain, so the library's own limit only stops runaway frames.
	pub.conn.SetReadLimit(p.cfg.MaxMessageBytes + 1)
	for {
		err := pub.readOne(ctx)
		if err == nil {
			select {
			case activity <- struct{}{}:
			default:
			}
			continue
		}
		stopHelpers()
		wg.Wait()
		pub.finish(err)
		return
	}
}

// Reasons the server stops an upload by itself.
var (
	errIdle    = errors.New("liveplugin: no data from the publisher within IdleTimeout")
	errTooLong = errors.New("liveplugin: broadcast reached MaxBroadcast")
)

// watch stops the upload when the publisher has been silent for
// IdleTimeout, when the broadcast reaches MaxBroadcast, or when the plugin
// closes. It returns when done is closed or once it stopped the upload.
func (pub *publisher) watch(done, activity <-chan struct{}) {
	p := pub.p
	idle := time.NewTimer(p.cfg.IdleTimeout)
	defer idle.Stop()
	limit := time.NewTimer(p.cfg.MaxBroadcast - time.Since(pub.started))
	defer limit.Stop()
	for {
		var err error
		select {
		case <-done:
			return
		case <-activity:
			idle.Reset(p.cfg.IdleTimeout)
			continue
		case <-idle.C:
			err = errIdle
		case <-limit.C:
			err = errTooLong
		case <-p.pubCtx.Done():
			err = ErrClosed
		}
		pub.stopErr.Store(&err)
		closeWith(pub.conn, err) // the read loop then returns
		return
	}
}

// errEnd is the publisher saying {"type":"end"}.
var errEnd = errors.New("publisher ended the broadcast")

// readOne reads and handles one message.
func (pub *publisher) readOne(ctx context.Context) error {
	p := pub.p
	typ, r, err := pub.conn.Reader(ctx)
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
	pub.events, err = pub.reader.Feed(pub.events[:0], data)
	if err != nil {
		// The stream turned invalid: pass on and record what was valid of
		// the chunk, then stop with err.
		data = data[:validLen(err, start, len(data))]
	}
	pub.syncs = pub.syncs[:0]
	for _, e := range pub.events {
		switch e.Kind {
		case webm.KindInit:
			if err := pub.goLive(); err != nil {
				return err
			}
		case webm.KindSync:
			pub.syncs = append(pub.syncs, e.Offset)
		case webm.KindCluster:
			// A rough duration, should sealing fail: sealing reads every
			// block and sets the exact one.
			pub.last = max(pub.last, e.Timecode)
		}
	}
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
	ctx, cancel := context.WithTimeout(pub.p.pubCtx, pub.p.cfg.WriteTimeout)
	defer cancel()
	_ = pub.send(ctx, map[string]string{"type": "error", "message": "Recording failed on the server; you are still live."})
}

// finish ends the broadcast after the read loop stopped with err: it
// finishes the recording, tells the viewers, then closes the upload.
func (pub *publisher) finish(err error) {
	p := pub.p
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
	switch stopped := pub.stopErr.Load(); {
	case stopped != nil:
		// watch has closed the connection with the reason.
		pub.log.Info("room ended", "reason", (*stopped).Error())
	case errors.Is(err, errEnd):
		pub.log.Info("room ended", "reason", "publisher ended")
		_ = pub.conn.Close(websocket.StatusNormalClosure, "broadcast ended")
	case errors.As(err, &ce):
		pub.log.Info("room ended", "reason", "publisher closed", "code", ce.Code)
	case errors.As(err, new(*LimitError)):
		pub.log.Warn("upload stopped", "err", err)
		closeWith(pub.conn, err)
	case errors.Is(err, ErrMessageTooLarge), errors.Is(err, webm.ErrNotWebM),
		errors.Is(err, webm.ErrMalformed), errors.Is(err, webm.ErrLimit), errors.Is(err, webm.ErrUnsupportedCodec):
		pub.log.Warn("upload rejected", "err", err, "claimed", pub.claimed)
		closeWith(pub.conn, err)
	case errors.Is(err, errBadMessage):
		pub.log.Warn("upload rejected", "err", err)
		_ = pub.conn.Close(websocket.StatusUnsupportedData, "unsupported message")
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

// send writes a JSON text event to the publisher.
func (pub *publisher) send(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, pub.p.cfg.WriteTimeout)
	defer cancel()
	return pub.conn.Write(wctx, websocket.MessageText, data)
}

// sendViewers tells the publisher the viewer count whenever it changes,
// at most every 250 ms. It returns when done is closed (after finishing
// the write under way, if any), when ctx is done or when a write fails.
func (pub *publisher) sendViewers(ctx context.Context, done <-chan struct{}) {
	last := -1
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-pub.b.ViewersChanged():
		}
		if n := pub.b.Viewers(); n != last {
			last = n
			if err := pub.send(ctx, map[string]any{"type": "viewers", "count": n}); err != nil {
				return
			}
		}
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}
