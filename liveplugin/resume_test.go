package liveplugin_test

import (
	"bytes"
	"context"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// resumer is a publisher that resumes after a drop the way broadcaster.js
// does: it keeps what it sent until the server acknowledges it, and
// resends from the server's offset on a new connection.
type resumer struct {
	t     *testing.T
	url   string // upload URL without query
	c     *client
	token string
	sent  int64    // bytes handed to the socket, from offset 0
	kept  [][]byte // sent but maybe not acknowledged, ending at sent
	keptN int64
}

func newResumer(t *testing.T, ctx context.Context, url string) (*resumer, string) {
	return newResumerMIME(t, ctx, url, "video/webm")
}

// newResumerMIME is newResumer for a stream of MIME type mimeType.
func newResumerMIME(t *testing.T, ctx context.Context, url, mimeType string) (*resumer, string) {
	r := &resumer{t: t, url: url}
	r.c = mustDial(t, ctx, url+"?mime="+neturl.QueryEscape(mimeType))
	ready := r.c.event(t, ctx, "ready")
	if ready.Resume == "" || ready.Offset != 0 {
		t.Fatalf("ready = %+v; want a resume token and offset 0", ready)
	}
	r.token = ready.Resume
	return r, ready.Broadcast
}

// send sends chunk; a write error (the connection was cut) is ignored:
// the chunk is kept and resent on resume.
func (r *resumer) send(ctx context.Context, chunk []byte) {
	r.kept = append(r.kept, chunk)
	r.keptN += int64(len(chunk))
	r.sent += int64(len(chunk))
	_ = r.c.conn.Write(ctx, websocket.MessageBinary, chunk)
	r.trim()
}

// trim forgets the chunks the server acknowledged.
func (r *resumer) trim() {
	r.c.mu.Lock()
	var acked int64
	for _, e := range r.c.events {
		if e.Type == "ack" {
			acked = max(acked, e.Offset)
		}
	}
	r.c.mu.Unlock()
	for len(r.kept) > 0 && r.sent-r.keptN+int64(len(r.kept[0])) <= acked {
		r.keptN -= int64(len(r.kept[0]))
		r.kept = r.kept[1:]
	}
}

// resume reconnects and resends what the server does not hold.
func (r *resumer) resume(ctx context.Context) {
	t := r.t
	t.Helper()
	c := mustDial(t, ctx, r.url+"?resume="+r.token)
	ready := c.event(t, ctx, "ready")
	from := r.sent - r.keptN
	if ready.Offset < from || ready.Offset > r.sent {
		t.Fatalf("resumed at offset %d; the client holds %d to %d", ready.Offset, from, r.sent)
	}
	r.c = c
	for _, chunk := range r.kept {
		end := from + int64(len(chunk))
		if end > ready.Offset {
			skip := max(ready.Offset-from, 0)
			if err := c.conn.Write(ctx, websocket.MessageBinary, chunk[skip:]); err != nil {
				t.Fatalf("resend: %v", err)
			}
		}
		from = end
	}
}

// eventCount waits until the client has n events of type typ.
func (c *client) eventCount(t *testing.T, ctx context.Context, typ string, n int) {
	t.Helper()
	err := c.waitFor(ctx, typ+" events", func() bool {
		k := 0
		for _, e := range c.events {
			if e.Type == typ {
				k++
			}
		}
		return k >= n
	})
	if err != nil {
		t.Fatalf("%v (want %d)", err, n)
	}
}

// TestPublisherResumesAfterDrops cuts the publisher's connection twice
// mid-stream, once in the middle of a message: the publisher resumes from
// the server's offset, the viewer sees reconnecting and resumed and gets
// every byte once, and the recording holds every block.
func TestPublisherResumesAfterDrops(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, ResumeGrace: 10 * time.Second})
	proxy := newNetProxy(t, s.URL)
	pub, id := newResumer(t, ctx, proxy.URL("/live/alice/upload"))
	viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.c.viewers(t, ctx, 1)

	chunks := fx.Chunks
	third := len(chunks) / 3
	var n int64
	drops := 0
	for i, c := range chunks {
		if i == third || i == 2*third {
			// Cut in the middle of the next chunk's frame, with the
			// chunks before it maybe not yet acknowledged.
			proxy.cutAfter(int64(len(c) / 2))
			pub.send(ctx, c)
			n += int64(len(c))
			drops++
			viewer.eventCount(t, ctx, "reconnecting", drops)
			if b, _ := s.p.Status("alice"); !b.Reconnecting {
				t.Error("Status: Reconnecting = false during the drop")
			}
			pub.resume(ctx)
			continue
		}
		pub.send(ctx, c)
		n += int64(len(c))
	}
	s.waitBytes(t, ctx, "alice", n)
	pub.c.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.c.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d %q; want 1000", code, reason)
	}
	viewer.closed(t, ctx)

	events, binary, _ := viewer.snapshot()
	var got []string
	for _, e := range events {
		if e.Type == "reconnecting" || e.Type == "resumed" {
			got = append(got, e.Type)
		}
	}
	if want := "reconnecting resumed reconnecting resumed"; strings.Join(got, " ") != want {
		t.Errorf("viewer's publisher events = %q; want %q", got, want)
	}
	// The viewer joined before the first Cluster: init segment, then
	// every byte from there.
	init := binary[0]
	if media := bytes.Join(binary[1:], nil); !bytes.Equal(media, fx.Full[len(init):]) {
		t.Errorf("viewer got %d media bytes; want the %d sent, each once", len(media), len(fx.Full)-len(init))
	}
	_, body := get(t, http.MethodGet, s.URL+"/live/alice/playback?b="+id, nil)
	checkRecording(t, body, fx.Full)
}

