package liveplugin_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestPlaybackRangeCount checks that a request for many tiny ranges is
// refused instead of getting a multipart response many times their size.
func TestPlaybackRangeCount(t *testing.T) {
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	ctx := testContext(t, 20*time.Second)
	set := fixture.Load(t, "vp8-opus-250ms-kf2s")
	id := record(t, ctx, s, "alice", set.Chunks)
	url := s.URL + "/live/alice/playback?b=" + id
	ranges := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%d-%d", 2*i, 2*i)
		}
		return "bytes=" + strings.Join(parts, ",")
	}
	tests := []struct {
		name     string
		give     string
		want     int
		maxBytes int
	}{
		{name: "one range", give: "bytes=0-99", want: http.StatusPartialContent, maxBytes: 100},
		{name: "eight ranges", give: ranges(8), want: http.StatusPartialContent, maxBytes: 2048},
		{name: "nine ranges", give: ranges(9), want: http.StatusRequestedRangeNotSatisfiable, maxBytes: 1024},
		{name: "a thousand one-byte ranges", give: ranges(1000), want: http.StatusRequestedRangeNotSatisfiable, maxBytes: 1024},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, http.MethodGet, url, http.Header{"Range": {tc.give}})
			if resp.StatusCode != tc.want {
				t.Errorf("status %d; want %d", resp.StatusCode, tc.want)
			}
			if len(body) > tc.maxBytes {
				t.Errorf("response body %d bytes; want at most %d", len(body), tc.maxBytes)
			}
			if tc.want == http.StatusRequestedRangeNotSatisfiable {
				full, whole := get(t, http.MethodGet, url, nil)
				if got, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes */%d", len(whole)); full.StatusCode != http.StatusOK || got != want {
					t.Errorf("Content-Range %q; want %q", got, want)
				}
			}
		})
	}
}

// TestPlaybackValidators checks that a recording served while it is
// written and the sealed file that replaces it have different ETags, so
// that a client resuming with If-Range after the seal gets the whole new
// file instead of a range of another layout.
func TestPlaybackValidators(t *testing.T) {
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	ctx := testContext(t, 20*time.Second)
	set := fixture.Load(t, "vp8-opus-250ms-kf2s")
	pub, id := publish(t, ctx, s, "alice")
	half := set.Chunks[:len(set.Chunks)/2]
	var n int
	for _, c := range half {
		pub.send(t, ctx, websocket.MessageBinary, c)
		n += len(c)
	}
	s.waitBytes(t, ctx, "alice", int64(n))
	url := s.URL + "/live/alice/playback?b=" + id

	live, liveBody := get(t, http.MethodGet, url, nil)
	liveTag := live.Header.Get("ETag")
	if live.StatusCode != http.StatusOK || liveTag == "" {
		t.Fatalf("live: status %d, ETag %q; want 200 with an ETag", live.StatusCode, liveTag)
	}
	if again, _ := get(t, http.MethodGet, url, http.Header{"If-None-Match": {liveTag}}); again.StatusCode != http.StatusNotModified {
		t.Errorf("live, If-None-Match its own ETag: status %d; want 304", again.StatusCode)
	}

	for _, c := range set.Chunks[len(half):] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, []byte(`{"type":"end"}`))
	if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q", code, reason)
	}

	sealed, sealedBody := get(t, http.MethodGet, url, nil)
	sealedTag := sealed.Header.Get("ETag")
	if sealedTag == "" || sealedTag == liveTag {
		t.Fatalf("sealed ETag %q; want one that differs from the live file's %q", sealedTag, liveTag)
	}
	if string(sealedBody[:64]) == string(liveBody[:64]) && len(sealedBody) == len(liveBody) {
		t.Fatal("the sealed file equals the live one; the test proves nothing")
	}
	// A client that read the live file resumes with If-Range.
	resp, body := get(t, http.MethodGet, url, http.Header{"Range": {fmt.Sprintf("bytes=%d-", len(liveBody))}, "If-Range": {liveTag}})
	if resp.StatusCode != http.StatusOK || len(body) != len(sealedBody) {
		t.Errorf("If-Range with the live ETag after the seal: status %d, %d bytes; want 200 with the whole sealed file (%d bytes)",
			resp.StatusCode, len(body), len(sealedBody))
	}
	resp, _ = get(t, http.MethodGet, url, http.Header{"Range": {"bytes=10-"}, "If-Range": {sealedTag}})
	if resp.StatusCode != http.StatusPartialContent {
		t.Errorf("If-Range with the sealed ETag: status %d; want 206", resp.StatusCode)
	}
}
