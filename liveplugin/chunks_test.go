package liveplugin_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// chunkMIME selects the encoded-chunk upload.
const chunkMIME = "application/x-amlive-chunks"

// encFrame is one encoded frame, as a WebCodecs encoder hands it out.
type encFrame struct {
	track uint8 // 1 video, 2 audio
	key   bool
	ts    int64  // µs
	dur   uint32 // µs
	data  []byte
}

// msg returns the frame as an encoded-chunk message.
func (f encFrame) msg() []byte {
	b := []byte{f.track, 0}
	if f.key {
		b[1] = 1
	}
	b = binary.BigEndian.AppendUint64(b, uint64(f.ts))
	b = binary.BigEndian.AppendUint32(b, f.dur)
	return append(b, f.data...)
}

// encoded is a fixture's frames with the tracks message that describes
// them.
type encoded struct {
	tracks []byte
	frames []encFrame
}

// encodedFixture takes the frames of a MediaRecorder fixture out of their
// WebM, as a WebCodecs encoder would have produced them: the payloads of
// its blocks, with their times (offset by base µs) and key flags.
func encodedFixture(t testing.TB, name string, base int64) encoded {
	t.Helper()
	fx := fixture.Load(t, name)
	r := webm.NewReader(webm.Limits{})
	r.Blocks = true
	evs, err := r.Feed(nil, bytes.Clone(fx.Full))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var msg struct {
		Type  string         `json:"type"`
		Video map[string]any `json:"video"`
		Audio map[string]any `json:"audio"`
	}
	msg.Type = "tracks"
	wire := map[uint64]uint8{}
	for _, tr := range r.Tracks() {
		switch tr.Type {
		case webm.Video:
			wire[tr.Number] = 1
			msg.Video = map[string]any{"codec": map[string]string{"V_VP8": "vp8", "V_VP9": "vp09.00.10.08"}[tr.CodecID],
				"width": tr.Width, "height": tr.Height}
		case webm.Audio:
			wire[tr.Number] = 2
			msg.Audio = map[string]any{"codec": "opus", "sampleRate": 48000, "numberOfChannels": tr.Channels}
		}
	}
	var e encoded
	e.tracks, _ = json.Marshal(msg)
	for _, ev := range evs {
		if ev.Kind != webm.KindBlock || ev.Offset+ev.Size > int64(len(fx.Full)) {
			continue
		}
		el := fx.Full[ev.Offset : ev.Offset+ev.Size]
		hdr := 1 + (bitsLen(el[1])) + 4 // ID, size, track, timecode, flags
		e.frames = append(e.frames, encFrame{track: wire[ev.Track], key: ev.Keyframe, ts: base + ev.Timecode.Microseconds(), data: el[hdr:]})
	}
	// The stream starts at its first video frame: the server drops the
	// audio before it, so the fixture's frames start there.
	for len(e.frames) > 0 && e.frames[0].track != 1 {
		e.frames = e.frames[1:]
	}
	for i := range e.frames {
		f := &e.frames[i]
		f.dur = 20000
		for _, g := range e.frames[i+1:] {
			if g.track == f.track {
				f.dur = uint32(g.ts - f.ts)
				break
			}
		}
	}
	return e
}

// bitsLen is the length of the EBML variable-size integer starting with b.
func bitsLen(b byte) int {
	n := 1
	for m := byte(0x80); m != 0 && b&m == 0; m >>= 1 {
		n++
	}
	return n
}

// startChunks starts an encoded-chunk broadcast in room alice.
func startChunks(t *testing.T, ctx context.Context, s *testServer, e encoded) (*client, string) {
	t.Helper()
	pub, id := publishMIME(t, ctx, s, "alice", chunkMIME)
	pub.send(t, ctx, websocket.MessageText, e.tracks)
	return pub, id
}

