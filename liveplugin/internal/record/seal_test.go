package record_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin/internal/record"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// blocks returns the bytes of every complete block of a WebM stream, in
// order, the latest block timecode, and the reader's error.
func blocks(b []byte) ([][]byte, time.Duration, error) {
	r := webm.NewReader(webm.Limits{})
	r.Blocks = true
	evs, err := r.Feed(nil, b)
	var out [][]byte
	var last time.Duration
	for _, ev := range evs {
		if ev.Kind == webm.KindBlock && ev.Offset+ev.Size <= int64(len(b)) {
			out = append(out, b[ev.Offset:ev.Offset+ev.Size])
			last = max(last, ev.Timecode)
		}
	}
	return out, last, err
}

// checkMedia fails unless the media file of room/id is a sealed WebM file
// holding exactly the complete blocks of raw, and m describes it.
func checkMedia(t *testing.T, s *record.Store, m record.Meta, raw []byte) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(s.Dir(), m.Room, m.Broadcast+".webm"))
	if err != nil {
		t.Fatal(err)
	}
	gotBlocks, _, err := blocks(got)
	if err != nil {
		t.Fatalf("sealed file does not parse: %v", err)
	}
	wantBlocks, last, _ := blocks(raw)
	if !slices.EqualFunc(gotBlocks, wantBlocks, bytes.Equal) {
		t.Errorf("sealed file has %d blocks; want the %d complete blocks written", len(gotBlocks), len(wantBlocks))
	}
	if !m.Sealed || m.Bytes != int64(len(got)) || m.Duration < last || m.Duration > last+70*time.Millisecond {
		t.Errorf("Meta = %+v; want sealed, %d bytes, duration just after %v", m, len(got), last)
	}
	var again bytes.Buffer
	if _, err := webm.Seal(&again, bytes.NewReader(got), int64(len(got))); err != nil || !bytes.Equal(again.Bytes(), got) {
		t.Errorf("the recording is not sealed: sealing it again changes it (%v)", err)
	}
}

// checkNoTemp fails if room's directory holds temporary files.
func checkNoTemp(t *testing.T, s *record.Store, room string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir(), room))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left in %s", e.Name(), room)
		}
	}
}

