package liveplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// TestPublishAndWatch publishes every WebM fixture chunk by chunk while
// viewers join before the first chunk, in the middle and near the end.
// Each must receive hello, the init segment, then the stream from a
// keyframe Cluster on, every byte after it in order, then the end event
// and a normal close; the recording must equal the upload.
func TestPublishAndWatch(t *testing.T) {
	for _, name := range fixture.WebM {
		t.Run(name, func(t *testing.T) {
			fx := fixture.Load(t, name)
			ctx := testContext(t, 30*time.Second)
			s := newServer(t, liveplugin.Config{Authorize: allowAll})
			pub, id := publish(t, ctx, s, "alice")

			type joiner struct {
				name  string
				after int // chunks sent before the viewer joins
				c     *client
				bytes int64 // bytes the server had taken when it joined
			}
			n := len(fx.Chunks)
			joiners := []*joiner{{name: "start", after: 0}, {name: "middle", after: n / 2}, {name: "near end", after: max(n-2, 0)}}
			sent := 0
			var offset int64
			for i, j := range joiners {
				for ; sent < j.after; sent++ {
					pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[sent])
					offset += int64(len(fx.Chunks[sent]))
				}
				if sent > 0 {
					s.waitBytes(t, ctx, "alice", offset)
				}
				j.bytes = offset
				j.c = mustDial(t, ctx, s.ws("/live/alice/subscribe"))
				pub.viewers(t, ctx, i+1)
			}
			for ; sent < n; sent++ {
				pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[sent])
			}
			pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
			if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Errorf("publisher closed with %d %q; want 1000", code, reason)
			}

			wantMime := `video/webm; codecs="vp8,opus"`
			if fx.St.Tracks[0].Codec == "V_VP9" || fx.St.Tracks[1].Codec == "V_VP9" {
				wantMime = `video/webm; codecs="vp9,opus"`
			}
			keys := fx.KeyOffsets()
			for _, j := range joiners {
				if code, reason := j.c.closed(t, ctx); code != websocket.StatusNormalClosure {
					t.Errorf("%s viewer closed with %d %q; want 1000", j.name, code, reason)
				}
				events, binary, order := j.c.snapshot()
				if len(order) < 3 || order[0] != "text:hello" || events[0].Mime != wantMime || events[0].Broadcast != id {
					t.Fatalf("%s viewer: first messages %q, hello %+v; want hello with %s", j.name, order[:min(len(order), 3)], events[0], wantMime)
				}
				if last := events[len(events)-1]; last.Type != "end" || last.Recording != "/live/alice/playback?b="+id {
					t.Errorf("%s viewer: last event %+v; want end naming the recording", j.name, last)
				}
				if !bytes.Equal(binary[0], withoutAlpha(t, fx.Full, fx.St.InitSegmentEnd)[:fx.St.InitSegmentEnd]) {
					t.Errorf("%s viewer: init segment is %d bytes; want the %d bytes before the first Cluster, AlphaMode 0", j.name, len(binary[0]), fx.St.InitSegmentEnd)
				}
				media := slices.Concat(binary[1:]...)
				join := int64(len(fx.Full) - len(media))
				if !bytes.Equal(media, fx.Full[join:]) {
					t.Fatalf("%s viewer: media is not the tail of the upload", j.name)
				}
				// The join point is the newest keyframe Cluster the server
				// could know of, or the one before (a Cluster's keyframe is
				// found only after its start).
				k := slices.Index(keys, join)
				if k < 0 {
					t.Fatalf("%s viewer joined at offset %d; want a keyframe Cluster %v", j.name, join, keys)
				}
				if next := k + 2; next < len(keys) && keys[next] < j.bytes {
					t.Errorf("%s viewer joined at %d, but the server had taken %d bytes (keyframes at %v)", j.name, join, j.bytes, keys)
				}
				checkDecodable(t, binary[0], media)
			}

			// The recording is the upload's media, sealed, and is served with
			// Range support.
			resp, rec := get(t, http.MethodGet, s.URL+"/live/alice/playback?b="+id, nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("playback = %d; want 200", resp.StatusCode)
			}
			checkRecording(t, rec, fx.Full)
			resp, body := get(t, http.MethodGet, s.URL+"/live/alice/playback", http.Header{"Range": {"bytes=100-199"}})
			if resp.StatusCode != http.StatusPartialContent || len(rec) < 200 || !bytes.Equal(body, rec[100:200]) {
				t.Errorf("ranged playback = %d, %d bytes; want 206 and bytes 100-199", resp.StatusCode, len(body))
			}
			if got := resp.Header.Get("Content-Type"); got != wantMime {
				t.Errorf("playback Content-Type = %q; want %q", got, wantMime)
			}
		})
	}
}

