package liveplugin_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// completeBlocks returns the events of the complete blocks of a WebM
// stream, in order, up to its end or, with the error, to where it stops
// parsing.
func completeBlocks(b []byte) ([]webm.Event, error) {
	r := webm.NewReader(webm.Limits{})
	r.Blocks = true
	evs, err := r.Feed(nil, b)
	out := evs[:0]
	for _, ev := range evs {
		if ev.Kind == webm.KindBlock && ev.Offset+ev.Size <= int64(len(b)) {
			out = append(out, ev)
		}
	}
	return out, err
}

// blockBytes returns the bytes in b of each block of evs.
func blockBytes(b []byte, evs []webm.Event) [][]byte {
	out := make([][]byte, 0, len(evs))
	for _, ev := range evs {
		out = append(out, b[ev.Offset:ev.Offset+ev.Size])
	}
	return out
}

// mediaBlocks returns the bytes of every complete block of a WebM stream,
// in order.
func mediaBlocks(t testing.TB, b []byte) [][]byte {
	t.Helper()
	evs, err := completeBlocks(b)
	if err != nil {
		t.Fatalf("recording does not parse: %v", err)
	}
	return blockBytes(b, evs)
}

// checkRecording fails unless rec is a sealed recording of uploaded: it
// holds the same media, every complete block of the upload in order.
func checkRecording(t testing.TB, rec, uploaded []byte) {
	t.Helper()
	got, want := mediaBlocks(t, rec), mediaBlocks(t, uploaded)
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("recording holds %d blocks; want the %d blocks uploaded", len(got), len(want))
	}
	checkSealed(t, rec)
}

// checkSealed fails unless rec is a sealed WebM file: sealing it again
// changes nothing.
func checkSealed(t testing.TB, rec []byte) {
	t.Helper()
	var again bytes.Buffer
	if _, err := webm.Seal(&again, bytes.NewReader(rec), int64(len(rec))); err != nil || !bytes.Equal(again.Bytes(), rec) {
		t.Errorf("recording of %d bytes is not sealed (%v)", len(rec), err)
	}
}

// TestKeepRecordings: with KeepRecordings 1, a room keeps only the
// recording of its latest broadcast.
func TestKeepRecordings(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll, KeepRecordings: 1})
	var ids []string
	for range 2 {
		ids = append(ids, record(t, ctx, s, "alice", fx.Chunks[:8]))
	}
	recs, err := s.p.Recordings("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != ids[1] || !recs[0].Seekable {
		t.Errorf("recordings = %+v; want only the sealed %s", recs, ids[1])
	}
}
