package liveplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/amlive/amlive/internal/embednats"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/natscluster"
)

// Cluster tests: three plugin nodes, each on its own HTTP server with its
// own NATS connection, share the rooms through one embedded NATS server
// with JetStream, and one recordings directory.

// clusterHeartbeat and clusterTTL are the cluster's timing in these tests:
// a node that dies frees its rooms within clusterTTL.
const (
	clusterHeartbeat = 100 * time.Millisecond
	clusterTTL       = 600 * time.Millisecond
)

// clusterNode is a plugin node of a test cluster.
type clusterNode struct {
	*testServer
	nc *nats.Conn
}

// separateDirs, as newCluster's dir, gives each node a Dir of its own.
const separateDirs = "\x00separate"

// newCluster starts n plugin nodes against the NATS server at url, sharing
// dir (a temporary directory if empty).
func newCluster(t *testing.T, url string, n int, dir string, cfg liveplugin.Config) []clusterNode {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	nodes := make([]clusterNode, n)
	for i := range nodes {
		name := fmt.Sprintf("node%c", 'A'+i)
		nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		c, err := natscluster.New(nc, natscluster.Options{Name: name, Heartbeat: clusterHeartbeat, RoomTTL: clusterTTL})
		if err != nil {
			t.Fatal(err)
		}
		cfg := cfg
		cfg.Dir, cfg.Cluster = dir, c
		if dir == separateDirs {
			cfg.Dir = t.TempDir()
		}
		if cfg.Authorize == nil {
			cfg.Authorize = allowAll
		}
		s := newServer(t, cfg)
		t.Cleanup(nc.Close) // runs after the plugin's Close
		nodes[i] = clusterNode{testServer: s, nc: nc}
	}
	return nodes
}

// startNATS starts an embedded NATS server with JetStream, stopped when
// the test ends.
func startNATS(t *testing.T) *embednats.Server {
	t.Helper()
	ns, err := embednats.Start(embednats.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// eventually polls cond until it holds or ctx ends.
func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%s: not within the test's deadline", what)
		}
	}
}

// joinedAtKeyframe checks what a viewer received: init, then media that is
// a suffix of the stream starting at a join point, and decodes. (The
// server may rewrite a flag in the header, see webm.Reader.Settle, so the
// init segment is compared by length.)
func joinedAtKeyframe(t *testing.T, who string, binary [][]byte, full []byte) {
	t.Helper()
	if len(binary) < 2 {
		t.Fatalf("%s received %d binary messages; want init and media", who, len(binary))
	}
	init, media := binary[0], bytes.Join(binary[1:], nil)
	if !bytes.HasPrefix(full, init[:4]) || len(media) > len(full)-len(init) {
		t.Errorf("%s: init segment of %d bytes is not the stream's header", who, len(init))
	}
	if !bytes.HasSuffix(full, media) {
		t.Errorf("%s: %d media bytes are not the end of the stream, each once", who, len(media))
	}
	checkDecodable(t, init, media)
}

