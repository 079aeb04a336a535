package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo-contrib/pprof"
	"github.com/labstack/echo/v4"

	"github.com/nats-io/nats.go"

	"github.com/amlive/amlive/internal/embednats"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/natscluster"
)

// benchConfig is the plugin's configuration for load tests: anyone may
// publish, and the limits a load test would hit first are raised. Above
// all ViewerUpgrades: its default bucket of 1000 per client IP refuses the
// viewers of a load test beyond the 1000th (then 10 a second), since they
// all come from one address.
func benchConfig(dir string, log *slog.Logger) liveplugin.Config {
	return liveplugin.Config{
		Dir:               dir,
		Logger:            log,
		Authorize:         func(echo.Context, string, liveplugin.Action) error { return nil },
		ViewerUpgrades:    liveplugin.RateLimit{PerMinute: 1 << 30, Burst: 1 << 30},
		PublisherUpgrades: liveplugin.RateLimit{PerMinute: 1 << 30, Burst: 1 << 30},
		MaxRooms:          10_000,
		MaxViewers:        1 << 20,
		MaxTotalViewers:   1 << 20,
	}
}

// newBenchServer returns an Echo app with the plugin mounted at /live (see
// benchConfig), sharing its rooms through cl unless it is nil, and Go's
// profiles at /debug/pprof/. The caller closes the plugin.
func newBenchServer(dir string, log *slog.Logger, cl *natscluster.Cluster) (*echo.Echo, *liveplugin.Plugin, error) {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	cfg := benchConfig(dir, log)
	if cl != nil {
		cfg.Cluster = cl
	}
	p, err := liveplugin.Register(e.Group("/live"), cfg)
	if err != nil {
		return nil, nil, err
	}
	pprof.Register(e)
	return e, p, nil
}

// natsStatsPath is where a clustered bench server serves the statistics
// of its NATS connection, as JSON (natsCounters).
const natsStatsPath = "/debug/nats"

// natsCounters are a NATS connection's message and byte counts so far.
type natsCounters struct {
	InMsgs   uint64 `json:"inMsgs"`
	OutMsgs  uint64 `json:"outMsgs"`
	InBytes  uint64 `json:"inBytes"`
	OutBytes uint64 `json:"outBytes"`
}

// sub returns the counts of c since b.
func (c natsCounters) sub(b natsCounters) natsCounters {
	return natsCounters{InMsgs: c.InMsgs - b.InMsgs, OutMsgs: c.OutMsgs - b.OutMsgs, InBytes: c.InBytes - b.InBytes, OutBytes: c.OutBytes - b.OutBytes}
}

// serveNATSStats serves nc's statistics at natsStatsPath.
func serveNATSStats(e *echo.Echo, nc *nats.Conn) {
	e.GET(natsStatsPath, func(c echo.Context) error {
		st := nc.Stats()
		return c.JSON(http.StatusOK, natsCounters{InMsgs: st.InMsgs, OutMsgs: st.OutMsgs, InBytes: st.InBytes, OutBytes: st.OutBytes})
	})
}

// serveMain runs the bench server: "liveload serve [-addr A] [-dir D]
// [-nats URL -name N]". It prints the plugin's base URL on a line of its
// own once it listens, and stops when its standard input closes (its
// parent went away) or on SIGINT or SIGTERM. With -nats it shares its
// rooms with the other servers connected to that NATS server, and serves
// its connection's statistics at /debug/nats.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("liveload serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	dir := fs.String("dir", "", "recordings directory (default: a temporary one, removed at exit)")
	natsURL := fs.String("nats", "", "URL of the NATS server to cluster through (default: no cluster)")
	name := fs.String("name", "", "this node's name in the cluster (default: a random one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cleanup, err := tempDirIfEmpty(dir, "liveload-*")
	if err != nil {
		return err
	}
	defer cleanup()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var (
		nc *nats.Conn
		cl *natscluster.Cluster
	)
	if *natsURL != "" {
		var err error
		nc, err = nats.Connect(*natsURL, nats.Name("liveload serve "+*name), nats.MaxReconnects(-1))
		if err != nil {
			return fmt.Errorf("connect to NATS at %s: %w", *natsURL, err)
		}
		defer nc.Close()
		if cl, err = natscluster.New(nc, natscluster.Options{Name: *name}); err != nil {
			return err
		}
	}
	e, p, err := newBenchServer(*dir, log, cl)
	if err != nil {
		return err
	}
	if nc != nil {
		serveNATSStats(e, nc)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return errors.Join(err, p.Close(context.Background()))
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // exits on Shutdown
	fmt.Printf("http://%s/live\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdin := make(chan struct{})
	go func() { // exits when stdin closes, at the latest when the process ends
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case <-ctx.Done():
	case <-stdin:
	case err := <-served:
		return errors.Join(err, p.Close(context.Background()))
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = errors.Join(srv.Shutdown(sctx), p.Close(sctx))
	if nc != nil {
		err = errors.Join(err, drain(sctx, nc))
	}
	return err
}

// drain drains nc and waits until it has closed, or closes it when ctx
// ends first.
func drain(ctx context.Context, nc *nats.Conn) error {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return err
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		nc.Close()
		return ctx.Err()
	}
}

// natsMain runs a NATS server with JetStream for the bench servers of a
// cluster: "liveload nats [-dir D]". It prints its client URL on a line
// of its own once it accepts connections, and stops as serveMain does.
func natsMain(args []string) error {
	fs := flag.NewFlagSet("liveload nats", flag.ContinueOnError)
	dir := fs.String("dir", "", "JetStream directory (default: a temporary one, removed at exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cleanup, err := tempDirIfEmpty(dir, "liveload-nats-*")
	if err != nil {
		return err
	}
	defer cleanup()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ns, err := embednats.Start(embednats.Options{Dir: *dir, Name: "liveload", Logger: log})
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	fmt.Println(ns.ClientURL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdin := make(chan struct{})
	go func() { // exits when stdin closes, at the latest when the process ends
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case <-ctx.Done():
	case <-stdin:
	}
	return nil
}

// child is a bench server or a NATS server running as a child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	URL   string // the plugin's base URL, or the NATS server's
}

// startChild runs this executable with args ("serve …" or "nats …") and
// waits until it prints its URL, which must begin with prefix.
func startChild(ctx context.Context, prefix string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() { // exits when the child's stdout closes
		br := bufio.NewReader(stdout)
		s, _ := br.ReadString('\n')
		line <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, br)
	}()
	select {
	case c.URL = <-line:
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	if !strings.HasPrefix(c.URL, prefix) {
		c.stop()
		return nil, fmt.Errorf("%s did not start (said %q)", strings.Join(args, " "), c.URL)
	}
	return c, nil
}

// PID returns the child's process id.
func (c *child) PID() int { return c.cmd.Process.Pid }

// stop asks the child to shut down and waits for it, killing it if it
// takes longer than 20 seconds.
func (c *child) stop() error {
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }() // exits with the child
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		return <-done
	}
}

// tempDirIfEmpty sets an empty *dir to a new temporary directory named
// after pattern; the returned cleanup removes it (and does nothing for a
// directory of the caller's).
func tempDirIfEmpty(dir *string, pattern string) (cleanup func(), err error) {
	if *dir != "" {
		return func() {}, nil
	}
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	*dir = d
	return func() { _ = os.RemoveAll(d) }, nil
}
