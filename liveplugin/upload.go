package liveplugin

import (
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// upload receives a publisher's stream: GET /:id/upload?mime=… (WebSocket),
// or GET /:id/upload?resume=<token> to resume a broadcast whose connection
// dropped.
//
// The connection is authorised before any byte is read. The stream is
// WebM or fragmented MP4: its first bytes say which (see container.go),
// and ?mime=, when it names a container, must agree. It is parsed as it
// arrives; nothing is stored until its header has been read and its
// codecs are ones browsers can play, so an upload that is neither leaves
// no recording. Each chunk then goes to the hub (the viewers) and to
// the recording, in that order (see ingest.go).
//
// The first upload handler of a broadcast owns it until it ends, across
// the connections that resume it (see publisher.go): a resuming handler
// hands its connection over and returns.
func (p *Plugin) upload(c echo.Context) error {
	room, conn, done, err := p.accept(c, &p.pubs, true)
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
	log := p.log.With("room", room, "remote", p.clientIP(c))

	if err := p.cfg.Authorize(c, room, Publish); err != nil {
		err = authError(err)
		log.Warn("publish refused", "err", err)
		p.closeWith(conn, err)
		return nil
	}
	if token := c.QueryParam("resume"); token != "" {
		if handedOver = p.sessions.resume(room, token, conn); handedOver {
			return nil
		}
		// Perhaps another node holds the broadcast.
		h, err := p.rooms.Takeover(c.Request().Context(), room, token, p.shares)
		if err != nil {
			log.Info("resume refused", "err", err)
			p.closeWith(conn, errNoResume)
			return nil
		}
		pub, err := p.takeOver(c, h)
		if err != nil {
			log.Error("takeover failed", "err", err)
			h.Origin.End("")
			p.closeWith(conn, err)
			return nil
		}
		pub.log.Info("broadcast taken over from another node", "offset", pub.total)
		p.metrics.resumed()
		p.sessions.add(room, pub)
		pub.b.SetPublisherLost(false)
		pub.run(conn)
		return nil
	}
	started := time.Now()
	id := newBroadcastID(started)
	token := newToken()
	b, err := p.rooms.Start(c.Request().Context(), room, id, token, started)
	if err != nil {
		log.Info("publish refused", "err", err)
		p.emitLimit(room, "publisher", err)
		p.closeWith(conn, err)
		return nil
	}
	pub := &publisher{
		p:        p,
		c:        c,
		b:        b,
		log:      log.With("broadcast", id),
		started:  started,
		token:    token,
		takeover: make(chan *websocket.Conn),
		ended:    make(chan struct{}),
		stop:     make(chan string, 1),
		meta:     newPubMeta(),
		ackCh:    make(chan struct{}, 1),
		claimed:  c.QueryParam("mime"),
		// A token bucket in bytes: MaxBitrate/8 per second, bursts of
		// bitrateWindow seconds' worth.
		bitrate: rate.NewLimiter(rate.Limit(p.cfg.MaxBitrate/8), int(p.cfg.MaxBitrate*bitrateWindow/8)),
	}
	if mediaType(pub.claimed) == chunkMIME {
		pub.useChunks(&chunkIngest{})
	}
	p.sessions.add(room, pub)
	pub.run(conn)
	return nil
}