// TestClusterViewersOnEveryNode publishes on node A while viewers join on
// B and C early, in the middle and late: each starts at a keyframe and
// receives every byte from there; a second publisher on C gets 4409; the
// live list, status and viewer counts agree on every node.
func TestClusterViewersOnEveryNode(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 60*time.Second)
	ns := startNATS(t)
	nodes := newCluster(t, ns.ClientURL(), 3, "", liveplugin.Config{})
	a, b, c := nodes[0], nodes[1], nodes[2]

	early := mustDial(t, ctx, b.ws("/live/alice/subscribe"))
	if code, _ := early.closed(t, ctx); code != liveplugin.StatusNotLive {
		t.Fatalf("viewer before the broadcast closed with %d; want 4404", code)
	}
	pub, _ := publish(t, ctx, a.testServer, "alice")
	chunks := fx.Chunks
	third := len(chunks) / 3
	var viewers []*client
	var names []string
	for i, chunk := range chunks {
		switch i {
		case 1: // header sent: the room is live everywhere
			for _, n := range nodes {
				eventually(t, ctx, "live on "+n.URL, func() bool { _, ok := n.p.Status("alice"); return ok })
			}
			viewers = append(viewers, mustDial(t, ctx, b.ws("/live/alice/subscribe")), mustDial(t, ctx, c.ws("/live/alice/subscribe")))
			names = append(names, "early viewer on B", "early viewer on C")
			// Joined: the relays bootstrapped from the first keyframe.
			for _, v := range viewers {
				if err := v.waitFor(ctx, "init segment", func() bool { return len(v.binary) > 0 }); err != nil {
					t.Fatal(err)
				}
			}
		case third:
			viewers = append(viewers, mustDial(t, ctx, b.ws("/live/alice/subscribe")), mustDial(t, ctx, c.ws("/live/alice/subscribe")))
			names = append(names, "middle viewer on B", "middle viewer on C")
			second := mustDial(t, ctx, c.ws("/live/alice/upload?mime=video/webm"))
			if code, reason := second.closed(t, ctx); code != liveplugin.StatusRoomLive {
				t.Errorf("second publisher on C closed with %d %q; want 4409", code, reason)
			}
		case 2 * third:
			viewers = append(viewers, mustDial(t, ctx, c.ws("/live/alice/subscribe")))
			names = append(names, "late viewer on C")
			// Every node counts the five viewers.
			for _, n := range nodes {
				eventually(t, ctx, "5 viewers on "+n.URL, func() bool {
					st, ok := n.p.Status("alice")
					live := n.p.Live()
					// A MediaRecorder upload: no latency mode.
					return ok && st.Viewers == 5 && len(live) == 1 && live[0].Viewers == 5 && st.Latency == "" && live[0].Latency == ""
				})
			}
			pub.viewers(t, ctx, 5)
		}
		pub.send(t, ctx, websocket.MessageBinary, chunk)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q", code, reason)
	}
	for i, v := range viewers {
		if code, reason := v.closed(t, ctx); code != websocket.StatusNormalClosure {
			t.Errorf("%s closed with %d %q; want 1000", names[i], code, reason)
		}
		events, binary, _ := v.snapshot()
		if events[0].Type != "hello" || events[len(events)-1].Type != "end" || events[len(events)-1].Recording == "" {
			t.Errorf("%s: events %v; want hello first, end naming the recording last", names[i], events)
		}
		if media := bytes.Join(binary[1:], nil); i < 2 && !bytes.Equal(media, fx.Full[len(binary[0]):]) {
			t.Errorf("%s: received %d media bytes; want all %d, each once", names[i], len(media), len(fx.Full)-len(binary[0]))
		}
		joinedAtKeyframe(t, names[i], binary, fx.Full)
	}
	for _, n := range nodes {
		eventually(t, ctx, "not live on "+n.URL, func() bool { return len(n.p.Live()) == 0 })
	}
	// The recording (one Dir) is served by every node.
	for _, n := range nodes {
		resp, body := get(t, http.MethodGet, n.URL+"/live/alice/playback", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("playback on %s: %s", n.URL, resp.Status)
		}
		checkRecording(t, body, fx.Full)
	}
}

