package liveplugin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// thumbJPEG returns a w×h JPEG with an APP1 (EXIF) segment the server must
// not pass on.
func thumbJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	exif := "Exif\x00\x00secret"
	seg := append([]byte{0xff, 0xe1, 0, byte(len(exif) + 2)}, exif...)
	return slices.Concat(b.Bytes()[:2], seg, b.Bytes()[2:])
}

// thumbMessage returns the upload socket's thumbnail message carrying img.
func thumbMessage(img []byte) []byte {
	b, _ := json.Marshal(map[string]string{"type": "thumbnail", "data": base64.StdEncoding.EncodeToString(img)})
	return b
}

// errorEvents waits until c has received n error events and returns them.
func errorEvents(t *testing.T, c *client, ctx context.Context, n int) []event {
	t.Helper()
	var got []event
	err := c.waitFor(ctx, "error events", func() bool {
		got = got[:0]
		for _, e := range c.events {
			if e.Type == "error" {
				got = append(got, e)
			}
		}
		return len(got) >= n
	})
	if err != nil {
		t.Fatalf("%v (want %d, got %+v)", err, n, got)
	}
	return got
}

// TestThumbnail uploads a broadcast with thumbnails, good and bad, and
// fetches them: the live room's while it is live, the recording's after.
// Refused thumbnails get error events and change neither what viewers
// receive nor the recording.
func TestThumbnail(t *testing.T) {
	fx := fixture.Load(t, fixture.WebM[0])
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, ThumbnailInterval: time.Nanosecond})
	pub, id := publish(t, ctx, s, "alice")
	viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	half := len(fx.Chunks) / 2
	var sent int64
	for _, c := range fx.Chunks[:half] {
		pub.send(t, ctx, websocket.MessageBinary, c)
		sent += int64(len(c))
	}
	s.waitBytes(t, ctx, "alice", sent)
	live := s.URL + "/live/alice/thumbnail.jpg"
	if resp, _ := get(t, http.MethodGet, live, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("live thumbnail before any = %d; want 404", resp.StatusCode)
	}

	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 64, 64))); err != nil {
		t.Fatal(err)
	}
	good := thumbJPEG(t, 320, 180)
	huge := thumbJPEG(t, 64, 64)
	sof := bytes.Index(huge, []byte{0xff, 0xc0})
	huge[sof+5], huge[sof+6], huge[sof+7], huge[sof+8] = 0x75, 0x30, 0x75, 0x30 // 30000×30000
	bad := []struct {
		msg  []byte
		want string
	}{
		{thumbMessage(pngBuf.Bytes()), "not a JPEG"},
		{[]byte(`{"type":"thumbnail","data":12}`), "not valid JSON"},
		{thumbMessage(huge), "30000×30000 pixels is larger than 1920×1920"},
		{thumbMessage(good[:len(good)/2]), "not a valid JPEG"},
		{thumbMessage(make([]byte, 300<<10)), "larger than 256 KiB"},
	}
	for _, b := range bad {
		pub.send(t, ctx, websocket.MessageText, b.msg)
	}
	errs := errorEvents(t, pub, ctx, len(bad))
	for i, b := range bad {
		if !strings.Contains(errs[i].Message, b.want) {
			t.Errorf("error event %d = %q; want one saying %q", i, errs[i].Message, b.want)
		}
	}
	// The thumbnail is stored off the read loop: the chunk after it goes
	// on, and the thumbnail is in soon after.
	pub.send(t, ctx, websocket.MessageText, thumbMessage(good))
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[half])
	sent += int64(len(fx.Chunks[half]))
	s.waitBytes(t, ctx, "alice", sent)
	eventually(t, ctx, "the live thumbnail", func() bool {
		resp, _ := get(t, http.MethodGet, live, nil)
		return resp.StatusCode == http.StatusOK
	})

	resp, img := get(t, http.MethodGet, live, nil)
	checkThumbnail(t, "live", resp, img, 320, 180, "no-cache")
	etag := resp.Header.Get("ETag")
	if resp, _ := get(t, http.MethodGet, live, http.Header{"If-None-Match": {etag}}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("live thumbnail with If-None-Match = %d; want 304", resp.StatusCode)
	}
	if resp, body := get(t, http.MethodGet, live, http.Header{"Range": {"bytes=0-9"}}); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, img[:10]) {
		t.Errorf("ranged live thumbnail = %d, %q; want 206 and its first 10 bytes", resp.StatusCode, body)
	}
	b, ok := s.p.Status("alice")
	if !ok || !strings.HasPrefix(b.Thumbnail, "/live/alice/thumbnail.jpg?v=") {
		t.Errorf("Status().Thumbnail = %q; want the live thumbnail's versioned URL", b.Thumbnail)
	}
	var st struct{ Thumbnail string }
	if _, body := get(t, http.MethodGet, s.URL+"/live/alice/status", nil); json.Unmarshal(body, &st) != nil || st.Thumbnail != b.Thumbnail {
		t.Errorf("GET /status thumbnail = %q; want %q", st.Thumbnail, b.Thumbnail)
	}
	if resp, body := get(t, http.MethodGet, s.URL+b.Thumbnail, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(body, img) {
		t.Errorf("GET %s = %d; want 200 and the thumbnail", b.Thumbnail, resp.StatusCode)
	}

	for _, c := range fx.Chunks[half+1:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
	if code, _ := viewer.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("viewer closed with %d; want 1000", code)
	}
	_, binary, _ := viewer.snapshot()
	if media := slices.Concat(binary[1:]...); !bytes.HasSuffix(fx.Full, media) || len(media) == 0 {
		t.Errorf("viewer's media (%d bytes) is not the tail of the upload", len(media))
	}
	_, rec := get(t, http.MethodGet, s.URL+"/live/alice/playback?b="+id, nil)
	checkRecording(t, rec, fx.Full)

	if resp, _ := get(t, http.MethodGet, live, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("live thumbnail once ended = %d; want 404", resp.StatusCode)
	}
	recs, err := s.p.Recordings("alice")
	if err != nil || len(recs) != 1 || !strings.HasPrefix(recs[0].Thumbnail, "/live/alice/thumbnail.jpg?b="+id+"&v=") {
		t.Fatalf("Recordings() = %+v, %v; want one with its thumbnail's URL", recs, err)
	}
	resp, recImg := get(t, http.MethodGet, s.URL+recs[0].Thumbnail, nil)
	checkThumbnail(t, "recording", resp, recImg, 320, 180, "private, max-age=3600")
	if !bytes.Equal(recImg, img) {
		t.Error("the recording's thumbnail is not the broadcast's last")
	}
	if resp, _ := get(t, http.MethodGet, s.URL+"/live/alice/thumbnail.jpg?b=../x", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("thumbnail of an invalid id = %d; want 400", resp.StatusCode)
	}

	// Deleting the recording deletes its thumbnail.
	if resp, _ := get(t, http.MethodDelete, s.URL+"/live/alice/recordings/"+id, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE recording = %d; want 204", resp.StatusCode)
	}
	if resp, _ := get(t, http.MethodGet, s.URL+recs[0].Thumbnail, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("thumbnail of a deleted recording = %d; want 404", resp.StatusCode)
	}
}

