package natscluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// checkRemote checks what a remote viewer got across an outage: hello and
// the init segment, every segment of media the stream from a join point,
// and an end; it returns whether it saw reconnecting.
func checkRemote(t *testing.T, st *stream, v *viewer) (reconnecting bool) {
	t.Helper()
	events, media, _, err := v.snapshot()
	if err != nil || len(events) < 3 || events[0] != "hello" || events[len(events)-1] != "end" {
		t.Fatalf("remote viewer events = %v, %v; want hello ... end", events, err)
	}
	for i, seg := range media {
		if len(seg) == 0 {
			continue
		}
		if _, err := st.checkSegment(seg, false); err != nil {
			t.Errorf("remote viewer segment %d: %v", i, err)
		}
	}
	return slices.Contains(events, "reconnecting")
}

func TestNATSRestartSparesLocalViewers(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	dir := t.TempDir()
	ns := startServer(t, &server.Options{StoreDir: dir})
	port := ns.Addr().(*net.TCPAddr).Port
	opts := func(name string) Options {
		o := testOpts(name)
		o.RoomTTL = 3 * time.Second
		return o
	}
	a, b := newNode(t, ns.ClientURL(), opts("a")), newNode(t, ns.ClientURL(), opts("b"))
	o, err := a.r.Start(ctx, "alice", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	local, remote := subscribe(t, ctx, a, "alice"), subscribe(t, ctx, b, "alice")
	n := len(st.fx.Chunks)
	st.write(o, 0, n/3)
	playing(t, ctx, remote)
	ns.Shutdown()
	ns.WaitForShutdown()
	st.write(o, n/3, 2*n/3)
	eventually(t, ctx, "remote viewer told reconnecting", func() error {
		if events, _, _, _ := remote.snapshot(); !slices.Contains(events, "reconnecting") {
			return fmt.Errorf("events %v", events)
		}
		return nil
	})
	startServer(t, &server.Options{Port: port, StoreDir: dir})
	eventually(t, ctx, "both reconnected", func() error {
		if !a.nc.IsConnected() || !b.nc.IsConnected() {
			return errors.New("not yet")
		}
		return nil
	})
	st.write(o, 2*n/3, n)
	select {
	case <-o.Fenced():
		t.Fatal("origin fenced by a restart shorter than RoomTTL")
	default:
	}
	o.End("/rec/alice/b1")
	local.wait(t, ctx)
	remote.wait(t, ctx)
	events, media, _, _ := local.snapshot()
	if !slices.Equal(events, []string{"hello", "init", "media", "end"}) {
		t.Errorf("local viewer events = %v; want no interruption", events)
	} else if _, err := st.checkSegment(media[0], true); err != nil {
		t.Errorf("local viewer: %v", err)
	}
	if !checkRemote(t, st, remote) {
		t.Error("remote viewer never told reconnecting")
	}
	if events, _, _, _ := remote.snapshot(); !slices.Contains(events, "resumed") {
		// It may also have ended: both are allowed, but then the end
		// names the recording.
		if _, _, ended, _ := remote.snapshot(); ended["recording"] != "/rec/alice/b1" {
			t.Errorf("remote viewer neither resumed nor ended naming the recording: %v", events)
		}
	}
}

// playing waits until v has media.
func playing(t *testing.T, ctx context.Context, v *viewer) {
	t.Helper()
	eventually(t, ctx, "viewer plays", func() error {
		if _, media, _, _ := v.snapshot(); len(media) == 0 || len(media[0]) == 0 {
			return errors.New("no media yet")
		}
		return nil
	})
}

// freePort returns a TCP port free at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestNATSClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a JetStream cluster takes seconds to form")
	}
	ctx := testContext(t, 90*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	for i, p := range ports {
		servers = append(servers, startServer(t, &server.Options{
			ServerName: fmt.Sprintf("s%d", i),
			Cluster:    server.ClusterOpts{Name: "amlive", Host: "127.0.0.1", Port: p},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}))
	}
	opts := func(name string) Options {
		o := testOpts(name)
		o.Heartbeat, o.RoomTTL, o.RequestTimeout = 200*time.Millisecond, 6*time.Second, 3*time.Second
		o.Replicas = 3
		return o
	}
	// a on s0, b on s1; each may fail over to any server.
	urls := []string{servers[0].ClientURL(), servers[1].ClientURL(), servers[2].ClientURL()}
	mk := func(name string, first int) *node {
		list := append([]string{urls[first]}, slices.Delete(slices.Clone(urls), first, first+1)...)
		nc, err := nats.Connect(strings.Join(list, ","), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1), nats.DontRandomize(), nats.ErrorHandler(quiet))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		n := &node{name: name, nc: nc, hub: hub.New(hub.Config{Events: testEvents{}})}
		c, err := New(nc, opts(name))
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, ctx, "bucket ready", func() error {
			r, err := c.Rooms(cluster.Node{Hub: n.hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Events: testEvents{}, RecordingURL: recordingURL})
			n.r = r
			return err
		})
		t.Cleanup(func() { _ = n.r.Close() })
		return n
	}
	a, b := mk("a", 0), mk("b", 1)
	var o cluster.Origin
	eventually(t, ctx, "start", func() error {
		var err error
		o, err = a.r.Start(ctx, "alice", "b1", "tok", time.Now())
		return err
	})
	local, remote := subscribe(t, ctx, a, "alice"), subscribe(t, ctx, b, "alice")
	n := len(st.fx.Chunks)
	st.write(o, 0, n/2)
	playing(t, ctx, remote)
	servers[0].Shutdown()
	servers[0].WaitForShutdown()
	eventually(t, ctx, "a fails over", func() error {
		if !a.nc.IsConnected() || a.nc.ConnectedUrl() == urls[0] {
			return errors.New("not yet")
		}
		return nil
	})
	st.write(o, n/2, n)
	// The broadcast goes on at b: its viewer gets the end of the stream.
	eventually(t, ctx, "remote viewer gets the stream's end", func() error {
		_, media, _, _ := remote.snapshot()
		if len(media) == 0 {
			return errors.New("no media")
		}
		if _, err := st.checkSegment(media[len(media)-1], true); err != nil {
			return err
		}
		return nil
	})
	select {
	case <-o.Fenced():
		t.Fatal("origin fenced by a failover")
	default:
	}
	o.End("/rec/alice/b1")
	local.wait(t, ctx)
	remote.wait(t, ctx)
	events, media, _, _ := local.snapshot()
	if !slices.Equal(events, []string{"hello", "init", "media", "end"}) {
		t.Errorf("local viewer events = %v; want no interruption", events)
	} else if _, err := st.checkSegment(media[0], true); err != nil {
		t.Errorf("local viewer: %v", err)
	}
	checkRemote(t, st, remote)
}
