package liveplugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// describeHook is a Config.Describe that rewrites "darn", refuses
// "refuse" with a sentence and fails on "broken".
func describeHook(c echo.Context, room string, d liveplugin.Description) (liveplugin.Description, error) {
	if !strings.HasSuffix(c.Request().URL.Path, "/"+room+"/upload") {
		return d, errors.New("not the upload request")
	}
	switch d.Title {
	case "refuse":
		return d, echo.NewHTTPError(http.StatusBadRequest, "Keep titles polite.")
	case "broken":
		return d, errors.New("moderation service: connection refused")
	}
	d.Title = strings.ReplaceAll(d.Title, "darn", "d**n")
	return d, nil
}

// metaMessage is a publisher's meta message.
func metaMessage(title, description string) []byte {
	b, _ := json.Marshal(map[string]string{"type": "meta", "title": title, "description": description})
	return b
}

// countEvents waits until c received at least n events of type typ and
// returns them.
func (c *client) countEvents(t *testing.T, ctx context.Context, typ string, n int) []event {
	t.Helper()
	var got []event
	err := c.waitFor(ctx, typ+" events", func() bool {
		got = got[:0]
		for _, e := range c.events {
			if e.Type == typ {
				got = append(got, e)
			}
		}
		return len(got) >= n
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestBroadcastTitle sets a title over the upload socket before the stream
// starts, sees Config.Describe rewrite it, reads it from the publisher's
// meta event, GET /:id/status, GET /rooms and the status stream; changes it
// with Plugin.Describe during the broadcast; and finds it in the
// recording's JSON and sidecar after the end.
func TestBroadcastTitle(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	cfg := statusConfig()
	cfg.Describe = describeHook
	s := newServer(t, cfg)
	feed := openStatus(t, ctx, s.URL+"/live/rooms/events")
	feed.event(t, ctx, 0) // the snapshot

	pub, id := publish(t, ctx, s, "alice")
	pub.send(t, ctx, websocket.MessageText, metaMessage("  Morning darn show ", "Coffee\r\nand news\n"))
	const title, desc = "Morning d**n show", "Coffee\nand news"
	if m := pub.event(t, ctx, "meta"); m.Title != title || m.Description != desc {
		t.Errorf("meta event %+v; want %q, %q as applied", m, title, desc)
	}
	var sent int64
	for _, c := range fx.Chunks[:8] {
		pub.send(t, ctx, websocket.MessageBinary, c)
		sent += int64(len(c))
	}
	s.waitBytes(t, ctx, "alice", sent)

	var status struct {
		Live        bool   `json:"live"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	resp, body := get(t, http.MethodGet, s.URL+"/live/alice/status", nil)
	if err := json.Unmarshal(body, &status); err != nil || resp.StatusCode != http.StatusOK || !status.Live || status.Title != title || status.Description != desc {
		t.Errorf("GET /live/alice/status = %d %s; want live with the title and description", resp.StatusCode, body)
	}
	var rooms []liveplugin.BroadcastInfo
	_, body = get(t, http.MethodGet, s.URL+"/live/rooms", nil)
	if err := json.Unmarshal(body, &rooms); err != nil || len(rooms) != 1 || rooms[0].Title != title || rooms[0].Description != desc {
		t.Errorf("GET /live/rooms = %s; want alice with the title and description", body)
	}
	liveWith := func(title string) func() bool {
		return func() bool {
			for _, e := range feed.events {
				var b liveplugin.BroadcastInfo
				if e.Name == "live" && json.Unmarshal([]byte(e.Data), &b) == nil && b.Room == "alice" && b.Title == title {
					return true
				}
			}
			return false
		}
	}
	feed.waitFor(t, ctx, "a live event with the title", liveWith(title))
	_, page := get(t, http.MethodGet, s.URL+"/live/alice", nil)
	if !strings.Contains(string(page), ">"+title+"</h1>") || !strings.Contains(string(page), "Coffee\nand news</p>") {
		t.Errorf("watch page does not show the title and description in its heading:\n%s", page)
	}

	// The app changes it during the broadcast; its own text is checked
	// but not passed to the hook.
	const newTitle = "Evening darn show"
	if err := s.p.Describe(ctx, "alice", liveplugin.Description{Title: newTitle}); err != nil {
		t.Fatalf("Describe() = %v", err)
	}
	if m := pub.countEvents(t, ctx, "meta", 2)[1]; m.Title != newTitle || m.Description != "" {
		t.Errorf("second meta event %+v; want the app's %q", m, newTitle)
	}
	feed.waitFor(t, ctx, "a live event with the new title", liveWith(newTitle))
	if b, ok := s.p.Status("alice"); !ok || b.Title != newTitle {
		t.Errorf("Status() = %+v, %t; want the new title", b, ok)
	}
	if err := s.p.Describe(ctx, "alice", liveplugin.Description{Title: strings.Repeat("a", liveplugin.MaxTitleRunes+1)}); !errors.Is(err, liveplugin.ErrInvalidDescription) {
		t.Errorf("Describe() of a long title = %v; want ErrInvalidDescription", err)
	}
	if err := s.p.Describe(ctx, "bob", liveplugin.Description{Title: "x"}); !errors.Is(err, liveplugin.ErrNotLive) {
		t.Errorf("Describe() of a room not live = %v; want ErrNotLive", err)
	}
	if err := s.p.Describe(ctx, "../x", liveplugin.Description{}); !errors.Is(err, liveplugin.ErrInvalidRoom) {
		t.Errorf("Describe() of an invalid room = %v; want ErrInvalidRoom", err)
	}

	for _, c := range fx.Chunks[8:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
	var recs []liveplugin.Recording
	_, body = get(t, http.MethodGet, s.URL+"/live/alice/recordings", nil)
	if err := json.Unmarshal(body, &recs); err != nil || len(recs) != 1 || recs[0].ID != id || recs[0].Title != newTitle || recs[0].Description != "" || !recs[0].Seekable {
		t.Errorf("GET /live/alice/recordings = %s; want %s sealed with the title %q", body, id, newTitle)
	}
	side, err := os.ReadFile(filepath.Join(s.dir, "alice", id+".json"))
	if err != nil || !strings.Contains(string(side), `"title": "`+newTitle+`"`) {
		t.Errorf("sidecar = %s, %v; want the title", side, err)
	}
	_, page = get(t, http.MethodGet, s.URL+"/live/alice", nil)
	if !strings.Contains(string(page), `<span data-amlive-field="title" dir="auto">`+newTitle+`</span>`) {
		t.Errorf("watch page's recordings do not show the title:\n%s", page)
	}
}

// TestMetaRefused: a meta message that breaks a limit, that the hook
// refuses or that does not parse gets an error event and the broadcast
// goes on; a text message of a type that is not ours closes with 1003.
func TestMetaRefused(t *testing.T) {
	tests := []struct {
		name      string
		give      []byte
		want      string // the error event's message; "" for a close
		wantClose websocket.StatusCode
	}{
		{name: "hook refuses with a sentence", give: metaMessage("refuse", ""), want: "Keep titles polite."},
		{name: "hook fails", give: metaMessage("broken", ""), want: liveplugin.MetaRefusedText},
		{name: "title too long", give: metaMessage(strings.Repeat("é", liveplugin.MaxTitleRunes+1), ""), want: "The title is too long: 121 characters, at most 120."},
		{name: "description too long", give: metaMessage("", strings.Repeat("a", liveplugin.MaxDescriptionRunes+1)), want: "The description is too long: 1001 characters, at most 1000."},
		{name: "control character", give: metaMessage("bell\a", ""), want: "The title may not hold line breaks, tabs or other control characters."},
		{name: "unknown field", give: []byte(`{"type":"meta","title":"x","color":"red"}`), want: liveplugin.MetaMalformedText},
		{name: "not a string", give: []byte(`{"type":"meta","title":["x"]}`), want: liveplugin.MetaMalformedText},
		{name: "invalid UTF-8", give: []byte("{\"type\":\"meta\",\"title\":\"\xff\"}"), want: liveplugin.MetaMalformedText},
		{name: "unknown type", give: []byte(`{"type":"title","title":"x"}`), wantClose: websocket.StatusUnsupportedData},
		{name: "end with an unknown field", give: []byte(`{"type":"end","now":true}`), wantClose: websocket.StatusUnsupportedData},
		{name: "not JSON", give: []byte(`meta`), wantClose: websocket.StatusUnsupportedData},
	}
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	cfg := liveplugin.Config{Authorize: allowAll, Describe: describeHook}
	s := newServer(t, cfg)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 20*time.Second)
			pub, _ := publish(t, ctx, s, "alice")
			pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
			pub.send(t, ctx, websocket.MessageText, tc.give)
			if tc.wantClose != 0 {
				if code, _ := pub.closed(t, ctx); code != tc.wantClose {
					t.Errorf("closed with %d; want %d", code, tc.wantClose)
				}
				return
			}
			if e := pub.event(t, ctx, "error"); e.Message != tc.want {
				t.Errorf("error event %q; want %q", e.Message, tc.want)
			}
			// The broadcast goes on, without a title.
			for _, c := range fx.Chunks[1:4] {
				pub.send(t, ctx, websocket.MessageBinary, c)
			}
			pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
			if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Errorf("closed with %d %q; want 1000", code, reason)
			}
			events, _, _ := pub.snapshot()
			for _, e := range events {
				if e.Type == "meta" {
					t.Errorf("meta event %+v; want none", e)
				}
			}
		})
	}
}

// TestMetaRate: meta messages past the burst are refused with an error
// event, and the broadcast goes on. The meta events the publisher gets
// carry the latest title applied (several changes may make one event).
func TestMetaRate(t *testing.T) {
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	pub, _ := publish(t, ctx, s, "alice")
	const n = 3 * liveplugin.MetaBurst
	for i := range n {
		pub.send(t, ctx, websocket.MessageText, metaMessage("take "+string(rune('A'+i)), ""))
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("closed with %d %q; want 1000", code, reason)
	}
	events, _, _ := pub.snapshot()
	metas, refused := 0, 0
	for _, e := range events {
		switch {
		case e.Type == "meta":
			metas++
		case e.Type == "error" && e.Message == liveplugin.MetaRateText:
			refused++
		case e.Type == "error":
			t.Errorf("error event %q; want only %q", e.Message, liveplugin.MetaRateText)
		}
	}
	// The burst is applied (the publisher hears of the latest at least),
	// nearly all the rest refused: the bucket refills a little meanwhile.
	if metas == 0 || refused > n-liveplugin.MetaBurst || refused < n/2 {
		t.Errorf("%d meta events and %d refusals for %d messages; want the first %d applied, most of the rest refused", metas, refused, n, liveplugin.MetaBurst)
	}
}
