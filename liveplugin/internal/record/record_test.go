package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/amlive/amlive/liveplugin/internal/record"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)

func newStore(t *testing.T, o record.Options) *record.Store {
	t.Helper()
	s, err := record.New(filepath.Join(t.TempDir(), "rec"), o)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return s
}

func create(t *testing.T, s *record.Store, room, id string, start time.Time) *record.Writer {
	t.Helper()
	w, err := s.Create(room, id, "video/webm;codecs=vp8,opus", start)
	if err != nil {
		t.Fatalf("Create(%s, %s) error = %v", room, id, err)
	}
	return w
}

func finish(t *testing.T, w *record.Writer, end time.Time) record.Meta {
	t.Helper()
	m, err := w.Finish(end, 0)
	if err != nil {
		t.Fatalf("Finish() error = %v", err)
	}
	return m
}

// payload returns n deterministic, non-repeating-looking bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func readSidecar(t *testing.T, s *record.Store, room, id string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir(), room, id+".json"))
	if err != nil {
		t.Fatalf("read sidecar: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("parse sidecar: %v", err)
	}
	return m
}

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := record.Open(dir)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	if s.Dir() != dir {
		t.Errorf("Dir() = %q; want %q", s.Dir(), dir)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("Stat(%s) = %v, %v; want a directory", dir, fi, err)
	}
	if _, err := record.New(dir, record.Options{FlushBytes: -1}); err == nil {
		t.Error("New(FlushBytes: -1) error = nil; want an error")
	}
}

