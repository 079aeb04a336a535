package liveplugin_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/internal/media"
	"github.com/amlive/amlive/liveplugin/internal/mp4"
)

// mp4Sets returns the names of every MP4 fixture set, so that sets
// recorded later are tested too.
func mp4Sets(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(fixture.Dir(t), "mp4-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no MP4 fixture sets (%v)", err)
	}
	var out []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, filepath.Base(d))
		}
	}
	slices.Sort(out)
	return out
}

// mp4Stream is an MP4 fixture as the server sees it.
type mp4Stream struct {
	fx fixture.Set
	// chunks are the recorder's chunks, as a publisher sends them.
	chunks [][]byte
	// stream is the upload as a second mp4.Reader repaired it (Chromium's
	// Opus durations): what viewers and the recording get.
	stream []byte
	init   int64   // length of the init segment
	syncs  []int64 // offsets of the join points: fragments that start with a video sync sample
	frags  []int64 // offsets of every fragment
	mime   string  // the reader's MIME type with codecs
	// claimed is the recorder's MIME type, for ?mime=.
	claimed string
	// mse is the MIME type an independent parser derived, if the set's
	// structure.json says.
	mse string
}

// loadMP4 loads the MP4 set name and reads it with an mp4.Reader.
func loadMP4(t *testing.T, name string) *mp4Stream {
	t.Helper()
	s := &mp4Stream{fx: fixture.Load(t, name), init: -1}
	r := mp4.NewReader(mp4.Limits{})
	var evs []media.Event
	for _, c := range s.fx.Chunks {
		s.chunks = append(s.chunks, slices.Clone(c))
		var err error
		if evs, err = r.Feed(evs, c); err != nil { // repairs c in place
			t.Fatalf("%s does not parse: %v", name, err)
		}
		s.stream = append(s.stream, c...)
	}
	for _, e := range evs {
		switch e.Kind {
		case media.KindInit:
			s.init = e.Offset
		case media.KindSync:
			s.syncs = append(s.syncs, e.Offset)
		case media.KindFragment:
			s.frags = append(s.frags, e.Offset)
		}
	}
	if s.init <= 0 || len(s.syncs) < 2 {
		t.Fatalf("%s: init segment of %d bytes, join points %v; want an init segment and two join points at least", name, s.init, s.syncs)
	}
	s.mime = r.MIMEType()
	raw, err := os.ReadFile(filepath.Join(fixture.Dir(t), name, "structure.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Recorder string `json:"recorderMimeType"`
		MSE      string `json:"mse_codecs"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	s.claimed, s.mse = st.Recorder, st.MSE
	if s.claimed == "" {
		s.claimed = "video/mp4"
	}
	return s
}

// codecs returns the codecs parameter of a MIME type.
func codecs(t *testing.T, m string) []string {
	t.Helper()
	_, params, err := mime.ParseMediaType(m)
	if err != nil {
		t.Fatalf("MIME type %q: %v", m, err)
	}
	var out []string
	for c := range strings.SplitSeq(params["codecs"], ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// publishMP4 connects a publisher of s's stream to room and waits for
// its ready event.
func publishMP4(t *testing.T, ctx context.Context, srv *testServer, room string, s *mp4Stream) (*client, string) {
	t.Helper()
	return publishMIME(t, ctx, srv, room, s.claimed)
}

// checkJoinable reads what a viewer received, init then media, as a
// player would: it must parse, and its first fragment must start right
// after the init segment, with a moof whose first video sample is a sync
// sample.
func checkJoinable(t *testing.T, init, tail []byte) {
	t.Helper()
	if len(tail) < 8 || string(tail[4:8]) != "moof" {
		t.Fatalf("viewer's media starts with %q; want a moof box", tail[:min(len(tail), 8)])
	}
	evs, err := mp4.NewReader(mp4.Limits{}).Feed(nil, slices.Concat(init, tail))
	if err != nil {
		t.Fatalf("viewer's stream does not parse: %v", err)
	}
	first := int64(len(init))
	var frag, sync bool
	for _, e := range evs {
		if e.Offset == first {
			frag = frag || e.Kind == media.KindFragment
			sync = sync || e.Kind == media.KindSync
		}
	}
	if !frag || !sync {
		t.Errorf("viewer's first fragment at %d: fragment %v, starts with a sync sample %v; want both", first, frag, sync)
	}
}

// topBoxes returns the top-level boxes of an MP4 file: type and bytes.
func topBoxes(t *testing.T, b []byte) (types []string, boxes [][]byte) {
	t.Helper()
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			t.Fatalf("%d stray bytes at the end of the file", len(b)-off)
		}
		size, hdr := uint64(binary.BigEndian.Uint32(b[off:])), 8
		switch size {
		case 0:
			size = uint64(len(b) - off)
		case 1:
			if len(b)-off < 16 {
				t.Fatalf("box at %d: truncated large size", off)
			}
			size, hdr = binary.BigEndian.Uint64(b[off+8:]), 16
		}
		if size < uint64(hdr) || size > uint64(len(b)-off) {
			t.Fatalf("box at %d: size %d does not fit the file of %d bytes", off, size, len(b))
		}
		types = append(types, string(b[off+4:off+8]))
		boxes = append(boxes, b[off:off+int(size)])
		off += int(size)
	}
	return types, boxes
}

// completeMdats returns the mdat boxes of an MP4 stream up to the first
// top-level box that does not fit (a stream cut short, or not MP4).
func completeMdats(b []byte) [][]byte {
	var out [][]byte
	for off := 0; len(b)-off >= 8; {
		size, hdr := uint64(binary.BigEndian.Uint32(b[off:])), uint64(8)
		if size == 1 {
			if len(b)-off < 16 {
				break
			}
			size, hdr = binary.BigEndian.Uint64(b[off+8:]), 16
		}
		if size < hdr || size > uint64(len(b)-off) {
			break
		}
		if string(b[off+4:off+8]) == "mdat" {
			out = append(out, b[off:off+int(size)])
		}
		off += int(size)
	}
	return out
}

// mdats returns the mdat boxes of an MP4 file, in order: the media,
// which sealing leaves as it is.
func mdats(t *testing.T, b []byte) [][]byte {
	t.Helper()
	types, boxes := topBoxes(t, b)
	var out [][]byte
	for i, typ := range types {
		if typ == "mdat" {
			out = append(out, boxes[i])
		}
	}
	return out
}

// probe is what ffprobe finds in a recording.
type probe struct {
	duration  float64   // the container's, in seconds
	lastEnd   float64   // the end of the latest sample, in seconds
	keyframes []float64 // times of the video packets flagged as keyframes
	packets   int
	unknown   int // packets without a duration
}

// ffprobeMP4 reads path with ffprobe, every packet; it skips the test
// when ffprobe is missing, except in CI.
func ffprobeMP4(t *testing.T, path string) probe {
	t.Helper()
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffprobe is needed in CI")
		}
		t.Skip("ffprobe not installed")
	}
	out, err := exec.Command(bin, "-v", "error", "-show_entries",
		"format=duration:stream=index,codec_type:packet=stream_index,pts_time,duration_time,flags", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var r struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			Index int    `json:"index"`
			Type  string `json:"codec_type"`
		} `json:"streams"`
		Packets []struct {
			Stream   int    `json:"stream_index"`
			PTS      string `json:"pts_time"`
			Duration string `json:"duration_time"`
			Flags    string `json:"flags"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probe
	if p.duration, err = strconv.ParseFloat(r.Format.Duration, 64); err != nil {
		t.Fatalf("ffprobe %s: no duration (%q)", path, r.Format.Duration)
	}
	video := -1
	for _, s := range r.Streams {
		if s.Type == "video" {
			video = s.Index
		}
	}
	for _, pk := range r.Packets {
		p.packets++
		pts, err := strconv.ParseFloat(pk.PTS, 64)
		if err != nil {
			continue
		}
		if pk.Stream == video && strings.Contains(pk.Flags, "K") {
			p.keyframes = append(p.keyframes, pts)
		}
		d, err := strconv.ParseFloat(pk.Duration, 64)
		if err != nil {
			d, p.unknown = 0, p.unknown+1
		}
		p.lastEnd = max(p.lastEnd, pts+d)
	}
	return p
}

// checkMP4Recording checks the sealed recording of s in room alice: an
// .mp4 file, listed with its container and codecs, served with its MIME
// type and Range support, holding every fragment's media, with an index
// (sidx or mfra), and a duration ffprobe reads within 100 ms of the end
// of the last sample, keyframes included.
func checkMP4Recording(t *testing.T, srv *testServer, id string, s *mp4Stream, uploaded []byte) {
	t.Helper()
	recs, err := srv.p.Recordings("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != id || !recs[0].Seekable || recs[0].Container != "mp4" || !slices.Equal(recs[0].Codecs, codecs(t, s.mime)) {
		t.Fatalf("recordings = %+v; want %s sealed, container mp4, codecs of %s", recs, id, s.mime)
	}
	path := filepath.Join(srv.dir, "alice", id+".mp4")
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the recording is not an .mp4 file: %v", err)
	}
	resp, body := get(t, http.MethodGet, srv.URL+"/live/alice/playback?b="+id, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != s.mime || !bytes.Equal(body, file) {
		t.Errorf("playback = %d %q, %d bytes; want 200 %q and the file's %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), s.mime, len(file))
	}
	resp, part := get(t, http.MethodGet, srv.URL+"/live/alice/playback?b="+id, http.Header{"Range": {"bytes=100-199"}})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, file[100:200]) {
		t.Errorf("ranged playback = %d, %d bytes; want 206 and bytes 100-199", resp.StatusCode, len(part))
	}
	if got, want := mdats(t, file), mdats(t, uploaded); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("recording holds %d mdat boxes; want the %d uploaded, byte for byte", len(got), len(want))
	}
	types, _ := topBoxes(t, file)
	if !slices.Contains(types, "sidx") && !slices.Contains(types, "mfra") {
		t.Errorf("recording's boxes %q hold no index (sidx or mfra)", types)
	}
	p := ffprobeMP4(t, path)
	t.Logf("ffprobe: duration %.3f s, last sample ends at %.3f s, %d packets (%d without a duration), video keyframes at %v", p.duration, p.lastEnd, p.packets, p.unknown, p.keyframes)
	if p.packets == 0 || math.Abs(p.duration-p.lastEnd) > 0.1 {
		t.Errorf("ffprobe: duration %.3f s, last sample ends at %.3f s (%d packets); want them within 100 ms", p.duration, p.lastEnd, p.packets)
	}
	syncs := 0
	for _, k := range s.syncs {
		if k < int64(len(uploaded)) {
			syncs++
		}
	}
	if len(p.keyframes) < syncs {
		t.Fatalf("ffprobe found %d video keyframes; want at least the %d join points", len(p.keyframes), syncs)
	}
	// Seeking just past the last keyframe lands on it, or on the one
	// before (ffmpeg 7 may land a GOP early in a file with a sidx, then
	// decodes forward): with three keyframes or more, past the start, so
	// the index is used.
	if len(p.keyframes) < 2 {
		return
	}
	slices.Sort(p.keyframes)
	last, before := p.keyframes[len(p.keyframes)-1], p.keyframes[len(p.keyframes)-2]
	seek := last + 0.05
	out, err := exec.Command("ffprobe", "-v", "error", "-read_intervals", strconv.FormatFloat(seek, 'f', 3, 64)+"%+#1",
		"-select_streams", "v", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe seek: %v", err)
	}
	pts, flags, _ := strings.Cut(strings.TrimSpace(string(out)), ",")
	at, err := strconv.ParseFloat(pts, 64)
	t.Logf("ffprobe: seeking to %.3f s reads a video packet at %s s, flags %s", seek, pts, flags)
	if err != nil || !strings.Contains(flags, "K") || (at != last && at != before) {
		t.Errorf("ffprobe: seeking to %.3f s reads %q; want the keyframe at %.3f s (or %.3f s)", seek, out, last, before)
	}
}

// TestMP4PublishAndWatch publishes every MP4 fixture chunk by chunk,
// after an empty message (the recorder's last blob is empty too), while
// viewers join before the first chunk, in the middle and near the end.
// Each must receive hello with the stream's codecs, the init segment, then
// the stream from a fragment that starts with a video sync sample on,
// every byte after it as the server repaired it, then end; the status
// JSON must say mp4 and the codecs; the recording must be a sealed MP4
// that ffprobe reads.
func TestMP4PublishAndWatch(t *testing.T) {
	for _, name := range mp4Sets(t) {
		t.Run(name, func(t *testing.T) {
			s := loadMP4(t, name)
			if s.mse != "" && !slices.Equal(codecs(t, s.mime), codecs(t, s.mse)) {
				t.Errorf("reader's MIME type %q; the fixture's parser says %q", s.mime, s.mse)
			}
			ctx := testContext(t, 30*time.Second)
			srv := newServer(t, liveplugin.Config{Authorize: allowAll})
			pub, id := publishMP4(t, ctx, srv, "alice", s)
			pub.send(t, ctx, websocket.MessageBinary, nil)

			type joiner struct {
				name  string
				after int // chunks sent before the viewer joins
				c     *client
				bytes int64 // bytes the server had taken when it joined
			}
			n := len(s.chunks)
			joiners := []*joiner{{name: "start", after: 0}, {name: "middle", after: n / 2}, {name: "near end", after: max(n-2, 0)}}
			sent := 0
			var offset int64
			for i, j := range joiners {
				for ; sent < j.after; sent++ {
					pub.send(t, ctx, websocket.MessageBinary, s.chunks[sent])
					offset += int64(len(s.chunks[sent]))
				}
				if sent > 0 {
					srv.waitBytes(t, ctx, "alice", offset)
				}
				j.bytes = offset
				j.c = mustDial(t, ctx, srv.ws("/live/alice/subscribe"))
				pub.viewers(t, ctx, i+1)
				if i == 1 {
					checkMP4Status(t, srv, id, s)
				}
			}
			for ; sent < n; sent++ {
				pub.send(t, ctx, websocket.MessageBinary, s.chunks[sent])
			}
			pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
			if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Errorf("publisher closed with %d %q; want 1000", code, reason)
			}

			for _, j := range joiners {
				if code, reason := j.c.closed(t, ctx); code != websocket.StatusNormalClosure {
					t.Errorf("%s viewer closed with %d %q; want 1000", j.name, code, reason)
				}
				events, binary, order := j.c.snapshot()
				if len(order) < 3 || order[0] != "text:hello" || events[0].Mime != s.mime || events[0].Broadcast != id {
					t.Fatalf("%s viewer: first messages %q, hello %+v; want hello with %s", j.name, order[:min(len(order), 3)], events[0], s.mime)
				}
				if last := events[len(events)-1]; last.Type != "end" || last.Recording != "/live/alice/playback?b="+id {
					t.Errorf("%s viewer: last event %+v; want end naming the recording", j.name, last)
				}
				if !bytes.Equal(binary[0], s.stream[:s.init]) {
					t.Errorf("%s viewer: init segment is %d bytes; want the %d bytes of ftyp and moov", j.name, len(binary[0]), s.init)
				}
				tail := slices.Concat(binary[1:]...)
				join := int64(len(s.stream) - len(tail))
				if !bytes.Equal(tail, s.stream[join:]) {
					t.Fatalf("%s viewer: media is not the tail of the repaired upload", j.name)
				}
				// The join point is the newest the server knew of, or the
				// one before.
				k := slices.Index(s.syncs, join)
				if k < 0 {
					t.Fatalf("%s viewer joined at offset %d; want a join point %v", j.name, join, s.syncs)
				}
				if next := k + 2; next < len(s.syncs) && s.syncs[next] < j.bytes {
					t.Errorf("%s viewer joined at %d, but the server had taken %d bytes (join points at %v)", j.name, join, j.bytes, s.syncs)
				}
				checkJoinable(t, binary[0], tail)
			}
			checkMP4Recording(t, srv, id, s, s.stream)
		})
	}
}

