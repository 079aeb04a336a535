package natscluster

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// entry is a room's value in the registry.
type entry struct {
	ID      string    `json:"id"`
	Node    string    `json:"node"`
	Epoch   uint64    `json:"epoch"`
	MIME    string    `json:"mime,omitempty"`
	Started time.Time `json:"started"`
	Viewers int       `json:"viewers"`
	Bytes   int64     `json:"bytes"`
	Lost    bool      `json:"lost,omitempty"`
	Token   string    `json:"token"` // hex SHA-256 of the resume token
	// Title and Description are the broadcast's (Origin.SetDescription).
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Latency is the broadcast's latency mode (Origin.SetLatency).
	Latency string `json:"latency,omitempty"`
}

// cached is an entry as this node last saw it.
type cached struct {
	entry
	rev  uint64
	seen time.Time // when this node received the revision
}

// orphanPrefix begins the registry keys that elect the node calling
// Node.Orphaned; room ids hold no dot, so they never clash with a room.
const orphanPrefix = "orphan."

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// rooms is the cluster.Rooms of one node.
type rooms struct {
	c    *Cluster
	nc   *nats.Conn
	kv   jetstream.KeyValue
	opts Options
	n    cluster.Node
	log  *slog.Logger

	gaps      atomic.Int64 // messages of a stream a relay found missing
	connected atomic.Bool
	upSince   atomic.Int64 // unix nanos of the last (re)connection

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the node's goroutine and handover handlers

	status chan nats.Status
	hsub   *nats.Subscription // handover requests to this node
	ssub   *nats.Subscription // stop requests to this node
	dsub   *nats.Subscription // describe requests to this node

	mu      sync.Mutex
	reg     map[string]*cached
	origins map[string]*origin
	relays  map[string]*relay
	closed  bool

	closeOnce sync.Once
}

func newRooms(c *Cluster, n cluster.Node) (*rooms, error) {
	if n.Hub == nil {
		return nil, errors.New("natscluster: Node.Hub is nil")
	}
	if n.Log == nil {
		n.Log = slog.Default()
	}
	if n.RecordingURL == nil {
		n.RecordingURL = func(string, string) string { return "" }
	}
	o := c.opts
	r := &rooms{
		c:       c,
		nc:      c.nc,
		opts:    o,
		n:       n,
		log:     n.Log.With("node", o.Name),
		reg:     make(map[string]*cached),
		origins: make(map[string]*origin),
		relays:  make(map[string]*relay),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(r.ctx, o.RequestTimeout)
	defer cancel()
	js, err := jetstream.New(c.nc)
	if err != nil {
		r.cancel()
		return nil, fmt.Errorf("natscluster: jetstream: %w", err)
	}
	r.kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   o.Bucket,
		History:  1,
		TTL:      o.RoomTTL,
		Replicas: o.Replicas,
	})
	if err != nil {
		r.cancel()
		return nil, fmt.Errorf("natscluster: bucket %s: %w", o.Bucket, err)
	}
	r.connected.Store(c.nc.IsConnected())
	r.upSince.Store(time.Now().UnixNano())
	r.status = c.nc.StatusChanged()
	w, err := r.watch(ctx)
	if err != nil {
		c.nc.RemoveStatusListener(r.status)
		r.cancel()
		return nil, err
	}
	r.hsub, err = c.nc.Subscribe(r.subject("node", o.Name, "handover"), r.onHandover)
	if err != nil {
		_ = w.Stop()
		c.nc.RemoveStatusListener(r.status)
		r.cancel()
		return nil, fmt.Errorf("natscluster: subscribe: %w", err)
	}
	r.ssub, err = c.nc.Subscribe(r.subject("node", o.Name, "stop"), r.onStop)
	if err != nil {
		_ = r.hsub.Unsubscribe()
		_ = w.Stop()
		c.nc.RemoveStatusListener(r.status)
		r.cancel()
		return nil, fmt.Errorf("natscluster: subscribe: %w", err)
	}
	r.dsub, err = c.nc.Subscribe(r.subject("node", o.Name, "describe"), r.onDescribe)
	if err != nil {
		_ = r.ssub.Unsubscribe()
		_ = r.hsub.Unsubscribe()
		_ = w.Stop()
		c.nc.RemoveStatusListener(r.status)
		r.cancel()
		return nil, fmt.Errorf("natscluster: subscribe: %w", err)
	}
	r.wg.Go(func() { r.loop(w) })
	return r, nil
}

