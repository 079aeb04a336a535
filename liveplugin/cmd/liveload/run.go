package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// options configure a run.
type options struct {
	URL      string        // the plugin's base URL, e.g. http://127.0.0.1:8080/live
	PID      int           // the server's process, for its CPU and memory; 0 if unknown
	Nodes    []node        // if set, every node's (clustered); Nodes[0] is URL's, where the publishers are
	NATSPID  int           // the NATS server's process, for its CPU; 0 if unknown
	Rooms    int           // rooms, one publisher each
	Viewers  int           // viewers per room
	Room     string        // the room's name with one room, else the prefix of room names
	Ramp     time.Duration // over which the viewers join
	Duration time.Duration // the measurement window after the ramp
	Joiners  int           // late joiners during the window
	Bitrate  int64         // of each stream, bits per second
	Chunk    time.Duration // between a publisher's messages
	Keyframe time.Duration // between keyframes, each starting a Cluster
	Align    bool          // chunks end on element boundaries
	Drain    time.Duration // how long viewers may take to receive the end
	Header   http.Header   // added to every WebSocket request
	Profile  string        // directory for the server's CPU and heap profiles; "" for none

	SelfProfile string // file for liveload's own CPU profile of the window; "" for none
}

func (o *options) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(o.Rooms > 0, "-rooms must be > 0")
	check(o.Viewers >= 0, "-viewers must be >= 0")
	check(o.Ramp >= 0 && o.Duration > 0, "-ramp must be >= 0 and -duration > 0")
	check(o.Joiners >= 0, "-joiners must be >= 0")
	check(o.Bitrate >= 100_000, "-bitrate must be at least 100000 bit/s")
	check(o.Chunk >= 10*time.Millisecond, "-chunk must be at least 10ms")
	check(o.Keyframe > 0 && o.Keyframe <= 30*time.Second, "-keyframe must be in (0, 30s]")
	check(o.Drain > 0, "-drain must be > 0")
	return errors.Join(errs...)
}

// node is one server of a cluster under load.
type node struct {
	URL string // the plugin's base URL
	PID int    // its process; 0 if unknown
}

// nodeOf returns the node of viewer i, the one that watches room i % rooms:
// each room's viewers are spread evenly over the nodes.
func nodeOf(i, rooms, nodes int) int {
	return i / rooms % nodes
}

// Report is what a run measured.
type Report struct {
	Rooms          int           `json:"rooms"`
	ViewersPerRoom int           `json:"viewersPerRoom"`
	Bitrate        int64         `json:"bitrate"`
	Chunk          time.Duration `json:"chunk"`
	Keyframe       time.Duration `json:"keyframe"`
	Window         time.Duration `json:"window"` // the measurement window, as it lasted

	Connected int            `json:"connected"` // viewers whose WebSocket opened
	Failed    int            `json:"failed"`    // viewers that did not receive the whole stream to its end
	Failures  map[string]int `json:"failures,omitempty"`
	KeptUp    int            `json:"keptUp"` // viewers that received every byte from their join point to the end
	Skipped   int            `json:"skipped"`

	Sent      int64 `json:"sent"`      // bytes published, all rooms
	Expected  int64 `json:"expected"`  // bytes viewers that reached the end should have received from their join points
	Delivered int64 `json:"delivered"` // bytes those viewers received
	Lost      int64 `json:"lost"`

	Latency  Percentiles `json:"latency"`  // marker sent to received, markers sent in the window
	Join     Percentiles `json:"join"`     // dial start to first media byte, ramp viewers
	LateJoin Percentiles `json:"lateJoin"` // the same for late joiners
	LateDial Percentiles `json:"lateDial"` // of which the dial: its start to the open WebSocket
	LateOpen Percentiles `json:"lateOpen"` // and the rest: the open WebSocket (subscribed) to the first media byte

	Machine float64      `json:"machine"` // cores busy in the window, all processes
	Cores   int          `json:"cores"`
	Server  *ServerStats `json:"server,omitempty"`
	Tool    *ServerStats `json:"tool,omitempty"`

	Nodes []NodeReport `json:"nodes,omitempty"` // with options.Nodes, each one's share
	NATS  *ServerStats `json:"nats,omitempty"`  // the NATS server's process, if known
}

