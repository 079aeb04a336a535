package hub

// SetPublisherLost records that the publisher's connection is down (lost
// true) or back (false), and tells every subscriber in sync with a
// reconnecting or resumed event; subscribers that join meanwhile get
// reconnecting after the stream's start. Calls that change nothing, and
// calls after End, have no effect.
func (b *Broadcast) SetPublisherLost(lost bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended || b.lost == lost {
		return
	}
	b.lost = lost
	m := b.h.resumedMsg
	if lost {
		m = b.h.reconnectingMsg
	}
	for s := range b.subs {
		if !s.synced {
			continue
		}
		s.mu.Lock()
		if s.err == nil {
			s.push(m)
			s.wakeLocked()
		}
		s.mu.Unlock()
	}
}
