package liveplugin_test

import (
	"bytes"
	"context"
	"errors"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// maxFuzzUpload caps the bytes one FuzzUpload execution sends.
const maxFuzzUpload = 64 << 10

// fuzzUploadSeeds are whole and truncated fixture streams, corrupted
// copies, and streams that are not WebM at all.
func fuzzUploadSeeds(tb testing.TB) [][]byte {
	vp8 := fixture.Load(tb, "vp8-opus-250ms-kf2s")
	vp9 := fixture.Load(tb, "vp9-opus-250ms")
	whole := fixture.Load(tb, "vp8-opus-notimeslice-5s")
	mp4 := fixture.Load(tb, fixture.MP4)
	cut := func(b []byte, n int64) []byte { return slices.Clone(b[:min(n, int64(len(b)))]) }
	flip := func(b []byte, at ...int) []byte {
		b = slices.Clone(b)
		for _, i := range at {
			b[i%len(b)] ^= 0x5A
		}
		return b
	}
	head := slices.Concat(vp8.Chunks[:4]...)
	return [][]byte{
		head,
		cut(slices.Concat(vp9.Chunks[:3]...), maxFuzzUpload),
		cut(whole.Full, maxFuzzUpload),
		cut(head, vp8.St.InitSegmentEnd-7),
		cut(head, vp8.St.InitSegmentEnd+40),
		flip(head, 40, 4000),
		flip(head, int(vp8.St.InitSegmentEnd)+3),
		flip(head, 9000, 9001, 9002),
		mp4.Chunks[0],
		[]byte("hello, world"),
		nil,
	}
}

// FuzzUpload sends fuzzed streams, split into several messages, through a
// real upload WebSocket. Whatever it sends, the server must not panic,
// must close with a documented code, must leave another live room alone
// and no goroutine behind, must hold no more ingest state than MaxHeld,
// and may keep only a readable recording whose blocks are the first
// blocks sent.
func FuzzUpload(f *testing.F) {
	for i, s := range fuzzUploadSeeds(f) {
		f.Add(s, uint64(i))
	}
	// MP4 that goes live: the first fragment and part of the second, as
	// is and with a byte of its first moof flipped, in messages that the
	// seeds 2 and 13 keep within MaxMessageBytes.
	mp4 := slices.Concat(fixture.Load(f, fixture.MP4).Chunks[:2]...)[:maxFuzzUpload]
	f.Add(mp4, uint64(2))
	flipped := slices.Clone(mp4)
	flipped[1300] ^= 0x5A
	f.Add(flipped, uint64(13))
	var serverLog syncBuffer
	cfg := liveplugin.Config{
		Authorize:         allowAll,
		Logger:            slog.New(slog.DiscardHandler),
		MaxMessageBytes:   16 << 10,
		MaxInitBytes:      4 << 10,
		ViewerUpgrades:    liveplugin.RateLimit{PerMinute: 1 << 30, Burst: 1 << 30},
		PublisherUpgrades: liveplugin.RateLimit{PerMinute: 1 << 30, Burst: 1 << 30},
		IdleTimeout:       time.Hour,
	}
	s := newServerWith(f, cfg, func(hs *httptest.Server) { hs.Config.ErrorLog = log.New(&serverLog, "", 0) })
	maxHeld := liveplugin.MaxHeld(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	bob := startBystander(f, ctx, s, "bob")
	httpc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	// The goroutines of an idle server, counted in the first execution
	// (each runs in a goroutine of its own).
	baseline := sync.OnceValue(runtime.NumGoroutine)

	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		baseline()
		data = data[:min(len(data), maxFuzzUpload)]
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		code, reason := fuzzPublish(t, ctx, s, data, seed)
		switch code {
		case websocket.StatusNormalClosure, liveplugin.StatusTooLarge, liveplugin.StatusUnsupportedData:
			if reason == "" {
				t.Errorf("closed with %d and no reason", code)
			}
		default:
			t.Fatalf("closed with %d %q; want 1000, 4413 or 4415", code, reason)
		}
		if strings.Contains(serverLog.String(), "panic") {
			t.Fatalf("the server panicked:\n%s", serverLog.String())
		}
		if _, live := s.p.Status("fuzz"); live {
			t.Error("room still live after its upload closed")
		}
		if b, ok := s.p.Status("bob"); !ok || b.Viewers != 1 {
			t.Errorf("the other room: %+v, live %v; want live with its viewer", b, ok)
		}
		for _, c := range []*client{bob.pub, bob.viewer} {
			select {
			case <-c.done:
				t.Fatalf("a connection of the other room closed: %v", c.err)
			default:
			}
		}
		// Resources: no input within the limits makes a publisher hold
		// more ingest state than MaxHeld, whatever its elements.
		if got := s.p.HeldMax(); got > maxHeld {
			t.Fatalf("a publisher held %d bytes of ingest state; want at most %d", got, maxHeld)
		}
		checkFuzzRecordings(t, s, httpc, data)
		waitGoroutines(t, baseline())
	})
}

