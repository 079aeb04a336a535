package natscluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// relay feeds a broadcast whose origin is another node into this node's
// hub, from the room's stream subject, while this node has viewers of it.
type relay struct {
	r       *rooms
	b       *hub.Broadcast
	room    string
	id      string
	subject string
	log     *slog.Logger

	ch  chan *nats.Msg // in: the stream
	sub *nats.Subscription

	ready chan struct{} // closed once bootstrapped
	done  chan struct{} // closed when run returns

	ctx    context.Context
	cancel context.CancelFunc

	gone    atomic.Int64 // unix nanos when the registry entry vanished; 0 if present
	heardAt atomic.Int64 // unix nanos of the last message from the origin

	// Guarded by r.mu.
	waiting  int  // Subscribe calls waiting for ready
	ended    bool // the hub broadcast ended
	promoted bool // became this node's origin: run must leave b alone

	// Owned by run.
	next       uint64 // the sequence number expected next
	j          joiner
	needGap    bool // bytes were lost: Gap before the next media
	heard      time.Time
	originLost bool // the origin's publisher dropped
	silent     bool // this node hears nothing from the origin
	total      int  // viewers on every node, as the origin last said
	reported   int
	reportedAt time.Time
	idleSince  time.Time
}

// newRelay returns a relay into b. With next > 0 it needs no bootstrap: b
// already holds the stream up to the message numbered next-1 (a handover).
func newRelay(r *rooms, b *hub.Broadcast, next uint64) *relay {
	rl := &relay{
		r:        r,
		b:        b,
		room:     b.Room(),
		id:       b.ID(),
		subject:  r.subject("s", b.Room()),
		log:      r.log.With("room", b.Room(), "broadcast", b.ID()),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
		next:     next,
		heard:    time.Now(),
		reported: -1,
	}
	rl.ctx, rl.cancel = context.WithCancel(context.Background())
	rl.heardAt.Store(rl.heard.UnixNano())
	if next > 0 {
		close(rl.ready)
	}
	return rl
}

// subscribe subscribes to the stream, before the bootstrap so that no
// message after the snapshot is missed.
func (rl *relay) subscribe() error {
	rl.ch = make(chan *nats.Msg, rl.r.opts.RelayBuffer)
	sub, err := rl.r.nc.ChanSubscribe(rl.subject, rl.ch)
	if err != nil {
		return fmt.Errorf("natscluster: subscribe %s: %w", rl.subject, err)
	}
	rl.sub = sub
	return nil
}

// endLocked ends the relay's broadcast for this node's viewers, naming
// recording, and stops the relay. r.mu is held.
func (rl *relay) endLocked(recording string) {
	if rl.ended || rl.promoted {
		return
	}
	rl.ended = true
	if rl.r.relays[rl.room] == rl {
		delete(rl.r.relays, rl.room)
	}
	rl.b.End(recording)
	rl.cancel()
}

// endBecause ends the relay's broadcast with the site's reason.
func (rl *relay) endBecause(recording, reason string) {
	if reason == "" {
		rl.end(recording)
		return
	}
	rl.r.mu.Lock()
	defer rl.r.mu.Unlock()
	if rl.ended || rl.promoted {
		return
	}
	rl.ended = true
	if rl.r.relays[rl.room] == rl {
		delete(rl.r.relays, rl.room)
	}
	rl.b.EndBecause(recording, reason)
	rl.cancel()
}

func (rl *relay) end(recording string) {
	rl.r.mu.Lock()
	defer rl.r.mu.Unlock()
	rl.endLocked(recording)
}

// registryGone notes that the room's registry entry was deleted: unless
// the end event arrives meanwhile, the relay ends once it has heard
// nothing from the origin for 3 Heartbeats (an origin still streaming
// creates its entry again).
// r.mu is held.
func (rl *relay) registryGone() {
	rl.gone.CompareAndSwap(0, time.Now().UnixNano())
}

// run is the relay's goroutine: it bootstraps, then applies the stream,
// watches for silence and reports the viewers. It exits when the relay
// ends, detaches or is promoted (rl.ctx cancelled).
func (rl *relay) run() {
	defer close(rl.done)
	defer func() { _ = rl.sub.Unsubscribe() }()
	if rl.next == 0 {
		if err := rl.boot(); err != nil {
			if rl.ctx.Err() == nil {
				rl.log.Warn("relay bootstrap failed", "err", err)
			}
			rl.end("")
			return
		}
		close(rl.ready)
	}
	rl.report()
	t := time.NewTicker(rl.r.opts.Heartbeat)
	defer t.Stop()
	throttle := time.NewTimer(time.Hour)
	defer throttle.Stop()
	armed := false
	for rl.ctx.Err() == nil {
		select {
		case <-rl.ctx.Done():
		case m := <-rl.ch:
			rl.onMsg(m)
		case <-rl.b.ViewersChanged():
			if n := rl.b.LocalViewers(); n != rl.reported && !armed {
				throttle.Reset(max(0, reportInterval-time.Since(rl.reportedAt)))
				armed = true
			}
		case <-throttle.C:
			armed = false
			rl.report()
		case <-t.C:
			rl.tick()
		}
	}
}

