package natscluster

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// three starts a NATS server and three nodes on it.
func three(t *testing.T) (a, b, c *node) {
	t.Helper()
	ns := startServer(t, nil)
	url := ns.ClientURL()
	return newNode(t, url, testOpts("a")), newNode(t, url, testOpts("b")), newNode(t, url, testOpts("c"))
}

// agree checks that every node lists the same live rooms, with want
// viewers each.
func agree(nodes []*node, room string, want int) error {
	var first []hub.Info
	for i, n := range nodes {
		live := n.r.Live()
		in, ok := n.r.Lookup(room)
		if !ok || in.Viewers != want {
			return fmt.Errorf("%s: Lookup(%s) = %+v, %v; want %d viewers", n.name, room, in, ok, want)
		}
		if len(live) != 1 || live[0] != in {
			return fmt.Errorf("%s: Live() = %+v; want [%+v]", n.name, live, in)
		}
		if i == 0 {
			first = live
		} else if !slices.Equal(live, first) {
			return fmt.Errorf("%s: Live() = %+v; %s says %+v", n.name, live, nodes[0].name, first)
		}
	}
	return nil
}

func TestRelaysDeliverEveryByteFromAJoinPoint(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	a, b, c := three(t)
	nodes := []*node{a, b, c}
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.r.Start(ctx, "alice", "b2", "tok2", time.Now()); !errors.Is(err, hub.ErrRoomLive) {
		t.Errorf("second Start on c = %v; want hub.ErrRoomLive", err)
	}
	local := subscribe(t, ctx, a, "alice")
	var remote []*viewer
	phase := func() {
		remote = append(remote, subscribe(t, ctx, b, "alice"), subscribe(t, ctx, c, "alice"))
	}
	phase() // early: before the header
	n := len(st.fx.Chunks)
	st.write(o, 0, n/2)
	phase() // in the middle
	eventually(t, ctx, "counts agree", func() error {
		if got := o.Viewers(); got != 5 {
			return fmt.Errorf("origin Viewers() = %d; want 5", got)
		}
		return agree(nodes, "alice", 5)
	})
	if _, err := c.r.Start(ctx, "alice", "b2", "tok2", time.Now()); !errors.Is(err, hub.ErrRoomLive) {
		t.Errorf("second Start on c while relaying = %v; want hub.ErrRoomLive", err)
	}
	st.write(o, n/2, n)
	phase() // late: after the last chunk
	eventually(t, ctx, "counts agree", func() error {
		if got := o.Viewers(); got != 7 {
			return fmt.Errorf("origin Viewers() = %d; want 7", got)
		}
		return agree(nodes, "alice", 7)
	})
	o.End("/rec/alice/b1")
	for i, v := range append([]*viewer{local}, remote...) {
		v.wait(t, ctx)
		events, media, ended, err := v.snapshot()
		if err != nil {
			t.Errorf("viewer %d: %v", i, err)
		}
		want := []string{"hello", "init", "media", "end"}
		if !slices.Equal(events, want) {
			t.Errorf("viewer %d events = %v; want %v", i, events, want)
			continue
		}
		if !slices.Equal(v.inits[0], st.init) {
			t.Errorf("viewer %d: init segment differs", i)
		}
		if _, err := st.checkSegment(media[0], true); err != nil {
			t.Errorf("viewer %d: %v", i, err)
		}
		if got := ended["recording"]; got != "/rec/alice/b1" {
			t.Errorf("viewer %d: end names %v; want /rec/alice/b1", i, got)
		}
	}
	eventually(t, ctx, "room freed everywhere", func() error {
		for _, n := range nodes {
			if live := n.r.Live(); len(live) != 0 {
				return fmt.Errorf("%s: Live() = %+v", n.name, live)
			}
		}
		return nil
	})
	o2, err := c.r.Start(ctx, "alice", "b2", "tok2", time.Now())
	if err != nil {
		t.Fatalf("Start on c after the end = %v", err)
	}
	o2.End("")
	for _, n := range nodes {
		if len(n.orphans()) != 0 {
			t.Errorf("%s: orphaned %v; want none", n.name, n.orphans())
		}
	}
}

var _ cluster.Provider = (*Cluster)(nil)
