package liveplugin

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
)

// The websocket library writes a frame through a bufio.Writer: the
// header into the buffer, then the payload, and for a payload larger than
// the buffer that is two write system calls, a full buffer and then the
// rest. On loopback and on a busy server, each costs about as much in the
// kernel's TCP path as the bytes it carries; for a media chunk of tens of
// kilobytes the first one is pure overhead. frameWriter hands the library
// a connection that holds back the bytes of an unfinished frame (at most
// pendBytes of them) and sends them with the rest of the frame in one
// writev. It relies on nothing but the frame format of RFC 6455: bytes are
// only held while the frame they belong to is incomplete, and a write that
// would hold more is passed on at once.

// pendBytes bounds the bytes a frameConn holds back; it is also the size
// of the library's buffer, so that the header and the start of the payload
// are all it ever holds.
const pendBytes = 64

// frameWriter wraps a viewer's response writer so that the WebSocket the
// library makes of it writes each frame with one system call. Only
// Hijack differs.
type frameWriter struct {
	http.ResponseWriter
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w frameWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hijacks the wrapped connection and returns it as a frameConn,
// with a small write buffer in front of it.
func (w frameWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	if err := brw.Writer.Flush(); err != nil {
		return c, brw, err
	}
	fc := &frameConn{Conn: c}
	brw.Writer = bufio.NewWriterSize(fc, pendBytes)
	return fc, brw, nil
}

// frameConn is a server-side WebSocket connection that writes each frame
// with one system call: it follows the frames in the bytes written and
// holds back those of a frame that is not complete yet. Writes must not be
// concurrent (the library serialises frames); reads pass through.
type frameConn struct {
	net.Conn

	hdr  [14]byte // the header being read, while incomplete
	nhdr int
	left int64 // payload bytes of the current frame not yet written

	pend  [pendBytes]byte // held back: the start of an incomplete frame
	npend int
	iov   [2][]byte
	bufs  net.Buffers
}

// Write writes p, or holds it back if it leaves a frame incomplete and
// fits in what may be held.
func (c *frameConn) Write(p []byte) (int, error) {
	c.follow(p)
	complete := c.left == 0 && c.nhdr == 0
	if !complete && c.npend+len(p) <= len(c.pend) {
		c.npend += copy(c.pend[c.npend:], p)
		return len(p), nil
	}
	if c.npend == 0 {
		return c.Conn.Write(p)
	}
	held := c.npend
	c.npend = 0
	c.iov = [2][]byte{c.pend[:held], p}
	c.bufs = c.iov[:]
	n, err := c.bufs.WriteTo(c.Conn) // writev on a TCP connection
	c.iov = [2][]byte{}
	return max(0, int(n)-held), err
}

// follow advances the frame state past p.
func (c *frameConn) follow(p []byte) {
	for len(p) > 0 {
		if c.left > 0 {
			k := int(min(c.left, int64(len(p))))
			c.left -= int64(k)
			p = p[k:]
			continue
		}
		c.hdr[c.nhdr] = p[0]
		c.nhdr++
		p = p[1:]
		if size, ok := frameHeader(c.hdr[:c.nhdr]); ok {
			c.left = size
			c.nhdr = 0
		}
	}
}

// frameHeader returns the payload length of the frame whose header is h,
// and ok false while h is not a whole header yet.
func frameHeader(h []byte) (size int64, ok bool) {
	if len(h) < 2 {
		return 0, false
	}
	n := 2
	size = int64(h[1] & 0x7f)
	switch size {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4 // masking key
	}
	if len(h) < n {
		return 0, false
	}
	switch size {
	case 126:
		size = int64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		size = int64(binary.BigEndian.Uint64(h[2:]) & (1<<63 - 1))
	}
	return size, true
}
