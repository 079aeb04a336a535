package record_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin/internal/record"
)

// TestSetDescription: the title and description reach the sidecar at once,
// are kept by Finish and Seal, and survive a crash and its recovery.
func TestSetDescription(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	dir := filepath.Join(t.TempDir(), "rec")
	s1, err := record.New(dir, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const title, desc = "Morning show", "Coffee\nand news"

	// Kept through Finish and Seal.
	w := record1(t, s1, "alice", "done", fx.Chunks)
	if err := w.SetDescription(title, desc); err != nil {
		t.Fatalf("SetDescription() error = %v", err)
	}
	if m := readSidecar(t, s1, "alice", "done"); m["title"] != title || m["description"] != desc {
		t.Errorf("sidecar while live = %v; want the title and description", m)
	}
	finish(t, w, t0)
	if err := w.SetDescription("late", ""); !errors.Is(err, record.ErrClosed) {
		t.Errorf("SetDescription() after Finish = %v; want ErrClosed", err)
	}
	sealed, err := s1.Seal("alice", "done")
	if err != nil || sealed.Title != title || sealed.Description != desc {
		t.Errorf("Seal() = %+v, %v; want the title and description kept", sealed, err)
	}

	// Kept by the recovery of a recording a crash left open.
	killed := record1(t, s1, "alice", "killed", [][]byte{fx.Full[:fx.St.ChunkEndOffsets[20]+7]})
	if err := killed.SetDescription(title, ""); err != nil {
		t.Fatal(err)
	}
	crash(t, killed)
	s2, err := record.New(dir, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Recover()
	if err != nil || len(got) != 1 || !got[0].Sealed || got[0].Title != title || got[0].Description != "" {
		t.Errorf("Recover() = %+v, %v; want alice/killed sealed with its title", got, err)
	}
	if m, err := s2.Stat("alice", "killed"); err != nil || m.Title != title {
		t.Errorf("Stat() after recovery = %+v, %v; want the title", m, err)
	}
}