// NodeReport is what a run measured on one node of a cluster.
type NodeReport struct {
	URL     string       `json:"url"`
	PID     int          `json:"pid,omitempty"`
	Viewers int          `json:"viewers"` // viewers on the node whose WebSocket opened
	KeptUp  int          `json:"keptUp"`
	Failed  int          `json:"failed"`
	Latency Percentiles  `json:"latency"`
	CPU     float64      `json:"cpu"`                   // cores used during the window; 0 if PID is unknown
	NATS    *natsTraffic `json:"natsTraffic,omitempty"` // its NATS connection's traffic in the window, if it serves it
}

// natsTraffic is a NATS connection's traffic during the window, as counted
// by the client (the bench server): bytes of message payloads, not of the
// protocol around them.
type natsTraffic struct {
	InMsgs   uint64  `json:"inMsgs"`
	OutMsgs  uint64  `json:"outMsgs"`
	InBytes  uint64  `json:"inBytes"`
	OutBytes uint64  `json:"outBytes"`
	InRate   float64 `json:"inRate"`  // bits per second
	OutRate  float64 `json:"outRate"` // bits per second
}

// traffic returns the traffic of the counts d over window.
func traffic(d natsCounters, window time.Duration) *natsTraffic {
	sec := window.Seconds()
	return &natsTraffic{
		InMsgs: d.InMsgs, OutMsgs: d.OutMsgs, InBytes: d.InBytes, OutBytes: d.OutBytes,
		InRate: float64(d.InBytes) * 8 / sec, OutRate: float64(d.OutBytes) * 8 / sec,
	}
}

// ServerStats is a process's use of the machine.
type ServerStats struct {
	PID       int     `json:"pid"`
	CPU       float64 `json:"cpu"`       // cores used during the window
	BaseRSS   int64   `json:"baseRSS"`   // resident set before the viewers joined, bytes
	PeakRSS   int64   `json:"peakRSS"`   // peak resident set (VmHWM), bytes
	PerViewer int64   `json:"perViewer"` // (PeakRSS - BaseRSS) / connected viewers, bytes
}

// room is one broadcast of the run.
type room struct {
	name  string
	pub   *publisher
	final int64 // bytes published, once the publisher has ended
}

// runner is the state of one run.
type runner struct {
	o     *options
	base  *url.URL   // the publishers' node
	bases []*url.URL // every node's, bases[0] == base
	out   io.Writer  // progress lines

	winStart, winEnd atomic.Int64 // the measurement window, Unix ns
	ready            atomic.Int64 // viewers that receive media or have failed

	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
	cut     bool // the run is over: no more connections
}

// window returns the measurement window; markers sent in it count.
func (r *runner) window() (start, end int64) { return r.winStart.Load(), r.winEnd.Load() }

// track adds a viewer's connection to those cutOff closes; it reports
// false once cutOff has run.
func (r *runner) track(c net.Conn) bool {
	r.connsMu.Lock()
	defer r.connsMu.Unlock()
	if r.cut {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

// cutOff closes every viewer connection still open.
func (r *runner) cutOff() {
	r.connsMu.Lock()
	defer r.connsMu.Unlock()
	r.cut = true
	for c := range r.conns {
		c.Close()
	}
}

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.out, "liveload: "+format+"\n", args...)
}