// TestResumeGraceExpires: a publisher that does not come back within
// ResumeGrace ends the broadcast; the viewers see reconnecting, then end,
// and the recording keeps what arrived.
func TestResumeGraceExpires(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, ResumeGrace: 300 * time.Millisecond})
	pub, viewer, id, n := liveWithViewer(t, ctx, s, fx.Chunks[:10])
	token := pub.event(t, ctx, "ready").Resume
	pub.conn.CloseNow()
	viewer.event(t, ctx, "reconnecting")
	if code, reason := viewer.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("viewer closed with %d %q; want 1000", code, reason)
	}
	if e := viewer.event(t, ctx, "end"); e.Recording == "" {
		t.Error("end event names no recording")
	}
	_, body := get(t, http.MethodGet, s.URL+"/live/alice/playback?b="+id, nil)
	checkRecording(t, body, fx.Full[:n])

	late := mustDial(t, ctx, s.ws("/live/alice/upload?resume="+token))
	if code, reason := late.closed(t, ctx); code != liveplugin.StatusNotLive {
		t.Errorf("late resume closed with %d %q; want 4404", code, reason)
	}
}

// TestResumeRefused: a resume needs the broadcast's token and the right
// to publish; a refused one leaves the broadcast alone.
func TestResumeRefused(t *testing.T) {
	ctx := testContext(t, 20*time.Second)
	publishOnly := func(c echo.Context, room string, a liveplugin.Action) error {
		if c.Request().Header.Get("X-User") == "alice" || a == liveplugin.View {
			return nil
		}
		return liveplugin.ErrForbidden
	}
	s := newServer(t, liveplugin.Config{Authorize: publishOnly})
	hdr := &websocket.DialOptions{HTTPHeader: http.Header{"X-User": {"alice"}}}
	pub, err := dial(t, ctx, s.ws("/live/alice/upload?mime=video/webm"), hdr)
	if err != nil {
		t.Fatal(err)
	}
	token := pub.event(t, ctx, "ready").Resume

	tests := []struct {
		name string
		url  string
		opts *websocket.DialOptions
		code websocket.StatusCode
	}{
		{"wrong token", "/live/alice/upload?resume=" + strings.Repeat("0", len(token)), hdr, liveplugin.StatusNotLive},
		{"other room", "/live/bob/upload?resume=" + token, hdr, liveplugin.StatusNotLive},
		{"not allowed to publish", "/live/alice/upload?resume=" + token, nil, liveplugin.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(t, ctx, s.ws(tc.url), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if code, reason := c.closed(t, ctx); code != tc.code {
				t.Errorf("closed with %d %q; want %d", code, reason, tc.code)
			}
		})
	}
	// The publisher is still connected and live.
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, _ := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d; want 1000", code)
	}
}

// TestResumeReplacesHalfOpenConnection: a publisher that resumes while
// the server still holds its old connection (a drop the server has not
// noticed) takes over at once.
func TestResumeReplacesHalfOpenConnection(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	pub, viewer, _, n := liveWithViewer(t, ctx, s, fx.Chunks[:6])
	token := pub.event(t, ctx, "ready").Resume

	next := mustDial(t, ctx, s.ws("/live/alice/upload?resume="+token))
	if ready := next.event(t, ctx, "ready"); ready.Offset != n {
		t.Errorf("resumed at %d; want %d", ready.Offset, n)
	}
	pub.closed(t, ctx) // the server dropped the old connection
	for _, c := range fx.Chunks[6:] {
		next.send(t, ctx, websocket.MessageBinary, c)
	}
	s.waitBytes(t, ctx, "alice", int64(len(fx.Full)))
	next.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, _ := next.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d; want 1000", code)
	}
	viewer.closed(t, ctx)
	_, binary, _ := viewer.snapshot()
	if media := bytes.Join(binary[1:], nil); !bytes.Equal(media, fx.Full[len(binary[0]):]) {
		t.Errorf("viewer got %d media bytes; want %d", len(media), len(fx.Full)-len(binary[0]))
	}
}

// TestCloseDuringResumeGrace: Close does not wait out the grace period.
func TestCloseDuringResumeGrace(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, ResumeGrace: time.Hour})
	pub, viewer, _, _ := liveWithViewer(t, ctx, s, fx.Chunks[:6])
	pub.conn.CloseNow()
	viewer.event(t, ctx, "reconnecting")
	if err := s.p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if code, reason := viewer.closed(t, ctx); code != websocket.StatusGoingAway {
		t.Errorf("viewer closed with %d %q; want 1001", code, reason)
	}
	viewer.event(t, ctx, "end")
}
