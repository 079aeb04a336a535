package record_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/record"
)

// TestDetachReopen hands a recording from one Store to another sharing its
// directory: the second continues the same file, which ends up holding
// every byte once.
func TestDetachReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	a, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := create(t, a, "room", "b1", t0)
	first, second := payload(1000), payload(700)
	if _, err := w.Write(first); err != nil {
		t.Fatal(err)
	}
	m, err := w.Detach()
	if err != nil {
		t.Fatalf("Detach() error = %v", err)
	}
	if m.Bytes != 1000 || !m.Live() {
		t.Errorf("Detach() Meta = %+v, want 1000 bytes, live", m)
	}
	if _, err := w.Write(second); !errors.Is(err, record.ErrClosed) {
		t.Errorf("Write after Detach error = %v, want ErrClosed", err)
	}
	if st, err := a.Stat("room", "b1"); err != nil || st.Bytes != 1000 {
		t.Errorf("Stat after Detach = %+v, %v; want 1000 bytes", st, err)
	}

	w2, err := b.Reopen("room", "b1", 1000)
	if err != nil {
		t.Fatalf("Reopen() error = %v", err)
	}
	if _, err := b.Reopen("room", "b1", 1000); !errors.Is(err, record.ErrBusy) {
		t.Errorf("second Reopen() error = %v, want ErrBusy", err)
	}
	if _, err := w2.Write(second); err != nil {
		t.Fatal(err)
	}
	fm := finish(t, w2, t0.Add(time.Minute))
	if fm.Bytes != 1700 {
		t.Errorf("finished Bytes = %d, want 1700", fm.Bytes)
	}
	got, err := os.ReadFile(filepath.Join(dir, "room", "b1.webm"))
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]byte{}, first...), second...); !bytes.Equal(got, want) {
		t.Errorf("file holds %d bytes, want the %d written, in order", len(got), len(want))
	}
}

// TestReopenSize checks that Reopen cuts bytes past the new owner's offset
// (the publisher resends them) and refuses a file that lacks some.
func TestReopenSize(t *testing.T) {
	tests := []struct {
		name    string
		give    int64
		wantErr error
	}{
		{name: "exact", give: 1000},
		{name: "longer file is cut", give: 600},
		{name: "shorter file", give: 1200, wantErr: record.ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, record.Options{})
			w := create(t, s, "room", "b1", t0)
			if _, err := w.Write(payload(1000)); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Detach(); err != nil {
				t.Fatal(err)
			}
			w2, err := s.Reopen("room", "b1", tt.give)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Reopen(%d) error = %v, want %v", tt.give, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if _, err := w2.Write([]byte("xyz")); err != nil {
				t.Fatal(err)
			}
			if m := finish(t, w2, t0.Add(time.Second)); m.Bytes != tt.give+3 {
				t.Errorf("Bytes = %d, want %d", m.Bytes, tt.give+3)
			}
		})
	}
}

// TestReopenEnded refuses to continue a recording that has ended or does
// not exist.
func TestReopenEnded(t *testing.T) {
	s := newStore(t, record.Options{})
	w := create(t, s, "room", "b1", t0)
	finish(t, w, t0.Add(time.Second))
	for _, id := range []string{"b1", "nope"} {
		if _, err := s.Reopen("room", id, 0); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("Reopen(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

// TestBeginRecoverWithLive leaves alone the recordings that are live on
// another node and the temporary files that are fresh, and recovers the
// rest.
func TestBeginRecoverWithLive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	other, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"live", "dead"} {
		w := create(t, other, "room", id, t0)
		if _, err := w.Write(payload(100)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Detach(); err != nil {
			t.Fatal(err)
		}
	}
	temp := filepath.Join(dir, "room", ".live.webm.123.tmp")
	if err := os.WriteFile(temp, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.BeginRecoverWith(record.RecoverOptions{
		Live:    func(room, id string) bool { return room == "room" && id == "live" },
		TempAge: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range rec.Pending() {
		ids = append(ids, m.Broadcast)
	}
	if len(ids) != 1 || ids[0] != "dead" {
		t.Errorf("pending = %v, want [dead]", ids)
	}
	_, _ = rec.Run(t.Context()) // "dead" holds no WebM: marked Failed
	if m, err := s.Stat("room", "dead"); err != nil || m.Live() {
		t.Errorf("dead recording after Run = %+v, %v; want ended", m, err)
	}
	if _, err := os.Stat(temp); err != nil {
		t.Errorf("fresh temporary file removed: %v", err)
	}
	w, err := s.Reopen("room", "live", 100)
	if err != nil {
		t.Fatalf("the live recording is not continuable after recovery: %v", err)
	}
	finish(t, w, t0.Add(time.Second))
}
