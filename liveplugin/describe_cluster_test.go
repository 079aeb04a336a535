package liveplugin_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestClusterTitle: a title the publisher sets on node A shows in node B's
// status and listing; Plugin.Describe on B reaches the publisher on A; a
// resume through B (a takeover) keeps the title, and the recording has it.
func TestClusterTitle(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 60*time.Second)
	ns := startNATS(t)
	nodes := newCluster(t, ns.ClientURL(), 2, "", liveplugin.Config{Describe: describeHook, ResumeGrace: 10 * time.Second})
	a, b := nodes[0], nodes[1]
	pub, id := newResumer(t, ctx, a.ws("/live/alice/upload"))
	pub.c.send(t, ctx, websocket.MessageText, metaMessage("Quiz darn night", "Round one"))
	const title = "Quiz d**n night"
	if m := pub.c.event(t, ctx, "meta"); m.Title != title {
		t.Fatalf("meta event %+v; want %q", m, title)
	}
	for _, c := range fx.Chunks[:4] {
		pub.send(ctx, c)
	}
	titled := func(want, desc string) {
		t.Helper()
		for _, n := range nodes {
			eventually(t, ctx, "the title on "+n.URL, func() bool {
				in, ok := n.p.Status("alice")
				return ok && in.Title == want && in.Description == desc
			})
		}
		var status struct {
			Title       string `json:"title"`
			Description string `json:"description"`
		}
		_, body := get(t, http.MethodGet, b.URL+"/live/alice/status", nil)
		if err := json.Unmarshal(body, &status); err != nil || status.Title != want || status.Description != desc {
			t.Errorf("GET /live/alice/status on B = %s; want %q, %q", body, want, desc)
		}
		if live := b.p.Live(); len(live) != 1 || live[0].Title != want {
			t.Errorf("Live() on B = %+v; want alice titled %q", live, want)
		}
	}
	titled(title, "Round one")

	const fromB = "Quiz night, round two"
	if err := b.p.Describe(ctx, "alice", liveplugin.Description{Title: fromB}); err != nil {
		t.Fatalf("Describe() on B = %v", err)
	}
	if m := pub.c.countEvents(t, ctx, "meta", 2)[1]; m.Title != fromB {
		t.Errorf("meta event %+v; want B's %q", m, fromB)
	}
	titled(fromB, "")

	// The publisher drops and resumes through B, which takes the
	// broadcast over: the title goes with it, and the page hears it again.
	pub.c.conn.CloseNow()
	pub.url = b.ws("/live/alice/upload")
	pub.resume(ctx)
	if m := pub.c.event(t, ctx, "meta"); m.Title != fromB {
		t.Errorf("meta event after the takeover %+v; want %q", m, fromB)
	}
	for _, c := range fx.Chunks[4:] {
		pub.send(ctx, c)
	}
	titled(fromB, "")
	pub.c.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.c.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
	for _, n := range nodes {
		recs := listRecordings(t, n.URL)
		if len(recs) != 1 || recs[0].ID != id || recs[0].Title != fromB {
			t.Errorf("recordings on %s = %+v; want %s titled %q", n.URL, recs, id, fromB)
		}
	}
}