// checkDecodable parses init+media as a decoder would: it must be valid
// WebM whose first Cluster starts right after the init segment and begins
// with a video keyframe.
func checkDecodable(t *testing.T, init, media []byte) {
	t.Helper()
	r := webm.NewReader(webm.Limits{})
	evs, err := r.Feed(nil, slices.Concat(init, media))
	if err != nil {
		t.Fatalf("viewer's stream does not parse: %v", err)
	}
	first := int64(len(init))
	var cluster, sync bool
	for _, e := range evs {
		if e.Offset != first {
			continue
		}
		cluster = cluster || e.Kind == webm.KindCluster
		sync = sync || e.Kind == webm.KindSync
	}
	if !cluster || !sync {
		t.Errorf("viewer's first Cluster at %d: cluster %v, keyframe %v; want both", first, cluster, sync)
	}
}

func TestManyViewersReceiveIdenticalStreams(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	pub, _ := publish(t, ctx, s, "alice")
	const viewers = 30
	var cs []*client
	for i := range viewers {
		cs = append(cs, mustDial(t, ctx, s.ws("/live/alice/subscribe")))
		pub.viewers(t, ctx, i+1)
	}
	for _, c := range fx.Chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	for i, c := range cs {
		if code, _ := c.closed(t, ctx); code != websocket.StatusNormalClosure {
			t.Errorf("viewer %d closed with %d; want 1000", i, code)
		}
		_, binary, _ := c.snapshot()
		if got := slices.Concat(binary[1:]...); !bytes.Equal(got, fx.Full[fx.St.InitSegmentEnd:]) {
			t.Errorf("viewer %d got %d media bytes; want %d", i, len(got), len(fx.Full)-int(fx.St.InitSegmentEnd))
		}
	}
}