// checkMP4Status checks the status JSON and meta of room alice, live with
// broadcast id of s.
func checkMP4Status(t *testing.T, srv *testServer, id string, s *mp4Stream) {
	t.Helper()
	resp, body := get(t, http.MethodGet, srv.URL+"/live/alice/status", nil)
	var st struct {
		Live      bool
		Broadcast string
		MIMEType  string
		Container string
		Codecs    []string
	}
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d %s (%v)", resp.StatusCode, body, err)
	}
	if !st.Live || st.Broadcast != id || st.MIMEType != s.mime || st.Container != "mp4" || !slices.Equal(st.Codecs, codecs(t, s.mime)) {
		t.Errorf("status = %s; want live %s, %s, container mp4 and its codecs", body, id, s.mime)
	}
	if b, ok := srv.p.Status("alice"); !ok || b.Container != "mp4" || !slices.Equal(b.Codecs, st.Codecs) {
		t.Errorf("Status = %+v, %v; want container mp4, codecs %q", b, ok, st.Codecs)
	}
	resp, body = get(t, http.MethodGet, srv.URL+"/live/alice/meta", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != s.mime || !bytes.Equal(body, s.stream[:s.init]) {
		t.Errorf("meta = %d %q, %d bytes; want 200 %q and the init segment", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), s.mime)
	}
}

