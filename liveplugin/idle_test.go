package liveplugin_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// emptyCluster returns a Cluster that holds only its Timecode: an element
// that carries no frame.
func emptyCluster(tc uint16) []byte {
	return []byte{0x1F, 0x43, 0xB6, 0x75, 0x84, 0xE7, 0x82, byte(tc >> 8), byte(tc)}
}

// statusLive reports what GET /live/room/status says of "live".
func statusLive(t *testing.T, s *testServer, room string) bool {
	t.Helper()
	resp, body := get(t, http.MethodGet, s.URL+"/live/"+room+"/status", nil)
	var st struct {
		Live bool `json:"live"`
	}
	if err := json.Unmarshal(body, &st); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET status: %d %s (%v)", resp.StatusCode, body, err)
	}
	return st.Live
}

// TestSilenceIsMeasuredInMedia checks that IdleTimeout counts media, not
// messages: a publisher that keeps sending messages that carry no frame
// (empty messages before any header, empty Clusters after it) is ended
// within IdleTimeout, a broadcast without a header is never listed as
// live, and one that sends real media at the same pace is not ended.
func TestSilenceIsMeasuredInMedia(t *testing.T) {
	const idle = 500 * time.Millisecond
	set := fixture.Load(t, "vp8-opus-250ms-kf2s")
	header := set.Full[:set.St.Clusters[1].Offset] // init and the first Cluster
	mp4 := loadMP4(t, fixture.MP4)
	mp4Header := slices.Concat(mp4.chunks...)[:mp4.frags[1]] // ftyp, moov and the first fragment
	free := []byte{0, 0, 0, 8, 'f', 'r', 'e', 'e'}           // a box that carries no sample
	tests := []struct {
		name     string
		mime     string             // the upload's ?mime=; video/webm if empty
		first    []byte             // sent once, first
		next     func(i int) []byte // then every 50 ms
		wantLive bool               // listed while it lasts
		wantEnd  bool               // ended for idleness
		rounds   int                // how many of next, when not ended
	}{
		{name: "empty messages, no header", next: func(int) []byte { return nil }, wantEnd: true},
		{name: "header, then empty Clusters", first: header, wantLive: true, wantEnd: true,
			next: func(i int) []byte { return emptyCluster(uint16(1000 + 10*i)) }},
		{name: "MP4 header, then free boxes", mime: "video/mp4", first: mp4Header, wantLive: true, wantEnd: true,
			next: func(int) []byte { return free }},
		{name: "real media at the same pace", first: set.Chunks[0], wantLive: true, rounds: 30,
			next: func(i int) []byte { return set.Chunks[1+i] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 20*time.Second)
			s := newServer(t, liveplugin.Config{Authorize: allowAll, IdleTimeout: idle, ResumeGrace: -1})
			mime := tc.mime
			if mime == "" {
				mime = "video/webm"
			}
			pub, _ := publishMIME(t, ctx, s, "alice", mime)
			if tc.first != nil {
				pub.send(t, ctx, websocket.MessageBinary, tc.first)
			}
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			start := time.Now()
			for i := 0; tc.wantEnd || i < tc.rounds; i++ {
				if err := pub.conn.Write(ctx, websocket.MessageBinary, tc.next(i)); err != nil {
					break // closed by the server
				}
				if i == 4 {
					if got := len(s.p.Live()) == 1; got != tc.wantLive {
						t.Errorf("listed in Live() = %v; want %v", got, tc.wantLive)
					}
					if got := statusLive(t, s, "alice"); got != tc.wantLive {
						t.Errorf("status live = %v; want %v", got, tc.wantLive)
					}
				}
				select {
				case <-tick.C:
				case <-pub.done:
				case <-ctx.Done():
					t.Fatalf("still connected after %v of messages carrying no media; want closed within IdleTimeout %v", time.Since(start), idle)
				}
				if isDone(pub) {
					break
				}
			}
			if !tc.wantEnd {
				if isDone(pub) {
					code, reason := pub.closed(t, ctx)
					t.Fatalf("ended with %d %q while sending media", code, reason)
				}
				return
			}
			code, reason := pub.closed(t, ctx)
			if code != websocket.StatusPolicyViolation || reason != "no data from the broadcaster for too long: broadcast ended" {
				t.Errorf("closed with %d %q; want 1008 for idleness", code, reason)
			}
			// The close comes before the recording is sealed and the room freed.
			for len(s.p.Live()) != 0 {
				select {
				case <-tick.C:
				case <-ctx.Done():
					t.Fatalf("Live() still lists %d broadcasts after the end", len(s.p.Live()))
				}
			}
		})
	}
}

// isDone reports whether c's connection has closed.
func isDone(c *client) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// tinyKeyCluster returns a Cluster with timecode tc that holds one
// one-byte keyframe SimpleBlock of track: a join point in 16 bytes.
func tinyKeyCluster(track byte, tc uint16) []byte {
	return []byte{0x1F, 0x43, 0xB6, 0x75, 0x8B, 0xE7, 0x82, byte(tc >> 8), byte(tc), 0xA3, 0x85, 0x80 | track, 0, 0, 0x80, 0}
}

// TestIngestHoldsBoundedState sends a message of the largest size allowed
// made of tiny Clusters, each a join point: the publisher must not keep
// state per Cluster (before it parsed in pieces, a 4 MiB message of them
// held some 27 MiB of events until the broadcast ended).
func TestIngestHoldsBoundedState(t *testing.T) {
	set := fixture.Load(t, "vp8-opus-250ms-kf2s")
	cfg := liveplugin.Config{Authorize: allowAll, ResumeGrace: -1}
	s := newServer(t, cfg)
	ctx := testContext(t, 60*time.Second)
	pub, _ := publish(t, ctx, s, "alice")
	header := set.Full[:set.St.Clusters[1].Offset]
	pub.send(t, ctx, websocket.MessageBinary, header)
	const maxMessage = 4 << 20 // the default MaxMessageBytes
	msg := make([]byte, 0, maxMessage)
	tc := uint16(20000)
	for len(msg)+16 <= maxMessage {
		msg = append(msg, tinyKeyCluster(byte(set.St.VideoTrack), tc)...)
		tc++
	}
	sent := int64(len(header))
	pub.send(t, ctx, websocket.MessageBinary, msg)
	sent += int64(len(msg))
	if isDone(pub) {
		code, reason := pub.closed(t, ctx)
		t.Fatalf("upload closed with %d %q", code, reason)
	}
	s.waitBytes(t, ctx, "alice", sent)
	if got, max := s.p.HeldMax(), liveplugin.MaxHeld(cfg); got > max {
		t.Errorf("a publisher held %d bytes of ingest state; want at most %d", got, max)
	}
	if got := s.p.HeldMax(); got > 1<<20 {
		t.Errorf("a publisher held %d bytes of ingest state for messages of tiny Clusters; want well under 1 MiB", got)
	}
}