// subject joins the prefix and tokens.
func (r *rooms) subject(tokens ...string) string {
	return r.opts.Prefix + "." + strings.Join(tokens, ".")
}

// watch starts a watcher of the bucket and loads the cache from its
// initial values.
func (r *rooms) watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := r.kv.WatchAll(r.ctx)
	if err != nil {
		return nil, fmt.Errorf("natscluster: watch %s: %w", r.opts.Bucket, err)
	}
	seen := make(map[string]bool)
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("natscluster: watcher stopped")
			}
			if e == nil {
				r.mu.Lock()
				for room := range r.reg {
					if !seen[room] {
						delete(r.reg, room)
						if rl := r.relays[room]; rl != nil {
							rl.registryGone()
						}
					}
				}
				r.mu.Unlock()
				return w, nil
			}
			seen[e.Key()] = true
			r.apply(e)
		case <-ctx.Done():
			_ = w.Stop()
			return nil, fmt.Errorf("natscluster: watch %s: %w", r.opts.Bucket, ctx.Err())
		}
	}
}

// apply takes one update of the bucket into the cache.
func (r *rooms) apply(e jetstream.KeyValueEntry) {
	room := e.Key()
	if strings.HasPrefix(room, orphanPrefix) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.reg[room]
	if e.Operation() != jetstream.KeyValuePut {
		delete(r.reg, room)
		if rl := r.relays[room]; rl != nil {
			rl.registryGone()
		}
		return
	}
	var v entry
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		r.log.Warn("registry entry unreadable", "room", room, "err", err)
		return
	}
	if old != nil && old.rev == e.Revision() {
		return // the same revision again, after a new watch: not renewed
	}
	r.reg[room] = &cached{entry: v, rev: e.Revision(), seen: time.Now()}
	if rl := r.relays[room]; rl != nil && rl.id != v.ID {
		rl.endLocked(r.n.RecordingURL(room, rl.id))
	} else if rl != nil {
		rl.gone.Store(0) // the origin created its entry again
	}
}

// stale reports whether a cached entry was not renewed for RoomTTL while
// this node was connected. r.mu is held.
func (r *rooms) stale(c *cached, now time.Time) bool {
	if !r.connected.Load() {
		return false
	}
	from := c.seen
	if up := time.Unix(0, r.upSince.Load()); up.After(from) {
		from = up
	}
	return now.Sub(from) > r.opts.RoomTTL
}

// loop is the node's goroutine: it follows the registry and the
// connection, and sweeps entries not renewed. It exits when Close cancels
// r.ctx.
func (r *rooms) loop(w jetstream.KeyWatcher) {
	defer func() { _ = w.Stop() }()
	t := time.NewTicker(r.opts.Heartbeat)
	defer t.Stop()
	updates := w.Updates()
	rewatch := false
	for {
		select {
		case <-r.ctx.Done():
			return
		case e, ok := <-updates:
			switch {
			case !ok:
				updates, rewatch = nil, true
			case e != nil:
				r.apply(e)
			}
		case s := <-r.status:
			switch s {
			case nats.CONNECTED:
				if !r.connected.Swap(true) {
					r.upSince.Store(time.Now().UnixNano())
					r.log.Info("nats reconnected")
					rewatch = true
					r.kickOrigins()
				}
			case nats.CLOSED:
				r.connected.Store(false)
			default:
				if r.connected.Swap(false) {
					r.log.Warn("nats disconnected")
				}
			}
		case <-t.C:
			if !r.connected.Load() && r.nc.IsConnected() {
				r.connected.Store(true)
				r.upSince.Store(time.Now().UnixNano())
				rewatch = true
				r.kickOrigins()
			}
			r.sweep()
		}
		if rewatch && r.connected.Load() {
			_ = w.Stop()
			ctx, cancel := context.WithTimeout(r.ctx, r.opts.RequestTimeout)
			nw, err := r.watch(ctx)
			cancel()
			if err != nil {
				r.log.Warn("registry watch failed", "err", err)
				updates = nil
				continue
			}
			w, updates, rewatch = nw, nw.Updates(), false
		}
	}
}