func record1(t *testing.T, s *record.Store, room, id string, chunks [][]byte) *record.Writer {
	t.Helper()
	w := create(t, s, room, id, t0)
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func TestSeal(t *testing.T) {
	for _, name := range fixture.WebM {
		t.Run(name, func(t *testing.T) {
			fx := fixture.Load(t, name)
			s := newStore(t, record.Options{})
			w := record1(t, s, "alice", "b1", fx.Chunks)
			if _, err := w.Finish(t0.Add(time.Minute), 11*time.Second); err != nil {
				t.Fatal(err)
			}
			m, err := s.Seal("alice", "b1")
			if err != nil {
				t.Fatalf("Seal() error = %v", err)
			}
			checkMedia(t, s, m, fx.Full)
			if want := len(fx.KeyOffsets()); m.Keyframes != want {
				t.Errorf("Keyframes = %d; want %d", m.Keyframes, want)
			}
			if !m.End.Equal(t0.Add(time.Minute)) || m.Live() {
				t.Errorf("End = %v; want the one Finish set", m.End)
			}
			st, err := s.Stat("alice", "b1")
			if err != nil || st.Sealed != true || st.Duration != m.Duration || st.Bytes != m.Bytes || st.Keyframes != m.Keyframes {
				t.Errorf("Stat() = %+v, %v; want the sealed Meta %+v", st, err, m)
			}
			raw := readSidecar(t, s, "alice", "b1")
			if raw["sealed"] != true || raw["keyframes"] != float64(m.Keyframes) {
				t.Errorf("sidecar = %v; want sealed and keyframes", raw)
			}
			checkNoTemp(t, s, "alice")

			// Sealing again changes nothing.
			before, _ := os.ReadFile(filepath.Join(s.Dir(), "alice", "b1.webm"))
			again, err := s.Seal("alice", "b1")
			after, _ := os.ReadFile(filepath.Join(s.Dir(), "alice", "b1.webm"))
			if err != nil || again.Bytes != m.Bytes || again.Duration != m.Duration || !bytes.Equal(before, after) {
				t.Errorf("second Seal() = %+v, %v; want %+v and the file unchanged", again, err, m)
			}
		})
	}
}

func TestSealNotWebM(t *testing.T) {
	s := newStore(t, record.Options{})
	w := record1(t, s, "alice", "b1", [][]byte{payload(1000)})
	want := finish(t, w, t0)
	if _, err := s.Seal("alice", "b1"); !errors.Is(err, webm.ErrNotWebM) {
		t.Errorf("Seal() error = %v; want webm.ErrNotWebM", err)
	}
	got, err := s.Stat("alice", "b1")
	if err != nil || got.Sealed || got.Bytes != want.Bytes {
		t.Errorf("Stat() after a failed Seal = %+v, %v; want unchanged %+v", got, err, want)
	}
	if data, _ := os.ReadFile(filepath.Join(s.Dir(), "alice", "b1.webm")); !bytes.Equal(data, payload(1000)) {
		t.Error("media file changed by a failed Seal")
	}
	checkNoTemp(t, s, "alice")
}

func TestSyncInterval(t *testing.T) {
	tests := []struct {
		name string
		give time.Duration
		want int64 // file size after a small write
	}{
		{name: "off", give: 0, want: 0},
		{name: "due", give: time.Nanosecond, want: 10},
		{name: "not due", give: time.Hour, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, record.Options{SyncInterval: tc.give})
			w := record1(t, s, "alice", "b1", [][]byte{payload(10)})
			fi, err := os.Stat(filepath.Join(s.Dir(), "alice", "b1.webm"))
			if err != nil || fi.Size() != tc.want {
				t.Errorf("size after Write = %d, %v; want %d", fi.Size(), err, tc.want)
			}
			finish(t, w, t0)
		})
	}
	if _, err := record.New(t.TempDir(), record.Options{SyncInterval: -1}); err == nil {
		t.Error("New(SyncInterval: -1) error = nil; want an error")
	}
}

// crash leaves w as a killed process would: its file as written so far,
// no End in its sidecar. The Writer is unusable afterwards.
func crash(t *testing.T, w *record.Writer) {
	t.Helper()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := record.BreakFile(w); err != nil {
		t.Fatal(err)
	}
}

