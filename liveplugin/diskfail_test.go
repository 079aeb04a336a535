//go:build linux

package liveplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// lockedBuffer is an io.Writer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// limitFileSize makes the kernel refuse, with EFBIG, every write of this
// process that would grow a regular file past n bytes (RLIMIT_FSIZE, which
// binds root too; the Go runtime ignores the SIGXFSZ that comes with it).
// The limit is process-wide, so the caller restores it as soon as it has
// done its work with the returned func, which is idempotent.
func limitFileSize(t *testing.T, n uint64) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: old.Max}); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	restore = sync.OnceFunc(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Errorf("restoring RLIMIT_FSIZE: %v", err)
		}
	})
	t.Cleanup(restore)
	return restore
}

// TestDiskFailureKeepsBroadcastLive makes the disk refuse the recording's
// writes in the middle of a broadcast: the viewers keep receiving the whole
// stream, the publisher is told the recording failed and stays live, the
// failure is logged, and the recording is listed as failed once the
// broadcast ends.
func TestDiskFailureKeepsBroadcastLive(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	var logs lockedBuffer
	s := newServer(t, liveplugin.Config{
		Authorize: allowAll,
		Logger:    slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelInfo})),
		// Every chunk goes to the disk at once, so the first write past
		// the limit fails, not one 64 KiB later.
		SyncInterval: time.Nanosecond,
	})
	pub, id := publish(t, ctx, s, "alice")
	viewers := []*client{mustDial(t, ctx, s.ws("/live/alice/subscribe")), mustDial(t, ctx, s.ws("/live/alice/subscribe"))}
	pub.viewers(t, ctx, len(viewers))

	// The first third is recorded normally.
	third := len(fx.Chunks) / 3
	var sent int64
	for _, c := range fx.Chunks[:third] {
		pub.send(t, ctx, websocket.MessageBinary, c)
		sent += int64(len(c))
	}
	s.waitBytes(t, ctx, "alice", sent)
	media := filepath.Join(s.dir, "alice", id+".webm")
	var size int64
	waitUntil(t, ctx, "the first third on disk", func() bool {
		fi, err := os.Stat(media)
		if err != nil {
			t.Fatalf("recording: %v", err)
		}
		size = fi.Size()
		return size == sent
	})

	// The disk is "full" now: the next chunk cannot be recorded.
	restore := limitFileSize(t, uint64(size))
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[third])
	if e := pub.event(t, ctx, "error"); !strings.Contains(e.Message, "still live") {
		t.Errorf("publisher's error event %+v; want it to say the broadcast is still live", e)
	}
	restore()
	mediaAtFailure := make([]int, len(viewers))
	for i, v := range viewers {
		_, binary, _ := v.snapshot()
		mediaAtFailure[i] = len(slices.Concat(binary...))
	}

	// The rest of the broadcast still reaches the viewers.
	for _, c := range fx.Chunks[third+1:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, _ := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Errorf("publisher closed with %d; want 1000 (ended by the publisher, not by the failure)", code)
	}
	for i, v := range viewers {
		if code, _ := v.closed(t, ctx); code != websocket.StatusNormalClosure {
			t.Errorf("viewer %d closed with %d; want 1000", i, code)
		}
		_, binary, _ := v.snapshot()
		got := slices.Concat(binary...)
		if len(got) <= mediaAtFailure[i] {
			t.Errorf("viewer %d received %d bytes by the failure and %d in all; want media after the failure", i, mediaAtFailure[i], len(got))
		}
		if want := fx.Full[fx.St.InitSegmentEnd:]; !bytes.Equal(got[len(binary[0]):], want) {
			t.Errorf("viewer %d got %d media bytes; want the whole stream's %d", i, len(got)-len(binary[0]), len(want))
		}
	}

	// The plugin still serves the room, and lists the recording as failed
	// with what reached the disk.
	resp, body := get(t, http.MethodGet, s.URL+"/live/alice/status", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET status: %d %s", resp.StatusCode, body)
	}
	var st struct {
		Live       bool                   `json:"live"`
		Recordings []liveplugin.Recording `json:"recordings"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("status %s: %v", body, err)
	}
	if st.Live || len(st.Recordings) != 1 {
		t.Fatalf("status %s; want the room offline with one recording", body)
	}
	if r := st.Recordings[0]; r.ID != id || !r.Failed || r.Live || r.Bytes <= 0 {
		t.Errorf("recording %+v; want %s ended and failed, holding what was written before the failure", r, id)
	}
	if log := logs.String(); !strings.Contains(log, `level=ERROR msg="recording failed"`) || !strings.Contains(log, "file too large") {
		t.Errorf("log has no Error line for the failed recording:\n%s", log)
	}

	// A new broadcast in the room records again.
	pub2, id2 := publish(t, ctx, s, "alice")
	for _, c := range fx.Chunks {
		pub2.send(t, ctx, websocket.MessageBinary, c)
	}
	pub2.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	pub2.closed(t, ctx)
	recs, err := s.p.Recordings("alice")
	if err != nil || len(recs) != 2 || recs[0].ID != id2 || recs[0].Failed || !recs[0].Seekable {
		t.Errorf("Recordings = %+v, %v; want a good recording of the second broadcast first", recs, err)
	}
}

// waitUntil polls cond every few milliseconds until it holds or ctx
// ends.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
