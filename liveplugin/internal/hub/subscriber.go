package hub

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

type msgKind uint8

const (
	kindMedia msgKind = iota
	kindInit
	kindHello
	kindSkip
	kindViewers
	kindState
	kindEnd
)

// Message is one WebSocket message for a subscriber: binary media (or the
// init segment) or a text event in JSON. Data is shared with other
// subscribers and must not be modified.
type Message struct {
	Text bool
	Data []byte
	kind msgKind
}

// Subscriber receives one broadcast. Next is for one goroutine at a time;
// Close and Skips are safe for concurrent use.
type Subscriber struct {
	b    *Broadcast
	wake chan struct{} // out: a token when the queue or state changed

	skips atomic.Int64

	// synced is guarded by b.mu: the subscriber receives every new chunk.
	synced bool

	mu          sync.Mutex
	q           []Message // queue: q[head:] are pending
	head        int
	qBytes      int64 // media bytes pending
	allowBytes  int64 // queue bound in bytes, raised by the burst of a join
	allowMsgs   int
	sentHello   bool
	seenViewers uint64
	viewersAt   time.Time // when the last viewer-count event was returned
	err         error     // set once: io.EOF after the end event, ErrTooSlow, ...
	skipTimes   []time.Time
}

// Broadcast returns the broadcast the subscriber receives.
func (s *Subscriber) Broadcast() *Broadcast { return s.b }

// Skips returns how often the subscriber fell behind and skipped ahead.
func (s *Subscriber) Skips() int64 { return s.skips.Load() }

// Next returns the next message, waiting for one until ctx is done. After
// the end event it returns io.EOF; a subscriber that was too slow gets
// ErrTooSlow. Viewer-count events are coalesced: a subscriber sees the
// latest count when it reads its next message, right after hello and then
// at most once per Config.ViewersInterval.
func (s *Subscriber) Next(ctx context.Context) (Message, error) {
	for {
		s.mu.Lock()
		if s.head < len(s.q) {
			if m, ok := s.viewers(); ok {
				s.mu.Unlock()
				return m, nil
			}
			m := s.pop()
			s.mu.Unlock()
			return m, nil
		}
		if err := s.err; err != nil {
			s.mu.Unlock()
			return Message{}, err
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// viewers returns the viewer-count event, if the count changed since the
// subscriber last saw it and one is due. s.mu is held.
func (s *Subscriber) viewers() (Message, bool) {
	v := s.b.viewersVer.Load()
	if !s.sentHello || v == s.seenViewers {
		return Message{}, false
	}
	cfg := &s.b.h.cfg
	now := cfg.Now()
	if !s.viewersAt.IsZero() && now.Sub(s.viewersAt) < cfg.ViewersInterval {
		return Message{}, false
	}
	s.seenViewers, s.viewersAt = v, now
	return *s.b.viewersMsg.Load(), true
}

// Close removes the subscriber from its broadcast. It is idempotent.
func (s *Subscriber) Close() {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(s)
	s.mu.Lock()
	if s.err == nil {
		s.err = ErrClosed
	}
	s.dropQueue()
	s.mu.Unlock()
}

// push appends m to the queue, regardless of bounds. s.mu is held.
func (s *Subscriber) push(m Message) {
	if s.head > 0 && s.head == len(s.q) {
		clear(s.q)
		s.q = s.q[:0]
		s.head = 0
	}
	s.q = append(s.q, m)
	if !m.Text {
		s.qBytes += int64(len(m.Data))
		s.b.h.queued.Add(int64(len(m.Data)))
	}
}

// pop removes the first pending message. s.mu is held.
func (s *Subscriber) pop() Message {
	m := s.q[s.head]
	s.q[s.head] = Message{}
	s.head++
	switch {
	case !m.Text:
		s.qBytes -= int64(len(m.Data))
		s.b.h.queued.Add(-int64(len(m.Data)))
	case m.kind == kindHello:
		s.sentHello = true
		s.seenViewers = s.b.viewersVer.Load() - 1 // show the count right after hello
	}
	if s.head == len(s.q) {
		s.q = s.q[:0]
		s.head = 0
		s.allowBytes, s.allowMsgs = 0, 0
	} else if s.head > 64 && s.head*2 > len(s.q) {
		n := copy(s.q, s.q[s.head:])
		clear(s.q[n:])
		s.q = s.q[:n]
		s.head = 0
	}
	return m
}

// full reports whether a media message of n bytes would overflow the
// queue. s.mu is held.
func (s *Subscriber) full(n int) bool {
	cfg := &s.b.h.cfg
	return len(s.q)-s.head >= cfg.QueueMessages+s.allowMsgs ||
		s.qBytes+int64(n) > cfg.QueueBytes+s.allowBytes
}

// dropQueue discards everything pending. A subscriber whose hello was
// never written starts over with hello when it rejoins. s.mu is held.
func (s *Subscriber) dropQueue() {
	clear(s.q)
	s.q, s.head = s.q[:0], 0
	s.b.h.queued.Add(-s.qBytes)
	s.qBytes = 0
	s.allowBytes, s.allowMsgs = 0, 0
}

// wakeLocked lets a waiting Next run. s.mu is held.
func (s *Subscriber) wakeLocked() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
