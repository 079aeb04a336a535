package natscluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// origin is a broadcast whose publisher is on this node: it writes every
// chunk to the node's hub and publishes it on the room's stream subject,
// renews the room's registry entry and sums the viewers of every node.
type origin struct {
	r       *rooms
	b       *hub.Broadcast
	room    string
	id      string
	subject string
	log     *slog.Logger

	handovers chan *cluster.HandoverRequest // out, to the publisher
	fenced    chan struct{}                 // closed once this node no longer owns the broadcast
	fenceOnce sync.Once
	viewersCh chan struct{} // out: a token when Viewers may have changed
	kick      chan struct{} // in: renew the registry entry now
	reportCh  chan struct{} // in: a node reported its viewers

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // run

	bsub, vsub *nats.Subscription

	pubErrs atomic.Int64 // failed publishes, since Start

	// mu orders the stream: every publish and the bootstrap snapshot.
	mu       sync.Mutex
	seq      uint64 // the last sequence number published
	stopped  bool   // writes nothing more: ended, fenced or handing over
	finished bool   // ended, fenced or handed over: End does nothing
	failing  bool   // the last publish failed (logged once)

	// Owned by run, or by whoever stopped it.
	e       entry
	rev     uint64
	renewed time.Time

	repMu   sync.Mutex
	reports map[string]report // by node: its viewers of the broadcast
}

// report is a node's latest count of its viewers.
type report struct {
	n  int
	at time.Time
}

// viewerReport is what a node publishes on <Prefix>.v.<room>.
type viewerReport struct {
	Node string `json:"node"`
	ID   string `json:"id"`
	N    int    `json:"n"`
}

