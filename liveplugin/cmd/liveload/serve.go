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

	"github.com/amlive/amlive/liveplugin"
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
// benchConfig) and Go's profiles at /debug/pprof/. The caller closes the
// plugin.
func newBenchServer(dir string, log *slog.Logger) (*echo.Echo, *liveplugin.Plugin, error) {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	p, err := liveplugin.Register(e.Group("/live"), benchConfig(dir, log))
	if err != nil {
		return nil, nil, err
	}
	pprof.Register(e)
	return e, p, nil
}

// serveMain runs the bench server: "liveload serve [-addr A] [-dir D]". It
// prints the plugin's base URL on a line of its own once it listens, and
// stops when its standard input closes (its parent went away) or on
// SIGINT or SIGTERM.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("liveload serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	dir := fs.String("dir", "", "recordings directory (default: a temporary one, removed at exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "liveload-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e, p, err := newBenchServer(*dir, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
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
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(sctx), p.Close(sctx))
}

// child is the bench server running as a child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	URL   string // the plugin's base URL
}

// startChild runs this executable's serve subcommand and waits until it
// listens.
func startChild(ctx context.Context) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve")
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
	if !strings.HasPrefix(c.URL, "http://") {
		c.stop()
		return nil, fmt.Errorf("bench server did not start (said %q)", c.URL)
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