// run performs one load test against o.URL: it starts a publisher per
// room, joins the viewers over the ramp, measures for o.Duration while
// late joiners come and go, then ends the broadcasts and waits for the
// viewers to receive the end. Progress goes to out.
func run(ctx context.Context, o options, out io.Writer) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	base, err := url.Parse(strings.TrimSuffix(o.URL, "/"))
	if err != nil || base.Host == "" || base.Scheme != "http" && base.Scheme != "https" {
		return nil, fmt.Errorf("-url %q: want http(s)://host[:port]/prefix", o.URL)
	}
	bases := []*url.URL{base}
	for i, n := range o.Nodes {
		if i == 0 {
			if n.URL != o.URL {
				return nil, fmt.Errorf("node 0 is %s; want the publishers' %s", n.URL, o.URL)
			}
			continue
		}
		u, err := url.Parse(strings.TrimSuffix(n.URL, "/"))
		if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("node %d %q: want http(s)://host[:port]/prefix", i, n.URL)
		}
		bases = append(bases, u)
	}
	r := &runner{o: &o, base: base, bases: bases, out: out, conns: make(map[net.Conn]struct{})}
	r.winStart.Store(math.MaxInt64)
	r.winEnd.Store(math.MaxInt64)
	rep := &Report{Rooms: o.Rooms, ViewersPerRoom: o.Viewers, Bitrate: o.Bitrate, Chunk: o.Chunk, Keyframe: o.Keyframe}

	// Publishers.
	rooms := make([]*room, o.Rooms)
	for i := range rooms {
		name := o.Room
		if o.Rooms > 1 {
			name = fmt.Sprintf("%s%d", o.Room, i)
		}
		rooms[i] = &room{name: name}
	}
	stop := make(chan struct{})
	stopPublishers := sync.OnceFunc(func() { close(stop) })
	defer stopPublishers()
	var pubs sync.WaitGroup
	pubErrs := make([]error, len(rooms))
	for i, rm := range rooms {
		p, err := connect(ctx, &o, base, rm.name, o.Header)
		if err != nil {
			stopPublishers()
			pubs.Wait()
			return nil, err
		}
		rm.pub = p
		pubs.Go(func() { // exits when stop is closed or the upload fails
			pubErrs[i] = p.run(stop)
			rm.final = p.sent
		})
	}
	// Wait for a join point in every room: the first chunk has one.
	time.Sleep(2 * o.Chunk)
	var baseStats procStats
	if o.PID > 0 {
		if baseStats, err = readProc(o.PID); err != nil {
			return nil, fmt.Errorf("-pid %d: %w", o.PID, err)
		}
	}
	tool0, _ := readProc(os.Getpid())

	// Viewers, joining over the ramp.
	total := o.Rooms * o.Viewers
	r.progress("%d publishers live; %d viewers joining over %v", o.Rooms, total, o.Ramp)
	viewers := make([]*viewer, total)
	var watching sync.WaitGroup
	rampStart := time.Now()
	for i := range viewers {
		if total > 1 {
			at := rampStart.Add(o.Ramp * time.Duration(i) / time.Duration(total-1))
			if err := sleepUntil(ctx, at); err != nil {
				break
			}
		}
		v := &viewer{room: rooms[i%len(rooms)], node: nodeOf(i, len(rooms), len(bases))}
		viewers[i] = v
		watching.Go(func() { v.run(ctx, r) }) // exits when the connection ends
	}
	viewers = slices.DeleteFunc(viewers, func(v *viewer) bool { return v == nil })
	// The window opens once every viewer receives media (or failed).
	r.waitReady(ctx, len(viewers), rampStart.Add(o.Ramp+60*time.Second))
	winStart := time.Now()
	r.winStart.Store(winStart.UnixNano())
	r.progress("viewers joined in %v; measuring for %v", winStart.Sub(rampStart).Round(time.Millisecond), o.Duration)
	var cpu0 procStats
	if o.PID > 0 {
		cpu0, _ = readProc(o.PID)
	}
	tool1, _ := readProc(os.Getpid())
	nodes0 := r.nodeStats(ctx)
	busy0, _ := machineBusy()
	profiled := make(chan error, 1)
	if o.Profile != "" {
		go func() {
			profiled <- fetchProfile(ctx, base, o.Profile, "cpu.pprof", "profile?seconds="+fmt.Sprint(int(o.Duration.Seconds())))
		}()
	} else {
		profiled <- nil
	}

	if o.SelfProfile != "" {
		stopProfile, err := startCPUProfile(o.SelfProfile)
		if err != nil {
			return nil, err
		}
		defer stopProfile()
	}

	// Late joiners, spread over the window.
	var late []*viewer
	var joining sync.WaitGroup
	for i := range o.Joiners {
		at := winStart.Add(o.Duration * time.Duration(2*i+1) / time.Duration(2*o.Joiners))
		if err := sleepUntil(ctx, at); err != nil {
			break
		}
		v := &viewer{room: rooms[i%len(rooms)], node: nodeOf(i, len(rooms), len(bases)), late: true}
		late = append(late, v)
		joining.Go(func() { v.run(ctx, r) }) // exits when the connection ends
	}
	_ = sleepUntil(ctx, winStart.Add(o.Duration))
	winEnd := time.Now()
	r.winEnd.Store(winEnd.UnixNano())
	rep.Window = winEnd.Sub(winStart)
	var cpu1 procStats
	if o.PID > 0 {
		cpu1, _ = readProc(o.PID)
	}
	tool2, _ := readProc(os.Getpid())
	nodes1 := r.nodeStats(ctx)
	busy1, _ := machineBusy()
	rep.Machine, rep.Cores = (busy1-busy0).Seconds()/rep.Window.Seconds(), runtime.NumCPU()
	if o.Profile != "" {
		if err := errors.Join(<-profiled, fetchProfile(ctx, base, o.Profile, "heap.pprof", "heap")); err != nil {
			r.progress("profiles: %v", err)
		}
	}

	// The end: publishers say so, viewers should receive it.
	if o.SelfProfile != "" {
		pprof.StopCPUProfile()
	}
	joining.Wait() // while the rooms are live
	r.progress("ending the broadcasts; viewers have %v to receive the end", o.Drain)
	stopPublishers()
	pubs.Wait()
	drained := make(chan struct{})
	go func() { // exits when every viewer has returned
		watching.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(o.Drain):
		r.progress("drain timed out: cutting the viewers off")
	case <-ctx.Done():
	}
	r.cutOff()
	<-drained
	if o.PID > 0 {
		if end, err := readProc(o.PID); err == nil {
			cpu1.HWM = max(cpu1.HWM, end.HWM)
		}
	}

	// The report.
	rep.Failures = make(map[string]int)
	for _, rm := range rooms {
		rep.Sent += rm.final
	}
	var lat, join, lateJoin, lateDial, lateOpen hist
	for _, v := range viewers {
		if v.connected {
			rep.Connected++
		}
		if v.skips > 0 {
			rep.Skipped++
		}
		lat.merge(&v.lat)
		if v.firstMedia > 0 {
			join.add(v.firstMedia)
		}
		if v.failure != "" || !v.gotEnd {
			rep.Failed++
			reason := v.failure
			if reason == "" {
				reason = "no end event"
			}
			rep.Failures[reason]++
			continue
		}
		if v.base < 0 {
			rep.Failed++
			rep.Failures["no media"]++
			continue
		}
		rep.Expected += v.room.final - v.base
		rep.Delivered += v.media
		if v.skips == 0 && v.gaps == 0 && v.media == v.room.final-v.base {
			rep.KeptUp++
		}
	}
	rep.Lost = rep.Expected - rep.Delivered
	for _, v := range late {
		if v.firstMedia > 0 {
			lateJoin.add(v.firstMedia)
			lateDial.add(v.dial)
			lateOpen.add(v.firstMedia - v.dial)
		} else {
			rep.Failures["late joiner: "+v.failure]++
		}
	}
	rep.Latency, rep.Join = lat.percentiles(), join.percentiles()
	rep.LateJoin, rep.LateDial, rep.LateOpen = lateJoin.percentiles(), lateDial.percentiles(), lateOpen.percentiles()
	if o.PID > 0 {
		rep.Server = usage(o.PID, baseStats, cpu0, cpu1, rep.Window, rep.Connected)
	}
	rep.Tool = usage(os.Getpid(), tool0, tool1, tool2, rep.Window, rep.Connected)
	if len(o.Nodes) > 0 {
		rep.Nodes = nodeReports(&o, viewers, nodes0, nodes1, rep.Window)
	}
	if o.NATSPID > 0 {
		rep.NATS = &ServerStats{PID: o.NATSPID, CPU: (nodes1.natsP.CPU - nodes0.natsP.CPU).Seconds() / rep.Window.Seconds(), PeakRSS: nodes1.natsP.HWM}
	}
	if len(rep.Failures) == 0 {
		rep.Failures = nil
	}
	for i, err := range pubErrs {
		if err != nil {
			return rep, fmt.Errorf("room %s: %w", rooms[i].name, err)
		}
	}
	return rep, nil
}