// TestUploadRefused checks every way an upload is refused before it goes
// live: the close code and reason the page shows, that nothing is
// recorded, and that another live room goes on meanwhile.
func TestUploadRefused(t *testing.T) {
	vp8 := fixture.Load(t, "vp8-opus-250ms-kf2s")
	mp4 := fixture.Load(t, fixture.MP4)
	unknownCodec := bytes.Replace(vp8.Chunks[0], []byte("V_VP8"), []byte("V_AVC"), 1)
	hostileCodec := bytes.Replace(vp8.Chunks[0], []byte("V_VP8"), []byte("V_\a\xff8"), 1)
	// A Void element of 200 bytes after the Segment header makes the
	// header 389 bytes long.
	bigHeader := slices.Concat(vp8.Chunks[0][:48], []byte{0xEC, 0x40, 200}, make([]byte, 200), vp8.Chunks[0][48:])
	tests := []struct {
		name       string
		authorize  func(c echo.Context, room string, a liveplugin.Action) error // for room alice; nil: the default
		cfg        liveplugin.Config
		mime       string   // the upload's ?mime=
		give       [][]byte // binary messages
		text       string   // a text message instead
		wantCode   websocket.StatusCode
		wantReason string
	}{
		{name: "default authorize", give: vp8.Chunks[:1], wantCode: liveplugin.StatusForbidden, wantReason: "publishing is disabled on this site"},
		{name: "sign-in required", authorize: func(echo.Context, string, liveplugin.Action) error {
			return liveplugin.ErrSignInRequired
		}, give: vp8.Chunks[:1], wantCode: liveplugin.StatusSignInRequired, wantReason: "sign in to continue"},
		{name: "app refuses", authorize: func(_ echo.Context, _ string, a liveplugin.Action) error {
			if a == liveplugin.Publish {
				return fmt.Errorf("not your room")
			}
			return nil
		}, give: vp8.Chunks[:1], wantCode: liveplugin.StatusForbidden, wantReason: "not allowed in this room"},
		{name: "mp4 where only webm is accepted", authorize: allowAll, cfg: liveplugin.Config{Containers: []string{"webm"}}, give: mp4.Chunks[:2],
			wantCode: liveplugin.StatusUnsupportedData, wantReason: "this site accepts WebM streams, not MP4"},
		{name: "mp4 claimed as webm", authorize: allowAll, mime: "video/webm;codecs=h264", give: mp4.Chunks[:2],
			wantCode: liveplugin.StatusUnsupportedData, wantReason: "the upload says video/webm but the stream is MP4"},
		{name: "webm claimed as mp4", authorize: allowAll, mime: "video/mp4", give: vp8.Chunks[:1],
			wantCode: liveplugin.StatusUnsupportedData, wantReason: "the upload says video/mp4 but the stream is WebM"},
		{name: "garbage", authorize: allowAll, give: [][]byte{[]byte("hello, world")}, wantCode: liveplugin.StatusUnsupportedData, wantReason: "not a WebM or MP4 stream"},
		{name: "garbage in bytes", authorize: allowAll, give: [][]byte{[]byte("h"), []byte("ello, "), []byte("world")}, wantCode: liveplugin.StatusUnsupportedData,
			wantReason: "not a WebM or MP4 stream"},
		{name: "garbage claimed as webm", authorize: allowAll, mime: "video/webm", give: [][]byte{[]byte("hello, world")}, wantCode: liveplugin.StatusUnsupportedData,
			wantReason: "not a valid WebM stream: no ebml header"},
		{name: "codec browsers cannot play", authorize: allowAll, give: [][]byte{unknownCodec}, wantCode: liveplugin.StatusUnsupportedData,
			wantReason: "codec not playable in browsers: V_AVC (video track 2)"},
		{name: "codec id with control and invalid bytes", authorize: allowAll, give: [][]byte{hostileCodec}, wantCode: liveplugin.StatusUnsupportedData,
			wantReason: "codec not playable in browsers: V_??8 (video track 2)"},
		{name: "MaxInitBytes", authorize: allowAll, cfg: liveplugin.Config{MaxInitBytes: 300}, give: [][]byte{bigHeader}, wantCode: liveplugin.StatusUnsupportedData,
			wantReason: "not a valid WebM stream: init segment exceeds 300 bytes"},
		{name: "MaxRooms", authorize: allowAll, cfg: liveplugin.Config{MaxRooms: 1}, give: vp8.Chunks[:1], wantCode: liveplugin.StatusLimit,
			wantReason: "limit reached: MaxRooms (1)"},
		{name: "PublisherUpgrades", authorize: allowAll, cfg: liveplugin.Config{PublisherUpgrades: liveplugin.RateLimit{PerMinute: 1, Burst: 1}}, give: vp8.Chunks[:1], wantCode: liveplugin.StatusLimit,
			wantReason: "limit reached: PublisherUpgrades (1)"},
		{name: "text that is not ours", authorize: allowAll, text: `{"type":"dance"}`, wantCode: websocket.StatusUnsupportedData, wantReason: "unsupported message"},
		{name: "text that is not JSON", authorize: allowAll, text: `end`, wantCode: websocket.StatusUnsupportedData, wantReason: "unsupported message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 20*time.Second)
			cfg := tc.cfg
			if auth := tc.authorize; auth != nil {
				cfg.Authorize = func(c echo.Context, room string, a liveplugin.Action) error {
					if room == "bob" {
						return nil
					}
					return auth(c, room, a)
				}
			}
			s := newServer(t, cfg)
			var bob *bystander
			if tc.authorize != nil { // nobody may publish with the default
				bob = startBystander(t, ctx, s, "bob")
			}
			c := mustDial(t, ctx, s.ws("/live/alice/upload?mime="+url.QueryEscape(tc.mime)))
			// A refused publisher is closed before ready; writes may fail then.
			for _, m := range tc.give {
				if c.conn.Write(ctx, websocket.MessageBinary, m) != nil {
					break
				}
			}
			if tc.text != "" {
				_ = c.conn.Write(ctx, websocket.MessageText, []byte(tc.text))
			}
			code, reason := c.closed(t, ctx)
			if code != tc.wantCode || reason != tc.wantReason {
				t.Errorf("closed with %d %q; want %d %q", code, reason, tc.wantCode, tc.wantReason)
			}
			if entries, err := os.ReadDir(filepath.Join(s.dir, "alice")); err == nil && len(entries) > 0 {
				t.Errorf("refused upload left %d files behind", len(entries))
			}
			if _, live := s.p.Status("alice"); live {
				t.Error("room still live after a refused upload")
			}
			if bob != nil {
				bob.feed(t, ctx, 2)
			}
		})
	}
}

