// Command demo is a small Echo site that mounts the amlive plugin the way an
// application would: accounts with sign-up and sign-in, one live room per
// user (the room is the user name), a profile page with a "Go live" panel
// for its owner and the player for everyone else, a live-now list and the
// recordings of past broadcasts.
//
// Usage:
//
//	go run ./demo [-addr 127.0.0.1:8080] [-data ./demo-data] [-read-header-timeout 10s]
//	    [-read-timeout 30s] [-write-stall-timeout 60s] [-keepalive-timeout 2m] [-max-header-bytes 65536]
//
// The environment variables AMLIVE_ADDR and AMLIVE_DATA change the defaults
// of -addr and -data. Everything is kept under the data directory: the
// users (users.json), the session key (session.key) and the recordings
// (recordings/). The camera needs a secure context: open the site on
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
// first the HTTP server (requests in flight finish), then the plugin (live
// broadcasts end, recordings are finished, WebSockets close), because
// http.Server.Shutdown does not wait for hijacked connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", envOr(getenv, "AMLIVE_ADDR", "127.0.0.1:8080"), "`address` to listen on (env AMLIVE_ADDR)")
	data := fs.String("data", envOr(getenv, "AMLIVE_DATA", "./demo-data"), "`directory` for users, session key and recordings (env AMLIVE_DATA)")
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

	log := slog.New(slog.NewTextHandler(stdout, nil))
	opts.DataDir, opts.Logger = *data, log
	s, err := newServer(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return errors.Join(err, s.plugin.Close(context.Background()))
	}
	hs := s.httpServer()

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }() // exits when the server is shut down
	fmt.Fprintf(stdout, "amlive demo listening on %s\n", siteURL(ln.Addr()))

	select {
	case err = <-served: // failed to serve
		return errors.Join(err, s.plugin.Close(context.Background()))
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	if err := hs.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err), hs.Close())
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	if err := s.plugin.Close(sctx); err != nil {
		errs = append(errs, fmt.Errorf("plugin close: %w", err))
	}
	return errors.Join(errs...)
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
