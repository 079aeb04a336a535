package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/amlive/amlive/internal/embednats"
	"github.com/amlive/amlive/liveplugin/natscluster"
)

// cluster is what the demo's nodes share rooms through: the NATS server
// at url (embedded, or the one -nats names) and a connection per node.
// It is used by run's goroutine only.
type cluster struct {
	log *slog.Logger
	out io.Writer // for the embedded server's warnings and errors
	url string    // "" for no cluster

	emb   *embednats.Server // nil unless embedded
	tmp   string            // the embedded server's JetStream directory
	conns []*nats.Conn
}

// startEmbedded starts a NATS server in this process, with JetStream in a
// temporary directory, on any free port of 127.0.0.1.
func (c *cluster) startEmbedded() error {
	dir, err := os.MkdirTemp("", "amlive-demo-nats-*")
	if err != nil {
		return err
	}
	c.tmp = dir
	c.emb, err = embednats.Start(embednats.Options{Dir: dir, Name: "amlive-demo", Logger: slog.New(slog.NewTextHandler(c.out, &slog.HandlerOptions{Level: slog.LevelWarn})).With("nats", "embedded")})
	if err != nil {
		return fmt.Errorf("embedded NATS server: %w", err)
	}
	c.url = c.emb.ClientURL()
	return nil
}

// join connects the node that listens on addr to the NATS server, and
// returns the cluster its plugin is to use. The connection reconnects
// forever and is named after the node.
func (c *cluster) join(addr string) (*natscluster.Cluster, error) {
	name := nodeName(addr)
	log := c.log.With("node", name)
	nc, err := nats.Connect(c.url,
		nats.Name("amlive demo "+name),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil when the connection is closed or drained
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", c.url, err)
	}
	c.conns = append(c.conns, nc)
	cl, err := natscluster.New(nc, natscluster.Options{Name: name})
	if err != nil {
		return nil, err
	}
	return cl, nil
}

// nodeName names the node that listens on addr after this host and the
// port, so that nodes on other hosts and other ports differ.
func nodeName(addr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		port = addr
	}
	return host + "-" + port
}

// drain drains every NATS connection, once the plugins are closed: what
// they published is flushed before the connections close. It waits
// until they have closed or ctx ends, then closes what is left.
func (c *cluster) drain(ctx context.Context) error {
	var errs []error
	closed := make([]chan struct{}, len(c.conns))
	for i, nc := range c.conns {
		closed[i] = make(chan struct{})
		nc.SetClosedHandler(func(*nats.Conn) { close(closed[i]) })
		if err := nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("NATS drain: %w", err))
		}
	}
	for i, nc := range c.conns {
		if nc.IsClosed() {
			continue
		}
		select {
		case <-closed[i]:
		case <-ctx.Done():
			nc.Close()
			errs = append(errs, fmt.Errorf("NATS drain: %w", ctx.Err()))
		}
	}
	return errors.Join(errs...)
}

// close closes every connection, then shuts the embedded server down and
// removes its directory. It is idempotent.
func (c *cluster) close() {
	for _, nc := range c.conns {
		nc.Close()
	}
	c.conns = nil
	if c.emb != nil {
		c.emb.Shutdown()
		c.emb = nil
	}
	if c.tmp != "" {
		if err := os.RemoveAll(c.tmp); err != nil {
			c.log.Warn("remove the NATS directory", "dir", c.tmp, "err", err)
		}
		c.tmp = ""
	}
}