func TestSecondPublisherGets4409(t *testing.T) {
	ctx := testContext(t, 10*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	first, _ := publish(t, ctx, s, "alice")
	second := mustDial(t, ctx, s.ws("/live/alice/upload"))
	if code, reason := second.closed(t, ctx); code != liveplugin.StatusRoomLive || reason != "this room is already live" {
		t.Errorf("second publisher closed with %d %q; want 4409 saying the room is already live", code, reason)
	}
	// The first is unaffected.
	first.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, _ := first.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("first publisher closed with %d; want 1000", code)
	}
}

// TestSubscribeRefused checks every way a viewer is refused: the close
// code and reason, and that the room's other viewers and another live
// room go on meanwhile.
func TestSubscribeRefused(t *testing.T) {
	tests := []struct {
		name       string
		cfg        liveplugin.Config
		live       bool
		before     int // viewers of alice before the refused one
		wantCode   websocket.StatusCode
		wantReason string
	}{
		{name: "offline room", wantCode: liveplugin.StatusNotLive, wantReason: "no such live room"},
		{name: "view refused", live: true, cfg: liveplugin.Config{Authorize: func(_ echo.Context, room string, a liveplugin.Action) error {
			if a == liveplugin.View && room == "alice" {
				return liveplugin.ErrForbidden
			}
			return nil
		}}, wantCode: liveplugin.StatusForbidden, wantReason: "not allowed in this room"},
		{name: "MaxViewers", live: true, before: 1, cfg: liveplugin.Config{MaxViewers: 1},
			wantCode: liveplugin.StatusLimit, wantReason: "limit reached: MaxViewers (1)"},
		// bob's viewer and alice's first make two.
		{name: "MaxTotalViewers", live: true, before: 1, cfg: liveplugin.Config{MaxViewers: 2, MaxTotalViewers: 2},
			wantCode: liveplugin.StatusLimit, wantReason: "limit reached: MaxTotalViewers (2)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 10*time.Second)
			if tc.cfg.Authorize == nil {
				tc.cfg.Authorize = allowAll
			}
			s := newServer(t, tc.cfg)
			bob := startBystander(t, ctx, s, "bob")
			var pub *client
			var viewers []*client
			if tc.live {
				pub, _ = publish(t, ctx, s, "alice")
				for i := range tc.before {
					viewers = append(viewers, mustDial(t, ctx, s.ws("/live/alice/subscribe")))
					pub.viewers(t, ctx, i+1)
				}
			}
			c := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
			if code, reason := c.closed(t, ctx); code != tc.wantCode || reason != tc.wantReason {
				t.Errorf("closed with %d %q; want %d %q", code, reason, tc.wantCode, tc.wantReason)
			}
			bob.feed(t, ctx, 2)
			if pub != nil {
				pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
			}
			for i, v := range viewers {
				if code, reason := v.closed(t, ctx); code != websocket.StatusNormalClosure {
					t.Errorf("alice's viewer %d closed with %d %q; want 1000 when the broadcast ends", i, code, reason)
				}
			}
		})
	}
}

