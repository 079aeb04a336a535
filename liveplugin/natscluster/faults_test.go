package natscluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
)

func TestMessagesLargerThanMaxPayloadArriveWhole(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms") // groups of pictures of 150 KB
	ns := startServer(t, &server.Options{MaxPayload: 64 << 10})
	a, b := newNode(t, ns.ClientURL(), testOpts("a")), newNode(t, ns.ClientURL(), testOpts("b"))
	c := newNode(t, ns.ClientURL(), testOpts("c"))
	o, err := a.r.Start(ctx, "big", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	early := subscribe(t, ctx, b, "big")
	// The stream in pieces of 200 KiB, each with its join points.
	const piece = 100 << 10
	full := st.fx.Full
	o.SetInit(st.mime, st.init)
	keys := st.fx.KeyOffsets()
	var late *viewer
	lateGOP := 0
	for off := 0; off < len(full); off += piece {
		end := min(off+piece, len(full))
		var syncs []int64
		last := int64(-1) // the last join point so far
		for _, k := range keys {
			if k >= int64(off) && k < int64(end) {
				syncs = append(syncs, k)
			}
			if k < int64(end) {
				last = k
			}
		}
		o.Write(full[off:end], syncs)
		if gop := end - int(last); late == nil && gop > 64<<10 && end < len(full) {
			// c bootstraps a GOP cache larger than max payload.
			late, lateGOP = subscribe(t, ctx, c, "big"), gop
		}
	}
	if late == nil {
		t.Fatal("fixture: no GOP larger than 64 KiB")
	}
	o.End("")
	for i, v := range []*viewer{early, late} {
		v.wait(t, ctx)
		events, media, _, err := v.snapshot()
		if err != nil || !slices.Equal(events, []string{"hello", "init", "media", "end"}) {
			t.Fatalf("viewer %d: events %v, %v", i, events, err)
		}
		if _, err := st.checkSegment(media[0], true); err != nil {
			t.Errorf("viewer %d: %v", i, err)
		}
	}
	// The first piece loses the init segment before the first join point.
	want := []int{piece - int(keys[0])}
	for off := piece; off < len(full); off += piece {
		want = append(want, min(piece, len(full)-off))
	}
	if !slices.Equal(early.sizes, want) {
		t.Errorf("early viewer's message sizes %v; want %v", early.sizes, want)
	}
	if late.sizes[0] != lateGOP {
		t.Errorf("late viewer's first message has %d bytes; want the GOP cache's %d", late.sizes[0], lateGOP)
	}
}

func TestLostMessageMakesRelayViewersSkipToAJoinPoint(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	ns := startServer(t, nil)
	// The chunk to lose: one past the middle that starts no Cluster.
	lose, at := st.chunkToLose()
	drop := func(c *Cluster) {
		c.drop = func(room string, _ uint64, k kind, off int64) bool { return k == kindMedia && off == lose }
	}
	a, b := newNode(t, ns.ClientURL(), testOpts("a"), drop), newNode(t, ns.ClientURL(), testOpts("b"))
	o, err := a.r.Start(ctx, "gap", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	local, remote := subscribe(t, ctx, a, "gap"), subscribe(t, ctx, b, "gap")
	st.write(o, 0, at)
	eventually(t, ctx, "remote viewer plays", func() error {
		if _, media, _, _ := remote.snapshot(); len(media) == 0 || len(media[0]) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	st.write(o, at, len(st.fx.Chunks))
	o.End("")
	local.wait(t, ctx)
	remote.wait(t, ctx)
	events, media, _, _ := local.snapshot()
	if !slices.Equal(events, []string{"hello", "init", "media", "end"}) {
		t.Errorf("local viewer events = %v; want no skip", events)
	} else if _, err := st.checkSegment(media[0], true); err != nil {
		t.Errorf("local viewer: %v", err)
	}
	events, media, _, _ = remote.snapshot()
	want := []string{"hello", "init", "media", "skip", "init", "media", "end"}
	if !slices.Equal(events, want) {
		t.Fatalf("remote viewer events = %v; want %v", events, want)
	}
	k, err := st.checkSegment(media[0], false)
	if err != nil {
		t.Fatalf("remote viewer before the gap: %v", err)
	}
	if got := k + int64(len(media[0])); got != lose {
		t.Errorf("remote viewer's media before the skip ends at %d; want %d, the lost message", got, lose)
	}
	k, err = st.checkSegment(media[1], true)
	if err != nil {
		t.Fatalf("remote viewer after the gap: %v", err)
	}
	if k <= lose {
		t.Errorf("remote viewer resumed at %d; want a join point after %d", k, lose)
	}
}

func TestDeadOriginEndsRelaysAndFreesTheRoom(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	a, b, c := three(t)
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	vb, vc := subscribe(t, ctx, b, "alice"), subscribe(t, ctx, c, "alice")
	st.write(o, 0, len(st.fx.Chunks)/2)
	playing(t, ctx, vb)
	playing(t, ctx, vc)
	a.nc.Close() // node a dies, ending nothing
	for _, v := range []*viewer{vb, vc} {
		v.wait(t, ctx)
		events, media, ended, err := v.snapshot()
		if err != nil || events[len(events)-1] != "end" || ended["recording"] != "/rec/alice/b1" {
			t.Errorf("viewer events %v, end %v, %v; want an end naming /rec/alice/b1", events, ended, err)
		}
		if _, err := st.checkSegment(media[0], false); err != nil {
			t.Error(err)
		}
	}
	var o2 cluster.Origin
	eventually(t, ctx, "room freed", func() error {
		var err error
		o2, err = c.r.Start(ctx, "alice", "b2", "tok2", time.Now())
		return err
	})
	o2.End("")
	eventually(t, ctx, "orphan reported", func() error {
		if n := len(b.orphans()) + len(c.orphans()); n == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	if got := append(b.orphans(), c.orphans()...); !slices.Equal(got, []string{"alice/b1"}) {
		t.Errorf("orphaned %v; want [alice/b1] once", got)
	}
	o.End("") // a's publisher, on a dead connection
}

func TestTakeoverKeepsEveryByteOnEveryNode(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	a, b, c := three(t)
	oa, err := a.r.Start(ctx, "alice", "b1", "tok", time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	va, vb, vc := subscribe(t, ctx, a, "alice"), subscribe(t, ctx, b, "alice"), subscribe(t, ctx, c, "alice")
	half := len(st.fx.Chunks) / 2
	st.write(oa, 0, half)
	oa.SetPublisherLost(true) // the upload dropped

	if _, err := b.r.Takeover(ctx, "alice", "wrong", nil); !errors.Is(err, cluster.ErrNoTakeover) {
		t.Errorf("Takeover with a wrong token = %v; want ErrNoTakeover", err)
	}
	type result struct {
		h   *cluster.Handover
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := b.r.Takeover(ctx, "alice", "tok", func(room, id string) bool { return true })
		done <- result{h, err}
	}()
	// a's publisher answers.
	var req *cluster.HandoverRequest
	select {
	case req = <-oa.Handovers():
	case <-ctx.Done():
		t.Fatal("no handover request")
	}
	if req.Token != "tok" || !req.Shared {
		t.Errorf("request = %+v; want token tok, shared", req)
	}
	hb, _ := a.hub.Lookup("alice")
	start, chunks, ok := hb.GOP()
	if !ok {
		t.Fatal("no GOP on a")
	}
	state := &cluster.State{
		Room: "alice", ID: "b1", Started: time.Unix(1000, 0), MIMEType: st.mime, Init: st.init,
		Offset: hb.Offset(), HeadOffset: start, Head: slices.Concat(chunks...), Token: "tok",
	}
	if err := req.Reply(state, nil); err != nil {
		t.Fatalf("Reply = %v", err)
	}
	select {
	case <-oa.Fenced():
	default:
		t.Error("a's origin not fenced after the handover")
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Takeover = %v", r.err)
	}
	ob := r.h.Origin
	if r.h.State.Offset != state.Offset || !slices.Equal(r.h.State.Head, state.Head) || r.h.State.Token != "tok" {
		t.Errorf("Takeover state: offset %d, %d head bytes; want %d, %d", r.h.State.Offset, len(r.h.State.Head), state.Offset, len(state.Head))
	}
	oa.Write([]byte("fenced"), nil) // must go nowhere
	ob.SetPublisherLost(false)
	st.write(ob, half, len(st.fx.Chunks))
	eventually(t, ctx, "counts agree", func() error {
		if got := ob.Viewers(); got != 3 {
			return fmt.Errorf("new origin Viewers() = %d; want 3", got)
		}
		return agree([]*node{a, b, c}, "alice", 3)
	})
	ob.End("/rec/alice/b1")
	for i, v := range []*viewer{va, vb, vc} {
		v.wait(t, ctx)
		events, media, ended, err := v.snapshot()
		want := []string{"hello", "init", "media", "reconnecting", "media", "resumed", "media", "end"}
		if err != nil || !slices.Equal(dedupe(events), dedupe(want)) {
			t.Errorf("viewer %d events = %v, %v; want %v", i, events, err, want)
			continue
		}
		if _, err := st.checkSegment(slices.Concat(media...), true); err != nil {
			t.Errorf("viewer %d: %v", i, err)
		}
		if ended["recording"] != "/rec/alice/b1" {
			t.Errorf("viewer %d: end %v", i, ended)
		}
	}
	var o3 cluster.Origin
	eventually(t, ctx, "room freed", func() error {
		var err error
		o3, err = a.r.Start(ctx, "alice", "b3", "t", time.Now())
		return err
	})
	o3.End("")
}

// dedupe drops the media markers, which a state event splits.
func dedupe(events []string) []string {
	return slices.DeleteFunc(slices.Clone(events), func(s string) bool { return s == "media" })
}

func TestSlowRelayNeverDeliversBrokenBytes(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp9-opus-250ms-kf2s") // a join point every 2 s
	ns := startServer(t, nil)
	slow := testOpts("b")
	slow.RelayBuffer = 1 // NATS drops what the relay has not taken
	a, b := newNode(t, ns.ClientURL(), testOpts("a")), newNode(t, ns.ClientURL(), slow)
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v := subscribe(t, ctx, b, "alice")
	o.SetInit(st.mime, st.init)
	for rep := range 4 { // the stream four times over, at once
		shift := int64(rep * len(st.fx.Full))
		for i, c := range st.fx.Chunks {
			var syncs []int64
			for _, x := range st.syncs[i] {
				syncs = append(syncs, x+shift)
			}
			o.Write(c, syncs)
		}
	}
	o.End("")
	v.wait(t, ctx)
	events, media, _, _ := v.snapshot()
	if events[len(events)-1] != "end" {
		t.Errorf("events = %v; want an end", events)
	}
	// Every segment decodes from its first byte: it starts at a join
	// point and holds the stream's bytes from there, in order.
	full := slices.Concat(st.fx.Full, st.fx.Full, st.fx.Full, st.fx.Full)
	keys := st.fx.KeyOffsets()
	for i, seg := range media {
		if len(seg) == 0 {
			continue
		}
		ok := false
		for rep := range 4 {
			for _, k := range keys {
				at := int(k) + rep*len(st.fx.Full)
				if at+len(seg) <= len(full) && slices.Equal(full[at:at+len(seg)], seg) {
					ok = true
				}
			}
		}
		if !ok {
			t.Errorf("segment %d (%d bytes) is not the stream from a join point", i, len(seg))
		}
	}
	t.Logf("%d messages lost, %d skips", b.r.(*rooms).gaps.Load(), strings.Count(strings.Join(events, " "), "skip"))
}

// TestRoomFreeWhereItLooksFree: once a node no longer lists a room whose
// origin died (Lookup false: its relay ended or its entry went stale), a
// broadcast started there at once gets the room, without a retry, even
// when the server's copy of the entry is a little younger than RoomTTL.
// The viewer keeps node b's relay, so b notices the silence as soon as
// it can.
func TestRoomFreeWhereItLooksFree(t *testing.T) {
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ctx := testContext(t, 30*time.Second)
			st := loadStream(t, "vp8-opus-250ms-kf2s")
			a, b, _ := three(t)
			o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			v := subscribe(t, ctx, b, "alice")
			st.write(o, 0, len(st.fx.Chunks)/2)
			playing(t, ctx, v)
			eventually(t, ctx, "alice listed on b", func() error {
				if _, ok := b.r.Lookup("alice"); !ok {
					return errors.New("not yet")
				}
				return nil
			})
			a.nc.Close()
			eventually(t, ctx, "alice free on b", func() error {
				if _, ok := b.r.Lookup("alice"); ok {
					return errors.New("still listed")
				}
				return nil
			})
			o2, err := b.r.Start(ctx, "alice", "b2", "tok2", time.Now())
			if err != nil {
				t.Fatalf("Start on b once b lists alice no more: %v; want the room", err)
			}
			o2.End("")
			o.End("")
		})
	}
}
