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
//
// # How it works
//
// The registry of live rooms is a JetStream key-value bucket (Options.Bucket):
// one key per room, created atomically by the node whose publisher starts
// the broadcast (its origin), so that "room already live" holds across the
// cluster, and renewed by it every Heartbeat. Every node watches the bucket
// and answers Lookup and Live from its copy: they agree on every node within
// one Heartbeat. An entry not renewed for RoomTTL counts as gone.
//
// The origin publishes the stream on the subject <Prefix>.s.<room>, every
// message numbered, split when larger than the connection's max payload. A
// node subscribes to it only while it has viewers of the room (a relay):
// it bootstraps from the origin by request (init segment, GOP cache and the
// sequence number it ends at), then applies the messages after it, so its
// viewers fan out from its own memory and each byte crosses NATS once per
// node. A gap in the numbering makes that node's viewers skip to the next
// join point. Nodes report their viewers to the origin, which sums them.
//
// A resuming upload that reaches another node takes the broadcast over
// (Rooms.Takeover): the origin's publisher stops, the registry entry moves
// to the new node with a higher epoch (the fence: the old origin writes
// nothing more), the old origin's hub broadcast becomes a relay of the new
// one, and the stream's numbering goes on, so that every node's viewers
// see every byte once.
//
// # Bounds
//
//   - A node that dies frees its rooms within RoomTTL (the bucket's TTL),
//     and the other nodes end its broadcasts for their viewers within
//     RoomTTL plus one Heartbeat; exactly one node calls Node.Orphaned.
//   - A relay that hears nothing from the origin for 3 Heartbeats, or whose
//     connection drops, tells its viewers "reconnecting"; once connected
//     again it resumes at the next join point or ends within RoomTTL plus
//     one Heartbeat.
//   - An origin whose connection drops goes on for its local viewers; when
//     the connection returns it renews its entries, or creates them again if
//     they expired meanwhile and no other node took the room or declared the
//     broadcast orphaned; otherwise it is fenced (Origin.Fenced).
//   - Viewer counts lag the truth by at most one Heartbeat plus 250 ms.
//   - A relay whose last local viewer left detaches after Linger.
//
// # Limits
//
// A relay occupies a room of its node's hub, so hub.Config.MaxRooms counts
// the rooms a node relays too; MaxViewers and MaxTotalViewers bound each
// node's viewers, not the cluster's. A node that restarts under the same
// Name within RoomTTL finds its old rooms still claimed until they expire.
// Loss in NATS (a slow consumer, a reconnection) is found from the
// numbering, not from the connection's error handler, which stays the
// app's; so are its other handlers: the package listens to status changes
// with nats.Conn.StatusChanged.
package natscluster

import (
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
)

// Options tune a Cluster. A zero field takes its default.
type Options struct {
	// Name names this node in the registry and the logs; it must be
	// unique among the nodes and valid in a NATS subject token (letters,
	// digits, '-' and '_'). Optional. Defaults to a random name.
	Name string
	// Prefix begins every subject the nodes use. Optional. Defaults to
	// "amlive".
	Prefix string
	// Bucket is the JetStream key-value bucket of the room registry,
	// created if missing. Optional. Defaults to "amlive_rooms".
	Bucket string
	// Replicas is the registry bucket's replica count, for a NATS
	// cluster (3 survives the loss of one server). Optional. Defaults
	// to 1.
	Replicas int
	// Heartbeat is how often an origin renews its rooms in the registry
	// and tells the relays it is alive, and how often a relay reports its
	// viewers. Lookup and Live agree on every node within one Heartbeat,
	// viewer counts within one Heartbeat plus 250 ms; a relay that hears
	// nothing for 3 Heartbeats tells its viewers "reconnecting".
	// Optional. Defaults to 1 s.
	Heartbeat time.Duration
	// RoomTTL is how long a room stays claimed after its origin's last
	// renewal (the registry bucket's TTL). A node that dies frees its
	// rooms within RoomTTL, and the other nodes end its broadcasts for
	// their viewers within RoomTTL plus one Heartbeat. A relay whose NATS
	// connection drops tells its viewers "reconnecting" within one
	// Heartbeat; once connected again it resumes them at the next join
	// point or ends them within RoomTTL plus one Heartbeat. An origin cut
	// off from NATS for longer than RoomTTL is fenced when it comes back
	// if another node took the room or declared the broadcast orphaned.
	// All nodes must use the same value. Optional. Defaults to 5 s, or 3
	// Heartbeats if that is longer; must be at least 3 Heartbeats.
	RoomTTL time.Duration
	// RequestTimeout bounds each request to another node: a relay's
	// bootstrap from the origin, a takeover (for which the publisher has
	// as long again to answer). Optional. Defaults to 5 s.
	RequestTimeout time.Duration
	// Linger is how long a relay stays subscribed to a room after its
	// last local viewer left, so that a viewer who reloads the page
	// finds it warm; it is checked every Heartbeat, so a relay detaches
	// between Linger and Linger plus 2 Heartbeats after. Optional.
	// Defaults to 5 s.
	Linger time.Duration
	// RelayBuffer is how many messages a relay holds that it has
	// received and not yet applied; past it NATS drops messages (a slow
	// consumer) and the relay's viewers skip to the next join point.
	// Optional. Defaults to 4096.
	RelayBuffer int
}

// reportInterval is the least time between two viewer reports of a node,
// or two viewer counts an origin publishes, when the count changes.
const reportInterval = 250 * time.Millisecond

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = nuid.Next()
	}
	if o.Prefix == "" {
		o.Prefix = "amlive"
	}
	if o.Bucket == "" {
		o.Bucket = "amlive_rooms"
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.RoomTTL <= 0 {
		o.RoomTTL = max(5*time.Second, 3*o.Heartbeat)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Second
	}
	if o.RelayBuffer <= 0 {
		o.RelayBuffer = 4096
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if !nameRE.MatchString(o.Name) {
		errs = append(errs, fmt.Errorf("natscluster: Name must match %s, got %q", nameRE, o.Name))
	}
	if o.RoomTTL < 3*o.Heartbeat {
		errs = append(errs, fmt.Errorf("natscluster: RoomTTL must be at least 3 Heartbeats (%v), got %v", 3*o.Heartbeat, o.RoomTTL))
	}
	return errors.Join(errs...)
}

// Cluster shares rooms over one NATS connection. Create it with New and
// set it as liveplugin.Config.Cluster of one plugin; the connection stays
// the caller's to close, after the plugin. A Cluster is for one plugin:
// Rooms may be called once.
type Cluster struct {
	nc   *nats.Conn
	opts Options

	// drop, set by tests, makes an origin skip publishing a message.
	drop func(room string, seq uint64, k kind, off int64) bool

	// node is what Rooms returned, for Collector; nil before.
	node atomic.Pointer[rooms]
}

// New returns a Cluster over nc. It fails if nc is nil or opts are
// invalid; it talks to NATS only once the plugin registers.
func New(nc *nats.Conn, opts Options) (*Cluster, error) {
	if nc == nil {
		return nil, errors.New("natscluster: nil connection")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Cluster{nc: nc, opts: opts}, nil
}

// Name returns the node's name in the registry.
func (c *Cluster) Name() string { return c.opts.Name }

// Rooms implements the plugin's cluster contract. It is called by
// liveplugin.Register. It creates the registry bucket if missing and
// returns once this node has read it.
func (c *Cluster) Rooms(n cluster.Node) (cluster.Rooms, error) {
	r, err := newRooms(c, n)
	if err != nil {
		return nil, err
	}
	c.node.Store(r)
	return r, nil
}
