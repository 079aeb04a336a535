package record_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin/internal/record"
)

// errDisk stands for a failing disk.
var errDisk = errors.New("disk on fire")

// crashedStore records, with a Store that is then dropped as a crash would
// drop it, alice/old (sealed), alice/done (finished, not sealed) and
// alice/killed (killed one byte into an element), and returns the
// directory and the bytes of alice/killed.
func crashedStore(t *testing.T) (string, []byte) {
	t.Helper()
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	dir := filepath.Join(t.TempDir(), "rec")
	s1, err := record.New(dir, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	finish(t, record1(t, s1, "alice", "old", fx.Chunks), t0.Add(time.Hour))
	if _, err := s1.Seal("alice", "old"); err != nil {
		t.Fatal(err)
	}
	finish(t, record1(t, s1, "alice", "done", fx.Chunks), t0.Add(3*time.Hour))
	cut := fx.Full[:fx.St.ChunkEndOffsets[20]+7]
	w := create(t, s1, "alice", "killed", t0.Add(4*time.Hour))
	if _, err := w.Write(cut); err != nil {
		t.Fatal(err)
	}
	crash(t, w)
	return dir, cut
}

func TestBeginRecover(t *testing.T) {
	dir, cut := crashedStore(t)
	s, err := record.New(dir, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.BeginRecover()
	if err != nil {
		t.Fatalf("BeginRecover() error = %v", err)
	}
	var pending []string
	for _, m := range rec.Pending() {
		pending = append(pending, m.Broadcast)
	}
	slices.Sort(pending)
	if !slices.Equal(pending, []string{"done", "killed"}) {
		t.Fatalf("Pending() = %v; want done, killed", pending)
	}

	// Until Run, they are listed as recovering and not served.
	list, err := s.List("alice")
	if err != nil || len(list) != 3 {
		t.Fatalf("List() = %v, %v; want 3 recordings", list, err)
	}
	for _, m := range list {
		if want := m.Broadcast != "old"; m.Recovering != want {
			t.Errorf("List() %s Recovering = %v; want %v", m.Broadcast, m.Recovering, want)
		}
	}
	if m, err := s.Latest("alice"); err != nil || m.Broadcast != "old" {
		t.Errorf("Latest() = %s, %v; want old, the newest one served", m.Broadcast, err)
	}
	if _, _, err := s.OpenFile("alice", "killed"); !errors.Is(err, record.ErrRecovering) || !errors.Is(err, record.ErrBusy) {
		t.Errorf("OpenFile() while recovering error = %v; want ErrRecovering and ErrBusy", err)
	}
	if _, err := s.Seal("alice", "done"); !errors.Is(err, record.ErrRecovering) {
		t.Errorf("Seal() while recovering error = %v; want ErrRecovering", err)
	}
	if err := s.Delete("alice", "done"); !errors.Is(err, record.ErrBusy) {
		t.Errorf("Delete() while recovering error = %v; want ErrBusy", err)
	}
	if _, err := s.Create("alice", "killed", "video/webm", t0); !errors.Is(err, record.ErrExists) {
		t.Errorf("Create() while recovering error = %v; want ErrExists", err)
	}
	if gone, err := s.Prune(record.Retention{MaxBytes: 1}, t0.Add(24*time.Hour)); err != nil || len(gone) != 1 || gone[0].Broadcast != "old" {
		t.Errorf("Prune() while recovering = %v, %v; want only old deleted", gone, err)
	}

	got, err := rec.Run(context.Background())
	if err != nil || len(got) != 2 {
		t.Fatalf("Run() = %v, %v; want 2 recordings", got, err)
	}
	for _, m := range got {
		if m.Recovering || !m.Sealed {
			t.Errorf("Run() %s = %+v; want sealed, not recovering", m.Broadcast, m)
		}
		if m.CutShort != (m.Broadcast == "killed") || m.Failed != "" {
			t.Errorf("Run() %s CutShort = %v, Failed %q; want cut short only for killed, no Failed", m.Broadcast, m.CutShort, m.Failed)
		}
		if raw := readSidecar(t, s, "alice", m.Broadcast); raw["recovering"] != nil || (raw["cutShort"] == true) != m.CutShort {
			t.Errorf("sidecar of %s = %v; want no recovering, cutShort %v", m.Broadcast, raw, m.CutShort)
		}
	}
	f, m, err := s.OpenFile("alice", "killed")
	if err != nil {
		t.Fatalf("OpenFile() after Run error = %v", err)
	}
	_ = f.Close()
	checkMedia(t, s, m, cut)
	if again, err := rec.Run(context.Background()); again != nil || err != nil {
		t.Errorf("second Run() = %v, %v; want nothing", again, err)
	}
}

func TestRecoverCancelled(t *testing.T) {
	dir, _ := crashedStore(t)
	s, err := record.New(dir, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.BeginRecover()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := rec.Run(ctx)
	if !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Fatalf("Run(cancelled) = %v, %v; want nothing, context.Canceled", got, err)
	}
	// Released unchanged, and found again next time.
	for _, id := range []string{"done", "killed"} {
		m, err := s.Stat("alice", id)
		if err != nil || m.Recovering || m.Sealed {
			t.Errorf("Stat(%s) = %+v, %v; want released, not sealed", id, m, err)
		}
	}
	checkNoTemp(t, s, "alice")
	rec, err = s.BeginRecover()
	if err != nil || len(rec.Pending()) != 2 {
		t.Fatalf("BeginRecover() again: %d pending, %v; want 2", len(rec.Pending()), err)
	}
	if _, err := rec.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBeginRecoverRemovesTemporaries(t *testing.T) {
	s := newStore(t, record.Options{})
	finish(t, record1(t, s, "alice", "b1", [][]byte{payload(10)}), t0)
	open := record1(t, s, "alice", "open", [][]byte{payload(10)})
	room := filepath.Join(s.Dir(), "alice")
	files := map[string]bool{ // name: kept
		".b1.webm.123456.tmp": false, // a seal cut by a crash
		".b1.json.987.tmp":    false, // a sidecar write cut by a crash
		".gone.webm.55.tmp":   false, // of a recording deleted since
		".open.webm.77.tmp":   true,  // of a recording in use
		".hidden":             true,  // not the Store's
		"notes.txt":           true,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(room, name), payload(64), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.BeginRecover(); err != nil {
		t.Fatalf("BeginRecover() error = %v", err)
	}
	for name, kept := range files {
		if _, err := os.Stat(filepath.Join(room, name)); (err == nil) != kept {
			t.Errorf("%s after BeginRecover: %v; want kept %v", name, err, kept)
		}
	}
	finish(t, open, t0)
}

func TestSidecarWriteFails(t *testing.T) {
	s := newStore(t, record.Options{})
	w := record1(t, s, "alice", "b1", [][]byte{payload(100)})
	record.FailSidecars(s, errDisk)
	if _, err := w.Finish(t0.Add(time.Minute), time.Minute); !errors.Is(err, errDisk) {
		t.Fatalf("Finish() error = %v; want errDisk", err)
	}
	// Listed as finished, with its bytes, although the sidecar says
	// otherwise.
	for _, get := range []func() (record.Meta, error){
		func() (record.Meta, error) { return s.Stat("alice", "b1") },
		func() (record.Meta, error) { return s.Latest("alice") },
	} {
		if m, err := get(); err != nil || m.Live() || m.Bytes != 100 || m.Duration != time.Minute {
			t.Errorf("after a failed sidecar write: %+v, %v; want ended, 100 bytes, 1m", m, err)
		}
	}
	if raw := readSidecar(t, s, "alice", "b1"); raw["end"] != nil {
		t.Fatalf("sidecar = %v; want the stale one, without end", raw)
	}
	// Written as soon as the disk works again.
	if _, err := s.Prune(record.Retention{}, t0); !errors.Is(err, errDisk) {
		t.Errorf("Prune() with the disk still failing error = %v; want errDisk", err)
	}
	record.FailSidecars(s, nil)
	if _, err := s.Prune(record.Retention{}, t0); err != nil {
		t.Fatalf("Prune() error = %v", err)
	}
	if raw := readSidecar(t, s, "alice", "b1"); raw["end"] == nil || raw["bytes"] != float64(100) {
		t.Errorf("sidecar after Prune = %v; want end, 100 bytes", raw)
	}
}

func TestFailureSurvivesLostSidecar(t *testing.T) {
	// A disk error stops the recording and its sidecar never learns it;
	// the process then stops. Recovery finds the file cut short.
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	dir := filepath.Join(t.TempDir(), "rec")
	s1, err := record.New(dir, record.Options{FlushBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	w := record1(t, s1, "alice", "b1", [][]byte{fx.Full[:fx.St.ChunkEndOffsets[10]+3]})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	record.FailSidecars(s1, errDisk)
	if err := record.BreakFile(w); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(100)); err == nil { // past FlushBytes: to the OS
		t.Fatal("Write() on a broken file succeeded")
	}
	if m, err := w.Finish(t0, 0); !errors.Is(err, errDisk) || m.Failed == "" {
		t.Fatalf("Finish() = %+v, %v; want Failed, errDisk", m, err)
	}
	if m, err := s1.Stat("alice", "b1"); err != nil || m.Failed == "" || m.Live() {
		t.Errorf("Stat() = %+v, %v; want ended, Failed", m, err)
	}

	s2, err := record.New(dir, record.Options{}) // the next start
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Recover()
	if err != nil || len(got) != 1 {
		t.Fatalf("Recover() = %v, %v; want b1", got, err)
	}
	if m := got[0]; !m.Sealed || !m.CutShort {
		t.Errorf("recovered %+v; want sealed, cut short", m)
	}
	if list, err := s2.List("alice"); err != nil || len(list) != 1 || !list[0].CutShort {
		t.Errorf("List() = %+v, %v; want b1 cut short", list, err)
	}
}

func TestPruneStrays(t *testing.T) {
	now := time.Now()
	old := now.Add(-2 * time.Hour)
	type file struct {
		name  string
		size  int
		mtime time.Time
		kept  bool
	}
	files := []file{
		{name: ".x.webm.1.tmp", size: 1000, mtime: old},            // a seal cut by a crash
		{name: "orphan.webm", size: 1000, mtime: old},              // Delete cut by a crash
		{name: "lonely.json", size: 10, mtime: old},                // sidecar without media
		{name: "gone.jpg", size: 100, mtime: old},                  // thumbnail without recording
		{name: ".a.jpg.3.tmp", size: 100, mtime: old},              // a thumbnail write cut by a crash
		{name: ".y.webm.2.tmp", size: 150, mtime: now, kept: true}, // maybe another Store's seal
		{name: "bad.json", size: 5, mtime: old, kept: true},        // does not parse
		{name: "bad.webm", size: 50, mtime: old, kept: true},
	}
	tests := []struct {
		name string
		give record.Retention
		want []string // recordings deleted
	}{
		{name: "zero retention removes old strays", give: record.Retention{}},
		{name: "strays count towards MaxBytes", give: record.Retention{MaxBytes: 320}, want: []string{"a"}},
		{name: "StrayAge", give: record.Retention{StrayAge: 3 * time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, record.Options{})
			for i, id := range []string{"a", "b"} {
				start := now.Add(time.Duration(i-10) * time.Hour)
				finish(t, record1(t, s, "alice", id, [][]byte{payload(100)}), start.Add(time.Minute))
			}
			room := filepath.Join(s.Dir(), "alice")
			for _, f := range files {
				p := filepath.Join(room, f.name)
				if err := os.WriteFile(p, payload(f.size), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
					t.Fatal(err)
				}
			}
			gone, err := s.Prune(tc.give, now)
			if err != nil {
				t.Fatalf("Prune() error = %v", err)
			}
			var ids []string
			for _, m := range gone {
				ids = append(ids, m.Broadcast)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Prune(%+v) deleted %v; want %v", tc.give, ids, tc.want)
			}
			for _, f := range files {
				kept := f.kept || tc.give.StrayAge > 2*time.Hour
				if _, err := os.Stat(filepath.Join(room, f.name)); (err == nil) != kept {
					t.Errorf("%s after Prune: %v; want kept %v", f.name, err, kept)
				}
			}
		})
	}
}