// boot fills b from the origin's snapshot.
func (rl *relay) boot() error {
	ctx, cancel := context.WithTimeout(rl.ctx, rl.r.opts.RequestTimeout)
	defer cancel()
	var (
		metaJSON, rest []byte
		err            error
	)
	for {
		metaJSON, rest, err = rl.r.request(ctx, rl.r.subject("boot", rl.room), nil)
		if !errors.Is(err, errNoResponders) || !rl.listed() {
			break
		}
		// The origin may not have subscribed yet.
		select {
		case <-time.After(min(50*time.Millisecond, rl.r.opts.Heartbeat)):
		case <-ctx.Done():
			return err
		}
	}
	if err != nil {
		return err
	}
	var m bootMeta
	if err := json.Unmarshal(metaJSON, &m); err != nil {
		return fmt.Errorf("natscluster: bootstrap: %w", err)
	}
	if m.Err != "" {
		return fmt.Errorf("natscluster: bootstrap: %s", m.Err)
	}
	if m.InitLen+m.GOPLen > len(rest) {
		return errBadFrame
	}
	if m.MIME != "" {
		rl.b.SetInit(m.MIME, rest[:m.InitLen])
	}
	if m.GOP {
		rl.b.SetOffset(m.GOPStart)
		rl.b.Write(rest[m.InitLen:m.InitLen+m.GOPLen], []int64{m.GOPStart})
	} else {
		rl.b.SetOffset(m.Off)
	}
	rl.originLost = m.Lost
	rl.b.SetPublisherLost(m.Lost)
	rl.total = m.Viewers
	rl.next = m.Seq + 1
	rl.heard = time.Now()
	rl.heardAt.Store(rl.heard.UnixNano())
	return nil
}

// hears reports whether the relay heard from the origin in the last 3
// Heartbeats.
func (rl *relay) hears(now time.Time) bool {
	at := rl.heardAt.Load()
	return at != 0 && now.Sub(time.Unix(0, at)) <= 3*rl.r.opts.Heartbeat
}

// listed reports whether the registry still lists the relay's broadcast.
func (rl *relay) listed() bool {
	rl.r.mu.Lock()
	defer rl.r.mu.Unlock()
	c := rl.r.reg[rl.room]
	return c != nil && c.ID == rl.id
}

// onMsg applies one message of the stream.
func (rl *relay) onMsg(m *nats.Msg) {
	f, err := parseFrame(m.Data)
	if err != nil || f.seq < rl.next {
		return // malformed, or one already applied
	}
	rl.heard = time.Now()
	rl.heardAt.Store(rl.heard.UnixNano())
	if f.seq > rl.next {
		rl.r.gaps.Add(int64(f.seq - rl.next))
		rl.j.reset()
		rl.needGap = true
	}
	rl.next = f.seq + 1
	if f.index > 0 && !rl.j.pending() {
		return // the rest of a message whose start was lost
	}
	e, ok := rl.j.add(f)
	if !ok {
		return
	}
	switch e.kind {
	case kindMedia:
		if rl.needGap || e.off != rl.b.Offset() {
			rl.b.Gap(e.off)
			rl.needGap = false
		}
		rl.b.Write(e.payload, e.syncs)
	case kindInit:
		if mime, init, err := parseInit(e.payload); err == nil {
			rl.b.SetInit(mime, init)
		}
	case kindLost, kindResumed:
		rl.originLost = e.kind == kindLost
	case kindViewers:
		rl.setTotal(int(e.off))
	case kindHeartbeat:
		if len(e.payload) >= 8 {
			rl.setTotal(int(binary.BigEndian.Uint64(e.payload)))
		}
		if e.off != rl.b.Offset() {
			rl.needGap = true
		}
	case kindEnd:
		rec, reason, _ := strings.Cut(string(e.payload), "\n")
		rl.endBecause(rec, reason)
		return
	}
	rl.silent = false
	rl.b.SetPublisherLost(rl.originLost)
}

func (rl *relay) setTotal(n int) {
	rl.total = n
	rl.b.SetOtherViewers(n - rl.b.LocalViewers())
}

// report tells the origin how many viewers this node has.
func (rl *relay) report() {
	n := rl.b.LocalViewers()
	rl.b.SetOtherViewers(rl.total - n)
	data, _ := json.Marshal(viewerReport{Node: rl.r.opts.Name, ID: rl.id, N: n})
	_ = rl.r.nc.Publish(rl.r.subject("v", rl.room), data)
	rl.reported, rl.reportedAt = n, time.Now()
}

// tick runs every Heartbeat: it notices silence, a vanished registry
// entry and idleness, and reports the viewers.
func (rl *relay) tick() {
	now := time.Now()
	opts := &rl.r.opts
	connected := rl.r.connected.Load()
	from := rl.heard
	if up := time.Unix(0, rl.r.upSince.Load()); up.After(from) {
		from = up
	}
	quiet := now.Sub(from)
	if (!connected || quiet > 3*opts.Heartbeat) && !rl.silent {
		rl.silent = true
		rl.b.SetPublisherLost(true)
	}
	if connected && quiet > opts.RoomTTL {
		rl.log.Warn("relay ended: origin silent", "for", quiet)
		rl.end(rl.r.n.RecordingURL(rl.room, rl.id))
		return
	}
	if g := rl.gone.Load(); g != 0 && now.Sub(time.Unix(0, g)) > opts.Heartbeat && !rl.hears(now) {
		rl.end(rl.r.n.RecordingURL(rl.room, rl.id))
		return
	}
	rl.report()
	rl.r.mu.Lock()
	defer rl.r.mu.Unlock()
	if rl.b.LocalViewers() > 0 || rl.waiting > 0 {
		rl.idleSince = time.Time{}
		return
	}
	if rl.idleSince.IsZero() {
		rl.idleSince = now
	} else if now.Sub(rl.idleSince) >= opts.Linger {
		rl.endLocked("")
	}
}
