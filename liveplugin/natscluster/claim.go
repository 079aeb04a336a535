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
func (r *rooms) claimStale(ctx context.Context, room string, val []byte) (rev uint64, ok bool) {
	ent, err := r.kv.Get(ctx, room)
	if err != nil || ent.Operation() != jetstream.KeyValuePut {
		return 0, false
	}
	if time.Since(ent.Created()) <= r.opts.RoomTTL {
		return 0, false
	}
	rev, err = r.kv.Update(ctx, room, val, ent.Revision())
	if err != nil {
		return 0, false
	}
	var old, cur entry
	if json.Unmarshal(ent.Value(), &old) == nil && json.Unmarshal(val, &cur) == nil && old.ID != "" && old.ID != cur.ID {
		r.reportOrphan(room, old.ID)
	}
	return rev, true
}