// TestMP4StreamInvalid sends MP4 streams that are wrong from the start or
// turn wrong later. Each must end the upload with 4415 and a reason
// naming the fault; a viewer gets nothing of a stream refused before its
// first fragment, and of one that turned invalid every byte up to the
// box at fault and then end; another live room goes on undisturbed.
func TestMP4StreamInvalid(t *testing.T) {
	s := loadMP4(t, fixture.MP4)
	full := slices.Concat(s.chunks...) // as uploaded, before the repair
	ftyp := int64(binary.BigEndian.Uint32(full))
	entry := int64(bytes.Index(full[ftyp:s.init], []byte("avc1")))
	if entry < 0 {
		t.Fatal("no avc1 sample entry in the init segment")
	}
	mp4v := slices.Clone(full)
	copy(mp4v[ftyp+entry:], "mp4v")
	mid := s.frags[len(s.frags)/2]
	insert := func(at int64, b []byte) []byte { return slices.Concat(full[:at], b, full[at:]) }
	tests := []struct {
		name   string
		mime   string
		give   []byte
		fault  int64  // offset of the box at fault; 0: refused before the first fragment
		prefix string // of the close reason
		reason string // in the close reason
	}{
		{name: "garbage after ftyp", give: insert(ftyp, []byte("garbage, not a box at all")), prefix: "not a valid MP4 stream: "},
		{name: "moof before moov", give: slices.Concat(full[:ftyp], full[s.init:]), prefix: "not a valid MP4 stream: ", reason: "moof"},
		{name: "H.264 claimed as WebM", mime: `video/webm;codecs="h264,opus"`, give: full, prefix: "the upload says video/webm but the stream is MP4"},
		{name: "mp4v video", give: mp4v, prefix: "codec not playable in browsers: mp4v (video track "},
		{name: "garbage after fragments", give: insert(mid, []byte("\x00\x00\x00\x00garbage after valid fragments")), fault: mid, prefix: "not a valid MP4 stream: "},
		{name: "box larger than the stream allows", give: insert(mid, []byte("\xff\xff\xff\xffmoof")), fault: mid, prefix: "not a valid MP4 stream: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 30*time.Second)
			srv := newServer(t, liveplugin.Config{Authorize: allowAll})
			bob := startBystander(t, ctx, srv, "bob")
			claimed := tc.mime
			if claimed == "" {
				claimed = s.claimed
			}
			pub := mustDial(t, ctx, srv.ws("/live/alice/upload?mime="+url.QueryEscape(claimed)))
			id := pub.event(t, ctx, "ready").Broadcast
			viewer := mustDial(t, ctx, srv.ws("/live/alice/subscribe"))
			pub.viewers(t, ctx, 1)

			// Send in the recorder's chunk sizes, until the server closes.
			rest := tc.give
			for _, c := range s.chunks {
				n := min(len(c), len(rest))
				if n == 0 || pub.conn.Write(ctx, websocket.MessageBinary, rest[:n]) != nil {
					break
				}
				rest = rest[n:]
			}
			if len(rest) > 0 {
				_ = pub.conn.Write(ctx, websocket.MessageBinary, rest)
			}
			code, reason := pub.closed(t, ctx)
			if code != liveplugin.StatusUnsupportedData || !strings.HasPrefix(reason, tc.prefix) || !strings.Contains(reason, tc.reason) {
				t.Errorf("publisher closed with %d %q; want 4415 %q…%q", code, reason, tc.prefix, tc.reason)
			}
			if code, reason := viewer.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Errorf("viewer closed with %d %q; want 1000", code, reason)
			}
			events, binary, _ := viewer.snapshot()
			if last := events[len(events)-1]; last.Type != "end" {
				t.Errorf("viewer's last event %+v; want end", last)
			}
			bob.feed(t, ctx, 3)
			recs, err := srv.p.Recordings("alice")
			if err != nil {
				t.Fatal(err)
			}
			if tc.fault == 0 {
				if len(recs) != 0 || len(binary) != 0 {
					t.Errorf("a stream refused before its first fragment left %d recordings and sent %d binary messages", len(recs), len(binary))
				}
				return
			}
			if len(binary) == 0 || !bytes.Equal(binary[0], s.stream[:s.init]) {
				t.Fatalf("viewer got %d binary messages; want the init segment first", len(binary))
			}
			if got := slices.Concat(binary[1:]...); !bytes.Equal(got, s.stream[s.init:tc.fault]) {
				t.Errorf("viewer got media up to offset %d; want every byte up to the fault at %d", s.init+int64(len(got)), tc.fault)
			}
			checkMP4Recording(t, srv, id, s, s.stream[:tc.fault])
		})
	}
}

