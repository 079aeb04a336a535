package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/embednats"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

func TestNodeAddrs(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		n       int
		want    []string
		wantErr bool
	}{
		{name: "one", give: "127.0.0.1:8080", n: 1, want: []string{"127.0.0.1:8080"}},
		{name: "consecutive", give: "127.0.0.1:8080", n: 3, want: []string{"127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082"}},
		{name: "any host", give: ":9000", n: 2, want: []string{":9000", ":9001"}},
		{name: "free ports", give: "127.0.0.1:0", n: 2, want: []string{"127.0.0.1:0", "127.0.0.1:0"}},
		{name: "last port", give: "127.0.0.1:65534", n: 2, want: []string{"127.0.0.1:65534", "127.0.0.1:65535"}},
		{name: "past the last port", give: "127.0.0.1:65535", n: 2, wantErr: true},
		{name: "no port", give: "127.0.0.1", n: 2, wantErr: true},
		{name: "named port", give: "127.0.0.1:http", n: 2, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nodeAddrs(tc.give, tc.n)
			if (err != nil) != tc.wantErr {
				t.Fatalf("nodeAddrs(%q, %d) error = %v; want error %v", tc.give, tc.n, err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("nodeAddrs(%q, %d) = %q; want %q", tc.give, tc.n, got, tc.want)
			}
		})
	}
}

// running is the demo's run under test.
type running struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan error  // out: run's result
	lines  chan string // out: what run printed, line by line; closed when it returned
}

// startRun calls run with args and env as main does, in a goroutine; the
// test stops it with stop.
func startRun(t *testing.T, args []string, env map[string]string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, w := io.Pipe()
	r := &running{t: t, cancel: cancel, done: make(chan error, 1), lines: make(chan string, 100)}
	go func() { // exits when run returns
		err := run(ctx, args, func(k string) string { return env[k] }, w)
		w.Close()
		r.done <- err
	}()
	go func() { // exits when run has returned and closed w
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			t.Log(sc.Text())
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	t.Cleanup(func() {
		cancel()
		for range r.lines { // drain until the scanner ends
		}
	})
	return r
}

// after waits for a line that starts with prefix and returns the rest
// of it, up to the first space.
func (r *running) after(prefix string) string {
	r.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("run returned (%v) before printing %q", <-r.done, prefix)
			}
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				word, _, _ := strings.Cut(rest, " ")
				return word
			}
		case <-deadline:
			r.t.Fatalf("run did not print %q", prefix)
		}
	}
}

// stop cancels run's context and fails the test unless it returns nil.
func (r *running) stop() {
	r.t.Helper()
	r.cancel()
	go func() { // exits when run has returned and closed its output
		for range r.lines {
		}
	}()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("run() = %v; want nil after cancel", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		r.t.Fatal("run did not return after cancel")
	}
}

// TestRunNATS runs one node against a NATS server given by -nats or
// AMLIVE_NATS: it connects under its name, serves, and drains and closes
// its connection when it shuts down.
func TestRunNATS(t *testing.T) {
	ns, err := embednats.Start(embednats.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "flag", args: []string{"-nats", ns.ClientURL()}},
		{name: "environment", env: map[string]string{"AMLIVE_NATS": ns.ClientURL()}},
		{name: "flag wins", args: []string{"-nats", ns.ClientURL()}, env: map[string]string{"AMLIVE_NATS": "nats://127.0.0.1:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, tc.args...)
			r := startRun(t, args, tc.env)
			base := r.after("amlive demo listening on ")
			if res := get(t, base+"/"); res != http.StatusOK {
				t.Errorf("GET / = %d; want 200", res)
			}
			_, port, _ := strings.Cut(strings.TrimPrefix(base, "http://"), ":")
			conns := natsClients(t, ns)
			if want := "amlive demo " + nodeName("127.0.0.1:"+port); !slices.Contains(conns, want) {
				t.Errorf("NATS clients %q; want %q", conns, want)
			}
			r.stop()
			waitNoClients(t, ns)
		})
	}
}

