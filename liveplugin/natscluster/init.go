package natscluster

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// GOP implements cluster.Origin.
func (o *origin) GOP() (start int64, chunks [][]byte, ok bool) { return o.b.GOP() }

// Init implements cluster.Rooms: from the node's hub when the room's
// broadcast is here (its origin or a relay), else from its origin.
func (r *rooms) Init(ctx context.Context, room string) (string, []byte, error) {
	if b, ok := r.n.Hub.LookupLive(room); ok {
		mime, init, _ := b.Init()
		return mime, init, nil
	}
	if _, ok := r.Lookup(room); !ok {
		return "", nil, hub.ErrNotLive
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.RequestTimeout)
	defer cancel()
	head, rest, err := r.request(ctx, r.subject("boot", room), []byte(bootInitOnly))
	if err != nil {
		return "", nil, fmt.Errorf("natscluster: init of %s: %w", room, err)
	}
	var m bootMeta
	if err := json.Unmarshal(head, &m); err != nil || m.Err != "" || m.MIME == "" || m.InitLen > len(rest) {
		return "", nil, hub.ErrNotLive
	}
	return m.MIME, rest[:m.InitLen], nil
}