func usage(pid int, base, w0, w1 procStats, window time.Duration, viewers int) *ServerStats {
	s := &ServerStats{
		PID:     pid,
		CPU:     (w1.CPU - w0.CPU).Seconds() / window.Seconds(),
		BaseRSS: base.RSS,
		PeakRSS: w1.HWM,
	}
	if viewers > 0 {
		s.PerViewer = (s.PeakRSS - s.BaseRSS) / int64(viewers)
	}
	return s
}

// waitReady waits until n viewers receive media or have failed, or until
// deadline, reporting progress every 5 seconds.
func (r *runner) waitReady(ctx context.Context, n int, deadline time.Time) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for r.ready.Load() < int64(n) {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if now.After(deadline) {
				r.progress("%d of %d viewers receive media; going on", r.ready.Load(), n)
				return
			}
			if now.Sub(last) >= 5*time.Second {
				last = now
				r.progress("%d of %d viewers receive media", r.ready.Load(), n)
			}
		}
	}
}

// sleepUntil sleeps until t or until ctx is done.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetchProfile saves a profile from the server's /debug/pprof/ into dir.
func fetchProfile(ctx context.Context, base *url.URL, dir, name, path string) error {
	u := *base
	u.Path = "/debug/pprof/" + path
	u.RawQuery = ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u.Path, u.RawQuery = "/debug/pprof/"+path[:i], path[i+1:]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u.String(), resp.Status)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startCPUProfile starts profiling this process into file; the returned
