package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/loadgen"
)

// publisher uploads one room's synthetic stream.
type publisher struct {
	room string
	o    *options
	conn *websocket.Conn
	st   *loadgen.Stream

	events chan string   // out: the type of each text event, while someone listens
	done   chan struct{} // closed when the read loop has returned
	err    error         // why the read loop returned; valid once done is closed

	sent   int64 // bytes sent; valid once run returned
	chunks int
}

// connect opens the upload and waits for the ready event.
func connect(ctx context.Context, o *options, base *url.URL, room string, hdr http.Header) (*publisher, error) {
	u := wsURL(base, room, "upload") + "?mime=" + url.QueryEscape(loadgen.MIMEType)
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		return nil, fmt.Errorf("publisher %s: %w", room, err)
	}
	p := &publisher{
		room:   room,
		o:      o,
		conn:   conn,
		st:     loadgen.NewStream(loadgen.Options{Bitrate: o.Bitrate, Keyframe: o.Keyframe}),
		events: make(chan string, 1),
		done:   make(chan struct{}),
	}
	go p.read() // exits when the connection closes
	select {
	case ev := <-p.events:
		if ev != "ready" {
			conn.CloseNow()
			return nil, fmt.Errorf("publisher %s: first event %q, want ready", room, ev)
		}
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("publisher %s: %w", room, p.err)
	case <-ctx.Done():
		conn.CloseNow()
		<-p.done
		return nil, fmt.Errorf("publisher %s: no ready event: %w", room, ctx.Err())
	}
}

// read reads the server's events (ready, viewers, error) until the
// connection closes, passing on the first.
func (p *publisher) read() {
	defer close(p.done)
	first := true
	for {
		typ, data, err := p.conn.Read(context.Background())
		if err != nil {
			p.err = err
			return
		}
		if typ != websocket.MessageText || !first {
			continue
		}
		first = false
		var ev struct{ Type string }
		_ = json.Unmarshal(data, &ev)
		p.events <- ev.Type
	}
}

// run publishes a chunk every Chunk until stop is closed, then the bytes
// it held back and the end event, and waits for the server to close. The
// stream's frames follow the clock, so a late tick sends more.
func (p *publisher) run(stop <-chan struct{}) error {
	defer p.conn.CloseNow()
	start := time.Now()
	held := p.st.Init(nil)
	var buf []byte
	tick := time.NewTicker(p.o.Chunk)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			if err := p.write(websocket.MessageBinary, held); err != nil {
				return err
			}
			p.sent += int64(len(held))
			return p.end()
		case <-p.done:
			return fmt.Errorf("publisher %s: %w", p.room, p.err)
		case <-tick.C:
		}
		now := time.Now()
		n := len(held)
		buf = p.st.AppendUntil(append(buf[:0], held...), now.Sub(start), now)
		if len(buf) == n {
			continue // no frame is due yet
		}
		cut := len(buf)
		if !p.o.Align {
			// Like MediaRecorder's, the chunk ends inside an element: in
			// the last block's padding, after its marker.
			cut -= 1 + i%7
		}
		held = append(held[:0], buf[cut:]...)
		if err := p.write(websocket.MessageBinary, buf[:cut]); err != nil {
			return err
		}
		p.sent += int64(cut)
		p.chunks++
	}
}

func (p *publisher) write(typ websocket.MessageType, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.conn.Write(ctx, typ, data); err != nil {
		return fmt.Errorf("publisher %s: %w", p.room, err)
	}
	return nil
}

// end sends the end event and waits for the server's normal close.
func (p *publisher) end() error {
	if err := p.write(websocket.MessageText, []byte(`{"type":"end"}`)); err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("publisher %s: no close 30 s after the end event", p.room)
	}
	if websocket.CloseStatus(p.err) != websocket.StatusNormalClosure {
		return fmt.Errorf("publisher %s: closed with %w", p.room, p.err)
	}
	return nil
}

// wsURL returns the WebSocket URL of room's endpoint under base.
func wsURL(base *url.URL, room, endpoint string) string {
	u := *base
	u.Scheme = "ws"
	if base.Scheme == "https" {
		u.Scheme = "wss"
	}
	u.Path = base.Path + "/" + room + "/" + endpoint
	u.RawQuery = ""
	return u.String()
}
