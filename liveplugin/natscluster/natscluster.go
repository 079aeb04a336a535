// Package natscluster shares the plugin's live rooms between app servers
// over NATS, so that every replica behind a load balancer serves every
// room: a viewer may land on any node, whichever node holds the
// publisher.
//
// Use it by setting liveplugin.Config.Cluster on every node:
//
//	nc, err := nats.Connect(url)
//	...
//	c, err := natscluster.New(nc, natscluster.Options{})
//	...
//	p, err := liveplugin.Register(g, liveplugin.Config{Cluster: c, ...})
//
// Apps that do not cluster need not import this package, nor NATS.
package natscluster

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
)

// Options tune a Cluster. A zero field takes its default.
type Options struct {
	// Name names this node in the registry and the logs; it must be
	// unique among the nodes. Optional. Defaults to a random name.
	Name string
	// Prefix begins every subject the nodes use. Optional. Defaults to
	// "amlive".
	Prefix string
	// Bucket is the JetStream key-value bucket of the room registry,
	// created if missing. Optional. Defaults to "amlive_rooms".
	Bucket string
	// Replicas is the registry bucket's replica count, for a NATS
	// cluster. Optional. Defaults to 1.
	Replicas int
	// Heartbeat is how often an origin renews its rooms in the registry
	// and tells the other nodes it is alive. Optional. Defaults to 1 s.
	Heartbeat time.Duration
	// RoomTTL is how long a room stays claimed after its origin's last
	// renewal: a node that dies frees its rooms within RoomTTL, and the
	// other nodes end its broadcasts for their viewers within RoomTTL.
	// Optional. Defaults to 5 s; at least 3 Heartbeats.
	RoomTTL time.Duration
	// RequestTimeout bounds each request to another node: a relay's
	// bootstrap from the origin, a takeover. Optional. Defaults to 5 s.
	RequestTimeout time.Duration
}

// Cluster shares rooms over one NATS connection. Create it with New and
// set it as liveplugin.Config.Cluster of one plugin; the connection stays
// the caller's to close, after the plugin.
type Cluster struct {
	nc   *nats.Conn
	opts Options
}

// New returns a Cluster over nc. It fails if nc is nil or opts are
// invalid; it talks to NATS only once the plugin registers.
func New(nc *nats.Conn, opts Options) (*Cluster, error) {
	if nc == nil {
		return nil, errors.New("natscluster: nil connection")
	}
	return &Cluster{nc: nc, opts: opts}, nil
}

// Rooms implements the plugin's cluster contract. It is called by
// liveplugin.Register.
func (c *Cluster) Rooms(n cluster.Node) (cluster.Rooms, error) {
	return nil, errors.New("natscluster: not implemented yet")
}
