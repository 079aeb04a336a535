package liveplugin_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestStreamTurnsInvalid sends streams that start well and go wrong later
// (or, for the first case, before the first Cluster). Each must end the
// broadcast cleanly: the publisher gets 4415 and a reason naming the
// fault, the viewer every valid byte and then the end event, the
// recording holds the stream up to the element at fault, sealed, and
// another live room goes on undisturbed.
func TestStreamTurnsInvalid(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	init := fx.St.InitSegmentEnd
	full := fx.Full
	// A Cluster and a SimpleBlock in the middle of the stream, each
	// inside a chunk rather than at its edge, so that the failing chunk
	// begins with bytes that are still valid.
	inside := func(off int64) bool {
		for _, end := range fx.St.ChunkEndOffsets {
			if off >= end-2 && off <= end+2 {
				return false
			}
		}
		return true
	}
	var cluster, block int64
	for _, c := range fx.St.Clusters[len(fx.St.Clusters)/2:] {
		if inside(c.Offset) {
			cluster = c.Offset
			break
		}
	}
	evs, err := completeBlocks(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if off := ev.Offset; off > int64(len(full))/2 && inside(off) && full[off] == 0xA3 && full[off+1]&0xC0 == 0x40 {
			block = off // a SimpleBlock with a 2-byte size
			break
		}
	}
	if cluster == 0 || block == 0 {
		t.Fatal("no Cluster or SimpleBlock inside a chunk")
	}
	tracks := int64(bytes.Index(full[:init], []byte{0x16, 0x54, 0xAE, 0x6B}))

	insert := func(at int64, b []byte) []byte { return slices.Concat(full[:at], b, full[at:]) }
	tests := []struct {
		name   string
		give   []byte
		fault  int64  // offset of the element at fault; 0: before the first Cluster
		reason string // in the close reason
	}{
		{"cluster before tracks", slices.Concat(full[:tracks], full[init:]), 0, "cluster before tracks"},
		{"garbage after valid clusters", insert(cluster, []byte("\x00garbage, not an element")), cluster, "invalid element id"},
		{"corrupt element size", slices.Concat(full[:block+1], []byte{0x00}, full[block+2:]), block, "invalid element size"},
		{"absurd length", slices.Concat(full[:block+1], []byte{0x01, 0, 0, 0x10, 0, 0, 0, 0}, full[block+3:]), block, "exceeds"},
		{"block for an unknown track", slices.Concat(full[:block+3], []byte{0x89}, full[block+4:]), block, "unknown track 9"},
		{"second EBML header", insert(cluster, full[:init]), cluster, "after the segment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 30*time.Second)
			s := newServer(t, liveplugin.Config{Authorize: allowAll})
			bob := startBystander(t, ctx, s, "bob")
			pub, id := publish(t, ctx, s, "alice")
			viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
			pub.viewers(t, ctx, 1)

			// Send in the recorder's chunk sizes, until the server closes.
			rest := tc.give
			for _, c := range fx.Chunks {
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
			if code != liveplugin.StatusUnsupportedData || !strings.HasPrefix(reason, "not a valid WebM stream: ") || !strings.Contains(reason, tc.reason) {
				t.Errorf("publisher closed with %d %q; want 4415 saying %q", code, reason, tc.reason)
			}
			if code, reason := viewer.closed(t, ctx); code != websocket.StatusNormalClosure {
				t.Errorf("viewer closed with %d %q; want 1000", code, reason)
			}
			events, binary, _ := viewer.snapshot()
			if last := events[len(events)-1]; last.Type != "end" {
				t.Errorf("viewer's last event %+v; want end", last)
			}
			bob.feed(t, ctx, 3)

			recs, err := s.p.Recordings("alice")
			if err != nil {
				t.Fatal(err)
			}
			if tc.fault == 0 {
				if len(recs) != 0 || len(binary) != 0 {
					t.Errorf("a stream refused before its first Cluster left %d recordings and sent %d binary messages", len(recs), len(binary))
				}
				return
			}
			valid := tc.give[:tc.fault]
			if media := slices.Concat(binary[1:]...); !bytes.Equal(media, valid[init:]) {
				t.Errorf("viewer got media up to offset %d; want every byte up to the fault at %d", init+int64(len(media)), tc.fault)
			}
			if len(recs) != 1 || recs[0].ID != id || !recs[0].Seekable {
				t.Fatalf("recordings = %+v; want %s, sealed", recs, id)
			}
			_, rec := get(t, http.MethodGet, s.URL+recs[0].URL, nil)
			checkRecording(t, rec, valid)
			checkFFprobe(t, filepath.Join(s.dir, "alice", id+".webm"))
		})
	}
}

// checkFFprobe fails if ffprobe, reading the file's every packet, reports
// an error. Without ffprobe it does nothing, except in CI.
func checkFFprobe(t testing.TB, path string) {
	t.Helper()
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffprobe is needed in CI")
		}
		return
	}
	out, err := exec.Command(bin, "-v", "error", "-show_packets", "-of", "compact", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	for line := range strings.Lines(string(out)) {
		if !strings.HasPrefix(line, "packet|") {
			t.Errorf("ffprobe %s: %s", filepath.Base(path), strings.TrimSpace(line))
		}
	}
}
