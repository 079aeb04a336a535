package liveplugin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// keepAlive pings the peer of conn every PingInterval until done is
// closed, and cuts the connection when the peer does not answer a ping
// within WriteTimeout: its network or its process is gone, or it stopped
// reading. A peer that cannot answer a ping cannot take a close frame
// either, so the connection is closed without one; its handler then sees a
// read error and ends as when the peer leaves.
//
// The owner must read from conn meanwhile (coder/websocket reads pongs in
// Reader; a viewer's CloseRead does). progress, if not nil, reports how
// much the peer has sent so far: a change while a ping waits counts as an
// answer, since a publisher's pong may queue behind its media.
//
// keepAlive runs in a goroutine of the connection's handler. It returns
// when done is closed, when the connection closes, or once it cut the
// connection. Closing done cancels a ping under way.
func (p *Plugin) keepAlive(conn *websocket.Conn, done <-chan struct{}, progress func() int64, log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { // exits when done is closed or keepAlive returns
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	})
	t := time.NewTicker(p.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		var before int64
		if progress != nil {
			before = progress()
		}
		pctx, pcancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
		err := conn.Ping(pctx)
		pcancel()
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return // done
		case !errors.Is(err, context.DeadlineExceeded):
			return // the connection closed or is closing: its owner knows
		case progress != nil && progress() != before:
			continue // no pong yet, but the peer is sending
		}
		p.deadPeers.Add(1)
		log.Warn("peer disconnected", "reason", "no answer to a ping", "timeout", p.cfg.WriteTimeout)
		_ = conn.CloseNow()
		return
	}
}