func TestRoundTrip(t *testing.T) {
	sizes := []int{1, 7, 1000, 70000, 3, 65536, 65535, 65537, 0, 4096, 131072, 5}
	tests := []struct {
		name string
		give record.Options
	}{
		{name: "default", give: record.Options{}},
		{name: "flush every byte", give: record.Options{FlushBytes: 1}},
		{name: "flush 100", give: record.Options{FlushBytes: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, tc.give)
			w := create(t, s, "alice", "b1", t0)
			if m := w.Meta(); !m.Live() || m.Bytes != 0 {
				t.Errorf("Meta() after Create = %+v; want live, 0 bytes", m)
			}
			var want []byte
			for _, n := range sizes {
				p := payload(n)
				got, err := w.Write(p)
				if err != nil || got != n {
					t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", n, got, err, n)
				}
				want = append(want, p...)
				if m := w.Meta(); m.Bytes != int64(len(want)) {
					t.Fatalf("Meta().Bytes = %d; want %d", m.Bytes, len(want))
				}
			}
			end := t0.Add(90 * time.Second)
			m, err := w.Finish(end, 89*time.Second)
			if err != nil {
				t.Fatalf("Finish() error = %v", err)
			}
			wantMeta := record.Meta{
				Room:      "alice",
				Broadcast: "b1",
				MIMEType:  "video/webm;codecs=vp8,opus",
				Start:     t0,
				End:       end,
				Bytes:     int64(len(want)),
				Duration:  89 * time.Second,
			}
			if m != wantMeta {
				t.Errorf("Finish() = %+v; want %+v", m, wantMeta)
			}
			if m.Live() {
				t.Error("Live() after Finish = true; want false")
			}

			got, err := os.ReadFile(filepath.Join(s.Dir(), "alice", "b1.webm"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("file has %d bytes, differing from the %d written", len(got), len(want))
			}

			st, err := s.Stat("alice", "b1")
			if err != nil {
				t.Fatalf("Stat() error = %v", err)
			}
			if !st.Start.Equal(t0) || !st.End.Equal(end) {
				t.Errorf("Stat() times = %v, %v; want %v, %v", st.Start, st.End, t0, end)
			}
			st.Start, st.End = t0, end // JSON loses the location pointer only
			if st != wantMeta {
				t.Errorf("Stat() = %+v; want %+v", st, wantMeta)
			}

			raw := readSidecar(t, s, "alice", "b1")
			for k, v := range map[string]any{
				"room": "alice", "broadcast": "b1", "mimeType": "video/webm;codecs=vp8,opus",
				"start": "2026-02-01T12:00:00Z", "end": "2026-02-01T12:01:30Z",
				"bytes": float64(len(want)), "duration": float64(89 * time.Second), "sealed": false,
			} {
				if raw[k] != v {
					t.Errorf("sidecar[%q] = %v; want %v", k, raw[k], v)
				}
			}
			if _, ok := raw["failed"]; ok {
				t.Errorf("sidecar has failed = %v; want none", raw["failed"])
			}

			entries, err := os.ReadDir(filepath.Join(s.Dir(), "alice"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{"b1.json", "b1.webm"}; !slices.Equal(names, want) {
				t.Errorf("room dir = %v; want %v (no temp files left)", names, want)
			}
		})
	}
}

func TestSidecarWhileLive(t *testing.T) {
	s := newStore(t, record.Options{})
	w := create(t, s, "alice", "b1", t0)
	raw := readSidecar(t, s, "alice", "b1")
	if _, ok := raw["end"]; ok {
		t.Errorf("sidecar of live recording has end = %v; want none", raw["end"])
	}
	if _, err := w.Write(payload(10)); err != nil {
		t.Fatal(err)
	}
	m, err := s.Stat("alice", "b1")
	if err != nil {
		t.Fatalf("Stat() error = %v", err)
	}
	if !m.Live() || m.Bytes != 10 {
		t.Errorf("Stat() of live recording = %+v; want live, 10 bytes", m)
	}
	finish(t, w, t0.Add(time.Second))
}

func TestFlushSync(t *testing.T) {
	s := newStore(t, record.Options{})
	w := create(t, s, "alice", "b1", t0)
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(filepath.Join(s.Dir(), "alice", "b1.webm"))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if _, err := w.Write(payload(10)); err != nil {
		t.Fatal(err)
	}
	if got := size(); got != 0 {
		t.Errorf("size before Flush = %d; want 0 (buffered)", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush() error = %v", err)
	}
	if got := size(); got != 10 {
		t.Errorf("size after Flush = %d; want 10", got)
	}
	if _, err := w.Write(payload(5)); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatalf("Sync() error = %v", err)
	}
	if got := size(); got != 15 {
		t.Errorf("size after Sync = %d; want 15", got)
	}
	if _, err := w.Write(payload(record.DefaultFlushBytes)); err != nil {
		t.Fatal(err)
	}
	if got := size(); got != 15+record.DefaultFlushBytes {
		t.Errorf("size after a FlushBytes write = %d; want %d", got, 15+record.DefaultFlushBytes)
	}
	finish(t, w, t0)
	if err := w.Flush(); !errors.Is(err, record.ErrClosed) {
		t.Errorf("Flush() after Finish error = %v; want ErrClosed", err)
	}
	if err := w.Sync(); !errors.Is(err, record.ErrClosed) {
		t.Errorf("Sync() after Finish error = %v; want ErrClosed", err)
	}
}

func TestCreateErrors(t *testing.T) {
	s := newStore(t, record.Options{})
	open := create(t, s, "alice", "open", t0)
	t.Cleanup(func() { _, _ = open.Finish(t0, 0) })
	finish(t, create(t, s, "alice", "done", t0), t0)
	if err := os.WriteFile(filepath.Join(s.Dir(), "alice", "stray.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		giveRoom string
		giveID   string
		want     error
	}{
		{name: "open writer", giveRoom: "alice", giveID: "open", want: record.ErrExists},
		{name: "finished", giveRoom: "alice", giveID: "done", want: record.ErrExists},
		{name: "stray sidecar", giveRoom: "alice", giveID: "stray", want: record.ErrExists},
		{name: "bad room", giveRoom: "../alice", giveID: "x", want: record.ErrInvalidName},
		{name: "bad id", giveRoom: "alice", giveID: "../../etc/passwd", want: record.ErrInvalidName},
		{name: "empty id", giveRoom: "alice", giveID: "", want: record.ErrInvalidName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := s.Create(tc.giveRoom, tc.giveID, "video/webm", t0)
			if !errors.Is(err, tc.want) {
				t.Errorf("Create(%q, %q) = %v, %v; want %v", tc.giveRoom, tc.giveID, w, err, tc.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	s := newStore(t, record.Options{})
	// Finished, in scrambled order; b and c share a Start (tie broken by id).
	for _, r := range []struct {
		id    string
		start time.Time
	}{
		{"c", t0.Add(time.Hour)},
		{"a", t0},
		{"d", t0.Add(2 * time.Hour)},
		{"b", t0.Add(time.Hour)},
	} {
		finish(t, create(t, s, "alice", r.id, r.start), r.start.Add(time.Minute))
	}
	live := create(t, s, "alice", "e", t0.Add(3*time.Hour))
	t.Cleanup(func() { _, _ = live.Finish(t0, 0) })
	if _, err := live.Write(payload(3)); err != nil {
		t.Fatal(err)
	}
	// A recording in another room must not show up.
	finish(t, create(t, s, "bob", "z", t0.Add(4*time.Hour)), t0)

	dir := filepath.Join(s.Dir(), "alice")
	for name, content := range map[string]string{
		".d.json.123.tmp": "{",                 // temp file
		"orphan.webm":     "xx",                // media without sidecar
		"nomedia.json":    `{"room":"alice"}`,  // sidecar without media
		"bad.json":        "not json",          // unparseable
		"bad.webm":        "",                  //
		"README":          "hello",             // unrelated
		"..json":          `{"room":"alice"}`,  // invalid id
		"x.json.webm":     "",                  //
		"_x.json":         `{"room":"alice"}`,  // invalid id
		"_x.webm":         "",                  //
		"new.JSON":        `{"bytes":1}`,       // wrong case
		"new.WEBM":        "",                  //
		"tmp":             "",                  //
		"f.json":          `{"start":"never"}`, // bad time
		"f.webm":          "",                  //
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}

	list, err := s.List("alice")
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	var ids []string
	for _, m := range list {
		ids = append(ids, m.Broadcast)
		if m.Room != "alice" {
			t.Errorf("List()[%s].Room = %q; want alice", m.Broadcast, m.Room)
		}
	}
	if want := []string{"e", "d", "c", "b", "a"}; !slices.Equal(ids, want) {
		t.Errorf("List() ids = %v; want %v", ids, want)
	}
	if len(list) > 0 && (!list[0].Live() || list[0].Bytes != 3) {
		t.Errorf("List()[0] = %+v; want the live recording with 3 bytes", list[0])
	}

	latest, err := s.Latest("alice")
	if err != nil || latest.Broadcast != "e" {
		t.Errorf("Latest() = %+v, %v; want e", latest, err)
	}

	empty, err := s.List("nobody")
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("List(nobody) = %#v, %v; want empty non-nil, nil", empty, err)
	}
	if _, err := s.List("a/b"); !errors.Is(err, record.ErrInvalidName) {
		t.Errorf("List(a/b) error = %v; want ErrInvalidName", err)
	}
}

func TestUnfinishedSidecar(t *testing.T) {
	// A Writer that was never finished (process crash) leaves a sidecar
	// without End; a fresh Store lists it as it is.
	dir := t.TempDir()
	s1, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := create(t, s1, "alice", "crashed", t0)
	if _, err := w.Write(payload(100)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	s2, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s2.List("alice")
	if err != nil || len(list) != 1 {
		t.Fatalf("List() = %v, %v; want one recording", list, err)
	}
	if !list[0].Live() || list[0].Bytes != 0 {
		t.Errorf("List()[0] = %+v; want the sidecar as written by Create", list[0])
	}
	_, _ = w.Finish(t0, 0)
}

func TestNotFound(t *testing.T) {
	s := newStore(t, record.Options{})
	finish(t, create(t, s, "alice", "b1", t0), t0)
	// Media file without sidecar.
	if err := os.WriteFile(filepath.Join(s.Dir(), "alice", "orphan.webm"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give func() error
		want error
	}{
		{name: "Latest empty room", give: func() error { _, err := s.Latest("bob"); return err }, want: record.ErrNotFound},
		{name: "Latest bad room", give: func() error { _, err := s.Latest(".."); return err }, want: record.ErrInvalidName},
		{name: "Stat", give: func() error { _, err := s.Stat("alice", "b2"); return err }, want: record.ErrNotFound},
		{name: "Stat no room", give: func() error { _, err := s.Stat("bob", "b1"); return err }, want: record.ErrNotFound},
		{name: "Stat orphan", give: func() error { _, err := s.Stat("alice", "orphan"); return err }, want: record.ErrNotFound},
		{name: "Stat bad id", give: func() error { _, err := s.Stat("alice", "b1/../b1"); return err }, want: record.ErrInvalidName},
		{name: "OpenFile", give: func() error { _, _, err := s.OpenFile("alice", "b2"); return err }, want: record.ErrNotFound},
		{name: "OpenFile orphan", give: func() error { _, _, err := s.OpenFile("alice", "orphan"); return err }, want: record.ErrNotFound},
		{name: "OpenFile bad room", give: func() error { _, _, err := s.OpenFile("", "b1"); return err }, want: record.ErrInvalidName},
		{name: "Delete", give: func() error { return s.Delete("alice", "b2") }, want: record.ErrNotFound},
		{name: "Seal", give: func() error { _, err := s.Seal("alice", "b2"); return err }, want: record.ErrNotFound},
		{name: "Path bad id", give: func() error { _, err := s.Path("alice", ".hidden"); return err }, want: record.ErrInvalidName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.give(); !errors.Is(err, tc.want) {
				t.Errorf("error = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	s := newStore(t, record.Options{})
	w := create(t, s, "alice", "b1", t0)
	want := payload(1000)
	if _, err := w.Write(want); err != nil {
		t.Fatal(err)
	}
	finish(t, w, t0.Add(time.Minute))

	f, m, err := s.OpenFile("alice", "b1")
	if err != nil {
		t.Fatalf("OpenFile() error = %v", err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || m.Bytes != int64(len(want)) || m.Broadcast != "b1" {
		t.Errorf("OpenFile() = %d bytes, %+v; want %d bytes of b1", len(got), m, len(want))
	}
	p, err := s.Path("alice", "b1")
	if err != nil || p != f.Name() {
		t.Errorf("Path() = %q, %v; want %q", p, err, f.Name())
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		give string
		want bool
	}{
		{name: "simple", give: "alice", want: true},
		{name: "digit first", give: "1a", want: true},
		{name: "all classes", give: "A-z_0.9", want: true},
		{name: "single dot inside", give: "a.b", want: true},
		{name: "trailing dot", give: "a.", want: true},
		{name: "64 chars", give: strings.Repeat("a", 64), want: true},
		{name: "empty", give: "", want: false},
		{name: "65 chars", give: strings.Repeat("a", 65), want: false},
		{name: "parent", give: "..", want: false},
		{name: "parent path", give: "../x", want: false},
		{name: "double dot inside", give: "a..b", want: false},
		{name: "slash", give: "a/b", want: false},
		{name: "backslash", give: `a\b`, want: false},
		{name: "leading dot", give: ".x", want: false},
		{name: "leading dash", give: "-x", want: false},
		{name: "leading underscore", give: "_x", want: false},
		{name: "space", give: "a b", want: false},
		{name: "nul", give: "a\x00", want: false},
		{name: "unicode", give: "zoë", want: false},
		{name: "unicode digit", give: "a١", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := record.ValidName(tc.give); got != tc.want {
				t.Errorf("ValidName(%q) = %v; want %v", tc.give, got, tc.want)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	s := newStore(t, record.Options{})
	w := create(t, s, "alice", "b1", t0)
	if err := s.Delete("alice", "b1"); !errors.Is(err, record.ErrBusy) {
		t.Errorf("Delete() while writing error = %v; want ErrBusy", err)
	}
	if _, err := s.Seal("alice", "b1"); !errors.Is(err, record.ErrBusy) {
		t.Errorf("Seal() while writing error = %v; want ErrBusy", err)
	}
	finish(t, w, t0)
	if _, err := s.Seal("alice", "b1"); !errors.Is(err, webm.ErrMalformed) {
		t.Errorf("Seal() of an empty file error = %v; want webm.ErrMalformed", err)
	}
	if err := s.Delete("alice", "b1"); err != nil {
		t.Fatalf("Delete() error = %v", err)
	}
	for _, ext := range []string{".webm", ".json"} {
		if _, err := os.Stat(filepath.Join(s.Dir(), "alice", "b1"+ext)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Stat(b1%s) after Delete error = %v; want not exist", ext, err)
		}
	}
	if err := s.Delete("alice", "b1"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("second Delete() error = %v; want ErrNotFound", err)
	}
	// The id is free again.
	finish(t, create(t, s, "alice", "b1", t0), t0)
}

func TestWriteFailure(t *testing.T) {
	s := newStore(t, record.Options{FlushBytes: 16})
	w := create(t, s, "alice", "b1", t0)
	if _, err := w.Write(payload(20)); err != nil { // bypasses the buffer
		t.Fatal(err)
	}
	if _, err := w.Write(payload(5)); err != nil { // buffered
		t.Fatal(err)
	}
	if err := record.BreakFile(w); err != nil {
		t.Fatal(err)
	}
	_, err1 := w.Write(payload(15)) // flushes the 5 buffered bytes: fails
	if !errors.Is(err1, os.ErrClosed) {
		t.Fatalf("Write() on broken file error = %v; want os.ErrClosed", err1)
	}
	for _, size := range []int{1, 100} {
		n, err := w.Write(payload(size))
		if n != 0 || err != err1 {
			t.Errorf("later Write(%d bytes) = %d, %v; want 0, the first error", size, n, err)
		}
	}
	if err := w.Flush(); err != err1 {
		t.Errorf("Flush() error = %v; want the first error", err)
	}
	m := w.Meta()
	if m.Failed == "" || m.Bytes != 20 {
		t.Errorf("Meta() = %+v; want Failed set, 20 bytes", m)
	}
	if raw := readSidecar(t, s, "alice", "b1"); raw["failed"] == nil {
		t.Errorf("sidecar before Finish = %v; want failed set", raw)
	}

	m, err := w.Finish(t0.Add(time.Minute), 0)
	if err != nil {
		t.Fatalf("Finish() error = %v; want nil (the failure is in Meta)", err)
	}
	if m.Live() || m.Failed == "" || m.Bytes != 20 || m.Duration != 0 {
		t.Errorf("Finish() = %+v; want ended, Failed set, 20 bytes, no Duration", m)
	}
	raw := readSidecar(t, s, "alice", "b1")
	if raw["failed"] != m.Failed || raw["end"] == nil || raw["bytes"] != float64(20) {
		t.Errorf("sidecar after Finish = %v; want failed, end, 20 bytes", raw)
	}
	if err := s.Delete("alice", "b1"); err != nil {
		t.Errorf("Delete() after Finish error = %v", err)
	}
}

func TestFinishIdempotent(t *testing.T) {
	s := newStore(t, record.Options{})
	w := create(t, s, "alice", "b1", t0)
	if _, err := w.Write(payload(10)); err != nil {
		t.Fatal(err)
	}
	m1, err1 := w.Finish(t0.Add(time.Minute), time.Minute)
	m2, err2 := w.Finish(t0.Add(time.Hour), time.Hour)
	if m1 != m2 || err1 != nil || err2 != nil {
		t.Errorf("Finish() twice = %+v, %v then %+v, %v; want the same, nil", m1, err1, m2, err2)
	}
	if _, err := w.Write(payload(1)); !errors.Is(err, record.ErrClosed) {
		t.Errorf("Write() after Finish error = %v; want ErrClosed", err)
	}
	if _, err := s.Stat("alice", "b1"); err != nil {
		t.Errorf("Stat() after Finish error = %v; want the recording kept", err)
	}
}

func TestMetaConcurrent(t *testing.T) {
	s := newStore(t, record.Options{FlushBytes: 1000})
	w := create(t, s, "alice", "b1", t0)
	const chunks, size = 500, 333
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var last int64
			for {
				select {
				case <-done:
					return
				default:
				}
				m := w.Meta()
				if m.Bytes < last {
					t.Errorf("Meta().Bytes went back from %d to %d", last, m.Bytes)
					return
				}
				last = m.Bytes
				if _, err := s.List("alice"); err != nil {
					t.Errorf("List() error = %v", err)
					return
				}
				if _, err := s.Stat("alice", "b1"); err != nil {
					t.Errorf("Stat() error = %v", err)
					return
				}
			}
		})
	}
	p := payload(size)
	for range chunks {
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	m, err := w.Finish(t0.Add(time.Minute), 0)
	close(done)
	wg.Wait()
	if err != nil || m.Bytes != chunks*size {
		t.Errorf("Finish() = %+v, %v; want %d bytes", m, err, chunks*size)
	}
}

func TestCreateDeleteRace(t *testing.T) {
	// Create and Delete of one id never leave a Writer whose files are gone.
	s := newStore(t, record.Options{})
	finish(t, create(t, s, "alice", "b1", t0), t0)
	var wg sync.WaitGroup
	var w *record.Writer
	var createErr error
	wg.Go(func() { _ = s.Delete("alice", "b1") })
	wg.Go(func() { w, createErr = s.Create("alice", "b1", "video/webm", t0) })
	wg.Wait()
	if createErr != nil {
		if !errors.Is(createErr, record.ErrExists) && !errors.Is(createErr, record.ErrBusy) {
			t.Fatalf("Create() error = %v; want nil, ErrExists or ErrBusy", createErr)
		}
		return
	}
	if _, err := s.Stat("alice", "b1"); err != nil {
		t.Errorf("Stat() of created recording error = %v", err)
	}
	finish(t, w, t0)
}

func BenchmarkWriter(b *testing.B) {
	s, err := record.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	w, err := s.Create("alice", "b1", "video/webm", t0)
	if err != nil {
		b.Fatal(err)
	}
	p := payload(8 << 10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := w.Write(p); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Finish(t0, 0); err != nil {
		b.Fatal(err)
	}
}
