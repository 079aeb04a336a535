package natscluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/hub"
)

func TestRelayDetachesAfterItsLastViewer(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	a, b, _ := three(t)
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer o.End("")
	st.write(o, 0, len(st.fx.Chunks)/2)
	v := subscribe(t, ctx, b, "alice")
	playing(t, ctx, v)
	eventually(t, ctx, "b's viewer counted", func() error {
		if n := o.Viewers(); n != 1 {
			return fmt.Errorf("origin Viewers() = %d; want 1", n)
		}
		return nil
	})
	v.close()
	eventually(t, ctx, "relay detached", func() error {
		if _, ok := b.hub.Lookup("alice"); ok {
			return errors.New("b's hub still holds the relay")
		}
		if n := o.Viewers(); n != 0 {
			return fmt.Errorf("origin Viewers() = %d; want 0", n)
		}
		return nil
	})
	// A new viewer attaches again.
	v2 := subscribe(t, ctx, b, "alice")
	st.write(o, len(st.fx.Chunks)/2, len(st.fx.Chunks))
	o.End("")
	v2.wait(t, ctx)
	events, media, _, _ := v2.snapshot()
	if !slices.Equal(events, []string{"hello", "init", "media", "end"}) {
		t.Fatalf("second viewer events = %v", events)
	}
	if _, err := st.checkSegment(media[0], true); err != nil {
		t.Error(err)
	}
}

func TestOriginFencedWhenTheRegistryGivesTheRoomAway(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	ns := startServer(t, nil)
	a := newNode(t, ns.ClientURL(), testOpts("a"))
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v := subscribe(t, ctx, a, "alice")
	st.write(o, 0, len(st.fx.Chunks)/2)
	// Another node claims the room, as if a's entry had expired.
	js, err := jetstream.New(connect(t, ns.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, "amlive_rooms")
	if err != nil {
		t.Fatal(err)
	}
	val, _ := json.Marshal(entry{ID: "b9", Node: "z", Epoch: 1, Started: time.Now()})
	if _, err := kv.Put(ctx, "alice", val); err != nil {
		t.Fatal(err)
	}
	select {
	case <-o.Fenced():
	case <-ctx.Done():
		t.Fatal("origin not fenced")
	}
	o.Write([]byte("after the fence"), nil)
	o.End("/never")
	v.wait(t, ctx)
	events, media, ended, _ := v.snapshot()
	if events[len(events)-1] != "end" || ended["recording"] != "/rec/alice/b1" {
		t.Errorf("local viewer events %v, end %v; want an end naming /rec/alice/b1", events, ended)
	}
	if _, err := st.checkSegment(media[0], false); err != nil {
		t.Error(err)
	}
	if h, ok := a.hub.Lookup("alice"); ok {
		t.Errorf("a's hub still holds %s", h.ID())
	}
	if e, err := kv.Get(ctx, "alice"); err != nil || !json.Valid(e.Value()) || string(e.Value()) != string(val) {
		t.Errorf("registry entry = %v; want the other node's, untouched", err)
	}
}

func TestTakeoverWithoutAnswerFails(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	ns := startServer(t, nil)
	opts := func(name string) Options {
		o := testOpts(name)
		o.RequestTimeout = 300 * time.Millisecond
		return o
	}
	a, b := newNode(t, ns.ClientURL(), opts("a")), newNode(t, ns.ClientURL(), opts("b"))
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer o.End("")
	tests := []struct {
		name  string
		room  string
		token string
	}{
		{name: "nobody reads Handovers", room: "alice", token: "tok"},
		{name: "wrong token", room: "alice", token: "bad"},
		{name: "no broadcast", room: "bob", token: "tok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := b.r.Takeover(ctx, tc.room, tc.token, nil); !errors.Is(err, cluster.ErrNoTakeover) {
				t.Errorf("Takeover = %v; want ErrNoTakeover", err)
			}
		})
	}
	// The broadcast is still a's.
	if _, err := b.r.Start(ctx, "alice", "b2", "t", time.Now()); !errors.Is(err, hub.ErrRoomLive) {
		t.Errorf("Start on b = %v; want ErrRoomLive", err)
	}
	select {
	case <-o.Fenced():
		t.Error("origin fenced by a takeover that failed")
	default:
	}
}

func TestCloseEndsRelaysAndRefusesStart(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	a, b, _ := three(t)
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer o.End("")
	st.write(o, 0, len(st.fx.Chunks)/2)
	v := subscribe(t, ctx, b, "alice")
	playing(t, ctx, v)
	if err := b.r.Close(); err != nil {
		t.Fatal(err)
	}
	v.wait(t, ctx)
	if events, _, _, _ := v.snapshot(); events[len(events)-1] != "end" {
		t.Errorf("b's viewer events = %v; want an end", events)
	}
	if _, err := b.r.Start(ctx, "bob", "b2", "t", time.Now()); !errors.Is(err, hub.ErrClosed) {
		t.Errorf("Start after Close = %v; want hub.ErrClosed", err)
	}
	if err := b.r.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		give Options
		ok   bool
	}{
		{name: "defaults", give: Options{}, ok: true},
		{name: "bad name", give: Options{Name: "a.b"}},
		{name: "ttl below three heartbeats", give: Options{Heartbeat: time.Second, RoomTTL: 2 * time.Second}},
	}
	ns := startServer(t, nil)
	nc := connect(t, ns.ClientURL())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nc, tc.give)
			if (err == nil) != tc.ok {
				t.Errorf("New(%+v) = %v; want ok %v", tc.give, err, tc.ok)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestOriginCreatesItsLostEntryAgain(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	ns := startServer(t, nil)
	a, b := newNode(t, ns.ClientURL(), testOpts("a")), newNode(t, ns.ClientURL(), testOpts("b"))
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v := subscribe(t, ctx, b, "alice")
	n := len(st.fx.Chunks)
	st.write(o, 0, n/2)
	playing(t, ctx, v)
	js, err := jetstream.New(connect(t, ns.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, "amlive_rooms")
	if err != nil {
		t.Fatal(err)
	}
	first, err := kv.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "alice"); err != nil { // the registry loses it
		t.Fatal(err)
	}
	eventually(t, ctx, "entry created again", func() error {
		e, err := kv.Get(ctx, "alice")
		if err != nil {
			return err
		}
		if e.Revision() <= first.Revision()+1 {
			return errors.New("not yet")
		}
		return nil
	})
	st.write(o, n/2, n)
	select {
	case <-o.Fenced():
		t.Fatal("origin fenced")
	default:
	}
	o.End("/rec/alice/b1")
	v.wait(t, ctx)
	events, media, ended, _ := v.snapshot()
	if !slices.Equal(events, []string{"hello", "init", "media", "end"}) || ended["recording"] != "/rec/alice/b1" {
		t.Fatalf("relay viewer events = %v, end %v; want the whole broadcast", events, ended)
	}
	if _, err := st.checkSegment(media[0], true); err != nil {
		t.Error(err)
	}
}