// checkThumbnail checks a thumbnail response: a w×h JPEG the server made,
// served as one.
func checkThumbnail(t *testing.T, what string, resp *http.Response, body []byte, w, h int, cache string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s thumbnail = %d; want 200", what, resp.StatusCode)
	}
	for k, want := range map[string]string{"Content-Type": "image/jpeg", "X-Content-Type-Options": "nosniff", "Cache-Control": cache, "Accept-Ranges": "bytes"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s thumbnail %s = %q; want %q", what, k, got, want)
		}
	}
	if resp.Header.Get("ETag") == "" {
		t.Errorf("%s thumbnail has no ETag", what)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil || cfg.Width != w || cfg.Height != h {
		t.Errorf("%s thumbnail is %dx%d (%v); want a %dx%d JPEG", what, cfg.Width, cfg.Height, err, w, h)
	}
	if bytes.Contains(body, []byte("secret")) {
		t.Errorf("%s thumbnail kept the upload's EXIF", what)
	}
}

// TestThumbnailTimes: a thumbnail before the stream started is refused
// without counting, and one within ThumbnailInterval of the last is
// dropped; the broadcast goes on.
func TestThumbnailTimes(t *testing.T) {
	fx := fixture.Load(t, fixture.WebM[0])
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, ThumbnailInterval: time.Hour})
	pub, _ := publish(t, ctx, s, "alice")
	first, second := thumbJPEG(t, 64, 48), thumbJPEG(t, 48, 64)
	pub.send(t, ctx, websocket.MessageText, thumbMessage(first))
	if errs := errorEvents(t, pub, ctx, 1); !strings.Contains(errs[0].Message, "once your stream has started") {
		t.Errorf("error event = %q; want one saying the stream has not started", errs[0].Message)
	}
	var sent int64
	for _, c := range fx.Chunks[:4] {
		pub.send(t, ctx, websocket.MessageBinary, c)
		sent += int64(len(c))
	}
	pub.send(t, ctx, websocket.MessageText, thumbMessage(first))
	pub.send(t, ctx, websocket.MessageText, thumbMessage(second))
	if errs := errorEvents(t, pub, ctx, 2); !strings.Contains(errs[1].Message, "one every 1h0m0s at most") {
		t.Errorf("error event = %q; want one saying the server takes one an hour", errs[1].Message)
	}
	for _, c := range fx.Chunks[4:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
		sent += int64(len(c))
	}
	s.waitBytes(t, ctx, "alice", sent)
	resp, img := get(t, http.MethodGet, s.URL+"/live/alice/thumbnail.jpg", nil)
	checkThumbnail(t, "live", resp, img, 64, 48, "no-cache")
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
}