func (r *rooms) kickOrigins() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.origins {
		o.kickRenew()
	}
}

// sweep forgets the entries not renewed for RoomTTL, ends their relays
// and elects the node that reports each as orphaned.
func (r *rooms) sweep() {
	now := time.Now()
	type gone struct{ room, id string }
	var orphans []gone
	r.mu.Lock()
	for room, c := range r.reg {
		if _, mine := r.origins[room]; mine || !r.stale(c, now) {
			continue
		}
		if rl := r.relays[room]; rl != nil && rl.id == c.ID && rl.hears(now) {
			// The origin is alive: the registry, not the broadcast,
			// is failing (JetStream unavailable, say).
			continue
		}
		delete(r.reg, room)
		if rl := r.relays[room]; rl != nil && rl.id == c.ID {
			rl.endLocked(r.n.RecordingURL(room, c.ID))
		}
		orphans = append(orphans, gone{room, c.ID})
	}
	r.mu.Unlock()
	for _, g := range orphans {
		r.reportOrphan(g.room, g.id)
	}
}

// reportOrphan calls Node.Orphaned for broadcast id of room, off the
// caller's goroutine (Orphaned may seal a recording), if this node is
// the first to claim it.
func (r *rooms) reportOrphan(room, id string) {
	r.log.Warn("broadcast orphaned", "room", room, "broadcast", id)
	r.wg.Go(func() {
		if r.claimOrphan(room, id) && r.n.Orphaned != nil {
			r.n.Orphaned(room, id)
		}
	})
}

// claimOrphan reports whether this node is the one to report broadcast
// id of room as orphaned: the first to create its orphan key.
func (r *rooms) claimOrphan(room, id string) bool {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.RequestTimeout)
	defer cancel()
	_, err := r.kv.Create(ctx, orphanPrefix+room+"."+id, []byte(r.opts.Name))
	return err == nil
}

// Start implements cluster.Rooms.
func (r *rooms) Start(ctx context.Context, room, id, token string, started time.Time) (cluster.Origin, error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, hub.ErrClosed
	}
	e := entry{ID: id, Node: r.opts.Name, Epoch: 1, Started: started, Token: tokenHash(token)}
	val, _ := json.Marshal(e)
	ctx, cancel := context.WithTimeout(ctx, r.opts.RequestTimeout)
	defer cancel()
	rev, err := r.kv.Create(ctx, room, val)
	if errors.Is(err, jetstream.ErrKeyExists) {
		var ok bool
		if rev, ok = r.claimStale(ctx, room, val); !ok {
			return nil, hub.ErrRoomLive
		}
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("natscluster: claim room %s: %w", room, err)
	}
	r.mu.Lock()
	if rl := r.relays[room]; rl != nil {
		rl.endLocked(r.n.RecordingURL(room, rl.id)) // a broadcast that ended
	}
	b, err := r.n.Hub.Start(room, id, started)
	if err != nil {
		r.mu.Unlock()
		_ = r.kv.Delete(ctx, room, jetstream.LastRevision(rev))
		return nil, err
	}
	o := newOrigin(r, b, e, rev, 0)
	r.origins[room] = o
	r.mu.Unlock()
	if err := o.start(nil); err != nil {
		o.End("")
		return nil, err
	}
	return o, nil
}

