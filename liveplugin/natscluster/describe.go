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

// Setting a broadcast's title from any node (liveplugin.Plugin.Describe),
// as Stop does: the node reads the room's registry entry and, unless it
// holds the publisher itself, sends a describeRequest on
// <Prefix>.node.<origin>.describe; the origin node hands it to its
// publisher (cluster.Node.Describe) and answers with a stopReply. The
// origin's registry entry then carries the title to every node.

// describeRequest asks a node to set the title of a broadcast it holds.
type describeRequest struct {
	Room        string `json:"room"`
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

// Describe implements cluster.Rooms.
func (r *rooms) Describe(ctx context.Context, room, title, description string) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.RequestTimeout)
	defer cancel()
	ent, err := r.kv.Get(ctx, room)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return hub.ErrNotLive
	}
	if err != nil {
		return fmt.Errorf("natscluster: describe %s: %w", room, err)
	}
	var v entry
	if err := json.Unmarshal(ent.Value(), &v); err != nil {
		return fmt.Errorf("natscluster: describe %s: %w", room, err)
	}
	if v.Node == r.opts.Name {
		return r.describeHere(room, v.ID, title, description)
	}
	data, _ := json.Marshal(describeRequest{Room: room, ID: v.ID, Title: title, Description: description})
	m, err := r.nc.RequestWithContext(ctx, r.subject("node", v.Node, "describe"), data)
	if err != nil {
		return fmt.Errorf("natscluster: describe %s on node %s: %w", room, v.Node, err)
	}
	var rep stopReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return fmt.Errorf("natscluster: describe %s: %w", room, errBadFrame)
	}
	switch {
	case rep.NotLive:
		return hub.ErrNotLive
	case rep.Err != "":
		return fmt.Errorf("natscluster: describe %s on node %s: %s", room, v.Node, rep.Err)
	}
	return nil
}

// describeHere hands the title of broadcast id of room to this node's
// publisher.
func (r *rooms) describeHere(room, id, title, description string) error {
	r.mu.Lock()
	o := r.origins[room]
	r.mu.Unlock()
	if o == nil || o.id != id || r.n.Describe == nil {
		return hub.ErrNotLive
	}
	return r.n.Describe(room, title, description)
}

// onDescribe answers a describeRequest of another node.
func (r *rooms) onDescribe(m *nats.Msg) {
	var req describeRequest
	if m.Reply == "" || json.Unmarshal(m.Data, &req) != nil {
		return
	}
	var rep stopReply
	if err := r.describeHere(req.Room, req.ID, req.Title, req.Description); errors.Is(err, hub.ErrNotLive) {
		rep.NotLive = true
	} else if err != nil {
		rep.Err = err.Error()
	}
	data, _ := json.Marshal(rep)
	_ = m.Respond(data)
}
