package liveplugin_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/liveplugin"
)

// TestClusterChunkResumeThroughAnotherNode cuts an encoded-chunk upload
// to node A inside a chunk and resumes it through node B, without the
// tracks message again: B's muxer goes on where A's stood, from a chunk's
// end. The viewers on A and B get every frame once, in one stream that
// parses. With a shared Dir the recording is one file holding every frame,
// sealed; with a Dir each, A seals the first part and B's part starts at
// the keyframe before the takeover, together every frame.
func TestClusterChunkResumeThroughAnotherNode(t *testing.T) {
	for _, tc := range []struct {
		name, dir string
	}{{"shared dir", ""}, {"separate dirs", separateDirs}} {
		t.Run(tc.name, func(t *testing.T) {
			e := encodedFixture(t, "vp8-opus-250ms-kf2s", 7_000_000)
			ctx := testContext(t, 60*time.Second)
			ns := startNATS(t)
			nodes := newCluster(t, ns.ClientURL(), 2, tc.dir, liveplugin.Config{ResumeGrace: 10 * time.Second})
			a, b := nodes[0], nodes[1]
			proxyA := newNetProxy(t, a.URL)
			pub, id := newResumerMIME(t, ctx, proxyA.URL("/live/alice/upload"), chunkMIME)
			if err := pub.c.conn.Write(ctx, websocket.MessageText, e.tracks); err != nil {
				t.Fatal(err)
			}
			pub.send(ctx, e.frames[0].msg())
			for _, n := range nodes {
				// Every node says the room is low latency.
				eventually(t, ctx, "live and low-latency on "+n.URL, func() bool { st, ok := n.p.Status("alice"); return ok && st.Latency == "low" })
			}
			viewers := []*client{mustDial(t, ctx, a.ws("/live/alice/subscribe")), mustDial(t, ctx, b.ws("/live/alice/subscribe"))}
			names := []string{"viewer on A", "viewer on B"}
			pub.c.viewers(t, ctx, 2)

			half := len(e.frames) / 2
			var n int64 = int64(len(e.frames[0].msg()))
			for i, f := range e.frames[1:] {
				m := f.msg()
				n += int64(len(m))
				if i+1 == half {
					viewers[1].waitBinary(t, ctx, e.frames[i].data)
					proxyA.cutAfter(int64(len(m) / 2))
					pub.send(ctx, m)
					for _, v := range viewers {
						v.eventCount(t, ctx, "reconnecting", 1)
					}
					pub.url = b.ws("/live/alice/upload") // the load balancer picks B
					pub.resume(ctx)
					for _, n := range nodes {
						eventually(t, ctx, "still low-latency on "+n.URL, func() bool {
							st, ok := n.p.Status("alice")
							return ok && st.Latency == "low" && !st.Reconnecting
						})
					}
					continue
				}
				pub.send(ctx, m)
			}
			if err := pub.c.waitFor(ctx, "the last ack", func() bool {
				return slices.ContainsFunc(pub.c.events, func(ev event) bool { return ev.Type == "ack" && ev.Offset == n })
			}); err != nil {
				t.Fatal(err)
			}
			pub.c.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
			if code, reason := pub.c.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Errorf("publisher closed with %d %q; want 1000", code, reason)
			}
			want := payloads(e.frames)
			for i, v := range viewers {
				v.closed(t, ctx)
				_, msgs, _ := v.snapshot()
				got, keyStart := streamFrames(t, msgs)
				if !keyStart || !slices.EqualFunc(got, want, bytes.Equal) {
					t.Errorf("%s: %d frames (starting at a keyframe: %v); want the %d sent, each once", names[i], len(got), keyStart, len(want))
				}
			}

			if tc.dir == "" {
				for _, node := range nodes {
					resp, body := get(t, http.MethodGet, node.URL+"/live/alice/playback?b="+id, nil)
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("playback on %s: %s", node.URL, resp.Status)
					}
					if got, _ := streamFrames(t, [][]byte{body}); !slices.EqualFunc(got, want, bytes.Equal) {
						t.Errorf("the recording on %s holds %d frames; want the %d sent, each once", node.URL, len(got), len(want))
					}
					checkSealed(t, body)
				}
				return
			}
			first, second := listRecordings(t, a.URL), listRecordings(t, b.URL)
			if len(first) != 1 || first[0].ID != id || len(second) != 1 || second[0].ID == id {
				t.Fatalf("recordings on A %+v, on B %+v; want the broadcast's first part on A, a second part on B", first, second)
			}
			_, p1 := get(t, http.MethodGet, a.URL+"/live/alice/playback?b="+first[0].ID, nil)
			_, p2 := get(t, http.MethodGet, b.URL+"/live/alice/playback?b="+second[0].ID, nil)
			f1, key1 := streamFrames(t, [][]byte{p1})
			f2, key2 := streamFrames(t, [][]byte{p2})
			if !key1 || !key2 || len(f1)+len(f2) < len(want) || len(f1) > len(want) || len(f2) > len(want) ||
				!slices.EqualFunc(f1, want[:len(f1)], bytes.Equal) || !slices.EqualFunc(f2, want[len(want)-len(f2):], bytes.Equal) {
				t.Errorf("parts hold %d + %d frames (keyframe starts %v, %v); want the first and the last of the %d sent, all of them between the two",
					len(f1), len(f2), key1, key2, len(want))
			}
			checkSealed(t, p1)
			checkSealed(t, p2)
		})
	}
}