// Subscribe implements cluster.Rooms.
func (r *rooms) Subscribe(ctx context.Context, room string) (*hub.Subscriber, error) {
	r.mu.Lock()
	if _, ok := r.origins[room]; ok {
		r.mu.Unlock()
		return r.n.Hub.Subscribe(room)
	}
	rl := r.relays[room]
	if rl == nil {
		c := r.reg[room]
		if c == nil || r.stale(c, time.Now()) || c.Node == r.opts.Name {
			r.mu.Unlock()
			return nil, hub.ErrNotLive
		}
		b, err := r.n.Hub.Start(room, c.ID, c.Started)
		if err != nil {
			r.mu.Unlock()
			if errors.Is(err, hub.ErrRoomLive) || errors.Is(err, hub.ErrClosed) {
				return nil, hub.ErrNotLive
			}
			return nil, err
		}
		rl = newRelay(r, b, 0)
		if err := rl.subscribe(); err != nil {
			b.End("")
			r.mu.Unlock()
			return nil, err
		}
		r.relays[room] = rl
		r.wg.Go(rl.run)
	}
	rl.waiting++
	r.mu.Unlock()
	select {
	case <-rl.ready:
	case <-rl.done:
	case <-ctx.Done():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rl.waiting--
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if r.relays[room] != rl {
		return nil, hub.ErrNotLive
	}
	s, err := r.n.Hub.Subscribe(room)
	if err != nil {
		return nil, err
	}
	if s.Broadcast() != rl.b {
		s.Close()
		return nil, hub.ErrNotLive
	}
	return s, nil
}

// Lookup implements cluster.Rooms.
func (r *rooms) Lookup(room string) (hub.Info, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.reg[room]
	if c == nil || c.MIME == "" || r.stale(c, time.Now()) {
		return hub.Info{}, false
	}
	return info(room, c), true
}

func info(room string, c *cached) hub.Info {
	return hub.Info{
		Room:          room,
		ID:            c.ID,
		MIMEType:      c.MIME,
		Started:       c.Started,
		Viewers:       c.Viewers,
		Bytes:         c.Bytes,
		PublisherLost: c.Lost,
		Title:         c.Title,
		Description:   c.Description,
		Latency:       c.Latency,
	}
}

// Live implements cluster.Rooms.
func (r *rooms) Live() []hub.Info {
	now := time.Now()
	r.mu.Lock()
	infos := make([]hub.Info, 0, len(r.reg))
	for room, c := range r.reg {
		if c.MIME != "" && !r.stale(c, now) {
			infos = append(infos, info(room, c))
		}
	}
	r.mu.Unlock()
	slices.SortFunc(infos, func(a, b hub.Info) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return cmp.Compare(a.Room, b.Room)
	})
	return infos
}

// Stats implements cluster.Rooms.
func (r *rooms) Stats() hub.Stats { return r.n.Hub.Stats() }

// Viewers implements cluster.Rooms.
func (r *rooms) Viewers() int { return r.n.Hub.Viewers() }

// Close implements cluster.Rooms: Start fails from now on, the relays
// end (their viewers get the end event), and the node stops following the
// registry. The broadcasts this node originates go on, renewing their
// entries, until their publishers End them.
func (r *rooms) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		for room, rl := range r.relays {
			rl.endLocked(r.n.RecordingURL(room, rl.id))
		}
		r.mu.Unlock()
		r.n.Hub.Close()
		_ = r.hsub.Unsubscribe()
		_ = r.ssub.Unsubscribe()
		_ = r.dsub.Unsubscribe()
		r.cancel()
		r.wg.Wait()
		r.nc.RemoveStatusListener(r.status)
	})
	return nil
}
