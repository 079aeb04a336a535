package liveplugin_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// alphaOne is Video/AlphaMode 1 as Chromium writes it: ID 0x53C0, size 1,
// value 1.
var alphaOne = []byte{0x53, 0xC0, 0x81, 0x01}

// withoutAlpha returns a copy of stream with the one AlphaMode 1 of its
// first n bytes (the init segment) set to 0 in place. It fails unless there
// is exactly one.
func withoutAlpha(t testing.TB, stream []byte, n int64) []byte {
	t.Helper()
	head := stream[:n]
	i := bytes.Index(head, alphaOne)
	if i < 0 || bytes.Count(head, alphaOne) != 1 {
		t.Fatalf("%d AlphaMode 1 elements in the init segment; want one, as Chromium records it", bytes.Count(head, alphaOne))
	}
	out := bytes.Clone(stream)
	out[i+3] = 0
	return out
}

// TestAlphaModeCleared checks that the init segment viewers get, live and
// from GET /meta, and the sealed recording say AlphaMode 0 for Chromium's
// camera video, which carries no alpha data, while every length, offset and
// every byte after the init segment stay as uploaded.
func TestAlphaModeCleared(t *testing.T) {
	for _, name := range fixture.WebM {
		t.Run(name, func(t *testing.T) {
			fx := fixture.Load(t, name)
			want := withoutAlpha(t, fx.Full, fx.St.InitSegmentEnd)
			ctx := testContext(t, 30*time.Second)
			s := newServer(t, liveplugin.Config{Authorize: allowAll})
			pub, id := publish(t, ctx, s, "alice")
			viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
			pub.viewers(t, ctx, 1)
			half := max(len(fx.Chunks)/2, 1)
			var sent int64
			for _, c := range fx.Chunks[:half] {
				pub.send(t, ctx, websocket.MessageBinary, c)
				sent += int64(len(c))
			}
			s.waitBytes(t, ctx, "alice", sent)
			resp, meta := get(t, http.MethodGet, s.URL+"/live/alice/meta", nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(meta, want[:fx.St.InitSegmentEnd]) {
				t.Errorf("GET /meta = %d, %d bytes; want 200 and the %d bytes of the init segment with AlphaMode 0",
					resp.StatusCode, len(meta), fx.St.InitSegmentEnd)
			}
			for _, c := range fx.Chunks[half:] {
				pub.send(t, ctx, websocket.MessageBinary, c)
			}
			pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
			if code, reason := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
			}
			viewer.closed(t, ctx)
			_, binary, _ := viewer.snapshot()
			if len(binary) < 2 || !bytes.Equal(binary[0], want[:fx.St.InitSegmentEnd]) {
				t.Fatalf("viewer's init segment %d bytes (AlphaMode 1: %v); want the %d bytes with AlphaMode 0",
					len(binary[0]), bytes.Contains(binary[0], alphaOne), fx.St.InitSegmentEnd)
			}
			if media := slices.Concat(binary[1:]...); !bytes.Equal(media, fx.Full[fx.St.InitSegmentEnd:]) {
				t.Fatalf("viewer's media (%d bytes) is not the upload after the init segment (%d bytes)",
					len(media), int64(len(fx.Full))-fx.St.InitSegmentEnd)
			}

			path := filepath.Join(s.dir, "alice", id+".webm")
			rec, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cluster := bytes.Index(rec, []byte{0x1F, 0x43, 0xB6, 0x75})
			if cluster < 0 || bytes.Contains(rec[:cluster], alphaOne) || !bytes.Contains(rec[:cluster], []byte{0x53, 0xC0, 0x81, 0x00}) {
				t.Errorf("sealed recording's header (%d bytes) does not carry AlphaMode 0", cluster)
			}
			checkRecording(t, rec, want)
			checkFFprobe(t, path)
		})
	}
}