// TestMP4SlowViewerSkips: a viewer too slow for an MP4 broadcast skips
// ahead, and after each skip its media restarts at a fragment that begins
// with a video sync sample, decodable from there; a healthy viewer beside
// it gets every byte.
func TestMP4SlowViewerSkips(t *testing.T) {
	s := loadMP4(t, fixture.MP4)
	ctx := testContext(t, time.Minute)
	srv := newServerWith(t, liveplugin.Config{
		Authorize:        allowAll,
		ViewerQueueBytes: 128 << 10,
		WriteTimeout:     30 * time.Second, // the slow viewer goes for being slow, not for one stuck write
		PingInterval:     time.Hour,        // nor for a late pong
	}, func(hs *httptest.Server) { hs.Listener = sndbufListener{hs.Listener, 16 << 10} })
	pub, _ := publishMP4(t, ctx, srv, "alice", s)
	healthy := mustDial(t, ctx, srv.ws("/live/alice/subscribe"))
	var fast atomic.Bool
	transport := smallWindowTransport(func(c net.Conn) net.Conn {
		return &throttledConn{Conn: c, lim: rate.NewLimiter(4<<10, 512), fast: &fast}
	})
	defer transport.CloseIdleConnections()
	slow, err := dial(t, ctx, srv.ws("/live/alice/subscribe"), &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatal(err)
	}
	pub.viewers(t, ctx, 2)
	// A chunk every 100 ms: 5 times the stream's pace, which the healthy
	// viewer keeps up with and the slow one cannot.
	var sent int64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for _, c := range s.chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
		sent += int64(len(c))
		<-tick.C
	}
	srv.waitBytes(t, ctx, "alice", sent)
	fast.Store(true) // let the slow viewer read what is left
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	pub.closed(t, ctx)

	if code, reason := healthy.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("healthy viewer closed with %d %q; want 1000", code, reason)
	}
	if events, binary, _ := healthy.snapshot(); len(binary) == 0 || !bytes.Equal(binary[0], s.stream[:s.init]) || !bytes.Equal(slices.Concat(binary[1:]...), s.stream[s.init:]) {
		t.Errorf("healthy viewer got %d binary messages, %d bytes of media, events %+v; want the init segment and the stream's %d", len(binary), len(slices.Concat(binary[1:]...)), events, len(s.stream)-int(s.init))
	}
	code, reason := slow.closed(t, ctx)
	if code != websocket.StatusNormalClosure && (code != websocket.StatusPolicyViolation || reason != "too slow: fell behind the live stream") {
		t.Errorf("slow viewer closed with %d %q; want 1000, or 1008 for being too slow", code, reason)
	}
	_, binary, order := slow.snapshot()
	if len(binary) == 0 || !bytes.Equal(binary[0], s.stream[:s.init]) {
		t.Fatalf("slow viewer got %d binary messages; want the init segment first", len(binary))
	}
	// Split its media into runs, one per skip: each must be the init
	// segment, then the stream from a join point on.
	var runs [][]byte
	var run []byte
	skips, b, wantInit := 0, 0, true
	for _, o := range order {
		switch o {
		case "text:skip":
			skips++
			if len(run) > 0 {
				runs = append(runs, run)
			}
			run, wantInit = nil, true
		case "binary":
			switch {
			case !wantInit:
				run = append(run, binary[b]...)
			case !bytes.Equal(binary[b], s.stream[:s.init]):
				t.Fatalf("slow viewer: binary message %d, after a skip, is not the init segment", b)
			}
			wantInit = false
			b++
		}
	}
	if len(run) > 0 {
		runs = append(runs, run)
	}
	if skips == 0 {
		t.Fatalf("the slow viewer never skipped (%d runs); want it to fall behind", len(runs))
	}
	t.Logf("slow viewer: %d skips, %d runs of media", skips, len(runs))
	for i, r := range runs {
		at := slices.IndexFunc(s.syncs, func(k int64) bool {
			return k+int64(len(r)) <= int64(len(s.stream)) && bytes.Equal(r, s.stream[k:k+int64(len(r))])
		})
		if at < 0 {
			t.Errorf("run %d of %d bytes (of %d) does not start at a join point %v", i, len(r), len(runs), s.syncs)
			continue
		}
		checkJoinable(t, s.stream[:s.init], r)
	}
}

