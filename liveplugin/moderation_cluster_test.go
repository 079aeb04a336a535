package liveplugin_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestClusterEnd ends a broadcast whose publisher is on node A through
// node B's route and through A's Plugin.End: viewers on both nodes get
// the end event with the reason, the publisher 4410, a resume through
// either node is refused, and the recording is sealed.
func TestClusterEnd(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	tests := []struct {
		name string
		via  int // the node that ends it
	}{
		{name: "through another node", via: 1},
		{name: "on the origin node", via: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 60*time.Second)
			ns := startNATS(t)
			nodes := newCluster(t, ns.ClientURL(), 2, "", liveplugin.Config{})
			a, b := nodes[0], nodes[1]
			pub, id := publish(t, ctx, a.testServer, "alice")
			token := pub.event(t, ctx, "ready").Resume
			var sent int64
			for _, c := range fx.Chunks[:8] {
				pub.send(t, ctx, websocket.MessageBinary, c)
				sent += int64(len(c))
			}
			a.waitBytes(t, ctx, "alice", sent)
			for _, n := range nodes {
				eventually(t, ctx, "live on "+n.URL, func() bool { _, ok := n.p.Status("alice"); return ok })
			}
			viewers := []*client{mustDial(t, ctx, a.ws("/live/alice/subscribe")), mustDial(t, ctx, b.ws("/live/alice/subscribe"))}
			for _, v := range viewers {
				v.event(t, ctx, "hello")
			}

			const reason = "ended by a moderator"
			via := nodes[tc.via]
			if resp := post(t, via.URL+"/live/alice/end", url.Values{"reason": {reason}}, nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("POST end on node %d: %d; want 204", tc.via, resp.StatusCode)
			}
			for i, v := range viewers {
				if e := v.event(t, ctx, "end"); e.Reason != reason || e.Broadcast != id {
					t.Errorf("viewer %d's end event %+v; want %s's with the reason", i, e, id)
				}
			}
			if code, why := pub.closed(t, ctx); code != liveplugin.StatusEndedBySite || !strings.Contains(why, reason) {
				t.Errorf("publisher closed with %d %q; want 4410 with the reason", code, why)
			}
			for _, n := range nodes {
				again := mustDial(t, ctx, n.ws("/live/alice/upload?resume="+url.QueryEscape(token)))
				if code, _ := again.closed(t, ctx); code != liveplugin.StatusNotLive {
					t.Errorf("resume through %s closed with %d; want 4404", n.URL, code)
				}
			}
			recs, err := a.p.Recordings("alice")
			if err != nil || len(recs) != 1 || recs[0].ID != id || !recs[0].Seekable || recs[0].Bytes < sent {
				t.Errorf("Recordings = %+v, %v; want %s sealed with its %d bytes (and Cues)", recs, err, id, sent)
			}
			for _, n := range nodes {
				eventually(t, ctx, "offline on "+n.URL, func() bool { _, ok := n.p.Status("alice"); return !ok })
				if err := n.p.End(ctx, "alice", reason); !errors.Is(err, liveplugin.ErrNotLive) {
					t.Errorf("End of the ended room on %s = %v; want ErrNotLive", n.URL, err)
				}
			}
		})
	}
}
