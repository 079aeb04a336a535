package liveplugin

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// subscribe sends a live broadcast to a viewer: GET /:id/subscribe
// (WebSocket). The viewer receives hello, the init segment and media from a
// keyframe Cluster on, viewer counts, and finally an end event naming the
// recording and a normal close.
func (p *Plugin) subscribe(c echo.Context) error {
	room, conn, done, err := p.accept(c, &p.subs)
	if conn == nil {
		return err
	}
	defer done()
	defer conn.CloseNow()
	log := p.log.With("room", room, "remote", c.RealIP())

	if err := p.cfg.Authorize(c, room, View); err != nil {
		closeWith(conn, authError(err))
		return nil
	}
	sub, err := p.hub.Subscribe(room)
	if err != nil {
		if !errors.Is(err, hub.ErrNotLive) {
			log.Warn("viewer refused", "err", err)
		}
		closeWith(conn, err)
		return nil
	}
	defer sub.Close()
	log.Debug("viewer joined", "broadcast", sub.Broadcast().ID())

	// Viewers send nothing; CloseRead answers pings, reads pongs and
	// notices a close.
	ctx := conn.CloseRead(p.subCtx)
	var wg sync.WaitGroup
	stopPing := make(chan struct{})
	wg.Go(func() { p.keepAlive(conn, stopPing, nil, log) }) // exits once stopPing is closed
	defer wg.Wait()
	defer close(stopPing)
	for {
		m, err := sub.Next(ctx)
		switch {
		case err == io.EOF:
			if p.isClosing() {
				closeWith(conn, ErrClosed)
			} else {
				_ = conn.Close(websocket.StatusNormalClosure, "broadcast ended")
			}
			return nil
		case errors.Is(err, hub.ErrTooSlow):
			log.Warn("viewer dropped", "reason", "too slow", "skips", sub.Skips())
			closeWith(conn, err)
			return nil
		case err != nil:
			if p.subCtx.Err() != nil {
				closeWith(conn, ErrClosed)
			}
			return nil // the viewer left
		}
		typ := websocket.MessageBinary
		if m.Text {
			typ = websocket.MessageText
		}
		wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
		err = conn.Write(wctx, typ, m.Data)
		cancel()
		if err != nil {
			log.Debug("viewer write failed", "err", err)
			return nil
		}
	}
}
