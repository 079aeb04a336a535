package natscluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// Ending a broadcast from any node (liveplugin.Plugin.End): the node
// reads the room's registry entry and, unless it holds the publisher
// itself, sends a stopRequest on <Prefix>.node.<origin>.stop; the origin
// node tells its publisher (cluster.Node.Stop) and answers with a
// stopReply. The publisher then ends the broadcast as usual: every
// node's viewers receive the end event with the reason.

// stopRequest asks a node to end a broadcast it holds.
type stopRequest struct {
	Room   string `json:"room"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// stopReply answers a stopRequest.
type stopReply struct {
	NotLive bool   `json:"notLive,omitempty"`
	Err     string `json:"err,omitempty"`
}

// Stop implements cluster.Rooms.
func (r *rooms) Stop(ctx context.Context, room, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.RequestTimeout)
	defer cancel()
	ent, err := r.kv.Get(ctx, room)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return hub.ErrNotLive
	}
	if err != nil {
		return fmt.Errorf("natscluster: stop %s: %w", room, err)
	}
	var v entry
	if err := json.Unmarshal(ent.Value(), &v); err != nil {
		return fmt.Errorf("natscluster: stop %s: %w", room, err)
	}
	if v.Node == r.opts.Name {
		return r.stopHere(room, v.ID, reason)
	}
	data, _ := json.Marshal(stopRequest{Room: room, ID: v.ID, Reason: reason})
	m, err := r.nc.RequestWithContext(ctx, r.subject("node", v.Node, "stop"), data)
	if err != nil {
		return fmt.Errorf("natscluster: stop %s on node %s: %w", room, v.Node, err)
	}
	var rep stopReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return fmt.Errorf("natscluster: stop %s: %w", room, errBadFrame)
	}
	switch {
	case rep.NotLive:
		return hub.ErrNotLive
	case rep.Err != "":
		return fmt.Errorf("natscluster: stop %s on node %s: %s", room, v.Node, rep.Err)
	}
	return nil
}

// stopHere tells this node's publisher of broadcast id of room to end it.
func (r *rooms) stopHere(room, id, reason string) error {
	r.mu.Lock()
	o := r.origins[room]
	r.mu.Unlock()
	if o == nil || o.id != id || r.n.Stop == nil {
		return hub.ErrNotLive
	}
	return r.n.Stop(room, reason)
}

// onStop answers a stopRequest of another node.
func (r *rooms) onStop(m *nats.Msg) {
	var req stopRequest
	if m.Reply == "" || json.Unmarshal(m.Data, &req) != nil {
		return
	}
	var rep stopReply
	if err := r.stopHere(req.Room, req.ID, req.Reason); errors.Is(err, hub.ErrNotLive) {
		rep.NotLive = true
	} else if err != nil {
		rep.Err = err.Error()
	}
	data, _ := json.Marshal(rep)
	_ = m.Respond(data)
}