// TestRunNodes runs two nodes in one process with -nodes: each serves on
// its own port, they share the users and the sessions, their NATS server
// is embedded and its directory is gone when run returns.
func TestRunNodes(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the embedded server's directory goes
	data := t.TempDir()
	r := startRun(t, []string{"-nodes", "2", "-addr", "127.0.0.1:0", "-data", data}, nil)
	natsURL := r.after("amlive demo: embedded NATS server (JetStream in a temporary directory) on ")
	if !strings.HasPrefix(natsURL, "nats://127.0.0.1:") {
		t.Errorf("embedded NATS server on %q; want nats://127.0.0.1:<port>", natsURL)
	}
	bases := []string{r.after("amlive demo node 0 listening on "), r.after("amlive demo node 1 listening on ")}
	if bases[0] == bases[1] {
		t.Fatalf("both nodes on %s", bases[0])
	}
	if dirs, _ := filepath.Glob(filepath.Join(tmp, "amlive-demo-nats-*")); len(dirs) != 1 {
		t.Errorf("embedded NATS directories %q; want one", dirs)
	}
	for _, b := range bases {
		for _, path := range []string{"/", "/live/rooms", "/live/assets/player.js"} {
			if code := get(t, b+path); code != http.StatusOK {
				t.Errorf("GET %s%s = %d; want 200", b, path, code)
			}
		}
	}

	// Each node's /metrics holds its cluster's metrics beside the plugin's.
	for _, b := range bases {
		r := newClient(t, b).get("/metrics")
		for _, name := range []string{"amlive_cluster_connected 1", "amlive_nats_sent_bytes_total", "amlive_live_rooms 0"} {
			if !strings.Contains(r.Body, name) {
				t.Errorf("GET %s/metrics lacks %s", b, name)
			}
		}
	}

	// One store of users and one session key: alice signs up on node 0
	// and is signed in on node 1 (cookies do not depend on the port).
	alice := newClient(t, bases[0])
	alice.mustSignUp("alice")
	alice1 := newClientWithJar(t, bases[1], alice.jar)
	if got := alice1.user(); got != "alice" {
		t.Errorf("on node 1, the user signed up on node 0 is %q; want alice", got)
	}
	bob := newClient(t, bases[1])
	bob.mustSignUp("bob")
	if r := newClient(t, bases[0]).login("bob", "password-bob"); r.Status != http.StatusSeeOther {
		t.Errorf("bob, signed up on node 1, signs in on node 0: status %d; want 303", r.Status)
	}

	// alice goes live on node 0: her room is live there, and, once the
	// nodes share their rooms, on node 1 too.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := alice.dial(ctx, "/live/alice/upload?mime="+url.QueryEscape("video/webm;codecs=vp8,opus"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, data, err := conn.Read(ctx); err != nil || !strings.Contains(string(data), `"ready"`) {
		t.Fatalf("first message %q, %v; want ready", data, err)
	}
	read := make(chan struct{})
	go func() { // exits when the connection is closed
		defer close(read)
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}()
	for _, c := range fixture.Load(t, "vp8-opus-250ms-kf2s").Chunks[:4] {
		if err := conn.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatal(err)
		}
	}
	waitLive(ctx, t, bob, bases[0], "alice")
	if media := firstMedia(ctx, t, newClientWithJar(t, bases[0], bob.jar), "/live/alice/subscribe"); !bytes.HasPrefix(media, clusterID) {
		t.Errorf("first media on node 0 begins % x; want a Cluster (% x)", media[:min(len(media), 4)], clusterID)
	}
	// A newcomer watches on node 1 what alice publishes on node 0.
	waitLive(ctx, t, bob, bases[1], "alice")
	if media := firstMedia(ctx, t, newClientWithJar(t, bases[1], bob.jar), "/live/alice/subscribe"); !bytes.HasPrefix(media, clusterID) {
		t.Errorf("first media on node 1 begins % x; want a Cluster (% x)", media[:min(len(media), 4)], clusterID)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	<-read

	r.stop()
	if dirs, _ := filepath.Glob(filepath.Join(tmp, "amlive-demo-nats-*")); len(dirs) != 0 {
		t.Errorf("embedded NATS directories %q left after run returned; want none", dirs)
	}
	if _, err := os.Stat(filepath.Join(data, "recordings", "alice")); err != nil {
		t.Errorf("alice's recording on the shared directory: %v", err)
	}
}