// waitBinary waits until c has received a binary message that holds p.
func (c *client) waitBinary(t *testing.T, ctx context.Context, p []byte) {
	t.Helper()
	err := c.waitFor(ctx, "a frame", func() bool {
		for i := len(c.binary) - 1; i >= 0 && i >= len(c.binary)-4; i-- {
			if bytes.Contains(c.binary[i], p) {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
}

// streamFrames parses a viewer's stream (its binary messages) with the
// WebM reader and returns the payloads of its blocks and whether its
// first Cluster starts with a video keyframe.
func streamFrames(t *testing.T, msgs [][]byte) (frames [][]byte, keyStart bool) {
	t.Helper()
	b := bytes.Join(msgs, nil)
	r := webm.NewReader(webm.Limits{})
	r.Blocks = true
	evs, err := r.Feed(nil, bytes.Clone(b))
	if err != nil {
		t.Fatalf("viewer's stream does not parse: %v", err)
	}
	video, _ := r.VideoTrack()
	first := true
	var last time.Duration
	for _, ev := range evs {
		if ev.Kind == webm.KindCluster {
			last = ev.Timecode
		}
		if ev.Kind != webm.KindBlock {
			continue
		}
		// Chromium's MSE refuses, in a Cluster, a block before the
		// previous one or before the Cluster.
		if ev.Timecode < last {
			t.Fatalf("block at %v after one at %v in its Cluster", ev.Timecode, last)
		}
		last = ev.Timecode
		if first && ev.Track == video.Number {
			keyStart, first = ev.Keyframe, false
		}
		el := b[ev.Offset : ev.Offset+ev.Size]
		frames = append(frames, el[1+bitsLen(el[1])+4:])
	}
	return frames, keyStart
}

// payloads returns the frames' data.
func payloads(fs []encFrame) [][]byte {
	var out [][]byte
	for _, f := range fs {
		out = append(out, f.data)
	}
	return out
}

// TestChunkUploadLive publishes VP8 and VP9 frames with Opus as encoded
// chunks: each frame reaches an early viewer before the next is sent; a
// late joiner starts at a keyframe; both streams parse; and the sealed
// recording holds every frame, with Cues at the keyframes and a duration
// ffprobe reads within 100 ms of the last frame's end.
func TestChunkUploadLive(t *testing.T) {
	for _, name := range []string{"vp8-opus-250ms-kf2s", "vp9-opus-250ms-kf2s"} {
		t.Run(name, func(t *testing.T) {
			e := encodedFixture(t, name, 123_456_789)
			// The audio encoder is slower: each audio frame comes after
			// the video frame that follows it.
			for i := 0; i+1 < len(e.frames); i++ {
				if e.frames[i].track == 2 && e.frames[i+1].track == 1 && !e.frames[i+1].key {
					e.frames[i], e.frames[i+1] = e.frames[i+1], e.frames[i]
					i++
				}
			}
			ctx := testContext(t, 30*time.Second)
			s := newServer(t, liveplugin.Config{Authorize: allowAll})
			pub, id := startChunks(t, ctx, s, e)
			early := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
			pub.viewers(t, ctx, 1)
			var late *client
			half := len(e.frames) / 2
			lastEnd := int64(0)
			for i, f := range e.frames {
				if i == half {
					late = mustDial(t, ctx, s.ws("/live/alice/subscribe"))
					pub.viewers(t, ctx, 2)
					// The room says it is low latency, for players to
					// decode it themselves.
					if st, ok := s.p.Status("alice"); !ok || st.Latency != "low" {
						t.Errorf("Status = %+v, %v; want live, latency low", st, ok)
					}
					// And so does the player's markup.
					if html, err := s.p.PlayerHTML("alice"); err != nil || !strings.Contains(string(html), `data-room-latency="low"`) {
						t.Errorf("PlayerHTML = %s, %v; want data-room-latency=\"low\"", html, err)
					}
				}
				pub.send(t, ctx, websocket.MessageBinary, f.msg())
				// Forwarded at once, not when a Cluster fills.
				early.waitBinary(t, ctx, f.data)
				lastEnd = max(lastEnd, f.ts+int64(f.dur)-e.frames[0].ts)
			}
			pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
			if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Errorf("publisher closed with %d %q; want 1000", code, reason)
			}
			early.closed(t, ctx)
			late.closed(t, ctx)

			_, msgs, _ := early.snapshot()
			got, key := streamFrames(t, msgs)
			if !key || !slices.EqualFunc(got, payloads(e.frames), bytes.Equal) {
				t.Errorf("early viewer got %d frames (keyframe first: %v); want the %d sent", len(got), key, len(e.frames))
			}
			_, msgs, _ = late.snapshot()
			got, key = streamFrames(t, msgs)
			sent := payloads(e.frames)
			if !key || len(got) == 0 || len(got) >= len(sent) || !slices.EqualFunc(got, sent[len(sent)-len(got):], bytes.Equal) {
				t.Errorf("late viewer got %d frames (keyframe first: %v); want a keyframe first, then all that followed", len(got), key)
			}

			path := filepath.Join(s.dir, "alice", id+".webm")
			rec, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := streamFrames(t, [][]byte{rec}); !slices.EqualFunc(got, payloads(e.frames), bytes.Equal) {
				t.Errorf("recording holds %d frames; want the %d sent", len(got), len(e.frames))
			}
			checkSealed(t, rec)
			// A CuePoint for each keyframe at least 500 ms after the
			// previous CuePoint (see webm.SealOptions).
			var keys []int64
			for _, f := range e.frames {
				at := (f.ts - e.frames[0].ts) / 1000
				if f.track == 1 && f.key && (len(keys) == 0 || at-keys[len(keys)-1] >= 500) {
					keys = append(keys, at)
				}
			}
			if cues := cueTimes(t, rec); len(keys) < 5 || !slices.Equal(cues, keys) {
				t.Errorf("Cues at %v ms; want the keyframes, %v", cues, keys)
			}
			p := ffprobeMP4(t, path)
			if d := math.Abs(p.duration - float64(lastEnd)/1e6); d > 0.1 {
				t.Errorf("ffprobe duration %.3f s; the last frame ends at %.3f s", p.duration, float64(lastEnd)/1e6)
			}
			_, body := get(t, http.MethodGet, s.URL+"/live/alice/playback?b="+id, nil)
			if !bytes.Equal(body, rec) {
				t.Error("playback does not serve the recording")
			}
		})
	}
}

// cueTimes returns the CueTimes of a sealed WebM file, in ms.
func cueTimes(t *testing.T, b []byte) []int64 {
	t.Helper()
	var out []int64
	var walk func(b []byte, depth int)
	walk = func(b []byte, depth int) {
		for len(b) > 0 {
			id, n := readVint(b, true)
			size, m := readVint(b[n:], false)
			if n == 0 || m == 0 || uint64(len(b)-n-m) < size {
				t.Fatalf("bad element in the recording")
			}
			body := b[n+m : n+m+int(size)]
			switch id {
			case 0x18538067, 0x1C53BB6B, 0xBB: // Segment, Cues, CuePoint
				walk(body, depth+1)
			case 0xB3: // CueTime
				var v int64
				for _, c := range body {
					v = v<<8 | int64(c)
				}
				out = append(out, v)
			}
			b = b[n+m+int(size):]
		}
	}
	walk(b, 0)
	return out
}

// readVint reads an EBML ID (marker kept) or size; n is 0 when b is too
// short.
func readVint(b []byte, keepMarker bool) (v uint64, n int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	n = bitsLen(b[0])
	if len(b) < n {
		return 0, 0
	}
	for i := range n {
		v = v<<8 | uint64(b[i])
	}
	if !keepMarker {
		v &^= 1 << (7 * n)
	}
	return v, n
}

// TestChunkUploadRefused: an encoded-chunk upload that breaks the protocol
// closes with the code of its fault and a reason that says what it is.
func TestChunkUploadRefused(t *testing.T) {
	e := encodedFixture(t, "vp8-opus-250ms-kf2s", 0)
	var key, delta, audio encFrame
	for _, f := range e.frames {
		switch {
		case f.track == 1 && f.key && key.data == nil:
			key = f
		case f.track == 1 && !f.key && delta.data == nil:
			delta = f
		case f.track == 2 && audio.data == nil:
			audio = f
		}
	}
	later := func(f encFrame, d int64) encFrame { f.ts += d; return f }
	bin := func(fs ...encFrame) [][]byte {
		var out [][]byte
		for _, f := range fs {
			out = append(out, f.msg())
		}
		return out
	}
	tracks := string(e.tracks)
	tests := []struct {
		name   string
		tracks string // "" sends none
		chunks [][]byte
		code   websocket.StatusCode
		reason string
	}{
		{"unknown video codec", `{"type":"tracks","video":{"codec":"avc1.42E01F","width":640,"height":480}}`, nil, liveplugin.StatusUnsupportedData, "video codec"},
		{"unknown audio codec", `{"type":"tracks","audio":{"codec":"mp4a.40.2","sampleRate":48000,"numberOfChannels":2}}`, nil, liveplugin.StatusUnsupportedData, "audio codec"},
		{"no track", `{"type":"tracks"}`, nil, liveplugin.StatusUnsupportedData, "no track"},
		{"unknown field", `{"type":"tracks","video":{"codec":"vp8","width":640,"height":480,"fps":30}}`, nil, liveplugin.StatusUnsupportedData, "not valid"},
		{"no size", `{"type":"tracks","video":{"codec":"vp8"}}`, nil, liveplugin.StatusUnsupportedData, "size"},
		{"no tracks message", "", bin(key), liveplugin.StatusUnsupportedData, "before the tracks"},
		{"first frame not key", tracks, bin(delta), liveplugin.StatusUnsupportedData, "not a keyframe"},
		{"backwards", tracks, bin(later(key, 2_000_000), later(delta, 0)), liveplugin.StatusUnsupportedData, "back in time"},
		{"jump", tracks, bin(key, later(delta, 60_000_000)), liveplugin.StatusUnsupportedData, "jumped"},
		{"unknown track", tracks, bin(key, encFrame{track: 3, data: []byte{1}}), liveplugin.StatusUnsupportedData, "unknown track"},
		{"no payload", tracks, [][]byte{key.msg()[:14]}, liveplugin.StatusUnsupportedData, "no payload"},
		{"bad flags", tracks, [][]byte{append([]byte{1, 0x81}, key.msg()[2:]...)}, liveplugin.StatusUnsupportedData, "flags"},
		{"long duration", tracks, bin(encFrame{track: 1, key: true, dur: 20_000_000, data: key.data}), liveplugin.StatusUnsupportedData, "duration"},
		{"oversized", tracks, [][]byte{append(key.msg(), make([]byte, 64<<10)...)}, liveplugin.StatusTooLarge, "too large"},
		{"tracks changed", tracks, append(bin(key, audio), nil), liveplugin.StatusUnsupportedData, "changed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 10*time.Second)
			s := newServer(t, liveplugin.Config{Authorize: allowAll, MaxMessageBytes: 64 << 10})
			pub, _ := publishMIME(t, ctx, s, "alice", chunkMIME)
			if tc.tracks != "" {
				pub.send(t, ctx, websocket.MessageText, []byte(tc.tracks))
			}
			for _, c := range tc.chunks {
				if c == nil { // the tracks message again, changed
					c := strings.Replace(tc.tracks, `"width":`, `"width":1`, 1)
					pub.send(t, ctx, websocket.MessageText, []byte(c))
					continue
				}
				_ = pub.conn.Write(ctx, websocket.MessageBinary, c)
			}
			code, reason := pub.closed(t, ctx)
			if code != tc.code || !strings.Contains(reason, tc.reason) {
				t.Errorf("closed with %d %q; want %d and a reason saying %q", code, reason, tc.code, tc.reason)
			}
		})
	}
}

// TestChunkUploadResume cuts an encoded-chunk upload twice, once inside a
// chunk: the publisher resumes from the server's offset, which is always a
// chunk's end, without sending the tracks message again; the viewer gets
// every frame once, in one stream, and the recording holds every frame.
func TestChunkUploadResume(t *testing.T) {
	e := encodedFixture(t, "vp8-opus-250ms-kf2s", 5_000_000)
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, ResumeGrace: 10 * time.Second})
	proxy := newNetProxy(t, s.URL)
	pub, id := newResumerMIME(t, ctx, proxy.URL("/live/alice/upload"), chunkMIME)
	if err := pub.c.conn.Write(ctx, websocket.MessageText, e.tracks); err != nil {
		t.Fatal(err)
	}
	viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.c.viewers(t, ctx, 1)
	third := len(e.frames) / 3
	var n int64
	drops := 0
	for i, f := range e.frames {
		m := f.msg()
		n += int64(len(m))
		if i == third || i == 2*third {
			// Once the frames before reached the viewer (the proxy
			// forwarded them), cut inside this one.
			viewer.waitBinary(t, ctx, e.frames[i-1].data)
			proxy.cutAfter(int64(len(m) / 2))
			pub.send(ctx, m)
			drops++
			viewer.eventCount(t, ctx, "reconnecting", drops)
			pub.resume(ctx)
			if ready := pub.c.event(t, ctx, "ready"); !chunkBoundary(e.frames, ready.Offset) {
				t.Errorf("resumed at offset %d, not at a chunk's end", ready.Offset)
			}
			if drops == 2 {
				// The tracks message again, the same: accepted.
				if err := pub.c.conn.Write(ctx, websocket.MessageText, e.tracks); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		pub.send(ctx, m)
	}
	if err := pub.c.waitFor(ctx, "the last ack", func() bool {
		return len(pub.c.events) > 0 && slices.ContainsFunc(pub.c.events, func(ev event) bool { return ev.Type == "ack" && ev.Offset == n })
	}); err != nil {
		t.Fatal(err)
	}
	pub.c.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.c.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d %q; want 1000", code, reason)
	}
	viewer.closed(t, ctx)
	_, msgs, _ := viewer.snapshot()
	if got, _ := streamFrames(t, msgs); !slices.EqualFunc(got, payloads(e.frames), bytes.Equal) {
		t.Errorf("viewer got %d frames; want the %d sent, each once", len(got), len(e.frames))
	}
	rec, err := os.ReadFile(filepath.Join(s.dir, "alice", id+".webm"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := streamFrames(t, [][]byte{rec}); !slices.EqualFunc(got, payloads(e.frames), bytes.Equal) {
		t.Errorf("recording holds %d frames; want the %d sent, each once", len(got), len(e.frames))
	}
	checkSealed(t, rec)
}

// chunkBoundary reports whether off is the end of one of the frames'
// messages (or 0).
func chunkBoundary(fs []encFrame, off int64) bool {
	var n int64
	for _, f := range fs {
		if n == off {
			return true
		}
		n += int64(len(f.msg()))
	}
	return n == off
}

// TestChunkUploadAudioFirst: audio chunks before the first video frame are
// acknowledged but not muxed, so the stream starts at a video keyframe.
func TestChunkUploadAudioFirst(t *testing.T) {
	e := encodedFixture(t, "vp8-opus-250ms-kf2s", 1_000_000)
	ctx := testContext(t, 10*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	pub, _ := startChunks(t, ctx, s, e)
	viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	early := encFrame{track: 2, key: true, ts: e.frames[0].ts - 10_000, dur: 20_000, data: []byte{0xFC, 0xFF, 0xFE}}
	msgs := [][]byte{early.msg()}
	for _, f := range e.frames[:20] {
		msgs = append(msgs, f.msg())
	}
	var n int64
	for _, m := range msgs {
		pub.send(t, ctx, websocket.MessageBinary, m)
		n += int64(len(m))
	}
	if err := pub.waitFor(ctx, "the ack of every chunk", func() bool {
		return slices.ContainsFunc(pub.events, func(ev event) bool { return ev.Type == "ack" && ev.Offset == n })
	}); err != nil {
		t.Fatal(err)
	}
	viewer.waitBinary(t, ctx, e.frames[19].data)
	_, got, _ := viewer.snapshot()
	frames, key := streamFrames(t, got)
	if !key || !slices.EqualFunc(frames, payloads(e.frames[:20]), bytes.Equal) {
		t.Errorf("viewer got %d frames (keyframe first: %v); want the 20 from the first video frame", len(frames), key)
	}
}

// TestChunkUploadContainers: a site that takes only MP4 refuses encoded
// chunks, which are muxed into WebM.
func TestChunkUploadContainers(t *testing.T) {
	e := encodedFixture(t, "vp8-opus-250ms-kf2s", 0)
	ctx := testContext(t, 10*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, Containers: []string{"mp4"}})
	pub, _ := startChunks(t, ctx, s, e)
	if code, reason := pub.closed(t, ctx); code != liveplugin.StatusUnsupportedData || !strings.Contains(reason, "MP4") {
		t.Errorf("closed with %d %q; want 4415 saying the site takes MP4", code, reason)
	}
}
