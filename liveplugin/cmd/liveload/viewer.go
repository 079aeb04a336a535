package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/liveplugin/internal/loadgen"
)

// clusterID opens every Cluster: a viewer's first media byte must be one.
var clusterID = []byte{0x1F, 0x43, 0xB6, 0x75}

// viewer is one subscriber. Its fields are written by its own goroutine
// and read once that has returned.
type viewer struct {
	room *room
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

// run dials, then reads until the connection ends. r.conns tracks the
// connection so that the run can cut it off.
func (v *viewer) run(ctx context.Context, r *runner) {
	v.base = -1
	defer v.markReady(r)
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	conn, _, err := websocket.Dial(dctx, wsURL(r.base, v.room.name, "subscribe"), &websocket.DialOptions{HTTPHeader: r.o.Header})
	cancel()
	v.dial = time.Since(start)
	if err != nil {
		v.failure = "dial: " + shortError(err)
		return
	}
	if !r.track(conn) {
		conn.CloseNow()
		v.failure = "cut off before it joined"
		return
	}
	defer conn.CloseNow()
	v.connected = true
	conn.SetReadLimit(256 << 20)

	buf := make([]byte, 32<<10)
	var ms []loadgen.Marker
	wantInit := false
	for {
		// A context that is never done spares the library registering
		// with it: the run ends a viewer by closing its connection.
		typ, rd, err := conn.Reader(context.Background())
		if err != nil {
			if !v.gotEnd || websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				v.failure = "read: " + shortError(err)
			}
			return
		}
		if typ == websocket.MessageText {
			n, err := io.ReadFull(rd, buf)
			if err != io.ErrUnexpectedEOF && err != io.EOF {
				v.failure = fmt.Sprintf("text event: %v", err)
				return
			}
			var ev struct{ Type string }
			if err := json.Unmarshal(buf[:n], &ev); err != nil {
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
		}
		if wantInit {
			if _, err := io.Copy(io.Discard, rd); err != nil {
				v.failure = "init: " + shortError(err)
				return
			}
			wantInit = false
			continue
		}
		for {
			n, err := rd.Read(buf)
			if n > 0 {
				now := time.Now()
				if v.media == 0 {
					v.firstMedia = now.Sub(start)
					v.markReady(r)
					if n < len(clusterID) || !bytes.Equal(buf[:len(clusterID)], clusterID) {
						v.failure = "first media is not a Cluster"
						return
					}
					if v.late {
						v.media += int64(n)
						_ = conn.Close(websocket.StatusNormalClosure, "")
						return
					}
				}
				ms = v.sc.Scan(ms[:0], buf[:n])
				ws, we := r.window()
				v.account(ms, now, ws, we)
				v.media += int64(n)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				v.failure = "read: " + shortError(err)
				return
			}
		}
	}
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
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("closed %d %s", int(ce.Code), ce.Reason)
	}
	return err.Error()
}
