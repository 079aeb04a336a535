package main

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults of the HTTP server's bounds (options and the -read-header-timeout,
// -read-timeout, -write-stall-timeout, -keepalive-timeout and
// -max-header-bytes flags).
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 30 * time.Second
	defaultWriteStallTimeout = 60 * time.Second
	defaultKeepAliveTimeout  = 2 * time.Minute
	defaultMaxHeaderBytes    = 64 << 10
)

// writeSlice is the most a response writes to the connection under one
// write deadline: a client must take this much every WriteStallTimeout
// (16 KiB a minute by default, about 270 bytes a second) to keep a
// response going.
const writeSlice = 16 << 10

// httpServer returns the site's HTTP server, every cost a client chooses
// bounded but none that a healthy client needs:
//
//   - ReadHeaderTimeout bounds the request line and headers, and
//     MaxHeaderBytes their size (431 beyond);
//   - ReadTimeout bounds reading a whole request, headers and body: a
//     client that trickles a body is cut. Once the body has been read (at
//     once for a request without one) the read deadline is lifted, so that
//     it neither cuts nor cancels a long response;
//   - a response has no fixed WriteTimeout, which would cut a long
//     playback and every WebSocket. Instead every write gets a deadline
//     WriteStallTimeout away, pushed forward at each write of at most
//     writeSlice bytes: a client that reads, however slowly, is served to
//     the end; one that stops reading is cut WriteStallTimeout later, and
//     its goroutine and descriptor are freed (as nginx's send_timeout);
//   - IdleTimeout (the KeepAliveTimeout option) closes a kept-alive
//     connection that sends no new request;
//   - a WebSocket, once its connection is hijacked, has no deadline left
//     from these: the plugin's WebSocket library sets its own, and its
//     pings find a peer that is gone.
//
// The caller serves it and shuts it down.
func (s *server) httpServer() *http.Server {
	o := s.opts
	return &http.Server{
		Handler:           deadlines{next: s.echo, writeStall: o.WriteStallTimeout},
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		IdleTimeout:       o.KeepAliveTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// deadlines is the handler that lifts the read deadline once a request's
// body is read and keeps a write deadline writeStall ahead of every write
// (see httpServer).
type deadlines struct {
	next       http.Handler
	writeStall time.Duration
}

func (d deadlines) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if r.Body == nil || r.Body == http.NoBody {
		_ = rc.SetReadDeadline(time.Time{})
	} else {
		r.Body = &bodyDeadline{ReadCloser: r.Body, rc: rc}
	}
	dw := &deadlineWriter{ResponseWriter: w, rc: rc, stall: d.writeStall}
	dw.extend() // a deadline left by an earlier request on this connection is stale
	d.next.ServeHTTP(dw, r)
	if !dw.hijacked {
		dw.extend() // for what net/http writes after the handler: the buffered rest
	}
}

// bodyDeadline lifts the connection's read deadline when the body it
// reads has been read to its end.
type bodyDeadline struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// deadlineWriter is a ResponseWriter whose every write to the connection
// must complete within stall. It keeps the Flusher and Hijacker of the
// writer it wraps, and Unwrap for http.ResponseController; it hides
// io.ReaderFrom, so that a file is copied in slices under the deadline
// rather than by one sendfile call that no deadline could extend.
type deadlineWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	stall    time.Duration
	hijacked bool
}

// extend moves the write deadline stall from now.
func (w *deadlineWriter) extend() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.stall))
}

// Write writes p in slices of at most writeSlice bytes, each with a fresh
// deadline.
func (w *deadlineWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		k := min(len(p), writeSlice)
		w.extend()
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// FlushError flushes the response, with a fresh deadline.
func (w *deadlineWriter) FlushError() error {
	w.extend()
	return w.rc.Flush()
}

// Flush is http.Flusher's, for code that asserts it.
func (w *deadlineWriter) Flush() { _ = w.FlushError() }

// Hijack hands the connection over with no deadline: from here on it is
// its new owner's to set (the plugin's WebSocket library sets its own).
func (w *deadlineWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := w.rc.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	_ = conn.SetDeadline(time.Time{}) // net/http clears them too; this does not rely on it
	return conn, brw, nil
}

// Unwrap returns the ResponseWriter it wraps, for http.ResponseController.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
