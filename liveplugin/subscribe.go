package liveplugin

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// subscribe sends a live broadcast to a viewer: GET /:id/subscribe
// (WebSocket). The viewer receives hello, the init segment and media from a
// fragment that starts with a keyframe on (a WebM Cluster, an MP4 moof),
// viewer counts, and finally an end event naming the
// recording and a normal close. It sends experience reports (see
// readReports), which never hold up its stream.
func (p *Plugin) subscribe(c echo.Context) error {
	// Each frame in one system call (see frameWriter).
	c.Response().Writer = frameWriter{c.Response().Writer}
	room, conn, done, err := p.accept(c, &p.subs, false)
	if conn == nil {
		return err
	}
	defer done()
	defer conn.CloseNow()
	log := p.log.With("room", room, "remote", p.clientIP(c))

	if err := p.cfg.Authorize(c, room, View); err != nil {
		p.closeWith(conn, authError(err))
		return nil
	}
	sub, err := p.rooms.Subscribe(c.Request().Context(), room)
	if err != nil {
		if !errors.Is(err, hub.ErrNotLive) {
			log.Warn("viewer refused", "err", err)
		}
		p.emitLimit(room, "viewer", err)
		p.closeWith(conn, err)
		return nil
	}
	defer sub.Close()
	log.Debug("viewer joined", "broadcast", sub.Broadcast().ID())
	p.metrics.viewerJoined()
	joined, first := time.Now(), true // for the join time

	// Viewers send reports; the read loop also answers pings, reads pongs
	// and notices a close, as conn.CloseRead would. ctx ends when it
	// stops (the viewer left or was closed) or the plugin closes.
	ctx, cancel := context.WithCancel(p.subCtx)
	defer cancel()
	rv := p.reports.join(room)
	var reading sync.WaitGroup
	reading.Go(func() { // exits when the connection fails or closes
		defer cancel()
		p.readReports(ctx, conn, rv)
	})
	defer func() {
		conn.CloseNow()
		reading.Wait()
		p.reports.leave(rv)
	}()
	defer p.keepAlive(conn, nil, log)()
	// One timer bounds every write, instead of a context per write: a
	// viewer that cannot take a message within WriteTimeout is cut off.
	// Writes get a context that is never done (a cancelled ctx closes the
	// connection through the read loop's Reader anyway), which spares the
	// websocket library registering with ctx on every write.
	wctx := context.WithoutCancel(ctx)
	slow := time.AfterFunc(time.Hour, func() { conn.CloseNow() })
	slow.Stop()
	defer slow.Stop()
	for {
		m, err := sub.Next(ctx)
		switch {
		case err == io.EOF:
			if p.isClosing() {
				p.closeWith(conn, ErrClosed)
			} else {
				p.closeWith(conn, errEnded)
			}
			return nil
		case errors.Is(err, hub.ErrTooSlow):
			c := classify(err)
			log.Log(ctx, c.level, c.logMsg, "reason", c.logReason, "skips", sub.Skips())
			p.closeWith(conn, err)
			return nil
		case err != nil:
			if p.subCtx.Err() != nil {
				p.closeWith(conn, ErrClosed)
			}
			return nil // the viewer left
		}
		typ := websocket.MessageBinary
		if m.Text {
			typ = websocket.MessageText
		}
		slow.Reset(p.cfg.WriteTimeout)
		err = conn.Write(wctx, typ, m.Data)
		slow.Stop()
		if err != nil {
			log.Debug("viewer write failed", "err", err)
			return nil
		}
		p.metrics.sent(len(m.Data))
		if first && !m.Text {
			first = false
			p.metrics.firstMedia(joined)
		}
	}
}
