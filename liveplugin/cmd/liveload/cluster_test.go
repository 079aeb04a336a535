package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/amlive/amlive/internal/embednats"
)

func TestNodeOf(t *testing.T) {
	tests := []struct {
		name                  string
		rooms, nodes, viewers int // viewers per room
		want                  int // viewers of each room on each node
	}{
		{name: "one node", rooms: 1, nodes: 1, viewers: 10, want: 10},
		{name: "one room", rooms: 1, nodes: 2, viewers: 10, want: 5},
		{name: "as many rooms as nodes", rooms: 3, nodes: 3, viewers: 9, want: 3},
		{name: "more rooms", rooms: 4, nodes: 2, viewers: 6, want: 3},
		{name: "more nodes", rooms: 2, nodes: 4, viewers: 8, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(map[[2]int]int) // room, node: viewers
			for i := range tc.rooms * tc.viewers {
				got[[2]int{i % tc.rooms, nodeOf(i, tc.rooms, tc.nodes)}]++
			}
			for r := range tc.rooms {
				for n := range tc.nodes {
					if c := got[[2]int{r, n}]; c != tc.want {
						t.Errorf("room %d has %d viewers on node %d; want %d (all: %v)", r, c, n, tc.want, got)
					}
				}
			}
		})
	}
}

func TestNodeReports(t *testing.T) {
	rm := &room{name: "r", final: 1000}
	viewers := []*viewer{
		{room: rm, node: 0, connected: true, gotEnd: true, base: 0, media: 1000},
		{room: rm, node: 1, connected: true, gotEnd: true, base: 200, media: 800},
		{room: rm, node: 1, connected: true, gotEnd: true, base: 0, media: 900, skips: 1},
		{room: rm, node: 1, connected: true, failure: "read: EOF", base: 0},
		{room: rm, node: 0, failure: "dial: refused", base: -1},
	}
	viewers[0].lat.add(10 * time.Millisecond)
	viewers[1].lat.add(30 * time.Millisecond)
	o := &options{Nodes: []node{{URL: "http://a/live", PID: 1}, {URL: "http://b/live", PID: 2}}}
	w0 := nodesAt{
		procs: []procStats{{CPU: time.Second}, {CPU: 2 * time.Second}},
		nats:  []natsCounters{{OutBytes: 1000, OutMsgs: 1}, {InBytes: 500}},
		has:   []bool{true, true},
	}
	w1 := nodesAt{
		procs: []procStats{{CPU: 3 * time.Second}, {CPU: 3 * time.Second}},
		nats:  []natsCounters{{OutBytes: 1000 + 250_000, OutMsgs: 11}, {InBytes: 500 + 250_000, InMsgs: 10}},
		has:   []bool{true, false},
	}
	got := nodeReports(o, viewers, w0, w1, 2*time.Second)
	if len(got) != 2 {
		t.Fatalf("nodeReports: %d nodes; want 2", len(got))
	}
	a, b := got[0], got[1]
	if a.URL != "http://a/live" || a.PID != 1 || a.Viewers != 1 || a.KeptUp != 1 || a.Failed != 1 {
		t.Errorf("node 0 = %+v; want http://a/live, pid 1, 1 viewer, 1 kept up, 1 failed", a)
	}
	if b.Viewers != 3 || b.KeptUp != 1 || b.Failed != 1 {
		t.Errorf("node 1 = %+v; want 3 viewers, 1 kept up, 1 failed", b)
	}
	if a.CPU != 1 || b.CPU != 0.5 {
		t.Errorf("CPU %.2f, %.2f; want 1 and 0.5 cores", a.CPU, b.CPU)
	}
	if a.Latency.N != 1 || b.Latency.N != 1 || a.Latency.P50 >= b.Latency.P50 {
		t.Errorf("latency %+v, %+v; want one sample each, node 0's lower", a.Latency, b.Latency)
	}
	want := &natsTraffic{OutMsgs: 10, OutBytes: 250_000, OutRate: 1_000_000}
	if a.NATS == nil || *a.NATS != *want {
		t.Errorf("node 0 NATS traffic = %+v; want %+v", a.NATS, want)
	}
	if b.NATS != nil {
		t.Errorf("node 1 NATS traffic = %+v; want none: its statistics were not read at the end", b.NATS)
	}
}

func TestPrintNodes(t *testing.T) {
	nodes := []NodeReport{
		{URL: "http://a/live", PID: 1, Viewers: 5, KeptUp: 5, CPU: 0.25,
			Latency: Percentiles{N: 3, P50: time.Millisecond, P95: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond},
			NATS:    &natsTraffic{OutMsgs: 80, OutBytes: 5 << 20, OutRate: 2_500_000}},
		{URL: "http://b/live", PID: 2, Viewers: 5, KeptUp: 4, Failed: 1, CPU: 0.5},
	}
	var out bytes.Buffer
	printNodes(&out, nodes)
	want := `node 0      http://a/live, pid 1 (publishers): 5 viewers, 5 kept up, 0 failed; CPU 0.25 cores
  latency   p50 1.0 ms  p95 2.0 ms  p99 3.0 ms  max 4.0 ms
  NATS      in 0.00 Mbit/s (0 B, 0 msgs), out 2.50 Mbit/s (5.0 MiB, 80 msgs) in the window
node 1      http://b/live, pid 2 (relay): 5 viewers, 4 kept up, 1 failed; CPU 0.50 cores
  latency   p50 0.0 ms  p95 0.0 ms  p99 0.0 ms  max 0.0 ms
  NATS      no statistics
`
	if got := out.String(); got != want {
		t.Errorf("printNodes:\n%s\nwant:\n%s", got, want)
	}
}