// TestClusterResumeThroughAnotherNode cuts the publisher's connection to
// node A and resumes it through node B: viewers on A, B and C see
// reconnecting and resumed and every byte exactly once, and the recording
// (in the shared Dir) holds every block once.
func TestClusterResumeThroughAnotherNode(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 60*time.Second)
	ns := startNATS(t)
	nodes := newCluster(t, ns.ClientURL(), 3, "", liveplugin.Config{ResumeGrace: 10 * time.Second})
	a, b, c := nodes[0], nodes[1], nodes[2]
	proxyA := newNetProxy(t, a.URL)
	pub, id := newResumer(t, ctx, proxyA.URL("/live/alice/upload"))
	pub.send(ctx, fx.Chunks[0])
	for _, n := range nodes {
		eventually(t, ctx, "live on "+n.URL, func() bool { _, ok := n.p.Status("alice"); return ok })
	}
	viewers := []*client{
		mustDial(t, ctx, a.ws("/live/alice/subscribe")),
		mustDial(t, ctx, b.ws("/live/alice/subscribe")),
		mustDial(t, ctx, c.ws("/live/alice/subscribe")),
	}
	names := []string{"viewer on A", "viewer on B", "viewer on C"}
	pub.c.viewers(t, ctx, 3)

	half := len(fx.Chunks) / 2
	for i, chunk := range fx.Chunks[1:] {
		if i+1 == half {
			proxyA.cutAfter(int64(len(chunk) / 2))
			pub.send(ctx, chunk)
			for _, v := range viewers {
				v.eventCount(t, ctx, "reconnecting", 1)
			}
			pub.url = b.ws("/live/alice/upload") // the load balancer picks B
			pub.resume(ctx)
			continue
		}
		pub.send(ctx, chunk)
	}
	pub.c.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.c.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d %q; want 1000", code, reason)
	}
	for i, v := range viewers {
		v.closed(t, ctx)
		events, binary, _ := v.snapshot()
		var got []string
		for _, e := range events {
			if e.Type == "reconnecting" || e.Type == "resumed" {
				got = append(got, e.Type)
			}
		}
		// A relay that hears nothing from the origin for 3 Heartbeats says
		// reconnecting too: on a starved machine, more pairs may come.
		if !alternates(got, "reconnecting", "resumed") {
			t.Errorf("%s: publisher events %q; want reconnecting, resumed (the pair once or more)", names[i], got)
		}
		if media := bytes.Join(binary[1:], nil); !bytes.Equal(media, fx.Full[len(binary[0]):]) {
			t.Errorf("%s: received %d media bytes; want the %d sent, each once", names[i], len(media), len(fx.Full)-len(binary[0]))
		}
	}
	for _, n := range nodes {
		resp, body := get(t, http.MethodGet, n.URL+"/live/alice/playback?b="+id, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("playback on %s: %s", n.URL, resp.Status)
		}
		checkRecording(t, body, fx.Full)
	}
}

// TestClusterNodeDies cuts node A off (its NATS connection closed, its
// publisher gone) mid-stream: the viewers on B and C get the end event
// within the room's TTL, and the room is free for a broadcast on B.
func TestClusterNodeDies(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 60*time.Second)
	ns := startNATS(t)
	nodes := newCluster(t, ns.ClientURL(), 3, "", liveplugin.Config{ResumeGrace: time.Minute})
	a, b, c := nodes[0], nodes[1], nodes[2]
	pub, _ := publish(t, ctx, a.testServer, "alice")
	for _, chunk := range fx.Chunks[:len(fx.Chunks)/2] {
		pub.send(t, ctx, websocket.MessageBinary, chunk)
	}
	for _, n := range nodes {
		eventually(t, ctx, "live on "+n.URL, func() bool { _, ok := n.p.Status("alice"); return ok })
	}
	vb := mustDial(t, ctx, b.ws("/live/alice/subscribe"))
	vc := mustDial(t, ctx, c.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 2)

	a.nc.Close()
	died := time.Now()
	for name, v := range map[string]*client{"viewer on B": vb, "viewer on C": vc} {
		v.event(t, ctx, "end")
		if code, reason := v.closed(t, ctx); code != websocket.StatusNormalClosure {
			t.Errorf("%s closed with %d %q; want 1000 after the end event", name, code, reason)
		}
	}
	// The bound is RoomTTL plus a Heartbeat; the slack is for a busy
	// machine running the race detector: the point is that they end.
	if d := time.Since(died); d > clusterTTL+clusterHeartbeat+10*time.Second {
		t.Errorf("viewers ended %v after the node died; want within about RoomTTL (%v)", d, clusterTTL)
	}
	for _, n := range nodes[1:] {
		eventually(t, ctx, "room free on "+n.URL, func() bool { _, ok := n.p.Status("alice"); return !ok })
	}
	again, _ := publish(t, ctx, b.testServer, "alice")
	again.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
	eventually(t, ctx, "live again on C", func() bool { _, ok := c.p.Status("alice"); return ok })
}

