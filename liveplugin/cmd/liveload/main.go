// Command liveload measures how many viewers an amlive server carries.
//
// It publishes a synthetic live WebM stream into each of -rooms rooms
// (VP8 and Opus tracks, a Cluster at every keyframe, chunks that end
// inside elements as MediaRecorder's do, at -bitrate, one message every
// -chunk), joins -viewers viewers per room over -ramp, measures for
// -duration while -joiners late joiners come and go, then ends the
// broadcasts and checks that every viewer received every byte from its
// join point to the end. Each frame's payload carries the time it was
// sent, which viewers find in the bytes they receive: the report gives
// delivery latency percentiles over the window, the time from a viewer's
// dial to its first media byte (which must start a keyframe Cluster),
// bytes delivered against bytes expected, and the server's CPU and peak
// memory from /proc.
//
// Usage:
//
//	liveload -serve [flags]          start a bench server in a child process and load it
//	liveload -serve -nodes N [-nats URL] [flags]
//	                                 start N clustered bench servers and load them
//	liveload -url URL [-pid P] ...   load a running server (URL is the plugin's base, e.g. http://127.0.0.1:8080/live)
//
// The bench server (-serve) lets anyone publish and raises the limits a
// load test hits, above all ViewerUpgrades: its default, a bucket of 1000
// WebSockets per client IP refilled at 600 a minute, refuses the viewers of
// a load test past the 1000th, since they all come from one address. A server of your
// own needs the same, and an Authorize that lets liveload publish: pass
// its session cookie with -header 'Cookie: …' and name the room with
// -room (the demo lets a user publish in the room named after them).
// With -pid, liveload reads that process's CPU and memory from /proc.
//
// With -nodes N (N >= 2), -serve starts N bench servers, each its own
// process, clustered through a NATS server with JetStream: the one -nats
// names, or one the tool starts in a child process of its own ("liveload
// nats", so that its CPU is its own too). The publishers upload to node
// 0; each room's viewers are spread evenly over the N nodes, node 0
// included, so that its viewers, which NATS does not carry, give the
// latency without the hop at the same load. The report adds, per node,
// its viewers, their latency, its process's CPU and its NATS connection's
// traffic in the window (message payload bytes in and out, as the node's
// nats.Conn counts them; node 0 sends each stream once, every other node
// receives it once, whatever its viewers). -serve -nodes 1 -nats URL runs
// one clustered node; plain -serve, one node with no cluster.
//
// The server runs in a child process ("liveload serve") so that its CPU
// and memory are its own. Go raises the soft limit on open files to the
// hard limit by itself; each viewer takes one descriptor in each process.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "serve":
		err = serveMain(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "nats":
		err = natsMain(os.Args[2:])
	default:
		err = runMain(os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "liveload:", err)
		os.Exit(1)
	}
}

// headerFlag collects -header "Name: value" flags.
type headerFlag http.Header

func (h headerFlag) String() string { return "" }

