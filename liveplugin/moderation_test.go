package liveplugin_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// post sends a form POST with the headers hdr.
func post(t *testing.T, u string, form url.Values, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestEndBroadcast ends a live broadcast with Plugin.End and with
// POST /:id/end: the viewer's end event carries the reason and the
// recording, the publisher gets 4410 with the reason, its resume token is
// refused, the recording is sealed, and Events.Ended says the site ended
// it, and why.
func TestEndBroadcast(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	tests := []struct {
		name string
		end  func(t *testing.T, s *testServer, reason string)
	}{
		{name: "Plugin.End", end: func(t *testing.T, s *testServer, reason string) {
			if err := s.p.End(t.Context(), "alice", reason); err != nil {
				t.Fatalf("End: %v", err)
			}
		}},
		{name: "POST /:id/end", end: func(t *testing.T, s *testServer, reason string) {
			resp := post(t, s.URL+"/live/alice/end", url.Values{"reason": {reason}}, http.Header{"Origin": {s.URL}})
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("POST end: %d; want 204", resp.StatusCode)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 30*time.Second)
			l := newEventLog()
			s := newServer(t, liveplugin.Config{Authorize: allowAll, Events: l.events()})
			pub, id := publish(t, ctx, s, "alice")
			token := pub.event(t, ctx, "ready").Resume
			var sent int64
			for _, c := range fx.Chunks[:8] {
				pub.send(t, ctx, websocket.MessageBinary, c)
				sent += int64(len(c))
			}
			s.waitBytes(t, ctx, "alice", sent)
			v := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
			v.event(t, ctx, "hello")

			const reason = "against the rules"
			tc.end(t, s, reason)
			end := v.event(t, ctx, "end")
			if end.Reason != reason || end.Broadcast != id || end.Recording == "" {
				t.Errorf("viewer's end event %+v; want %s's with the reason %q and the recording", end, id, reason)
			}
			code, why := pub.closed(t, ctx)
			if code != liveplugin.StatusEndedBySite || !strings.Contains(why, reason) {
				t.Errorf("publisher closed with %d %q; want 4410 with the reason", code, why)
			}
			again := mustDial(t, ctx, s.ws("/live/alice/upload?resume="+url.QueryEscape(token)))
			if code, _ := again.closed(t, ctx); code != liveplugin.StatusNotLive {
				t.Errorf("resume after End closed with %d; want 4404", code)
			}
			l.wait(t, ctx, "the ended event", func() bool { return len(l.ended) == 1 })
			l.mu.Lock()
			e := l.ended[0]
			l.mu.Unlock()
			if e.Why != liveplugin.EndedBySite || e.Reason != reason || e.Broadcast.ID != id {
				t.Errorf("ended event %+v; want %s ended by the site for %q", e, id, reason)
			}
			recs, err := s.p.Recordings("alice")
			if err != nil || len(recs) != 1 || recs[0].ID != id || !recs[0].Seekable || recs[0].Live || recs[0].Bytes < sent {
				t.Errorf("Recordings = %+v, %v; want %s sealed with its %d bytes (and Cues)", recs, err, id, sent)
			}
			if err := s.p.End(ctx, "alice", reason); !errors.Is(err, liveplugin.ErrNotLive) {
				t.Errorf("End of an ended room = %v; want ErrNotLive", err)
			}
		})
	}
}

// TestEndRouteRefused checks POST /:id/end's refusals: Manage refused,
// a room not live, a cross-site request and an overlong reason. None
// ends the broadcast.
func TestEndRouteRefused(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: func(c echo.Context, _ string, a liveplugin.Action) error {
		if a == liveplugin.Manage && c.Request().Header.Get("X-Admin") == "" {
			return liveplugin.ErrForbidden
		}
		return nil
	}})
	pub, _ := publish(t, ctx, s, "alice")
	for _, c := range fx.Chunks[:3] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	s.waitBytes(t, ctx, "alice", 1)
	admin := func(h http.Header) http.Header { h.Set("X-Admin", "1"); return h }
	tests := []struct {
		name string
		room string
		give url.Values
		hdr  http.Header
		want int
	}{
		{name: "not a manager", room: "alice", hdr: http.Header{}, want: http.StatusForbidden},
		{name: "not live", room: "bob", hdr: admin(http.Header{}), want: http.StatusNotFound},
		{name: "invalid room", room: "-x", hdr: admin(http.Header{}), want: http.StatusBadRequest},
		{name: "foreign origin", room: "alice", hdr: admin(http.Header{"Origin": {"https://evil.example"}}), want: http.StatusForbidden},
		{name: "cross-site fetch", room: "alice", hdr: admin(http.Header{"Sec-Fetch-Site": {"cross-site"}}), want: http.StatusForbidden},
		{name: "reason too long", room: "alice", give: url.Values{"reason": {strings.Repeat("x", liveplugin.MaxEndReason+1)}},
			hdr: admin(http.Header{}), want: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if resp := post(t, s.URL+"/live/"+tc.room+"/end", tc.give, tc.hdr); resp.StatusCode != tc.want {
				t.Errorf("POST: %d; want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if _, ok := s.p.Status("alice"); !ok {
		t.Fatal("alice is no longer live after refused requests")
	}
	if err := s.p.End(context.Background(), "bob", "x"); !errors.Is(err, liveplugin.ErrNotLive) {
		t.Errorf("End(bob) = %v; want ErrNotLive", err)
	}
}