// TestClusterNATSRestart stops the NATS server mid-stream and starts it
// again on the same port and store: the viewer on the origin node sees no
// interruption and every byte; the viewer on node B is told reconnecting,
// then resumes at a keyframe (a skip) or is ended cleanly, and never gets
// bytes that do not decode. After the restart the registry is true again:
// the room is live on every node, and the broadcast ends everywhere.
func TestClusterNATSRestart(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 90*time.Second)
	opts := embednats.Options{Dir: t.TempDir(), Name: "one", Port: freePort(t)}
	ns, err := embednats.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown() })
	nodes := newCluster(t, ns.ClientURL(), 2, "", liveplugin.Config{})
	a, b := nodes[0], nodes[1]
	pub, _ := publish(t, ctx, a.testServer, "alice")
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
	eventually(t, ctx, "live on B", func() bool { _, ok := b.p.Status("alice"); return ok })
	va := mustDial(t, ctx, a.ws("/live/alice/subscribe"))
	vb := mustDial(t, ctx, b.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 2)

	half := len(fx.Chunks) / 2
	for _, chunk := range fx.Chunks[1:half] {
		pub.send(t, ctx, websocket.MessageBinary, chunk)
	}
	ns.Shutdown()
	vb.eventCount(t, ctx, "reconnecting", 1)
	for _, chunk := range fx.Chunks[half : half+8] { // 2 s of stream while NATS is down
		pub.send(t, ctx, websocket.MessageBinary, chunk)
	}
	if ns, err = embednats.Start(opts); err != nil {
		t.Fatalf("restart NATS: %v", err)
	}
	for _, n := range nodes {
		eventually(t, ctx, "nodes reconnected", func() bool { return n.nc.IsConnected() })
	}
	for _, chunk := range fx.Chunks[half+8:] {
		pub.send(t, ctx, websocket.MessageBinary, chunk)
	}
	eventually(t, ctx, "live on B after the restart", func() bool { _, ok := b.p.Status("alice"); return ok })
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d %q; want 1000", code, reason)
	}

	va.closed(t, ctx)
	events, binary, _ := va.snapshot()
	for _, e := range events {
		if e.Type == "reconnecting" || e.Type == "skip" {
			t.Errorf("viewer on the origin got %q: NATS is none of its business", e.Type)
		}
	}
	if media := bytes.Join(binary[1:], nil); !bytes.Equal(media, fx.Full[len(binary[0]):]) {
		t.Errorf("viewer on the origin received %d media bytes; want all %d, each once", len(media), len(fx.Full)-len(binary[0]))
	}

	vb.closed(t, ctx)
	events, binary, order := vb.snapshot()
	if events[len(events)-1].Type != "end" {
		t.Errorf("viewer on B: last event %q; want end", events[len(events)-1].Type)
	}
	// Between the init segments (the first and one after each skip), the
	// media is a run of the stream that decodes.
	var runs [][][]byte
	i := 0
	for _, o := range order {
		if o != "binary" {
			if o == "text:skip" {
				runs = append(runs, nil)
			}
			continue
		}
		if len(runs) == 0 {
			runs = append(runs, nil)
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], binary[i])
		i++
	}
	for k, run := range runs {
		if len(run) < 2 {
			continue
		}
		media := bytes.Join(run[1:], nil)
		if !bytes.Contains(fx.Full, media) {
			t.Errorf("viewer on B, run %d: %d media bytes are not a run of the stream", k, len(media))
		}
		checkDecodable(t, run[0], media)
	}
	t.Logf("viewer on B: %d runs of media, %d bytes in all", len(runs), len(bytes.Join(binary, nil)))
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestClusterResumeWithoutSharedDir resumes through node B when the nodes
// do not share Dir: the viewers still get every byte once, node A serves
// the recording up to the takeover, and node B the rest, from a keyframe,
// as a recording of its own that plays.
func TestClusterResumeWithoutSharedDir(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 60*time.Second)
	ns := startNATS(t)
	nodes := newCluster(t, ns.ClientURL(), 2, separateDirs, liveplugin.Config{ResumeGrace: 10 * time.Second})
	a, b := nodes[0], nodes[1]
	proxyA := newNetProxy(t, a.URL)
	pub, id := newResumer(t, ctx, proxyA.URL("/live/alice/upload"))
	pub.send(ctx, fx.Chunks[0])
	eventually(t, ctx, "live on B", func() bool { _, ok := b.p.Status("alice"); return ok })
	viewer := mustDial(t, ctx, b.ws("/live/alice/subscribe"))
	pub.c.viewers(t, ctx, 1)
	half := len(fx.Chunks) / 2
	for i, chunk := range fx.Chunks[1:] {
		if i+1 == half {
			proxyA.cutAfter(int64(len(chunk) / 2))
			pub.send(ctx, chunk)
			viewer.eventCount(t, ctx, "reconnecting", 1)
			pub.url = b.ws("/live/alice/upload")
			pub.resume(ctx)
			continue
		}
		pub.send(ctx, chunk)
	}
	pub.c.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.c.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d %q; want 1000", code, reason)
	}
	viewer.closed(t, ctx)
	events, binary, _ := viewer.snapshot()
	if media := bytes.Join(binary[1:], nil); !bytes.Equal(media, fx.Full[len(binary[0]):]) {
		t.Errorf("viewer received %d media bytes; want the %d sent, each once", len(media), len(fx.Full)-len(binary[0]))
	}
	end := events[len(events)-1]
	if end.Type != "end" || !strings.Contains(end.Recording, "/live/alice/playback") {
		t.Fatalf("last event %+v; want end naming a recording", end)
	}

	// A holds the first part, B the second; together every block once.
	first, second := listRecordings(t, a.URL), listRecordings(t, b.URL)
	if len(first) != 1 || first[0].ID != id || len(second) != 1 || second[0].ID == id {
		t.Fatalf("recordings on A %+v, on B %+v; want the broadcast's first part on A, a second part on B", first, second)
	}
	_, p1 := get(t, http.MethodGet, a.URL+"/live/alice/playback?b="+first[0].ID, nil)
	_, p2 := get(t, http.MethodGet, b.URL+"/live/alice/playback?b="+second[0].ID, nil)
	b1, b2, want := mediaBlocks(t, p1), mediaBlocks(t, p2), mediaBlocks(t, fx.Full)
	// The second part starts at the keyframe before the takeover, so the
	// blocks from there to the takeover are in both.
	if len(b1)+len(b2) < len(want) || len(b1) > len(want) || len(b2) > len(want) ||
		!slices.EqualFunc(b1, want[:len(b1)], bytes.Equal) || !slices.EqualFunc(b2, want[len(want)-len(b2):], bytes.Equal) {
		t.Errorf("parts hold %d + %d blocks; want the first and the last blocks of the %d uploaded, all of them between the two",
			len(b1), len(b2), len(want))
	}
}