// TestChildren starts a NATS server and a clustered bench server as
// child processes, as -serve -nodes does, and reads the bench server's
// NATS statistics.
func TestChildren(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ns, err := startChild(ctx, "nats://", "nats")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.stop()
	srv, err := startChild(ctx, "http://", "serve", "-nats", ns.URL, "-name", "node0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fetchNATSStats(ctx, base); err != nil {
		t.Errorf("fetchNATSStats: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
	if err := srv.stop(); err != nil {
		t.Errorf("stop the bench server: %v", err)
	}
	if err := ns.stop(); err != nil {
		t.Errorf("stop the NATS server: %v", err)
	}
}

// TestRunNodes runs a small load test over two nodes in-process: both
// are one server, under two host names, so that the spreading, the per
// node report and the NATS statistics are tested whether or not the
// plugin clusters yet.
func TestRunNodes(t *testing.T) {
	ns, err := embednats.Start(embednats.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	e, p, err := newBenchServer(t.TempDir(), slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	if err != nil {
		t.Fatal(err)
	}
	serveNATSStats(e, nc)
	hs := httptest.NewServer(e)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	other := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1)
	o := options{
		URL:      hs.URL + "/live",
		Nodes:    []node{{URL: hs.URL + "/live", PID: os.Getpid()}, {URL: other + "/live", PID: os.Getpid()}},
		Rooms:    1,
		Viewers:  6,
		Room:     "test",
		Ramp:     200 * time.Millisecond,
		Duration: time.Second,
		Joiners:  2,
		Bitrate:  500_000,
		Chunk:    100 * time.Millisecond,
		Keyframe: 500 * time.Millisecond,
		Drain:    30 * time.Second,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, t.Output())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var out bytes.Buffer
	printReport(&out, rep)
	t.Logf("report:\n%s", out.String())
	if len(rep.Nodes) != 2 {
		t.Fatalf("report has %d nodes; want 2", len(rep.Nodes))
	}
	for i, n := range rep.Nodes {
		if n.Viewers != 3 || n.KeptUp != 3 || n.Failed != 0 {
			t.Errorf("node %d: %d viewers, %d kept up, %d failed; want 3, 3, 0", i, n.Viewers, n.KeptUp, n.Failed)
		}
		if n.Latency.N == 0 {
			t.Errorf("node %d: no latency samples", i)
		}
		if n.NATS == nil {
			t.Errorf("node %d: no NATS traffic", i)
		}
	}
	if !strings.Contains(out.String(), "node 1      "+other+"/live") {
		t.Errorf("report lacks node 1's line")
	}
	var js bytes.Buffer
	if err := json.NewEncoder(&js).Encode(rep); err != nil || !strings.Contains(js.String(), `"natsTraffic"`) {
		t.Errorf("JSON report %s, %v; want the nodes' NATS traffic", js.String(), err)
	}
}

// TestClusterLoad runs liveload -serve -nodes 2 end to end: two bench
// servers clustered through a NATS server, each its own process. Each
// node's NATS traffic is about the stream's bitrate, not its viewers'
// sum.
func TestClusterLoad(t *testing.T) {
	var out, progress bytes.Buffer
	args := []string{"-serve", "-nodes", "2", "-json", "-viewers", "10", "-ramp", "300ms", "-duration", "3s",
		"-joiners", "2", "-bitrate", "1000000", "-chunk", "100ms", "-keyframe", "500ms"}
	if err := runMain(args, &out, io.MultiWriter(&progress, t.Output())); err != nil {
		t.Fatalf("runMain(%q): %v", args, err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if rep.KeptUp != 10 || len(rep.Nodes) != 2 || rep.NATS == nil {
		t.Fatalf("%d of 10 viewers kept up, %d nodes, NATS %+v; want 10, 2, the NATS server's process", rep.KeptUp, len(rep.Nodes), rep.NATS)
	}
	stream := float64(rep.Bitrate)
	for i, n := range rep.Nodes {
		if n.Viewers != 5 || n.KeptUp != 5 || n.NATS == nil {
			t.Errorf("node %d: %+v; want 5 viewers kept up, NATS traffic", i, n)
			continue
		}
		// Node 0 sends the stream once, node 1 receives it once: not
		// once per viewer (5×).
		rate := n.NATS.OutRate
		if i > 0 {
			rate = n.NATS.InRate
		}
		if rate < 0.5*stream || rate > 2*stream {
			t.Errorf("node %d: NATS %.0f bit/s; want about the stream's %.0f", i, rate, stream)
		}
	}
}
