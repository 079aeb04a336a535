package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"image"
	"image/jpeg"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestBroadcast goes live as alice with a real browser recording, checks
// the pages while she is live, ends the broadcast, then checks that the
// recording is listed, plays, and that only alice may delete it.
func TestBroadcast(t *testing.T) {
	chunks := fixture.Load(t, "vp8-opus-250ms-kf2s").Chunks
	live := make(chan liveplugin.BroadcastInfo, 1)
	ended := make(chan liveplugin.BroadcastInfo, 1)
	s := newSite(t, t.TempDir(), options{
		OnLive: func(b liveplugin.BroadcastInfo) { live <- b },
		OnEnd:  func(b liveplugin.BroadcastInfo) { ended <- b },
	})
	alice := newClient(t, s.ts.URL)
	alice.mustSignUp("alice")
	bob := newClient(t, s.ts.URL)
	bob.mustSignUp("bob")

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := alice.dial(ctx, "/live/alice/upload?mime="+url.QueryEscape("video/webm;codecs=vp8,opus"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, data, err := conn.Read(ctx); err != nil || !strings.Contains(string(data), `"ready"`) {
		t.Fatalf("first message %q, %v; want ready", data, err)
	}
	// Read the viewer counts (and, later, the close) as a browser would.
	closed := make(chan error, 1)
	go func() { // exits when the connection is closed
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	for _, c := range chunks {
		if err := conn.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatal(err)
		}
	}

	var b liveplugin.BroadcastInfo
	select {
	case b = <-live:
	case <-ctx.Done():
		t.Fatal("the broadcast did not go live")
	}
	if b.Room != "alice" {
		t.Errorf("live in room %q; want alice", b.Room)
	}

	// A title and a thumbnail, as the broadcaster page sends them; the home
	// page lists both.
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"meta","title":"Morning <Q&A>"}`)); err != nil {
		t.Fatal(err)
	}
	if err := conn.Write(ctx, websocket.MessageText, thumbnailMessage(t)); err != nil {
		t.Fatal(err)
	}
	for b.Title == "" || b.Thumbnail == "" {
		if ctx.Err() != nil {
			t.Fatalf("the broadcast's info %+v; want a title and a thumbnail", b)
		}
		time.Sleep(20 * time.Millisecond)
		if live := s.srv.plugin.Live(); len(live) == 1 {
			b = live[0]
		}
	}

	// While live: the JSON the home page polls, the home page, the profile.
	var rooms []liveplugin.BroadcastInfo
	if r := bob.get("/live/rooms"); r.Status != 200 || json.Unmarshal([]byte(r.Body), &rooms) != nil || len(rooms) != 1 || rooms[0].Room != "alice" {
		t.Errorf("GET /live/rooms = %d %s; want alice live", r.Status, r.Body)
	}
	if r := bob.get("/"); !strings.Contains(r.Body, `data-testid="live-entry" data-room="alice"`) {
		t.Errorf("home page while alice is live lacks her entry:\n%s", r.Body)
	} else if !strings.Contains(r.Body, `data-amlive-field="title" dir="auto">Morning &lt;Q&amp;A&gt;</span>`) ||
		!strings.Contains(r.Body, `<img src="`+html.EscapeString(b.Thumbnail)+`"`) {
		t.Errorf("home page's entry for alice lacks her title or thumbnail %s:\n%s", b.Thumbnail, r.Body)
	}
	if r := bob.get("/u/alice"); !strings.Contains(r.Body, `data-testid="profile-live"`) || !strings.Contains(r.Body, `data-live="true"`) {
		t.Errorf("alice's profile while live lacks the live badge or a live player")
	}
	if code := publishCloseCode(t, ctx, alice, "alice"); code != liveplugin.StatusRoomLive {
		t.Errorf("a second upload in alice's room: close code %d; want %d", code, liveplugin.StatusRoomLive)
	}

	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"end"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case b = <-ended:
	case <-ctx.Done():
		t.Fatal("the broadcast did not end")
	}
	if err := <-closed; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("upload closed with %v; want a normal closure", err)
	}

	recs, err := s.srv.plugin.Recordings("alice")
	if err != nil || len(recs) != 1 || recs[0].ID != b.ID || recs[0].Live {
		t.Fatalf("Recordings(alice) = %+v, %v; want broadcast %s, finished", recs, err, b.ID)
	}
	rec := recs[0]

	if r := bob.get("/"); !strings.Contains(r.Body, `data-testid="recent-entry" data-room="alice" data-broadcast="`+rec.ID+`"`) {
		t.Errorf("home page lacks alice's recording")
	} else if !strings.Contains(r.Body, `data-testid="recent-title" dir="auto">Morning &lt;Q&amp;A&gt;</span>`) ||
		rec.Thumbnail == "" || !strings.Contains(r.Body, `<img src="`+html.EscapeString(rec.Thumbnail)+`"`) {
		t.Errorf("home page's recording of alice lacks its title or thumbnail %q", rec.Thumbnail)
	}
	if r := bob.get("/u/alice"); !strings.Contains(r.Body, `data-broadcast="`+rec.ID+`"`) || strings.Contains(r.Body, `data-testid="recording-delete"`) {
		t.Errorf("alice's profile, seen by bob: no recording %s, or a delete button", rec.ID)
	}
	if r := alice.get("/u/alice"); !strings.Contains(r.Body, `data-testid="recording-delete"`) {
		t.Errorf("alice's profile, seen by alice: no delete button")
	}
	if r := bob.get("/u/alice?b=" + rec.ID); !strings.Contains(r.Body, `data-testid="recording-player"`) || !strings.Contains(r.Body, `src="`+rec.URL) {
		t.Errorf("/u/alice?b=%s does not play the recording", rec.ID)
	}
	if r := bob.get(rec.URL); r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "video/webm") || len(r.Body) == 0 {
		t.Errorf("GET %s = %d %q, %d bytes; want a WebM file", rec.URL, r.Status, r.Header.Get("Content-Type"), len(r.Body))
	}

	// Manage: only alice deletes her recordings (the plugin's DELETE API,
	// which the site's CSRF middleware leaves alone).
	del := func(c *client) int {
		req, err := http.NewRequest(http.MethodDelete, s.ts.URL+"/live/alice/recordings/"+rec.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.do(req).Status
	}
	for _, tc := range []struct {
		name string
		as   *client
		want int
	}{
		{name: "signed out", as: newClient(t, s.ts.URL), want: http.StatusUnauthorized},
		{name: "bob", as: bob, want: http.StatusForbidden},
		{name: "alice", as: alice, want: http.StatusNoContent},
		{name: "alice again", as: alice, want: http.StatusNotFound},
	} {
		if got := del(tc.as); got != tc.want {
			t.Errorf("DELETE as %s = %d; want %d", tc.name, got, tc.want)
		}
	}
}

// thumbnailMessage is a thumbnail upload message: a 64×36 JPEG, as the
// broadcaster page captures from its preview.
func thumbnailMessage(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 36))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	msg, err := json.Marshal(map[string]string{"type": "thumbnail", "data": base64.StdEncoding.EncodeToString(buf.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}