func newOrigin(r *rooms, b *hub.Broadcast, e entry, rev, seq uint64) *origin {
	o := &origin{
		r:         r,
		b:         b,
		room:      b.Room(),
		id:        b.ID(),
		subject:   r.subject("s", b.Room()),
		log:       r.log.With("room", b.Room(), "broadcast", b.ID()),
		handovers: make(chan *cluster.HandoverRequest),
		fenced:    make(chan struct{}),
		viewersCh: make(chan struct{}, 1),
		kick:      make(chan struct{}, 1),
		reportCh:  make(chan struct{}, 1),
		seq:       seq,
		e:         e,
		rev:       rev,
		renewed:   time.Now(),
		reports:   make(map[string]report),
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	return o
}

// start subscribes to the bootstrap requests and viewer reports and starts
// the origin's goroutine, which runs until End, a fence or a handover.
func (o *origin) start(reports map[string]int) error {
	now := time.Now()
	for node, n := range reports {
		if node != o.r.opts.Name {
			o.reports[node] = report{n: n, at: now}
		}
	}
	var err error
	if o.bsub, err = o.r.nc.Subscribe(o.r.subject("boot", o.room), o.onBoot); err != nil {
		return err
	}
	if o.vsub, err = o.r.nc.Subscribe(o.r.subject("v", o.room), o.onReport); err != nil {
		_ = o.bsub.Unsubscribe()
		return err
	}
	o.wg.Go(o.run)
	return nil
}

// Room implements cluster.Origin.
func (o *origin) Room() string { return o.room }

// ID implements cluster.Origin.
func (o *origin) ID() string { return o.id }

// SetInit implements cluster.Origin.
func (o *origin) SetInit(mime string, init []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	if _, _, ok := o.b.Init(); ok {
		return
	}
	o.b.SetInit(mime, init)
	o.publishLocked(envelope{kind: kindInit, payload: initPayload(mime, init)})
	o.kickRenew()
}

// Write implements cluster.Origin.
func (o *origin) Write(p []byte, syncs []int64) {
	if len(p) == 0 && len(syncs) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	off := o.b.Offset()
	o.b.Write(p, syncs)
	if len(p) > 0 {
		o.publishLocked(envelope{kind: kindMedia, off: off, syncs: syncs, payload: p})
	}
}

// SetPublisherLost implements cluster.Origin.
func (o *origin) SetPublisherLost(lost bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped || o.b.Info().PublisherLost == lost {
		return
	}
	o.b.SetPublisherLost(lost)
	k := kindResumed
	if lost {
		k = kindLost
	}
	o.publishLocked(envelope{kind: k, off: o.b.Offset()})
	o.kickRenew()
}

// SetDescription implements cluster.Origin: the registry entry, which
// every node reads, carries it from the next renewal, at once.
func (o *origin) SetDescription(title, description string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	o.b.SetDescription(title, description)
	o.kickRenew()
}

// SetLatency implements cluster.Origin: the registry entry, which
// every node reads, carries it.
func (o *origin) SetLatency(latency string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	o.b.SetLatency(latency)
	o.kickRenew()
}

// Info implements cluster.Origin.
func (o *origin) Info() hub.Info { return o.b.Info() }

// Viewers implements cluster.Origin.
func (o *origin) Viewers() int { return o.b.Viewers() }

// ViewersChanged implements cluster.Origin.
func (o *origin) ViewersChanged() <-chan struct{} { return o.viewersCh }

// Handovers implements cluster.Origin.
func (o *origin) Handovers() <-chan *cluster.HandoverRequest { return o.handovers }

// Fenced implements cluster.Origin.
func (o *origin) Fenced() <-chan struct{} { return o.fenced }

// End implements cluster.Origin: every node's viewers get the end event,
// and the room's registry entry is deleted. It does nothing once the
// broadcast was fenced or handed over.
func (o *origin) End(recording string) { o.EndBecause(recording, "") }

// EndBecause implements cluster.Origin: End, with the reason the site
// ended the broadcast.
func (o *origin) EndBecause(recording, reason string) {
	o.mu.Lock()
	if o.finished {
		o.mu.Unlock()
		return
	}
	o.stopped, o.finished = true, true
	payload := recording
	if reason != "" {
		payload += "\n" + reason
	}
	o.publishLocked(envelope{kind: kindEnd, off: o.b.Offset(), payload: []byte(payload)})
	o.mu.Unlock()
	o.b.EndBecause(recording, reason)
	o.shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), o.r.opts.RequestTimeout)
	defer cancel()
	if err := o.r.kv.Delete(ctx, o.room, jetstream.LastRevision(o.rev)); err != nil {
		o.log.Warn("registry entry not deleted", "err", err)
	}
	o.forget()
	if n := o.pubErrs.Load(); n > 0 {
		o.log.Warn("broadcast ended with failed publishes", "failed", n)
	}
}

// shutdown stops the goroutine and the subscriptions. It must not run on
// the origin's goroutine.
func (o *origin) shutdown() {
	o.cancel()
	o.wg.Wait()
	o.unsubscribe()
}

func (o *origin) unsubscribe() {
	if o.bsub != nil {
		_ = o.bsub.Unsubscribe()
	}
	if o.vsub != nil {
		_ = o.vsub.Unsubscribe()
	}
}

// forget takes the origin out of its node.
func (o *origin) forget() {
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	if o.r.origins[o.room] == o {
		delete(o.r.origins, o.room)
	}
}

// publishLocked numbers e and publishes it, in fragments if it is larger
// than the connection's max payload. Failures are counted, and logged
// when they begin. o.mu is held.
func (o *origin) publishLocked(e envelope) {
	mp := int(o.r.nc.MaxPayload())
	if mp <= 0 {
		mp = 1 << 20
	}
	e.seq = o.seq + 1
	o.seq += uint64(fragments(len(e.payload), mp))
	var failed error
	_ = frames(e, mp, func(seq uint64, msg []byte) error {
		if d := o.r.c.drop; d != nil && d(o.room, seq, e.kind, e.off) {
			return nil
		}
		if err := o.r.nc.Publish(o.subject, msg); err != nil {
			o.pubErrs.Add(1)
			failed = err
		}
		return nil
	})
	switch {
	case failed != nil && !o.failing:
		o.failing = true
		o.log.Warn("publishing the stream failed", "err", failed)
	case failed == nil && o.failing:
		o.failing = false
		o.log.Info("publishing the stream again")
	}
}

