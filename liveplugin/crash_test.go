package liveplugin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// crashDirEnv names the recordings directory of the server that
// TestCrashServer runs in a child process of TestCrashRecovery.
const crashDirEnv = "AMLIVE_CRASH_DIR"

// TestCrashServer is not a test but the child process of
// TestCrashRecovery: a server with the plugin recording into
// $AMLIVE_CRASH_DIR, syncing every write. It prints "URL <url>" and runs
// until its stdin closes or it is killed.
func TestCrashServer(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestCrashRecovery")
	}
	e := echo.New()
	p, err := liveplugin.Register(e.Group("/live"), liveplugin.Config{
		Dir:          dir,
		Authorize:    allowAll,
		SyncInterval: time.Nanosecond,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	defer hs.Close()
	defer p.Close(context.Background())
	fmt.Printf("URL %s\n", hs.URL)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent goes
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startCrashServer runs TestCrashServer in a child process recording into
// dir and returns it with its URL.
func startCrashServer(t *testing.T, ctx context.Context, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("child stderr:\n%s", stderr)
		}
	})
	urls := make(chan string, 1)
	go func() { // exits when the child's stdout closes
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
				urls <- u
			}
		}
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			t.Fatalf("child exited without a URL:\n%s", stderr)
		}
		return cmd, u
	case <-ctx.Done():
		t.Fatalf("child printed no URL:\n%s", stderr)
	}
	return nil, ""
}

// recordedBytes returns the bytes the server reports recorded for room's
// live broadcast id.
func recordedBytes(t *testing.T, ctx context.Context, url, room, id string) int64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/live/"+room+"/recordings", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []liveplugin.Recording
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.ID == id {
			return r.Bytes
		}
	}
	return 0
}

// lastBlock returns the latest timestamp among the complete blocks of b.
func lastBlock(t *testing.T, b []byte) time.Duration {
	t.Helper()
	evs, err := completeBlocks(b)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	for _, ev := range evs {
		last = max(last, ev.Timecode)
	}
	return last
}

// TestCrashRecovery kills (SIGKILL) a server in the middle of a broadcast;
// the next Register on its directory recovers the recording: sealed, with
// every block the server had taken, lasting to the end of the last of
// them.
func TestCrashRecovery(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	dir := t.TempDir()
	child, url := startCrashServer(t, ctx, dir)
	pub, id := publish(t, ctx, &testServer{URL: url}, "alice")

	// Chunks 0..acked are sent one by one, each acknowledged: the server
	// reports it recorded. Chunk acked+1 is in flight when the server dies.
	const acked = 24
	var ends []int64 // cumulative bytes after each chunk
	var n int64
	for i, c := range fx.Chunks[:acked+2] {
		pub.send(t, ctx, websocket.MessageBinary, c)
		n += int64(len(c))
		ends = append(ends, n)
		if i > acked {
			break
		}
		for recordedBytes(t, ctx, url, "alice", id) < n {
			select {
			case <-ctx.Done():
				t.Fatalf("server did not record chunk %d", i)
			case <-time.After(time.Millisecond):
			}
		}
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	logs := &syncBuffer{}
	s := newServer(t, liveplugin.Config{
		Dir:       dir,
		Authorize: allowAll,
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
	})
	// Recovery runs in the background: wait for it to log the recording.
	for !strings.Contains(logs.String(), "recording recovered") {
		select {
		case <-ctx.Done():
			t.Fatalf("recording not recovered; logs = %q", logs.String())
		case <-time.After(time.Millisecond):
		}
	}
	recs, err := s.p.Recordings("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != id || recs[0].Live || !recs[0].Seekable || recs[0].Failed {
		t.Fatalf("recordings after the crash = %+v; want %s, ended and sealed", recs, id)
	}
	if got := logs.String(); !strings.Contains(got, "recording recovered") || !strings.Contains(got, id) {
		t.Errorf("logs = %q; want the recovery of %s at Info", got, id)
	}
	rec, err := os.ReadFile(filepath.Join(dir, "alice", id+".webm"))
	if err != nil {
		t.Fatal(err)
	}
	// Every block of the chunks whose write had returned is there (the
	// write of chunk acked may have been under way); nothing else is.
	got := mediaBlocks(t, rec)
	surely := mediaBlocks(t, fx.Full[:ends[acked-1]])
	sent := mediaBlocks(t, fx.Full[:ends[acked+1]])
	if len(got) < len(surely) || len(got) > len(sent) || !slices.EqualFunc(got, sent[:len(got)], bytes.Equal) {
		t.Errorf("recovered %d blocks; want the first %d to %d of the upload", len(got), len(surely), len(sent))
	}
	checkSealed(t, rec)
	// Its duration runs to the end of its last block: at least to the
	// last block surely taken, at most one block's length (100 ms covers a
	// frame's or an Opus packet's) past the last block sent.
	want := lastBlock(t, fx.Full[:ends[acked]])
	lo, hi := lastBlock(t, fx.Full[:ends[acked-1]]), lastBlock(t, fx.Full[:ends[acked+1]])+100*time.Millisecond
	if d := recs[0].Duration; d < lo || d > hi {
		t.Errorf("recovered duration %v; want from %v (the last block surely taken) to %v (past the last block sent)", d, lo, hi)
	}
	t.Logf("killed after %d bytes acknowledged (last block %v), %d sent; recovered %d blocks, %v",
		ends[acked], want, ends[acked+1], len(got), recs[0].Duration)
}
