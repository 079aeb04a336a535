package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/amlive/amlive/internal/loadgen"
)

// clusterID opens every Cluster: a viewer's first media byte must be one.
var clusterID = []byte{0x1F, 0x43, 0xB6, 0x75}

// viewer is one subscriber. Its fields are written by its own goroutine
// and read once that has returned.
type viewer struct {
	room *room
	node int  // the index of the node it watches on, in runner.bases
	late bool // a late joiner: leaves after its first media byte

	connected  bool
	readied    bool          // counted in runner.ready
	dial       time.Duration // from the start of the dial to the open WebSocket
	firstMedia time.Duration // from the start of the dial to the first media byte; 0 if none
	gotEnd     bool
	failure    string // why it failed or was cut off; "" if it did not
	media      int64  // media bytes received
	base       int64  // stream offset of its first media byte; -1 before
	lost       int64  // bytes missing where the stream jumped (after a skip)
	gaps       int    // such jumps
	skips      int
	lat        hist

	sc      loadgen.Scanner
	scanned int64 // media bytes scanned by earlier scanners
	shift   int64 // stream offset minus media position, while contiguous
}

// readBuffer is the size of a viewer's read buffer: a whole chunk of a
// 2.5 Mbit/s stream sent every 125 ms (39 KB) fits, so that a chunk usually
// takes one read system call.
const readBuffer = 64 << 10

// run dials, then reads until the connection ends. r.conns tracks the
// connection so that the run can cut it off.
//
// A viewer reads frames itself (with gobwas/ws, a frame-level WebSocket
// library) and scans the payload where it lies in the read buffer: the
// load tool shares the machine with the server, and a message-level
// client with its own copy and several reads per chunk cost it about
// twice the CPU, which it took from the server under test.
func (v *viewer) run(ctx context.Context, r *runner) {
	v.base = -1
	defer v.markReady(r)
	start := time.Now()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(r.o.Header), Timeout: 60 * time.Second, ReadBufferSize: readBuffer}
	conn, br, _, err := d.Dial(ctx, wsURL(r.bases[v.node], v.room.name, "subscribe"))
	v.dial = time.Since(start)
	if err != nil {
		v.failure = "dial: " + shortError(err)
		return
	}
	if !r.track(conn) {
		conn.Close()
		v.failure = "cut off before it joined"
		return
	}
	defer conn.Close()
	v.connected = true
	if br == nil {
		br = bufio.NewReaderSize(conn, readBuffer)
	}

	var (
		ms       []loadgen.Marker
		hdr      = make([]byte, 0, ws.MaxHeaderSize)
		wantInit bool
		inInit   bool // reading the frames of an init segment
	)
	for {
		h, err := ws.ReadHeaderBuffer(br, hdr)
		if err != nil {
			if !v.gotEnd {
				v.failure = "read: " + shortError(err)
			}
			return
		}
		if h.Masked || h.Rsv != 0 {
			v.failure = "read: a masked or compressed frame from the server"
			return
		}
		switch op := h.OpCode; {
		case op.IsControl():
			if h.Length > ws.MaxControlFramePayloadSize {
				v.failure = "read: oversized control frame"
				return
			}
			p, err := peek(br, int(h.Length))
			if err != nil {
				v.failure = "read: " + shortError(err)
				return
			}
			switch op {
			case ws.OpPing:
				err = writeMasked(conn, ws.NewPongFrame(p))
			case ws.OpClose:
				code, reason := ws.ParseCloseFrameData(p)
				if !v.gotEnd || code != ws.StatusNormalClosure {
					v.failure = fmt.Sprintf("read: closed %d %s", code, reason)
				}
				_ = writeMasked(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(code, "")))
				return
			}
			if err != nil {
				v.failure = "write: " + shortError(err)
				return
			}
			continue
		case op == ws.OpText:
			if !h.Fin { // the server sends every event in one frame
				v.failure = "text event: fragmented"
				return
			}
			p, err := peek(br, int(h.Length))
			if err != nil {
				v.failure = "text event: " + shortError(err)
				return
			}
			var ev struct{ Type string }
			if err := json.Unmarshal(p, &ev); err != nil {
				v.failure = "text event: " + err.Error()
				return
			}
			switch ev.Type {
			case "hello":
				wantInit = true
			case "skip":
				v.skips++
				wantInit = true
				// The bytes before a skip end mid-element: a new scanner
				// does not pair them with what follows.
				v.scanned += v.sc.Scanned()
				v.sc = loadgen.Scanner{}
			case "end":
				v.gotEnd = true
			}
			continue
		case op == ws.OpBinary && wantInit:
			wantInit, inInit = false, true
		}
		if inInit {
			if _, err := br.Discard(int(h.Length)); err != nil {
				v.failure = "init: " + shortError(err)
				return
			}
			inInit = !h.Fin
			continue
		}
		// Media: scan the payload in place, as it arrives.
		for left := h.Length; left > 0; {
			n := br.Buffered()
			if n == 0 {
				if _, err := br.Peek(1); err != nil {
					v.failure = "read: " + shortError(err)
					return
				}
				n = br.Buffered()
			}
			n = int(min(int64(n), left))
			p, _ := br.Peek(n)
			now := time.Now()
			if v.media == 0 {
				v.firstMedia = now.Sub(start)
				v.markReady(r)
				if n < len(clusterID) || !bytes.Equal(p[:len(clusterID)], clusterID) {
					v.failure = "first media is not a Cluster"
					return
				}
				if v.late {
					v.media += int64(n)
					_ = writeMasked(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
					return
				}
			}
			ms = v.sc.Scan(ms[:0], p)
			from, to := r.window()
			v.account(ms, now, from, to)
			v.media += int64(n)
			_, _ = br.Discard(n)
			left -= int64(n)
		}
	}
}

// peek returns the next n bytes of br, which must fit in its buffer, and
// advances past them. They are valid until the next read.
func peek(br *bufio.Reader, n int) ([]byte, error) {
	p, err := br.Peek(n)
	if err != nil {
		return nil, err
	}
	_, _ = br.Discard(n)
	return p, nil
}

// writeMasked writes f from the client side: masked, as RFC 6455 asks.
func writeMasked(conn net.Conn, f ws.Frame) error {
	return ws.WriteFrame(conn, ws.MaskFrameInPlace(f))
}

// markReady counts v in r.ready, once.
func (v *viewer) markReady(r *runner) {
	if !v.readied && !v.late {
		v.readied = true
		r.ready.Add(1)
	}
}

// account checks that the markers follow on from the earlier ones and
// counts the latency of those sent in the measurement window [ws, we].
func (v *viewer) account(ms []loadgen.Marker, now time.Time, ws, we int64) {
	t := now.UnixNano()
	for _, m := range ms {
		shift := m.Offset - (v.scanned + m.Pos)
		switch {
		case v.base < 0:
			v.base, v.shift = shift, shift
		case shift != v.shift:
			v.gaps++
			v.lost += shift - v.shift
			v.shift = shift
		}
		if m.Sent >= ws && m.Sent <= we {
			v.lat.add(time.Duration(t - m.Sent))
		}
	}
}

// shortError returns err's message, or its close status and reason.
func shortError(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed without a close frame"
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("closed %d %s", int(ce.Code), ce.Reason)
	}
	return err.Error()
}
