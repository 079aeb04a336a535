package natscluster

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go"

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
	return r.atOrigin(ctx, "describe", room,
		func(id string) error { return r.describeHere(room, id, title, description) },
		func(id string) any {
			return describeRequest{Room: room, ID: id, Title: title, Description: description}
		})
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
