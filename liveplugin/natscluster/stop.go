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
	return r.atOrigin(ctx, "stop", room,
		func(id string) error { return r.stopHere(room, id, reason) },
		func(id string) any { return stopRequest{Room: room, ID: id, Reason: reason} })
}

// atOrigin runs the command verb ("stop", "describe") on the node that
// holds room's publisher, found in the registry: here when this node
// holds it, else as a request on <Prefix>.node.<origin>.<verb>, which
// that node answers with a stopReply. It returns hub.ErrNotLive when no
// node holds a broadcast of the room.
func (r *rooms) atOrigin(ctx context.Context, verb, room string, here func(id string) error, request func(id string) any) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.RequestTimeout)
	defer cancel()
	ent, err := r.kv.Get(ctx, room)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return hub.ErrNotLive
	}
	if err != nil {
		return fmt.Errorf("natscluster: %s %s: %w", verb, room, err)
	}
	var v entry
	if err := json.Unmarshal(ent.Value(), &v); err != nil {
		return fmt.Errorf("natscluster: %s %s: %w", verb, room, err)
	}
	if v.Node == r.opts.Name {
		return here(v.ID)
	}
	data, _ := json.Marshal(request(v.ID))
	m, err := r.nc.RequestWithContext(ctx, r.subject("node", v.Node, verb), data)
	if err != nil {
		return fmt.Errorf("natscluster: %s %s on node %s: %w", verb, room, v.Node, err)
	}
	var rep stopReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return fmt.Errorf("natscluster: %s %s: %w", verb, room, errBadFrame)
	}
	switch {
	case rep.NotLive:
		return hub.ErrNotLive
	case rep.Err != "":
		return fmt.Errorf("natscluster: %s %s on node %s: %s", verb, room, v.Node, rep.Err)
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