// fuzzPublish sends data to room fuzz in messages split where seed says,
// then the end event, and returns the close code and reason.
func fuzzPublish(t *testing.T, ctx context.Context, s *testServer, data []byte, seed uint64) (websocket.StatusCode, string) {
	conn, _, err := websocket.Dial(ctx, s.ws("/live/fuzz/upload"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	closed := make(chan error, 1)
	go func() { // exits when the connection closes
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				closed <- err
				return
			}
		}
	}()
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	cuts := []int{0, len(data)}
	for range rng.IntN(8) {
		cuts = append(cuts, rng.IntN(len(data)+1))
	}
	slices.Sort(cuts)
	for i := 1; i < len(cuts); i++ {
		if conn.Write(ctx, websocket.MessageBinary, data[cuts[i-1]:cuts[i]]) != nil {
			break // the server closed
		}
	}
	_ = conn.Write(ctx, websocket.MessageText, liveplugin.EndMessage)
	select {
	case err = <-closed:
	case <-ctx.Done():
		t.Fatal("the server did not close the upload")
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("upload ended without a close frame: %v", err)
	}
	return ce.Code, ce.Reason
}

// checkFuzzRecordings checks room fuzz's recordings against the bytes
// sent, then deletes them.
func checkFuzzRecordings(t *testing.T, s *testServer, httpc *http.Client, sent []byte) {
	recs, err := s.p.Recordings("fuzz")
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := completeBlocks(sent) // the blocks before a fault count all the same
	want := blockBytes(sent, evs)
	wantMdats := completeMdats(sent)
	for _, r := range recs {
		if r.Live {
			t.Fatalf("recording %s still live", r.ID)
		}
		if r.Container == "mp4" {
			// The media of an MP4 recording: its mdat boxes, which
			// sealing and the repair leave as they are.
			rec, err := os.ReadFile(filepath.Join(s.dir, "fuzz", r.ID+".mp4"))
			if err != nil {
				t.Fatal(err)
			}
			got := completeMdats(rec)
			if len(got) > len(wantMdats) || !slices.EqualFunc(got, wantMdats[:len(got)], bytes.Equal) {
				t.Errorf("MP4 recording of %d mdat boxes is not the first of the %d sent", len(got), len(wantMdats))
			}
		} else {
			rec, err := os.ReadFile(filepath.Join(s.dir, "fuzz", r.ID+".webm"))
			if err != nil {
				t.Fatal(err)
			}
			evs, _ := completeBlocks(rec)
			got := blockBytes(rec, evs)
			if len(got) > len(want) || !slices.EqualFunc(got, want[:len(got)], bytes.Equal) {
				t.Errorf("recording of %d blocks is not the first blocks of the %d sent", len(got), len(want))
			}
			if r.Seekable {
				checkSealed(t, rec)
			}
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, s.URL+"/live/fuzz/recordings/"+r.ID, nil)
		resp, err := httpc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE recording = %d", resp.StatusCode)
		}
	}
}

// waitGoroutines waits until no more goroutines run than baseline, and
// fails with their stacks if that takes long.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines run; want at most %d, as before:\n%s", runtime.NumGoroutine(), baseline, buf.String())
		}
		time.Sleep(time.Millisecond)
	}
}