func (h headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("want \"Name: value\", got %q", s)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

func runMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liveload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{Header: make(http.Header)}
	serve := fs.Bool("serve", false, "start a bench server in a child process and load it")
	nodes := fs.Int("nodes", 1, "with -serve, start `N` bench servers, each its own process, clustered over NATS: publish to the first, spread the viewers over all")
	natsURL := fs.String("nats", "", "with -serve, the `URL` of the NATS server (JetStream on) the bench servers cluster through (default with -nodes > 1: one the tool starts in a child process)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.StringVar(&o.URL, "url", "", "the plugin's base URL of a running server, e.g. http://127.0.0.1:8080/live")
	fs.IntVar(&o.PID, "pid", 0, "the running server's process id, for its CPU and memory")
	fs.IntVar(&o.Rooms, "rooms", 1, "rooms, one publisher each")
	fs.IntVar(&o.Viewers, "viewers", 100, "viewers per room")
	fs.StringVar(&o.Room, "room", "load", "the room with -rooms 1, else the prefix of the rooms' names (load0, load1, …)")
	fs.DurationVar(&o.Ramp, "ramp", 10*time.Second, "time over which the viewers join")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "measurement window after the ramp")
	fs.IntVar(&o.Joiners, "joiners", 50, "late joiners during the window, each leaving after its first media byte")
	fs.Int64Var(&o.Bitrate, "bitrate", 2_500_000, "bits per second of each stream")
	fs.DurationVar(&o.Chunk, "chunk", 125*time.Millisecond, "interval between a publisher's messages")
	fs.DurationVar(&o.Keyframe, "keyframe", 2*time.Second, "interval between keyframes (each starts a Cluster)")
	fs.BoolVar(&o.Align, "align", false, "end chunks on element boundaries (MediaRecorder does not)")
	fs.DurationVar(&o.Drain, "drain", 20*time.Second, "how long viewers may take to receive the end")
	fs.Var(headerFlag(o.Header), "header", "`Name: value` added to every WebSocket request, e.g. a session cookie (repeatable)")
	fs.StringVar(&o.SelfProfile, "cpuprofile", "", "file to save liveload's own CPU profile of the window")
	fs.StringVar(&o.Profile, "profile", "", "directory to save the server's CPU profile of the window and heap profile at its end (needs /debug/pprof/, as -serve has)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serve == (o.URL != "") {
		return fmt.Errorf("give exactly one of -serve and -url")
	}
	if err := checkClusterFlags(*serve, *nodes, *natsURL); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *serve {
		stop, err := startServers(ctx, &o, *nodes, *natsURL, stderr)
		defer stop()
		if err != nil {
			return err
		}
	}
	if o.Profile != "" {
		if err := os.MkdirAll(o.Profile, 0o755); err != nil {
			return err
		}
	}
	warnFileLimit(stderr, o.Rooms*o.Viewers+o.Joiners+o.Rooms)
	rep, err := run(ctx, o, stderr)
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(rep); jerr != nil {
				return jerr
			}
		} else {
			printReport(stdout, rep)
		}
	}
	return err
}

// checkClusterFlags checks -nodes and -nats against -serve.
func checkClusterFlags(serve bool, nodes int, natsURL string) error {
	switch {
	case nodes < 1:
		return fmt.Errorf("-nodes must be >= 1, got %d", nodes)
	case !serve && (nodes > 1 || natsURL != ""):
		return fmt.Errorf("-nodes and -nats need -serve: the tool starts the nodes")
	}
	return nil
}

// startServers starts the bench servers of -serve as child processes:
// one, or n clustered through the NATS server at natsURL, or through one
// started as a child process too when natsURL is "" and n > 1. It sets
// o's URL, PID, Nodes and NATSPID. The returned function stops every
// child, the bench servers first; call it even on error.
func startServers(ctx context.Context, o *options, n int, natsURL string, progress io.Writer) (func(), error) {
	var children []*child
	stop := func() {
		for _, c := range slices.Backward(children) {
			_ = c.stop()
		}
	}
	if n > 1 && natsURL == "" {
		c, err := startChild(ctx, "nats://", "nats")
		if err != nil {
			return stop, err
		}
		children = append(children, c)
		natsURL, o.NATSPID = c.URL, c.PID()
		fmt.Fprintf(progress, "liveload: NATS server pid %d on %s\n", c.PID(), c.URL)
	}
	for i := range n {
		args := []string{"serve"}
		if natsURL != "" {
			args = append(args, "-nats", natsURL, "-name", fmt.Sprintf("node%d", i))
		}
		c, err := startChild(ctx, "http://", args...)
		if err != nil {
			return stop, err
		}
		children = append(children, c)
		o.Nodes = append(o.Nodes, node{URL: c.URL, PID: c.PID()})
		if natsURL != "" {
			fmt.Fprintf(progress, "liveload: node %d pid %d on %s\n", i, c.PID(), c.URL)
		}
	}
	o.URL, o.PID = o.Nodes[0].URL, o.Nodes[0].PID
	if natsURL == "" {
		o.Nodes = nil // one node, no cluster: the report as it always was
	}
	return stop, nil
}

// warnFileLimit warns when this process may not open n connections.
func warnFileLimit(w io.Writer, n int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n+64) {
		fmt.Fprintf(w, "liveload: warning: open files limited to %d, fewer than the %d connections (raise it with ulimit -n)\n", lim.Cur, n)
	}
}