// kickRenew makes the goroutine renew the registry entry soon.
func (o *origin) kickRenew() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// bootMeta is the head of a bootstrap reply; the init segment and the
// GOP cache follow it.
type bootMeta struct {
	Err      string `json:"err,omitempty"`
	MIME     string `json:"mime,omitempty"`
	InitLen  int    `json:"initLen"`
	GOP      bool   `json:"gop"`
	GOPStart int64  `json:"gopStart"`
	GOPLen   int    `json:"gopLen"`
	Off      int64  `json:"off"`
	Seq      uint64 `json:"seq"`
	Lost     bool   `json:"lost,omitempty"`
	Viewers  int    `json:"viewers"`
}

// bootInitOnly is the body of a bootstrap request that wants the init
// segment alone (Rooms.Init), not the GOP cache.
const bootInitOnly = "init"

// onBoot answers a relay's bootstrap request with a snapshot: the init
// segment, the GOP cache and the sequence number it ends at.
func (o *origin) onBoot(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		_ = sendBlob(o.r.nc, m.Reply, bootMeta{Err: "broadcast ended"})
		return
	}
	mime, init, _ := o.b.Init()
	var (
		start  int64
		chunks [][]byte
		ok     bool
	)
	if string(m.Data) != bootInitOnly {
		start, chunks, ok = o.b.GOP()
	}
	in := o.b.Info()
	meta := bootMeta{MIME: mime, InitLen: len(init), GOP: ok, GOPStart: start, Off: in.Bytes, Seq: o.seq, Lost: in.PublisherLost, Viewers: in.Viewers}
	o.mu.Unlock()
	parts := append([][]byte{init}, chunks...)
	for _, c := range chunks {
		meta.GOPLen += len(c)
	}
	if err := sendBlob(o.r.nc, m.Reply, meta, parts...); err != nil {
		o.log.Warn("bootstrap reply failed", "err", err)
	}
}

// onReport takes a node's viewer report.
func (o *origin) onReport(m *nats.Msg) {
	var v viewerReport
	if json.Unmarshal(m.Data, &v) != nil || v.ID != o.id || v.Node == o.r.opts.Name {
		return
	}
	o.repMu.Lock()
	o.reports[v.Node] = report{n: v.N, at: time.Now()}
	o.repMu.Unlock()
	select {
	case o.reportCh <- struct{}{}:
	default:
	}
}

// run is the origin's goroutine: it renews the registry entry and
// publishes a heartbeat every Heartbeat, and keeps the viewer count. It
// exits when o.ctx is cancelled (End, a fence, a handover).
func (o *origin) run() {
	t := time.NewTicker(o.r.opts.Heartbeat)
	defer t.Stop()
	throttle := time.NewTimer(0)
	defer throttle.Stop()
	armed := true
	published, sentAt := -1, time.Time{}
	dirty := true
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-o.b.ViewersChanged():
			select {
			case o.viewersCh <- struct{}{}:
			default:
			}
			dirty = true
		case <-o.reportCh:
			dirty = true
		case <-throttle.C:
			armed = false
		case <-t.C:
			o.sumViewers()
			o.heartbeat()
			o.renew()
		case <-o.kick:
			o.renew()
		}
		if o.ctx.Err() != nil {
			return
		}
		if !dirty || armed {
			continue
		}
		if wait := reportInterval - time.Since(sentAt); wait > 0 {
			throttle.Reset(wait)
			armed = true
			continue
		}
		dirty = false
		if total := o.sumViewers(); total != published {
			o.mu.Lock()
			if !o.stopped {
				o.publishLocked(envelope{kind: kindViewers, off: int64(total)})
			}
			o.mu.Unlock()
			published, sentAt = total, time.Now()
		}
	}
}

