// Package embednats runs NATS servers inside this process, with JetStream
// on, for the demo and for tests: one server, or a few routed into one
// JetStream cluster.
//
// A Server is github.com/nats-io/nats-server/v2/server configured for
// this: it listens on 127.0.0.1 (on a free port unless told otherwise),
// keeps its JetStream data in the directory it is given, installs no
// signal handlers and logs to a *slog.Logger or not at all. Shutdown
// stops it and waits until every goroutine it started has returned.
package embednats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure a Server. The zero value of each field but Dir means
// its default.
type Options struct {
	// Dir is where JetStream keeps its data; a server started again on
	// the same Dir (and Name) finds its streams and key-value buckets
	// there. Required.
	Dir string
	// Name names the server; servers of one cluster need distinct names.
	// Optional. Defaults to one the server makes up.
	Name string
	// Host is the address clients connect to. Optional. Defaults to
	// 127.0.0.1.
	Host string
	// Port is the client port. Optional. Defaults to 0: any free port
	// (see Server.ClientURL).
	Port int
	// MaxPayload is the largest message the server accepts, in bytes.
	// Optional. Defaults to the server's, 1 MiB.
	MaxPayload int32
	// Cluster, if set, routes this server to others into one JetStream
	// cluster. Optional. Defaults to a standalone server.
	Cluster *ClusterOptions
	// Logger receives the server's log: its notices at Info, warnings at
	// Warn, errors at Error, debug and trace lines at Debug. Optional.
	// Defaults to no log.
	Logger *slog.Logger
	// ReadyTimeout bounds how long Start waits for the server to accept
	// connections. Optional. Defaults to 10 s.
	ReadyTimeout time.Duration
}

// ClusterOptions route a server into a cluster.
type ClusterOptions struct {
	// Name is the cluster's name, the same on every server. Required.
	Name string
	// Port is the port that routes from other servers connect to, on
	// Options.Host. Required: the other servers must know it beforehand.
	Port int
	// Routes are the route URLs (nats-route://host:port) of every server
	// of the cluster; a route to this server itself is ignored. Required.
	Routes []string
}

// Server is a NATS server running in this process. Its methods are safe
// for concurrent use.
type Server struct {
	ns *server.Server
}

// Start starts a server with opts and waits until it accepts client (and,
// in a cluster, route) connections. The caller must Shutdown it.
func Start(opts Options) (*Server, error) {
	so, err := opts.serverOptions()
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embednats: %w", err)
	}
	if opts.Logger != nil {
		debug := opts.Logger.Enabled(context.Background(), slog.LevelDebug)
		ns.SetLogger(logger{opts.Logger}, debug, debug)
	}
	ns.Start() // returns once the server runs; its goroutines end with Shutdown
	ready := opts.ReadyTimeout
	if ready <= 0 {
		ready = 10 * time.Second
	}
	if !ns.ReadyForConnections(ready) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("embednats: server not ready for connections within %v", ready)
	}
	return &Server{ns: ns}, nil
}

// serverOptions validates opts and translates them for the server.
func (o Options) serverOptions() (*server.Options, error) {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("embednats: Dir is required"))
	}
	if o.Port < 0 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("embednats: Port must be in [0, 65535], got %d", o.Port))
	}
	if o.MaxPayload < 0 {
		errs = append(errs, fmt.Errorf("embednats: MaxPayload must be >= 0, got %d", o.MaxPayload))
	}
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	so := &server.Options{
		ServerName: o.Name,
		Host:       host,
		Port:       o.Port,
		MaxPayload: o.MaxPayload,
		JetStream:  true,
		StoreDir:   o.Dir,
		NoSigs:     true,
		NoLog:      o.Logger == nil,
	}
	if o.Port == 0 {
		so.Port = server.RANDOM_PORT
	}
	if c := o.Cluster; c != nil {
		if c.Name == "" {
			errs = append(errs, errors.New("embednats: Cluster.Name is required"))
		}
		if c.Port <= 0 || c.Port > 65535 {
			errs = append(errs, fmt.Errorf("embednats: Cluster.Port must be in [1, 65535], got %d", c.Port))
		}
		if len(c.Routes) == 0 {
			errs = append(errs, errors.New("embednats: Cluster.Routes is required"))
		}
		if o.Name == "" {
			errs = append(errs, errors.New("embednats: Name is required in a cluster"))
		}
		routes := make([]*url.URL, 0, len(c.Routes))
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				errs = append(errs, fmt.Errorf("embednats: route %q: want nats-route://host:port", r))
				continue
			}
			routes = append(routes, u)
		}
		so.Cluster = server.ClusterOpts{Name: c.Name, Host: host, Port: c.Port}
		so.Routes = routes
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return so, nil
}

