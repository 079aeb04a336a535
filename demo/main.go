// Command demo is a small Echo site that mounts the amlive plugin the way an
// application would: accounts with sign-up and sign-in, one live room per
// user (the room is the user name), a profile page with a "Go live" panel
// for its owner and the player for everyone else, a live-now list and the
// recordings of past broadcasts.
//
// Usage:
//
//	go run ./demo [-addr 127.0.0.1:8080] [-data ./demo-data] [-dir DATA/recordings]
//	    [-nats URL] [-nodes 1] [-read-header-timeout 10s] [-read-timeout 30s]
//	    [-write-stall-timeout 60s] [-keepalive-timeout 2m] [-max-header-bytes 65536]
//
// The environment variables AMLIVE_ADDR, AMLIVE_DATA and AMLIVE_NATS change
// the defaults of -addr, -data and -nats. Everything is kept under the data
// directory: the users (users.json), the session key (session.key) and the
// recordings (recordings/, or -dir).
//
// By default the demo is one node and needs no other service. With -nats
// it connects to that NATS server (JetStream on; it reconnects forever)
// and shares its live rooms with every other demo node connected there:
// run two processes with their own -data and one shared -dir. With
// -nodes N it runs N nodes in this process on consecutive ports (8080,
// 8081, …), sharing the users, the sessions and the recordings, over an
// embedded NATS server whose JetStream data lives in a temporary
// directory removed at exit: go live on :8080, watch on :8081. The camera needs a secure context: open the site on
// http://127.0.0.1 or http://localhost, or serve it over HTTPS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// shutdownTimeout bounds the graceful shutdown: HTTP requests in flight,
// then the plugin's broadcasts and recordings.
const shutdownTimeout = 15 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run parses args, serves the site until ctx ends, then shuts it down:
// first the HTTP servers (requests in flight finish), then the plugins
// (live broadcasts end, recordings are finished, WebSockets close),
// because http.Server.Shutdown does not wait for hijacked connections,
// then the NATS connections and the embedded NATS server, if any.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", envOr(getenv, "AMLIVE_ADDR", "127.0.0.1:8080"), "`address` to listen on (env AMLIVE_ADDR); with -nodes, the first node's")
	data := fs.String("data", envOr(getenv, "AMLIVE_DATA", "./demo-data"), "`directory` for users, session key and recordings unless -dir (env AMLIVE_DATA)")
	recordings := fs.String("dir", "", "recordings `directory` (default DATA/recordings); nodes of a cluster may share it")
	natsURL := fs.String("nats", getenv("AMLIVE_NATS"), "`URL` of a NATS server with JetStream to cluster through, e.g. nats://127.0.0.1:4222 (env AMLIVE_NATS)")
	nodes := fs.Int("nodes", 1, "run `N` nodes in this process on consecutive ports from -addr's, clustered over an embedded NATS server (or -nats)")
	var opts options
	fs.DurationVar(&opts.ReadHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "longest a client may take to send a request's headers")
	fs.DurationVar(&opts.ReadTimeout, "read-timeout", defaultReadTimeout, "longest a client may take to send a whole request, headers and body")
	fs.DurationVar(&opts.WriteStallTimeout, "write-stall-timeout", defaultWriteStallTimeout,
		"longest a response waits for the client to take more of it (a slow reader is served to the end; one that stops reading is cut)")
	fs.DurationVar(&opts.KeepAliveTimeout, "keepalive-timeout", defaultKeepAliveTimeout, "longest a connection stays open between requests")
	fs.IntVar(&opts.MaxHeaderBytes, "max-header-bytes", defaultMaxHeaderBytes, "largest request headers accepted, in `bytes`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *nodes < 1 {
		return fmt.Errorf("-nodes must be >= 1, got %d", *nodes)
	}
	addrs, err := nodeAddrs(*addr, *nodes)
	if err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(stdout, nil))
	opts.DataDir, opts.Logger, opts.RecordingsDir = *data, log, *recordings
	c := &cluster{log: log, out: stdout, url: *natsURL}
	defer c.close()
	if *nodes > 1 && c.url == "" {
		if err := c.startEmbedded(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "amlive demo: embedded NATS server (JetStream in a temporary directory) on %s\n", c.url)
	}
	if *nodes > 1 {
		// One store of users and one session key for every node: a
		// user signed in on one is signed in on all.
		if opts.Accounts, err = openAccounts(opts.DataDir, opts.BcryptCost); err != nil {
			return err
		}
	}

	var started []*node // closed on an error before serving
	defer func() {
		for _, s := range started {
			_ = s.ln.Close()
			_ = s.srv.plugin.Close(context.Background())
		}
	}()
	for i, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		o := opts
		if c.url != "" {
			if o.Cluster, err = c.join(ln.Addr().String()); err != nil {
				return errors.Join(err, ln.Close())
			}
		}
		s, err := newServer(o)
		if err != nil {
			return errors.Join(err, ln.Close())
		}
		started = append(started, &node{srv: s, ln: ln, hs: s.httpServer()})
		if *nodes > 1 {
			fmt.Fprintf(stdout, "amlive demo node %d listening on %s\n", i, siteURL(ln.Addr()))
		}
	}
	all := started
	started = nil // the shutdown below closes them
	served := make(chan error, len(all))
	for _, s := range all {
		go func() { served <- s.hs.Serve(s.ln) }() // exits when the server is shut down
	}
	switch {
	case *nodes > 1:
		fmt.Fprintf(stdout, "amlive demo: %d nodes share their rooms over NATS: go live on %s, watch on %s\n",
			len(all), siteURL(all[0].ln.Addr()), siteURL(all[1].ln.Addr()))
	case c.url != "":
		fmt.Fprintf(stdout, "amlive demo listening on %s (clustered over %s)\n", siteURL(all[0].ln.Addr()), c.url)
	default:
		fmt.Fprintf(stdout, "amlive demo listening on %s\n", siteURL(all[0].ln.Addr()))
	}

	var errs []error
	pending := len(all)
	select {
	case err := <-served: // one failed to serve
		errs = append(errs, err)
		pending--
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, s := range all {
		if err := s.hs.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err), s.hs.Close())
		}
	}
	for range pending {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	for _, s := range all {
		if err := s.srv.plugin.Close(sctx); err != nil {
			errs = append(errs, fmt.Errorf("plugin close: %w", err))
		}
	}
	if err := c.drain(sctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// node is one demo site being served.
type node struct {
	srv *server
	ln  net.Listener
	hs  *http.Server
}

// nodeAddrs returns the addresses of n nodes: addr, then the next ports
// on the same host; with port 0, every node takes any free port.
func nodeAddrs(addr string, n int) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-addr %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p+n-1 > 65535 {
		return nil, fmt.Errorf("-addr %q: want a port in [0, %d] for %d nodes", addr, 65536-n, n)
	}
	addrs := make([]string, n)
	for i := range addrs {
		q := p
		if p != 0 {
			q = p + i
		}
		addrs[i] = net.JoinHostPort(host, strconv.Itoa(q))
	}
	return addrs, nil
}

// siteURL returns the URL of the site listening on addr; a wildcard
// address (":8080") is shown as localhost, where browsers allow the camera.
func siteURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// envOr returns the environment variable key, or def when it is empty.
func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
