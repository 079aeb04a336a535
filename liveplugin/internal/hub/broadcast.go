package hub

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Info describes a live broadcast at one moment.
type Info struct {
	Room     string
	ID       string
	MIMEType string // empty until SetInit
	Started  time.Time
	Viewers  int
	Bytes    int64 // written so far
	// PublisherLost is true while the publisher's connection is down and
	// the broadcast waits for it to resume.
	PublisherLost bool
	// Title and Description are the broadcast's, as last set with
	// SetDescription; empty until then.
	Title       string
	Description string
	// Latency is the broadcast's latency mode as SetLatency set it: "low"
	// for an upload of encoded chunks, which low-latency players decode
	// themselves; empty otherwise.
	Latency string
}

// chunk is a piece of the stream at an absolute offset. Its data is shared
// by every subscriber and never modified.
type chunk struct {
	off  int64
	data []byte
}

// Broadcast is one live broadcast of a room. Its methods are safe for
// concurrent use. The publisher calls SetInit once, then Write for every
// chunk, then End; subscribers come and go through Hub.Subscribe.
type Broadcast struct {
	h       *Hub
	room    string
	id      string
	started time.Time

	viewersCh  chan struct{} // out: a token whenever the viewer count changes
	viewersMsg atomic.Pointer[Message]
	viewersVer atomic.Uint64

	mu      sync.Mutex
	mime    string
	init    []byte
	hello   Message // text event, encoded once
	initMsg Message
	end     int64   // offset just past the last byte written
	gop     []chunk // bytes since the newest join point, when gopOK
	gopOK   bool    // gop starts at a join point
	gopSize int64
	subs    map[*Subscriber]struct{}
	ended   bool
	endMsg  Message
	lost    bool // the publisher's connection is down
	others  int  // viewers on other nodes (SetOtherViewers)
	title   string
	desc    string
	latency string
}

// Room returns the room of the broadcast.
func (b *Broadcast) Room() string { return b.room }

// ID returns the broadcast id.
func (b *Broadcast) ID() string { return b.id }

// Info returns a snapshot of the broadcast.
func (b *Broadcast) Info() Info {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Info{
		Room:     b.room,
		ID:       b.id,
		MIMEType: b.mime,
		Started:  b.started,
		Viewers:  len(b.subs) + b.others,
		Bytes:    b.end,

		PublisherLost: b.lost,
		Title:         b.title,
		Description:   b.desc,
		Latency:       b.latency,
	}
}

// SetLatency sets the broadcast's latency mode, which Info reports.
func (b *Broadcast) SetLatency(latency string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latency = latency
}

// SetDescription sets the broadcast's title and description, which Info
// reports. The hub does not check them: the caller has.
func (b *Broadcast) SetDescription(title, description string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.title, b.desc = title, description
}

// Init returns the MIME type and init segment, or ok false before SetInit.
// The returned slice must not be modified.
func (b *Broadcast) Init() (mime string, init []byte, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mime, b.init, b.init != nil
}

// Viewers returns the current number of subscribers, plus the viewers on
// other nodes last set with SetOtherViewers.
func (b *Broadcast) Viewers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs) + b.others
}

// ViewersChanged returns a channel that receives a value whenever the
// viewer count changed since the last receive. It is meant for the
// publisher, which reads Viewers after each receive.
func (b *Broadcast) ViewersChanged() <-chan struct{} { return b.viewersCh }

// textMessage wraps an event encoded by Config.Events.
func textMessage(kind msgKind, data []byte) Message {
	return Message{Text: true, Data: data, kind: kind}
}

// SetInit records the stream's MIME type (with codecs) and init segment:
// the bytes before the first Cluster. init is retained and must not be
// modified. Subscribers waiting for the stream start once a join point
// follows. Only the first call has an effect.
func (b *Broadcast) SetInit(mime string, init []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.init != nil {
		return
	}
	b.mime = mime
	b.init = init
	b.hello = textMessage(kindHello, b.h.cfg.Events.Hello(mime, b.id, b.started))
	b.initMsg = Message{Data: init, kind: kindInit}
}