// alternates reports whether events are a, b, a, b, … a and b at least
// once, ending with b.
func alternates(events []string, a, b string) bool {
	if len(events) == 0 || len(events)%2 != 0 {
		return false
	}
	for i, e := range events {
		if e != [2]string{a, b}[i%2] {
			return false
		}
	}
	return true
}

// listRecordings returns the recordings of alice that the node at url lists.
func listRecordings(t *testing.T, url string) []liveplugin.Recording {
	t.Helper()
	resp, body := get(t, http.MethodGet, url+"/live/alice/recordings", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("recordings on %s: %s", url, resp.Status)
	}
	var recs []liveplugin.Recording
	if err := json.Unmarshal(body, &recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestClusterMetaOnEveryNode: GET /:id/meta on a node with no viewer of
// the room (so no relay) fetches the init segment from the origin.
func TestClusterMetaOnEveryNode(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	ns := startNATS(t)
	nodes := newCluster(t, ns.ClientURL(), 2, "", liveplugin.Config{})
	pub, _ := publish(t, ctx, nodes[0].testServer, "alice")
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
	eventually(t, ctx, "live on B", func() bool { _, ok := nodes[1].p.Status("alice"); return ok })
	_, atA := get(t, http.MethodGet, nodes[0].URL+"/live/alice/meta", nil)
	resp, atB := get(t, http.MethodGet, nodes[1].URL+"/live/alice/meta", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(atA, atB) || len(atB) == 0 {
		t.Errorf("meta on B: %s, %d bytes; want the origin's %d-byte init segment", resp.Status, len(atB), len(atA))
	}
}