// clusterID begins every WebM Cluster: a viewer's first media must be one.
var clusterID = []byte{0x1F, 0x43, 0xB6, 0x75}

// firstMedia subscribes at path and returns the first media message, the
// binary message after the init segment.
func firstMedia(ctx context.Context, t *testing.T, c *client, path string) []byte {
	t.Helper()
	conn, err := c.dial(ctx, path)
	if err != nil {
		t.Fatalf("subscribe %s%s: %v", c.base, path, err)
	}
	defer conn.CloseNow()
	binary := 0
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("viewer on %s: %v; want the init segment and media", c.base, err)
		}
		if typ != websocket.MessageBinary {
			continue
		}
		if binary++; binary == 2 {
			return data
		}
	}
}

// waitLive waits until base's live list shows room, or ctx ends.
func waitLive(ctx context.Context, t *testing.T, c *client, base, room string) {
	t.Helper()
	at := newClientWithJar(t, base, c.jar)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var rooms []liveplugin.BroadcastInfo
		r := at.get("/live/rooms")
		if r.Status == http.StatusOK && json.Unmarshal([]byte(r.Body), &rooms) == nil &&
			slices.ContainsFunc(rooms, func(b liveplugin.BroadcastInfo) bool { return b.Room == room }) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s/live/rooms = %d %s; want %s live", base, r.Status, r.Body, room)
		case <-tick.C:
		}
	}
}

// get returns the status of GET u.
func get(t *testing.T, u string) int {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// natsClients returns the names of ns's client connections.
func natsClients(t *testing.T, ns *embednats.Server) []string {
	t.Helper()
	cz, err := ns.NATS().Connz(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cz.Conns {
		names = append(names, c.Name)
	}
	return names
}

// waitNoClients waits until ns has no client connection left: the
// server notices a closed connection a moment after the client closes it.
func waitNoClients(t *testing.T, ns *embednats.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		names := natsClients(t, ns)
		if len(names) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("NATS clients %q after run returned; want none", names)
		}
		retry(t.Context())
	}
}

// retry waits a little before a condition is checked again, or until ctx
// is done.
func retry(ctx context.Context) {
	tm := time.NewTimer(20 * time.Millisecond)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

// TestRunNodesNATS runs two nodes with -nodes and -nats: no server is
// embedded, both nodes connect to the one given, each under its name.
func TestRunNodesNATS(t *testing.T) {
	ns, err := embednats.Start(embednats.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	r := startRun(t, []string{"-nodes", "2", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-nats", ns.ClientURL()}, nil)
	bases := []string{r.after("amlive demo node 0 listening on "), r.after("amlive demo node 1 listening on ")}
	conns := natsClients(t, ns)
	for _, b := range bases {
		_, port, _ := strings.Cut(strings.TrimPrefix(b, "http://"), ":")
		if want := "amlive demo " + nodeName("127.0.0.1:"+port); !slices.Contains(conns, want) {
			t.Errorf("NATS clients %q; want %q", conns, want)
		}
	}
	if len(conns) != 2 {
		t.Errorf("NATS clients %q; want the two nodes'", conns)
	}
	r.stop()
	waitNoClients(t, ns)
}

// TestRunDir: -dir puts the recordings elsewhere than the data directory.
func TestRunDir(t *testing.T) {
	data, rec := t.TempDir(), filepath.Join(t.TempDir(), "shared")
	r := startRun(t, []string{"-addr", "127.0.0.1:0", "-data", data, "-dir", rec}, nil)
	r.after("amlive demo listening on ")
	if fi, err := os.Stat(rec); err != nil || !fi.IsDir() {
		t.Errorf("-dir %s: %v; want the recordings directory made", rec, err)
	}
	if _, err := os.Stat(filepath.Join(data, "recordings")); err == nil {
		t.Errorf("%s/recordings exists; want the recordings in -dir only", data)
	}
	r.stop()
}