// TestMP4PublisherResumes cuts an MP4 publisher's connection twice, in
// the middle of a message: it resumes from the server's offset, and the
// viewer and the recording get every byte once.
func TestMP4PublisherResumes(t *testing.T) {
	s := loadMP4(t, fixture.MP4)
	ctx := testContext(t, 30*time.Second)
	srv := newServer(t, liveplugin.Config{Authorize: allowAll, ResumeGrace: 10 * time.Second})
	proxy := newNetProxy(t, srv.URL)
	pub, id := newResumerMIME(t, ctx, proxy.URL("/live/alice/upload"), s.claimed)
	viewer := mustDial(t, ctx, srv.ws("/live/alice/subscribe"))
	pub.c.viewers(t, ctx, 1)

	var n int64
	drops := 0
	for i, c := range s.chunks {
		if (i == 2 || i == 4) && len(c) > 0 {
			// Cut in the middle of this chunk's frame, once the server
			// holds the chunks before it: the broadcast is live.
			srv.waitBytes(t, ctx, "alice", n)
			proxy.cutAfter(int64(len(c) / 2))
			pub.send(ctx, c)
			n += int64(len(c))
			drops++
			viewer.eventCount(t, ctx, "reconnecting", drops)
			pub.resume(ctx)
			continue
		}
		pub.send(ctx, c)
		n += int64(len(c))
	}
	srv.waitBytes(t, ctx, "alice", n)
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
	if len(binary) == 0 || !bytes.Equal(binary[0], s.stream[:s.init]) || !bytes.Equal(slices.Concat(binary[1:]...), s.stream[s.init:]) {
		t.Errorf("viewer got %d binary messages; want the init segment, then every byte of the media once", len(binary))
	}
	checkMP4Recording(t, srv, id, s, s.stream)
}

