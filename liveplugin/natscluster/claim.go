package natscluster

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// claimStale takes room's registry entry over when its origin stopped
// renewing it more than RoomTTL ago (its node died or was cut off) but the
// server has not expired it yet: the room is free within RoomTTL of its
// origin's last renewal, as Options.RoomTTL promises, whatever the
// server's expiry timer. It returns the new revision, or ok false when the
// entry is alive (or changed meanwhile).
//
// The broadcast it displaces is orphaned: a claim may come before any
// node's sweep saw the entry go stale, and then no sweep ever will, so
// the claimer reports it (once, through its orphan key).
//
// This node may see the room free a little before the entry is RoomTTL
// old on the server: its relay of the broadcast ends when the stream
// falls silent, which can be just before the origin's last renewal.
// Then the claim waits out the rest of RoomTTL, when that is at most two
// Heartbeats, rather than refuse a room the node's own pages call free.
func (r *rooms) claimStale(ctx context.Context, room string, val []byte) (uint64, bool) {
	var ent jetstream.KeyValueEntry
	for waited := false; ; waited = true {
		var err error
		if ent, err = r.kv.Get(ctx, room); err != nil || ent.Operation() != jetstream.KeyValuePut {
			return 0, false
		}
		left := r.opts.RoomTTL - time.Since(ent.Created())
		if left < 0 {
			break
		}
		// Read again after the wait: the origin may have renewed meanwhile.
		if waited || left > 2*r.opts.Heartbeat || !r.looksFree(room) || !sleepCtx(ctx, left+time.Millisecond) {
			return 0, false
		}
	}
	rev, err := r.kv.Update(ctx, room, val, ent.Revision())
	if err != nil {
		return 0, false
	}
	var old, cur entry
	if json.Unmarshal(ent.Value(), &old) == nil && json.Unmarshal(val, &cur) == nil && old.ID != "" && old.ID != cur.ID {
		r.reportOrphan(room, old.ID)
	}
	return rev, true
}

// looksFree reports whether this node sees room as not live: no entry
// for it, or one not renewed for RoomTTL (see stale).
func (r *rooms) looksFree(room string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.reg[room]
	return c == nil || r.stale(c, time.Now())
}

// sleepCtx waits d, and reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