// sumViewers sets the broadcast's viewers on other nodes from their latest
// reports, forgetting nodes silent for RoomTTL, and returns the total.
func (o *origin) sumViewers() int {
	now := time.Now()
	others := 0
	o.repMu.Lock()
	for node, rep := range o.reports {
		if now.Sub(rep.at) > o.r.opts.RoomTTL {
			delete(o.reports, node)
			continue
		}
		others += rep.n
	}
	o.repMu.Unlock()
	o.b.SetOtherViewers(others)
	return o.b.Viewers()
}

// heartbeat publishes the stream offset and the viewer count, so that
// relays notice silence and gaps.
func (o *origin) heartbeat() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	p := make([]byte, 8)
	binary.BigEndian.PutUint64(p, uint64(o.b.Viewers()))
	o.publishLocked(envelope{kind: kindHeartbeat, off: o.b.Offset(), payload: p})
}

// renew renews the registry entry. When the entry is gone or changed it
// re-creates it, or fences the broadcast if another node took the room
// or may have declared it orphaned.
func (o *origin) renew() {
	in := o.b.Info()
	o.e.MIME, o.e.Bytes, o.e.Lost, o.e.Viewers = in.MIMEType, in.Bytes, in.PublisherLost, in.Viewers
	o.e.Title, o.e.Description, o.e.Latency = in.Title, in.Description, in.Latency
	val, _ := json.Marshal(o.e)
	// Not o.ctx: an update cancelled in flight may still be applied, and
	// then o.rev would be stale for a handover or End.
	ctx, cancel := context.WithTimeout(context.Background(), o.r.opts.RequestTimeout)
	defer cancel()
	rev, err := o.r.kv.Update(ctx, o.room, val, o.rev)
	if err == nil {
		o.rev, o.renewed = rev, time.Now()
		return
	}
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted) {
		o.log.Debug("registry renewal failed", "err", err)
		return
	}
	ent, err := o.r.kv.Get(ctx, o.room)
	switch {
	case err == nil:
		if o.owns(ent) {
			o.rev = ent.Revision()
			if rev, err := o.r.kv.Update(ctx, o.room, val, o.rev); err == nil {
				o.rev, o.renewed = rev, time.Now()
			}
			return
		}
		o.fence("another node holds the room")
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		if time.Since(o.renewed) > o.r.opts.RoomTTL {
			// The other nodes may have declared the broadcast orphaned;
			// claiming its orphan key first keeps them from it.
			if _, err := o.r.kv.Create(ctx, orphanPrefix+o.room+"."+o.id, []byte(o.r.opts.Name)); err != nil {
				if errors.Is(err, jetstream.ErrKeyExists) {
					o.fence("declared orphaned while cut off")
				}
				return
			}
		}
		rev, err := o.r.kv.Create(ctx, o.room, val)
		switch {
		case err == nil:
			o.rev, o.renewed = rev, time.Now()
			o.log.Info("registry entry created again")
		case errors.Is(err, jetstream.ErrKeyExists):
			o.fence("another node took the room")
		}
	default:
		o.log.Debug("registry renewal failed", "err", err)
	}
}

// owns reports whether ent is the origin's registry entry, whatever its
// revision.
func (o *origin) owns(ent jetstream.KeyValueEntry) bool {
	var v entry
	return json.Unmarshal(ent.Value(), &v) == nil && v.Node == o.e.Node && v.ID == o.e.ID && v.Epoch == o.e.Epoch
}

// fence ends the broadcast on this node, which no longer owns it: the
// publisher must stop (Fenced), and the local viewers get the end event.
// It runs on the origin's goroutine.
func (o *origin) fence(why string) {
	o.mu.Lock()
	if o.finished {
		o.mu.Unlock()
		return
	}
	o.stopped, o.finished = true, true
	o.mu.Unlock()
	o.log.Warn("broadcast fenced", "why", why)
	o.fenceOnce.Do(func() { close(o.fenced) })
	o.b.End(o.r.n.RecordingURL(o.room, o.id))
	o.cancel()
	o.unsubscribe()
	o.forget()
}
