package hub

// Relaying: a broadcast whose publisher is on another node is fed into this
// node's hub by a relay, which starts it mid-stream, fills its GOP cache
// from the origin's, counts the other nodes' viewers and, when it loses
// part of the stream, makes every subscriber skip to the next join point.

// SetOffset makes the stream offset of the next byte written off, for a
// broadcast that starts mid-stream (a relay's first Write). It has an
// effect only before the first Write.
func (b *Broadcast) SetOffset(off int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.end == 0 && len(b.gop) == 0 && !b.ended {
		b.end = off
	}
}

// Offset returns the stream offset just past the last byte written.
func (b *Broadcast) Offset() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.end
}

// GOP returns the GOP cache: the stream offset of its first byte (a join
// point) and its chunks, which must not be modified. ok is false when there
// is no join point to start from (no init segment yet, no keyframe yet, or
// a group of pictures larger than MaxGOPBytes).
func (b *Broadcast) GOP() (start int64, chunks [][]byte, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.gopOK || b.init == nil || len(b.gop) == 0 {
		return 0, nil, false
	}
	chunks = make([][]byte, len(b.gop))
	for i, c := range b.gop {
		chunks[i] = c.data
	}
	return b.gop[0].off, chunks, true
}

// Gap tells the broadcast that the bytes before stream offset off that it
// has not received are lost: the GOP cache is dropped, and every
// subscriber stops receiving media and waits for the next join point after
// off, which it receives after a skip event and the init segment (or after
// hello, if it had none yet). What was queued for a subscriber before the
// gap is still delivered. A gap does not count against SlowSkips.
func (b *Broadcast) Gap(off int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.end = max(b.end, off)
	clear(b.gop)
	b.gop = b.gop[:0]
	b.gopSize = 0
	b.gopOK = false
	for s := range b.subs {
		s.synced = false
		s.mu.Lock()
		if !s.sentHello {
			s.dropQueue() // it starts over with hello, not twice
		}
		s.mu.Unlock()
	}
}

// SetOtherViewers sets how many viewers the broadcast has on other nodes,
// which Viewers, Info and the viewer-count events add to this node's.
func (b *Broadcast) SetOtherViewers(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = max(n, 0)
	if b.ended || n == b.others {
		return
	}
	b.others = n
	b.viewersChangedLocked()
}

// LocalViewers returns the subscribers on this node.
func (b *Broadcast) LocalViewers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
