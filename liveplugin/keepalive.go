package liveplugin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// keepAlive pings the peer of conn every PingInterval until the returned
// stop is called, and cuts the connection when the peer does not answer a
// ping within WriteTimeout: its network or its process is gone, or it
// stopped reading. A peer that cannot answer a ping cannot take a close
// frame either, so the connection is closed without one; its handler then
// sees a read error and ends as when the peer leaves.
//
// The owner must read from conn meanwhile (coder/websocket reads pongs in
// Reader; a viewer's CloseRead does). progress, if not nil, reports how
// much the peer has sent so far: a change while a ping waits counts as an
// answer, since a publisher's pong may queue behind its media.
//
// No goroutine waits between pings: a timer starts one for each ping,
// which matters with thousands of viewers (each waiting goroutine holds a
// stack). Pinging stops once the connection closes or was cut. stop
// cancels a ping under way and waits for it; cancelling a ping whose frame
// is being written closes the connection.
func (p *Plugin) keepAlive(conn *websocket.Conn, progress func() int64, log *slog.Logger) (stop func()) {
	k := &keeper{p: p, conn: conn, progress: progress, log: log}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	k.mu.Lock() // k.t is read under k.mu, possibly by the first ping
	k.t = time.AfterFunc(p.cfg.PingInterval, k.ping)
	k.mu.Unlock()
	return k.stop
}

// keeper is the state of one keepAlive.
type keeper struct {
	p        *Plugin
	conn     *websocket.Conn
	progress func() int64
	log      *slog.Logger

	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc

	mu      sync.Mutex
	t       *time.Timer
	stopped bool
	pinging sync.WaitGroup // the ping under way
}

// ping runs in the timer's goroutine: it pings once and arms the timer for
// the next ping, unless the peer is gone or stop was called.
func (k *keeper) ping() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.pinging.Add(1)
	k.mu.Unlock()
	defer k.pinging.Done()
	if !k.pingOnce() {
		return
	}
	k.mu.Lock()
	if !k.stopped {
		k.t.Reset(k.p.cfg.PingInterval)
	}
	k.mu.Unlock()
}

// pingOnce sends a ping and waits for its answer. It reports whether to go
// on pinging.
func (k *keeper) pingOnce() bool {
	var before int64
	if k.progress != nil {
		before = k.progress()
	}
	ctx, cancel := context.WithTimeout(k.ctx, k.p.cfg.WriteTimeout)
	err := k.conn.Ping(ctx)
	cancel()
	switch {
	case err == nil:
		return true
	case k.ctx.Err() != nil:
		return false // stopped
	case !errors.Is(err, context.DeadlineExceeded):
		return false // the connection closed or is closing: its owner knows
	case k.progress != nil && k.progress() != before:
		return true // no pong yet, but the peer is sending
	}
	k.p.deadPeers.Add(1)
	k.log.Warn("peer disconnected", "reason", "no answer to a ping", "timeout", k.p.cfg.WriteTimeout)
	_ = k.conn.CloseNow()
	return false
}

// stop stops pinging, cancels a ping under way and waits for it.
func (k *keeper) stop() {
	k.mu.Lock()
	k.stopped = true
	k.t.Stop()
	k.mu.Unlock()
	k.cancel()
	k.pinging.Wait()
}