func TestRecover(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	dir := filepath.Join(t.TempDir(), "rec")
	s1, err := record.New(dir, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Killed mid-block: chunks end one byte into an element.
	cut := fx.Full[:fx.St.ChunkEndOffsets[20]+7]
	crash(t, record1(t, s1, "alice", "killed", [][]byte{cut}))
	// Killed between two elements.
	clean := fx.Full[:fx.St.ChunkEndOffsets[10]-1]
	crash(t, record1(t, s1, "bob", "killed", [][]byte{clean}))
	// Finished, not sealed (killed before Seal).
	finished, err := record1(t, s1, "alice", "finished", fx.Chunks).Finish(t0.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Sealed: left alone.
	if _, err := record1(t, s1, "alice", "sealed", fx.Chunks).Finish(t0, 0); err != nil {
		t.Fatal(err)
	}
	sealed, err := s1.Seal("alice", "sealed")
	if err != nil {
		t.Fatal(err)
	}
	// Killed before anything useful was written.
	crash(t, record1(t, s1, "carol", "junk", [][]byte{payload(100)}))
	// Still being written by the Store that recovers.
	s2, err := record.New(dir, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	open := record1(t, s2, "dave", "open", fx.Chunks[:5])

	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "alice", "killed.webm"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	got, err := s2.Recover()
	if err != nil {
		t.Fatalf("Recover() error = %v", err)
	}
	byKey := map[string]record.Meta{}
	for _, m := range got {
		byKey[m.Room+"/"+m.Broadcast] = m
	}
	if len(got) != 4 || len(byKey) != 4 {
		t.Fatalf("Recover() = %d recordings %v; want alice/killed, bob/killed, alice/finished, carol/junk", len(got), byKey)
	}
	if m := byKey["alice/killed"]; !m.End.Equal(mtime) {
		t.Errorf("alice/killed End = %v; want the file's mtime %v", m.End, mtime)
	}
	checkMedia(t, s2, byKey["alice/killed"], cut)
	checkMedia(t, s2, byKey["bob/killed"], clean)
	if m := byKey["bob/killed"]; m.Live() {
		t.Errorf("bob/killed = %+v; want an End", m)
	}
	checkMedia(t, s2, byKey["alice/finished"], fx.Full)
	if m := byKey["alice/finished"]; !m.End.Equal(finished.End) {
		t.Errorf("alice/finished End = %v; want %v, unchanged", m.End, finished.End)
	}
	if m := byKey["carol/junk"]; m.Sealed || m.Live() || m.Failed == "" {
		t.Errorf("carol/junk = %+v; want ended, not sealed, Failed", m)
	}
	if m, err := s2.Stat("alice", "sealed"); err != nil || m != sealed {
		t.Errorf("alice/sealed = %+v, %v; want unchanged %+v", m, err, sealed)
	}
	for _, room := range []string{"alice", "bob", "carol"} {
		checkNoTemp(t, s2, room)
	}

	// Nothing is left to recover; the open recording is still open.
	if again, err := s2.Recover(); err != nil || len(again) != 0 {
		t.Errorf("second Recover() = %v, %v; want nothing", again, err)
	}
	if m := open.Meta(); !m.Live() {
		t.Errorf("open recording = %+v; want it live", m)
	}
	finish(t, open, t0)
}

func TestPrune(t *testing.T) {
	day := 24 * time.Hour
	// Recordings a (oldest) to e (newest), 100 bytes each, ended an hour
	// after their start; e is still being written.
	type rec struct {
		room, id string
		start    time.Time
		live     bool
	}
	recs := []rec{
		{"alice", "a", t0, false},
		{"bob", "b", t0.Add(day), false},
		{"alice", "c", t0.Add(2 * day), false},
		{"alice", "d", t0.Add(3 * day), false},
		{"alice", "e", t0.Add(4 * day), true},
	}
	now := t0.Add(4*day + 2*time.Hour)
	tests := []struct {
		name string
		give record.Retention
		want []string // deleted, oldest first
	}{
		{name: "zero keeps everything", give: record.Retention{}, want: nil},
		{name: "keep 1 per room", give: record.Retention{KeepPerRoom: 1}, want: []string{"a", "c"}},
		{name: "keep 2 per room", give: record.Retention{KeepPerRoom: 2}, want: []string{"a"}},
		{name: "max age 2 days", give: record.Retention{MaxAge: 2 * day}, want: []string{"a", "b", "c"}},
		{name: "max age 1 h", give: record.Retention{MaxAge: time.Hour}, want: []string{"a", "b", "c", "d"}},
		{name: "max bytes 300", give: record.Retention{MaxBytes: 300}, want: []string{"a", "b"}},
		{name: "max bytes below the live recording", give: record.Retention{MaxBytes: 50}, want: []string{"a", "b", "c", "d"}},
		{name: "combined", give: record.Retention{KeepPerRoom: 2, MaxBytes: 300, MaxAge: 10 * day}, want: []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, record.Options{})
			var open *record.Writer
			for _, r := range recs {
				w := create(t, s, r.room, r.id, r.start)
				if _, err := w.Write(payload(100)); err != nil {
					t.Fatal(err)
				}
				if r.live {
					open = w
					continue
				}
				finish(t, w, r.start.Add(time.Hour))
			}
			got, err := s.Prune(tc.give, now)
			if err != nil {
				t.Fatalf("Prune() error = %v", err)
			}
			var ids []string
			for _, m := range got {
				ids = append(ids, m.Broadcast)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Prune(%+v) deleted %v; want %v", tc.give, ids, tc.want)
			}
			for _, r := range recs {
				_, err := s.Stat(r.room, r.id)
				if gone := slices.Contains(tc.want, r.id); gone != errors.Is(err, record.ErrNotFound) {
					t.Errorf("Stat(%s) after Prune error = %v; want deleted %v", r.id, err, gone)
				}
			}
			finish(t, open, now)
		})
	}
}