// function stops it, if it is still running, and closes the file.
func startCPUProfile(file string) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// nodesAt is what the nodes' processes and NATS connections had used at
// one moment.
type nodesAt struct {
	procs []procStats    // per node; zero where its PID is unknown
	nats  []natsCounters // per node; nil where it serves no statistics
	has   []bool         // whether nats[i] was read
	natsP procStats      // the NATS server's process, if known
}

// nodeStats reads the CPU time of the NATS server's process, and, when
// o.Nodes lists the nodes, every node's and its NATS statistics.
func (r *runner) nodeStats(ctx context.Context) nodesAt {
	var at nodesAt
	if o := r.o; o.NATSPID > 0 {
		at.natsP, _ = readProc(o.NATSPID)
	}
	if len(r.o.Nodes) == 0 {
		return at
	}
	at.procs = make([]procStats, len(r.bases))
	at.nats = make([]natsCounters, len(r.bases))
	at.has = make([]bool, len(r.bases))
	for i, b := range r.bases {
		if pid := r.o.Nodes[i].PID; pid > 0 {
			at.procs[i], _ = readProc(pid)
		}
		c, err := fetchNATSStats(ctx, b)
		if err != nil {
			r.progress("node %d: NATS statistics: %v", i, err)
			continue
		}
		at.nats[i], at.has[i] = c, true
	}
	return at
}

// fetchNATSStats reads a bench server's NATS statistics (natsStatsPath)
// from the host of its plugin's base URL.
func fetchNATSStats(ctx context.Context, base *url.URL) (natsCounters, error) {
	var c natsCounters
	u := *base
	u.Path, u.RawQuery = natsStatsPath, ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return c, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("%s: %s", u.String(), resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", u.String(), err)
	}
	return c, nil
}

// nodeReports sums up each node's viewers and usage over the window,
// from the stats read at its start (w0) and end (w1).
func nodeReports(o *options, viewers []*viewer, w0, w1 nodesAt, window time.Duration) []NodeReport {
	reps := make([]NodeReport, len(o.Nodes))
	lat := make([]hist, len(o.Nodes))
	for i, n := range o.Nodes {
		reps[i].URL, reps[i].PID = n.URL, n.PID
		if n.PID > 0 && i < len(w0.procs) && i < len(w1.procs) {
			reps[i].CPU = (w1.procs[i].CPU - w0.procs[i].CPU).Seconds() / window.Seconds()
		}
		if i < len(w0.has) && i < len(w1.has) && w0.has[i] && w1.has[i] {
			reps[i].NATS = traffic(w1.nats[i].sub(w0.nats[i]), window)
		}
	}
	for _, v := range viewers {
		nr := &reps[v.node]
		if v.connected {
			nr.Viewers++
		}
		lat[v.node].merge(&v.lat)
		switch {
		case v.failure != "" || !v.gotEnd || v.base < 0:
			nr.Failed++
		case v.skips == 0 && v.gaps == 0 && v.media == v.room.final-v.base:
			nr.KeptUp++
		}
	}
	for i := range reps {
		reps[i].Latency = lat[i].percentiles()
	}
	return reps
}