func TestCrossOriginWebSocketRefused(t *testing.T) {
	ctx := testContext(t, 10*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	for _, path := range []string{"/live/alice/upload", "/live/alice/subscribe"} {
		_, err := dial(t, ctx, s.ws(path), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil {
			t.Errorf("%s: cross-origin dial succeeded; want refused", path)
		}
	}
	// Allowed by OriginPatterns.
	s2 := newServer(t, liveplugin.Config{Authorize: allowAll, OriginPatterns: []string{"*.example.com"}})
	c, err := dial(t, ctx, s2.ws("/live/alice/upload"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://app.example.com"}}})
	if err != nil {
		t.Fatalf("dial from an allowed origin: %v", err)
	}
	c.event(t, ctx, "ready")
}

// liveWithViewer starts a broadcast in room alice with one viewer and
// sends chunks; it returns once the server has taken them all.
func liveWithViewer(t *testing.T, ctx context.Context, s *testServer, chunks [][]byte) (pub, viewer *client, id string, n int64) {
	t.Helper()
	pub, id = publish(t, ctx, s, "alice")
	viewer = mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	for _, c := range chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
		n += int64(len(c))
	}
	s.waitBytes(t, ctx, "alice", n)
	return pub, viewer, id, n
}

// TestPublisherDropsMidStream cuts the publisher's connection with
// resuming disabled: the viewers get the end event and a normal close at
// once, and the recording keeps what arrived.
func TestPublisherDropsMidStream(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, ResumeGrace: -1})
	pub, viewer, id, n := liveWithViewer(t, ctx, s, fx.Chunks[:10])
	pub.conn.CloseNow()
	if code, reason := viewer.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("viewer closed with %d %q; want 1000", code, reason)
	}
	if e := viewer.event(t, ctx, "end"); e.Recording == "" {
		t.Error("end event names no recording")
	}
	_, body := get(t, http.MethodGet, s.URL+"/live/alice/playback?b="+id, nil)
	checkRecording(t, body, fx.Full[:n])
}

// TestCloseMidBroadcast stops the plugin during a broadcast: viewers get
// the end event and 1001, the publisher 1001, the recording is finished,
// and later requests get 503.
func TestCloseMidBroadcast(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	pub, viewer, id, n := liveWithViewer(t, ctx, s, fx.Chunks[:8])
	if err := s.p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.p.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if code, reason := viewer.closed(t, ctx); code != websocket.StatusGoingAway {
		t.Errorf("viewer closed with %d %q; want 1001", code, reason)
	}
	if e := viewer.event(t, ctx, "end"); e.Recording != "/live/alice/playback?b="+id {
		t.Errorf("end event %+v; want the recording", e)
	}
	if code, _ := pub.closed(t, ctx); code != websocket.StatusGoingAway {
		t.Errorf("publisher closed with %d; want 1001", code)
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "alice", id+".webm"))
	if err != nil {
		t.Fatal(err)
	}
	checkRecording(t, data, fx.Full[:n])
	var meta struct{ End time.Time }
	side, _ := os.ReadFile(filepath.Join(s.dir, "alice", id+".json"))
	if err := json.Unmarshal(side, &meta); err != nil || meta.End.IsZero() {
		t.Errorf("sidecar %s: recording not finished", side)
	}
	resp, _ := get(t, http.MethodGet, s.URL+"/live/alice/status", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status after Close = %d; want 503", resp.StatusCode)
	}
	late := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	if code, _ := late.closed(t, ctx); code != websocket.StatusGoingAway {
		t.Errorf("viewer after Close closed with %d; want 1001", code)
	}
}