// TestMP4RepairAcrossPieces: the publisher feeds its reader a message in
// pieces; a moof across a piece boundary must still be repaired, so that
// what viewers get is the stream repaired whole. A free box in the
// message puts a piece boundary in the middle of a duration field the
// repair rewrites.
func TestMP4RepairAcrossPieces(t *testing.T) {
	s := loadMP4(t, fixture.MP4)
	frag := s.frags[1] - s.frags[0] // the first fragment's moof and mdat
	first := s.chunks[1][:frag]
	second := s.chunks[1][frag:]
	moofSize := int(binary.BigEndian.Uint32(second))
	if string(second[4:8]) != "moof" || moofSize <= 100 {
		t.Fatalf("the second fragment starts with %q of %d bytes; want a moof of over 100 bytes", second[4:8], moofSize)
	}
	// The last byte the repair rewrites in that moof.
	moofAt := s.frags[1]
	orig := slices.Concat(s.chunks...)
	last := -1
	for i := range moofSize {
		if s.stream[moofAt+int64(i)] != orig[moofAt+int64(i)] {
			last = i
		}
	}
	if last < 0 || last+8 >= moofSize {
		t.Fatalf("the repair rewrites up to byte %d of the %d-byte moof; want a rewrite before its end", last, moofSize)
	}
	// A free box puts a piece boundary inside the moof, in the middle of
	// the duration field that the repair rewrites (the reader repairs a
	// field in the call that brings it, which must hold it whole; the
	// first fragment's moof, at 0, moves no boundary).
	at := (len(first)/liveplugin.FeedPiece + 2) * liveplugin.FeedPiece
	pad := at - (last - 1) - len(first)
	free := make([]byte, pad)
	binary.BigEndian.PutUint32(free, uint32(pad))
	copy(free[4:], "free")
	msg := slices.Concat(first, free, second)
	chunks := slices.Concat([][]byte{s.chunks[0], msg}, s.chunks[2:])
	upload := slices.Concat(chunks...)
	// The reference: the same stream repaired by a reader fed whole
	// messages.
	r := mp4.NewReader(mp4.Limits{})
	var want []byte
	for _, c := range chunks {
		c = slices.Clone(c)
		if _, err := r.Feed(nil, c); err != nil {
			t.Fatal(err)
		}
		want = append(want, c...)
	}
	moof := int64(len(s.chunks[0]) + len(first) + pad)
	if bytes.Equal(want[moof:moof+int64(moofSize)], upload[moof:moof+int64(moofSize)]) {
		t.Fatal("the reference left the moof across the boundary as it was: nothing to repair")
	}

	ctx := testContext(t, 30*time.Second)
	srv := newServer(t, liveplugin.Config{Authorize: allowAll})
	pub, _ := publishMP4(t, ctx, srv, "alice", s)
	viewer := mustDial(t, ctx, srv.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	for _, c := range chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	pub.closed(t, ctx)
	viewer.closed(t, ctx)
	_, binary, _ := viewer.snapshot()
	got := slices.Concat(binary...)
	if len(got) != len(want) {
		t.Fatalf("viewer got %d bytes; want %d", len(got), len(want))
	}
	if !bytes.Equal(got[moof:moof+int64(moofSize)], want[moof:moof+int64(moofSize)]) {
		t.Error("the moof across a piece boundary reached the viewer unrepaired")
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Errorf("viewer's stream differs from the stream repaired whole from byte %d on (the moof across the boundary: %d)", i, moof)
	}
}

// TestClusterMP4 publishes an MP4 broadcast on node A of a cluster, with
// viewers on A and B (through a relay), one joining late on B; the
// publisher's connection is cut mid-message and it resumes through B,
// which takes the broadcast over and primes an MP4 reader from A's state.
// Every viewer gets every byte once from a join point on, B's status says
// mp4 and the codecs, and the shared recording is a sealed MP4.
func TestClusterMP4(t *testing.T) {
	s := loadMP4(t, fixture.MP4)
	ctx := testContext(t, 60*time.Second)
	ns := startNATS(t)
	nodes := newCluster(t, ns.ClientURL(), 2, "", liveplugin.Config{ResumeGrace: 10 * time.Second})
	a, b := nodes[0], nodes[1]
	proxyA := newNetProxy(t, a.URL)
	pub, id := newResumerMIME(t, ctx, proxyA.URL("/live/alice/upload"), s.claimed)
	pub.send(ctx, s.chunks[0]) // ftyp and moov: live once a moof follows
	pub.send(ctx, s.chunks[1])
	eventually(t, ctx, "live on B", func() bool { _, ok := b.p.Status("alice"); return ok })
	viewers := []*client{mustDial(t, ctx, a.ws("/live/alice/subscribe")), mustDial(t, ctx, b.ws("/live/alice/subscribe"))}
	names := []string{"viewer on A", "viewer on B", "late viewer on B"}
	pub.c.viewers(t, ctx, 2)

	sent := int64(len(s.chunks[0]) + len(s.chunks[1]))
	for i := 2; i < len(s.chunks); i++ {
		c := s.chunks[i]
		switch {
		case i == 3:
			// Cut in the middle of this message, once A holds the ones
			// before it; resume through B.
			a.waitBytes(t, ctx, "alice", sent)
			proxyA.cutAfter(int64(len(c) / 2))
			pub.send(ctx, c)
			for _, v := range viewers {
				v.eventCount(t, ctx, "reconnecting", 1)
			}
			pub.url = b.ws("/live/alice/upload") // the load balancer picks B
			pub.resume(ctx)
		case i == 4:
			b.waitBytes(t, ctx, "alice", sent)
			viewers = append(viewers, mustDial(t, ctx, b.ws("/live/alice/subscribe")))
			pub.c.viewers(t, ctx, 3)
			pub.send(ctx, c)
		default:
			pub.send(ctx, c)
		}
		sent += int64(len(c))
	}
	b.waitBytes(t, ctx, "alice", sent)
	resp, body := get(t, http.MethodGet, b.URL+"/live/alice/status", nil)
	var st struct {
		Container string
		Codecs    []string
	}
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusOK || st.Container != "mp4" || !slices.Equal(st.Codecs, codecs(t, s.mime)) {
		t.Errorf("status on B = %d %s; want container mp4 and the codecs of %s", resp.StatusCode, body, s.mime)
	}
	pub.c.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.c.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d %q; want 1000", code, reason)
	}
	for i, v := range viewers {
		v.closed(t, ctx)
		events, binary, _ := v.snapshot()
		if events[0].Mime != s.mime {
			t.Errorf("%s: hello %+v; want %s", names[i], events[0], s.mime)
		}
		if len(binary) < 2 || !bytes.Equal(binary[0], s.stream[:s.init]) {
			t.Fatalf("%s: %d binary messages; want the init segment and media", names[i], len(binary))
		}
		tail := slices.Concat(binary[1:]...)
		join := int64(len(s.stream) - len(tail))
		if !slices.Contains(s.syncs, join) || !bytes.Equal(tail, s.stream[join:]) {
			t.Errorf("%s: %d media bytes; want the stream from a join point %v on, each byte once", names[i], len(tail), s.syncs)
		}
		checkJoinable(t, binary[0], tail)
	}
	checkMP4Recording(t, b.testServer, id, s, s.stream)
}

