package natscluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// A takeover: node B, where a resuming upload arrived, asks the origin A
// on <Prefix>.node.<A>.handover; A's publisher stops and answers with its
// state; A moves the registry entry to B (epoch+1: the fence), turns its
// hub broadcast into a relay of B and sends B the state and the next
// sequence number; B carries the stream on from there.

// handoverRequest is what B sends A.
type handoverRequest struct {
	Room   string `json:"room"`
	ID     string `json:"id"`
	Token  string `json:"token"`
	Shared bool   `json:"shared"`
	Node   string `json:"node"`
}

// handoverMeta is the head of A's answer; the init segment and the head
// of the stream follow it.
type handoverMeta struct {
	Err     string         `json:"err,omitempty"`
	NextSeq uint64         `json:"nextSeq"`
	Rev     uint64         `json:"rev"`
	Epoch   uint64         `json:"epoch"`
	State   cluster.State  `json:"state"` // without Init, Head and Token
	InitLen int            `json:"initLen"`
	HeadLen int            `json:"headLen"`
	Reports map[string]int `json:"reports,omitempty"`
	Lost    bool           `json:"lost,omitempty"` // the publisher had dropped
}

// errHandover is returned by a HandoverRequest's Reply when the handover
// could not complete.
var errHandover = errors.New("natscluster: handover failed")

// onHandover takes a request of another node to take a broadcast over.
func (r *rooms) onHandover(m *nats.Msg) {
	var req handoverRequest
	if m.Reply == "" || json.Unmarshal(m.Data, &req) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.origins[req.Room]
	if r.closed || o == nil || o.id != req.ID {
		_ = sendBlob(r.nc, m.Reply, handoverMeta{Err: "no such broadcast here"})
		return
	}
	r.wg.Go(func() { r.handover(o, req, m.Reply) })
}

// pendingHandover is a HandoverRequest given to a publisher.
type pendingHandover struct {
	o        *origin
	req      handoverRequest
	reply    string
	answered chan struct{}

	mu    sync.Mutex
	state int // 0 waiting, 1 answered, 2 expired
}

// settle moves the request out of waiting, to answered or expired, and
// reports whether it was waiting.
func (p *pendingHandover) settle(to int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != 0 {
		return false
	}
	p.state = to
	return true
}

// handover hands req to o's publisher and waits for its answer, each for
// at most RequestTimeout.
func (r *rooms) handover(o *origin, req handoverRequest, reply string) {
	p := &pendingHandover{o: o, req: req, reply: reply, answered: make(chan struct{})}
	hr := &cluster.HandoverRequest{Token: req.Token, Shared: req.Shared, Reply: p.answer}
	t := time.NewTimer(r.opts.RequestTimeout)
	defer t.Stop()
	select {
	case o.handovers <- hr:
	case <-t.C:
	case <-o.ctx.Done():
	case <-r.ctx.Done():
	}
	t.Reset(r.opts.RequestTimeout)
	select {
	case <-p.answered:
		return
	case <-t.C:
	case <-o.ctx.Done():
	case <-r.ctx.Done():
	}
	if p.settle(2) {
		_ = sendBlob(r.nc, reply, handoverMeta{Err: "the publisher did not answer"})
	} else {
		<-p.answered
	}
}

// answer is the Reply of a HandoverRequest.
func (p *pendingHandover) answer(st *cluster.State, err error) error {
	if !p.settle(1) {
		return fmt.Errorf("%w: request expired", errHandover)
	}
	defer close(p.answered)
	nc := p.o.r.nc
	if err != nil || st == nil {
		msg := "refused"
		if err != nil {
			msg = err.Error()
		}
		_ = sendBlob(nc, p.reply, handoverMeta{Err: msg})
		return nil
	}
	if err := p.o.handOver(st, p.req, p.reply); err != nil {
		_ = sendBlob(nc, p.reply, handoverMeta{Err: err.Error()})
		return err
	}
	return nil
}

// handOver moves the broadcast to req.Node: the registry entry first (the
// fence), then this node's viewers onto a relay of the new origin, then
// the state to the new origin.
func (o *origin) handOver(st *cluster.State, req handoverRequest, reply string) error {
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		return fmt.Errorf("%w: broadcast stopped", errHandover)
	}
	o.stopped = true
	next := o.seq + 1
	o.mu.Unlock()
	o.shutdown() // the goroutine no longer renews: o.e and o.rev are ours
	e := o.e
	e.Node, e.Epoch = req.Node, e.Epoch+1
	in := o.b.Info()
	e.MIME, e.Bytes, e.Lost, e.Viewers = in.MIMEType, in.Bytes, in.PublisherLost, in.Viewers
	e.Title, e.Description = in.Title, in.Description
	val, _ := json.Marshal(e)
	ctx, cancel := context.WithTimeout(context.Background(), o.r.opts.RequestTimeout)
	defer cancel()
	rev, err := o.r.kv.Update(ctx, o.room, val, o.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		if ent, gerr := o.r.kv.Get(ctx, o.room); gerr == nil && o.owns(ent) {
			rev, err = o.r.kv.Update(ctx, o.room, val, ent.Revision())
		}
	}
	if err != nil {
		return fmt.Errorf("%w: registry: %w", errHandover, err)
	}
	o.rev = rev
	o.mu.Lock()
	o.finished = true
	o.mu.Unlock()
	o.fenceOnce.Do(func() { close(o.fenced) })

	reports := map[string]int{o.r.opts.Name: o.b.LocalViewers()}
	o.repMu.Lock()
	for node, rep := range o.reports {
		reports[node] = rep.n
	}
	o.repMu.Unlock()

	r := o.r
	r.mu.Lock()
	if r.origins[o.room] == o {
		delete(r.origins, o.room)
	}
	rl := newRelay(r, o.b, next)
	switch {
	case r.closed:
		o.b.End(r.n.RecordingURL(o.room, o.id))
	case rl.subscribe() != nil:
		o.b.End(r.n.RecordingURL(o.room, o.id))
	default:
		r.relays[o.room] = rl
		r.wg.Go(rl.run)
	}
	r.mu.Unlock()

	meta := handoverMeta{NextSeq: next, Rev: rev, Epoch: e.Epoch, State: *st, InitLen: len(st.Init), HeadLen: len(st.Head), Reports: reports, Lost: in.PublisherLost}
	meta.State.Init, meta.State.Head, meta.State.Token = nil, nil, ""
	if err := sendBlob(r.nc, reply, meta, st.Init, st.Head); err != nil {
		o.log.Warn("handover state not sent", "err", err)
	}
	o.log.Info("broadcast handed over", "to", req.Node)
	return nil
}