// Write appends p, the next bytes of the stream, and delivers it to every
// subscriber that is in sync. syncs are the absolute offsets of join points
// found so far that lie before the end of p and after the previous ones, in
// order. Write retains p, which must not be modified afterwards. It never
// blocks on a subscriber.
func (b *Broadcast) Write(p []byte, syncs []int64) {
	if len(p) == 0 && len(syncs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	off := b.end
	b.end += int64(len(p))
	if len(p) > 0 {
		b.gop = append(b.gop, chunk{off: off, data: p})
		b.gopSize += int64(len(p))
		m := Message{Data: p, kind: kindMedia}
		for s := range b.subs {
			if s.synced {
				b.deliver(s, m)
			}
		}
	}
	for _, x := range syncs {
		b.syncAt(x)
	}
	b.trimGOP()
}

// syncAt makes the join point at offset x the start of the GOP cache and
// brings every waiting subscriber into sync from there. b.mu is held.
func (b *Broadcast) syncAt(x int64) {
	if b.init == nil || x >= b.end || len(b.gop) == 0 || x < b.gop[0].off {
		return // not servable: no init, or the bytes at x are gone
	}
	i := 0
	for i < len(b.gop) && b.gop[i].off+int64(len(b.gop[i].data)) <= x {
		i++
	}
	b.gop = b.gop[i:]
	if d := x - b.gop[0].off; d > 0 {
		b.gop[0] = chunk{off: x, data: b.gop[0].data[d:]}
	}
	b.gopSize = b.end - x
	b.gopOK = true
	for s := range b.subs {
		if !s.synced {
			b.join(s)
		}
	}
}

// trimGOP bounds the GOP cache. Past MaxGOPBytes there is no join point
// until the next one; the last two chunks are kept because a parser finds a
// Cluster's keyframe only after its start. b.mu is held.
func (b *Broadcast) trimGOP() {
	if b.gopSize <= b.h.cfg.MaxGOPBytes && (b.gopOK || len(b.gop) <= 2) {
		return
	}
	b.gopOK = false
	if n := len(b.gop); n > 2 {
		copy(b.gop, b.gop[n-2:])
		clear(b.gop[2:])
		b.gop = b.gop[:2]
	}
	b.gopSize = 0
	for _, c := range b.gop {
		b.gopSize += int64(len(c.data))
	}
}

// join queues, for a subscriber that is not in sync, the hello event (or a
// skip event if it had one), the init segment and the GOP cache, and marks
// it in sync. b.mu is held; b.gopOK is true.
func (b *Broadcast) join(s *Subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	n, size := len(s.q)-s.head, s.qBytes
	if s.sentHello {
		s.push(b.h.skipMsg)
	} else {
		s.push(b.hello)
	}
	s.push(b.initMsg)
	for _, c := range b.gop {
		s.push(Message{Data: c.data, kind: kindMedia})
	}
	if b.lost {
		s.push(b.h.reconnectingMsg)
	}
	// The queue may hold the join burst on top of its bounds.
	s.allowMsgs += len(s.q) - s.head - n
	s.allowBytes += s.qBytes - size
	s.synced = true
	s.wakeLocked()
}

// deliver queues m for a subscriber in sync, or makes it skip when its
// queue is full. b.mu is held.
func (b *Broadcast) deliver(s *Subscriber, m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if s.full(len(m.Data)) {
		b.overflow(s)
		return
	}
	s.push(m)
	s.wakeLocked()
}

// overflow drops the queued media of a subscriber that fell behind, so that
// it rejoins at the next join point; one that overflows too often is
// dropped. b.mu and s.mu are held.
func (b *Broadcast) overflow(s *Subscriber) {
	now := b.h.cfg.Now()
	s.skipTimes = append(s.skipTimes, now)
	for len(s.skipTimes) > 0 && now.Sub(s.skipTimes[0]) > b.h.cfg.SlowWindow {
		s.skipTimes = s.skipTimes[1:]
	}
	s.skips.Add(1)
	b.h.skips.Add(1)
	s.dropQueue()
	s.synced = false
	if len(s.skipTimes) > b.h.cfg.SlowSkips {
		b.h.slowDrops.Add(1)
		s.err = ErrTooSlow
		b.removeLocked(s)
	}
	s.wakeLocked()
}

// End ends the broadcast: every subscriber receives an end event naming
// recording (a URL; may be empty) after the media already queued for it,
// then io.EOF from Next. The room is free for a new broadcast once End
// returns. End is idempotent.
func (b *Broadcast) End(recording string) { b.EndBecause(recording, "") }

// EndBecause is End with the reason the site ended the broadcast, which
// the end event carries.
func (b *Broadcast) EndBecause(recording, reason string) {
	b.h.remove(b)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.ended = true
	b.endMsg = textMessage(kindEnd, b.h.cfg.Events.End(b.id, recording, reason))
	for s := range b.subs {
		s.mu.Lock()
		if s.err == nil {
			s.push(b.endMsg)
			s.err = io.EOF
			s.wakeLocked()
		}
		s.mu.Unlock()
	}
	b.gop = nil
	b.gopSize = 0
}

func (b *Broadcast) subscribe() (*Subscriber, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return nil, ErrNotLive
	}
	if err := b.h.addViewer(len(b.subs)); err != nil {
		return nil, err
	}
	s := &Subscriber{b: b, wake: make(chan struct{}, 1)}
	b.subs[s] = struct{}{}
	if b.gopOK {
		b.join(s)
	}
	b.viewersChangedLocked()
	return s, nil
}

// removeLocked takes s out of the broadcast. b.mu is held.
func (b *Broadcast) removeLocked(s *Subscriber) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	b.h.removeViewer()
	b.viewersChangedLocked()
}

func (b *Broadcast) viewersChangedLocked() {
	n := len(b.subs) + b.others
	m := textMessage(kindViewers, b.h.cfg.Events.Viewers(n))
	b.viewersMsg.Store(&m)
	b.viewersVer.Add(1)
	select {
	case b.viewersCh <- struct{}{}:
	default:
	}
}