// ClientURL returns the URL clients connect to, nats://host:port.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Name returns the server's name.
func (s *Server) Name() string { return s.ns.Name() }

// NATS returns the server itself, for its statistics (Varz, Connz) and
// JetStream state. The caller must not shut it down but through
// s.Shutdown.
func (s *Server) NATS() *server.Server { return s.ns }

// Shutdown closes every connection, stops the server and waits until it
// has stopped. It is idempotent.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// StartCluster starts n servers (n >= 1) routed into one JetStream
// cluster named name, with their data in dir/s0, dir/s1, … and their
// names s0, s1, …, and waits until JetStream has elected its leader and
// every server is current; opts sets the rest (its Dir, Name, Port and
// Cluster are ignored). The cluster ports are chosen free on opts.Host
// just before the servers start; should another process take one
// meanwhile, StartCluster tries again with others, twice. The caller must
// Shutdown every server; on error, none is left running.
func StartCluster(n int, name, dir string, opts Options) ([]*Server, error) {
	if n < 1 {
		return nil, fmt.Errorf("embednats: a cluster needs at least one server, got %d", n)
	}
	if name == "" {
		return nil, errors.New("embednats: the cluster needs a name")
	}
	var err error
	for range 3 {
		var servers []*Server
		if servers, err = startCluster(n, name, dir, opts); err == nil {
			return servers, nil
		}
	}
	return nil, err
}

// startCluster is one attempt of StartCluster.
func startCluster(n int, name, dir string, opts Options) ([]*Server, error) {
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	ports, err := freePorts(host, n)
	if err != nil {
		return nil, err
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = "nats-route://" + net.JoinHostPort(host, strconv.Itoa(p))
	}
	servers := make([]*Server, 0, n)
	shutdown := func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}
	for i := range n {
		o := opts
		o.Name = "s" + strconv.Itoa(i)
		o.Dir = filepath.Join(dir, o.Name)
		o.Port = 0
		o.Cluster = &ClusterOptions{Name: name, Port: ports[i], Routes: routes}
		s, err := Start(o)
		if err != nil {
			shutdown()
			return nil, err
		}
		servers = append(servers, s)
	}
	ready := opts.ReadyTimeout
	if ready <= 0 {
		ready = 10 * time.Second
	}
	if err := waitJetStream(servers, ready); err != nil {
		shutdown()
		return nil, err
	}
	return servers, nil
}

// waitJetStream waits until one of servers leads JetStream's meta group
// and every server is current with it.
func waitJetStream(servers []*Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		leader, current := false, true
		for _, s := range servers {
			leader = leader || s.ns.JetStreamIsLeader()
			current = current && s.ns.JetStreamIsCurrent()
		}
		if leader && current {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embednats: JetStream cluster not ready within %v", timeout)
		}
		<-tick.C
	}
}

// freePorts returns n distinct TCP ports that were free on host a moment
// ago.
func freePorts(host string, n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("embednats: find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// URLs joins the client URLs of servers with commas, as nats.Connect
// takes them.
func URLs(servers []*Server) string {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// logger writes the server's log lines to a *slog.Logger.
type logger struct{ l *slog.Logger }

func (l logger) Noticef(format string, v ...any) {
	l.l.Info("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Warnf(format string, v ...any) {
	l.l.Warn("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Errorf(format string, v ...any) {
	l.l.Error("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Fatalf(format string, v ...any) {
	l.l.Error("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Debugf(format string, v ...any) {
	l.l.Debug("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Tracef(format string, v ...any) {
	l.l.Debug("nats server", "line", fmt.Sprintf(format, v...))
}