// TestMP4WithoutMIME uploads MP4 with no ?mime=, its first bytes in
// messages too short to tell the container (3 bytes, none, 4 bytes): the
// server waits for the eighth byte, sniffs the ftyp box, and the
// broadcast goes on as MP4, every byte acknowledged and passed on.
func TestMP4WithoutMIME(t *testing.T) {
	s := loadMP4(t, fixture.MP4)
	ctx := testContext(t, 30*time.Second)
	srv := newServer(t, liveplugin.Config{Authorize: allowAll})
	pub := mustDial(t, ctx, srv.ws("/live/alice/upload"))
	id := pub.event(t, ctx, "ready").Broadcast
	viewer := mustDial(t, ctx, srv.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	c0 := s.chunks[0]
	msgs := slices.Concat([][]byte{c0[:3], nil, c0[3:7]}, [][]byte{c0[7:]}, s.chunks[1:])
	var sent int64
	for i, m := range msgs {
		pub.send(t, ctx, websocket.MessageBinary, m)
		sent += int64(len(m))
		if i < 3 {
			// Each short message is acknowledged though nothing is read yet.
			err := pub.waitFor(ctx, "ack", func() bool {
				for _, e := range pub.events {
					if e.Type == "ack" && e.Offset == sent {
						return true
					}
				}
				return sent == 0
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	srv.waitBytes(t, ctx, "alice", sent)
	checkMP4Status(t, srv, id, s)
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d %q; want 1000", code, reason)
	}
	viewer.closed(t, ctx)
	events, binary, _ := viewer.snapshot()
	if events[0].Mime != s.mime {
		t.Errorf("hello %+v; want %s", events[0], s.mime)
	}
	if got := slices.Concat(binary...); !bytes.Equal(got, s.stream) {
		t.Errorf("viewer got %d bytes; want the %d of the stream", len(got), len(s.stream))
	}
	checkMP4Recording(t, srv, id, s, s.stream)
}