func printReport(w io.Writer, r *Report) {
	total := r.Rooms * r.ViewersPerRoom
	fmt.Fprintf(w, "rooms       %d × %d viewers, %.2f Mbit/s, a chunk every %v, a keyframe every %v; window %v\n",
		r.Rooms, r.ViewersPerRoom, float64(r.Bitrate)/1e6, r.Chunk, r.Keyframe, r.Window.Round(time.Millisecond))
	fmt.Fprintf(w, "viewers     %d of %d connected, %d failed; %d kept up (every byte from their join to the end), %d skipped\n",
		r.Connected, total, r.Failed, r.KeptUp, r.Skipped)
	reasons := make([]string, 0, len(r.Failures))
	for reason := range r.Failures {
		reasons = append(reasons, reason)
	}
	slices.Sort(reasons)
	for _, reason := range reasons {
		fmt.Fprintf(w, "            %d × %s\n", r.Failures[reason], reason)
	}
	loss := 0.0
	if r.Expected > 0 {
		loss = 100 * float64(r.Lost) / float64(r.Expected)
	}
	fmt.Fprintf(w, "bytes       %s published; viewers received %s of %s expected (loss %.4f%%)\n",
		size(r.Sent), size(r.Delivered), size(r.Expected), loss)
	fmt.Fprintf(w, "latency     %s  (send to receipt, %d frames sent in the window)\n", pct(r.Latency), r.Latency.N)
	fmt.Fprintf(w, "join        %s  (dial to first media byte, %d viewers)\n", pct(r.Join), r.Join.N)
	fmt.Fprintf(w, "late join   %s  (the same, %d joiners during the window)\n", pct(r.LateJoin), r.LateJoin.N)
	fmt.Fprintf(w, "  its dial  %s  (dial to open WebSocket)\n", pct(r.LateDial))
	fmt.Fprintf(w, "  the rest  %s  (open WebSocket, i.e. subscribed, to first media byte)\n", pct(r.LateOpen))
	others := r.Machine
	for _, s := range []*ServerStats{r.Server, r.Tool, r.NATS} {
		if s != nil && (s != r.Tool || r.Server == nil || r.Server.PID != s.PID) {
			others -= s.CPU
		}
	}
	for i, n := range r.Nodes {
		if i > 0 && (r.Tool == nil || n.PID != r.Tool.PID) {
			others -= n.CPU
		}
	}
	fmt.Fprintf(w, "machine     %.2f of %d cores busy in the window; other processes %.2f\n", r.Machine, r.Cores, max(0, others))
	for _, p := range []struct {
		name string
		s    *ServerStats
	}{{"server", r.Server}, {"liveload", r.Tool}} {
		if p.s == nil {
			continue
		}
		fmt.Fprintf(w, "%-11s pid %d: CPU %.2f cores in the window; RSS %s before the viewers, peak %s: %s per viewer\n",
			p.name, p.s.PID, p.s.CPU, size(p.s.BaseRSS), size(p.s.PeakRSS), size(p.s.PerViewer))
	}
	if r.NATS != nil {
		fmt.Fprintf(w, "nats        pid %d: CPU %.2f cores in the window; RSS peak %s\n", r.NATS.PID, r.NATS.CPU, size(r.NATS.PeakRSS))
	}
	printNodes(w, r.Nodes)
}

// printNodes prints a line per node, then its NATS traffic.
func printNodes(w io.Writer, nodes []NodeReport) {
	for i, n := range nodes {
		role := "publishers"
		if i > 0 {
			role = "relay"
		}
		fmt.Fprintf(w, "node %-6d %s, pid %d (%s): %d viewers, %d kept up, %d failed; CPU %.2f cores\n",
			i, n.URL, n.PID, role, n.Viewers, n.KeptUp, n.Failed, n.CPU)
		fmt.Fprintf(w, "  latency   %s\n", pct(n.Latency))
		if t := n.NATS; t != nil {
			fmt.Fprintf(w, "  NATS      in %.2f Mbit/s (%s, %d msgs), out %.2f Mbit/s (%s, %d msgs) in the window\n",
				t.InRate/1e6, size(int64(t.InBytes)), t.InMsgs, t.OutRate/1e6, size(int64(t.OutBytes)), t.OutMsgs)
		} else {
			fmt.Fprintf(w, "  NATS      no statistics\n")
		}
	}
}

func pct(p Percentiles) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("p50 %s  p95 %s  p99 %s  max %s", ms(p.P50), ms(p.P95), ms(p.P99), ms(p.Max))
}

func size(n int64) string {
	switch {
	case n >= 1<<30 || n <= -1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