// Takeover implements cluster.Rooms.
func (r *rooms) Takeover(ctx context.Context, room, token string, shared func(room, id string) bool) (*cluster.Handover, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*r.opts.RequestTimeout+r.opts.RequestTimeout/2)
	defer cancel()
	ent, err := r.kv.Get(ctx, room)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, cluster.ErrNoTakeover
	}
	if err != nil {
		return nil, fmt.Errorf("natscluster: takeover %s: %w", room, err)
	}
	var v entry
	if json.Unmarshal(ent.Value(), &v) != nil || v.Token != tokenHash(token) || v.Node == r.opts.Name {
		return nil, cluster.ErrNoTakeover
	}
	sh := false
	if shared != nil {
		sh = shared(room, v.ID)
	}
	req, _ := json.Marshal(handoverRequest{Room: room, ID: v.ID, Token: token, Shared: sh, Node: r.opts.Name})
	head, rest, err := r.request(ctx, r.subject("node", v.Node, "handover"), req)
	if err != nil {
		return nil, fmt.Errorf("natscluster: takeover %s: %w (%w)", room, cluster.ErrNoTakeover, err)
	}
	var m handoverMeta
	if err := json.Unmarshal(head, &m); err != nil || m.InitLen+m.HeadLen > len(rest) {
		return nil, fmt.Errorf("natscluster: takeover %s: %w (%w)", room, cluster.ErrNoTakeover, errBadFrame)
	}
	if m.Err != "" {
		return nil, fmt.Errorf("natscluster: takeover %s: %w (%s)", room, cluster.ErrNoTakeover, m.Err)
	}
	st := m.State
	st.Token = token
	if m.InitLen > 0 {
		st.Init = rest[:m.InitLen]
	}
	st.Head = rest[m.InitLen : m.InitLen+m.HeadLen]

	r.mu.Lock()
	rl := r.relays[room]
	if rl != nil && rl.id == st.ID && !rl.ended {
		rl.promoted = true
		delete(r.relays, room)
	} else if rl != nil {
		rl.endLocked(r.n.RecordingURL(room, rl.id))
		rl = nil
	}
	r.mu.Unlock()
	var b *hub.Broadcast
	if rl != nil {
		rl.cancel()
		<-rl.done
		b = rl.b
		continueFrom(b, &st)
	} else {
		b, err = r.n.Hub.Start(room, st.ID, st.Started)
		if err != nil {
			return nil, fmt.Errorf("natscluster: takeover %s: %w", room, err)
		}
		if st.Init != nil {
			b.SetInit(st.MIMEType, st.Init)
			b.SetOffset(st.HeadOffset)
			b.Write(st.Head, []int64{st.HeadOffset})
		}
	}
	// As the old origin stood, whatever the relay had applied: the new
	// publisher's SetPublisherLost(false) then tells every node resumed.
	b.SetPublisherLost(m.Lost)
	b.SetDescription(st.Title, st.Description)
	e := v
	e.Node, e.Epoch = r.opts.Name, m.Epoch
	o := newOrigin(r, b, e, m.Rev, m.NextSeq-1)
	r.mu.Lock()
	r.origins[room] = o
	r.mu.Unlock()
	if err := o.start(m.Reports); err != nil {
		o.End(r.n.RecordingURL(room, st.ID))
		return nil, fmt.Errorf("natscluster: takeover %s: %w", room, err)
	}
	o.kickRenew()
	r.log.Info("broadcast taken over", "room", room, "broadcast", st.ID, "from", v.Node)
	return &cluster.Handover{State: st, Origin: o}, nil
}

// continueFrom brings b, a relay's broadcast, to where st stands, from the
// head of the stream in st: the bytes the relay did not receive yet are
// written, and when it lacks more than the head holds, its viewers skip
// to the head's join point.
func continueFrom(b *hub.Broadcast, st *cluster.State) {
	if st.Init == nil {
		return
	}
	if _, _, ok := b.Init(); !ok {
		b.SetInit(st.MIMEType, st.Init)
	}
	off := b.Offset()
	end := st.HeadOffset + int64(len(st.Head))
	switch {
	case off < st.HeadOffset:
		b.Gap(st.HeadOffset)
		b.Write(st.Head, []int64{st.HeadOffset})
	case off < end:
		b.Write(st.Head[off-st.HeadOffset:], nil)
	}
}
