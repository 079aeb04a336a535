package record_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin/internal/mp4"
	"github.com/amlive/amlive/liveplugin/internal/record"
)

// mp4Type is the MIME type Chromium's MP4 recorder declares.
const mp4Type = "video/mp4;codecs=avc1,opus"

// createMP4 starts an MP4 recording.
func createMP4(t *testing.T, s *record.Store, room, id string, start time.Time) *record.Writer {
	t.Helper()
	w, err := s.Create(room, id, mp4Type, start)
	if err != nil {
		t.Fatalf("Create(%s, %s, %s) error = %v", room, id, mp4Type, err)
	}
	return w
}

// recordMP4 records chunks as an MP4 recording, unfinished.
func recordMP4(t *testing.T, s *record.Store, room, id string, chunks [][]byte) *record.Writer {
	t.Helper()
	w := createMP4(t, s, room, id, t0)
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// mp4Fragments returns the end offsets of the complete fragments (moof
// and mdat) of an MP4 stream, by a walk of its top-level boxes.
func mp4Fragments(b []byte) []int64 {
	var ends []int64
	moof := false
	for off := int64(0); off+8 <= int64(len(b)); {
		size := int64(uint32(b[off])<<24 | uint32(b[off+1])<<16 | uint32(b[off+2])<<8 | uint32(b[off+3]))
		if size < 8 || off+size > int64(len(b)) {
			break
		}
		switch string(b[off+4 : off+8]) {
		case "moof":
			moof = true
		case "mdat":
			if moof {
				ends = append(ends, off+size)
			}
			moof = false
		}
		off += size
	}
	return ends
}

// checkMP4Media fails unless the media file of m is <id>.mp4 (and no
// <id>.webm), a sealed MP4 file of the complete fragments of raw, and m
// describes it.
func checkMP4Media(t *testing.T, s *record.Store, m record.Meta, raw []byte) {
	t.Helper()
	path := filepath.Join(s.Dir(), m.Room, m.Broadcast+".mp4")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), m.Room, m.Broadcast+".webm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s has a .webm file too (%v)", m.Broadcast, err)
	}
	frags := mp4Fragments(raw)
	complete := raw[:frags[len(frags)-1]]
	var want bytes.Buffer
	info, err := mp4.Seal(&want, bytes.NewReader(complete), int64(len(complete)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("sealed file of %d bytes; want the %d of the seal of the %d complete fragments", len(got), want.Len(), len(frags))
	}
	if !m.Sealed || m.Bytes != int64(len(got)) || m.Duration != info.Duration || m.Keyframes != info.Keyframes || m.Keyframes == 0 {
		t.Errorf("Meta = %+v; want sealed, %d bytes, duration %v, %d keyframes", m, len(got), info.Duration, info.Keyframes)
	}
	if m.Ext() != ".mp4" {
		t.Errorf("Ext() = %q; want .mp4", m.Ext())
	}
}

func TestSealMP4(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	s := newStore(t, record.Options{})
	w := recordMP4(t, s, "alice", "b1", fx.Chunks)
	if _, err := os.Stat(filepath.Join(s.Dir(), "alice", "b1.mp4")); err != nil {
		t.Fatalf("live MP4 recording: %v; want <id>.mp4", err)
	}
	if _, err := w.Finish(t0.Add(time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	m, err := s.Seal("alice", "b1")
	if err != nil {
		t.Fatalf("Seal() error = %v", err)
	}
	checkMP4Media(t, s, m, fx.Full)
	checkNoTemp(t, s, "alice")
	if d := m.Duration - 11960*time.Millisecond; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("Duration = %v; want about 11.96 s, the fixture's", m.Duration)
	}

	// Sealing again changes nothing.
	before, _ := os.ReadFile(filepath.Join(s.Dir(), "alice", "b1.mp4"))
	again, err := s.Seal("alice", "b1")
	after, _ := os.ReadFile(filepath.Join(s.Dir(), "alice", "b1.mp4"))
	if err != nil || again != m || !bytes.Equal(before, after) {
		t.Errorf("second Seal() = %+v, %v; want %+v and the file unchanged", again, err, m)
	}

	list, err := s.List("alice")
	if err != nil || len(list) != 1 || list[0] != m {
		t.Errorf("List() = %+v, %v; want the sealed recording", list, err)
	}
	if p, err := s.Path("alice", "b1"); err != nil || filepath.Base(p) != "b1.mp4" {
		t.Errorf("Path() = %q, %v; want b1.mp4", p, err)
	}

	// The file serves Range requests, as video/mp4.
	f, om, err := s.OpenFile("alice", "b1")
	if err != nil {
		t.Fatalf("OpenFile() error = %v", err)
	}
	defer f.Close()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Range", "bytes=1000-1999")
	http.ServeContent(rec, req, om.Broadcast+om.Ext(), om.End, f)
	body, _ := io.ReadAll(rec.Result().Body)
	if rec.Code != http.StatusPartialContent || !bytes.Equal(body, after[1000:2000]) || rec.Header().Get("Content-Type") != "video/mp4" {
		t.Errorf("Range request = %d, %d bytes, %q; want 206, bytes 1000-1999, video/mp4", rec.Code, len(body), rec.Header().Get("Content-Type"))
	}
}

func TestSealMP4Errors(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	tests := []struct {
		name string
		give []byte
		want error
	}{
		{name: "not MP4", give: payload(1000), want: mp4.ErrNotMP4},
		{name: "init segment only", give: fx.Full[:fx.St.InitSegmentEnd], want: mp4.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, record.Options{})
			want := finish(t, recordMP4(t, s, "alice", "b1", [][]byte{tc.give}), t0)
			if _, err := s.Seal("alice", "b1"); !errors.Is(err, tc.want) {
				t.Errorf("Seal() error = %v; want %v", err, tc.want)
			}
			got, err := s.Stat("alice", "b1")
			if err != nil || got != want {
				t.Errorf("Stat() after a failed Seal = %+v, %v; want unchanged %+v", got, err, want)
			}
			if data, _ := os.ReadFile(filepath.Join(s.Dir(), "alice", "b1.mp4")); !bytes.Equal(data, tc.give) {
				t.Error("media file changed by a failed Seal")
			}
			checkNoTemp(t, s, "alice")
		})
	}
}

// TestRecoverMP4: a process killed while it recorded MP4 broadcasts leaves
// files that end mid-fragment, or hold no fragment; recovery seals the
// first, keeping every complete fragment, and marks the second Failed,
// beside WebM recordings. A file is sealed as its first bytes say.
func TestRecoverMP4(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	wm := fixture.Load(t, "vp8-opus-250ms-kf2s")
	frags := mp4Fragments(fx.Full)
	dir := filepath.Join(t.TempDir(), "rec")
	s1, err := record.New(dir, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Killed mid-fragment: in the mdat of the fourth fragment.
	cut := fx.Full[:frags[2]+5000]
	crash(t, recordMP4(t, s1, "alice", "killed", [][]byte{cut}))
	// Killed right after a fragment.
	clean := fx.Full[:frags[1]]
	crash(t, recordMP4(t, s1, "bob", "killed", [][]byte{clean}))
	// Killed inside the first fragment.
	crash(t, recordMP4(t, s1, "carol", "early", [][]byte{fx.Full[:frags[0]-10]}))
	// A WebM broadcast killed too.
	wcut := wm.Full[:wm.St.ChunkEndOffsets[20]+7]
	crash(t, record1(t, s1, "alice", "webm", [][]byte{wcut}))
	// MP4 bytes in a recording that declared WebM: sealed as MP4.
	w, err := s1.Create("dave", "mislabeled", "video/webm", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(fx.Full); err != nil {
		t.Fatal(err)
	}
	crash(t, w)

	s2, err := record.New(dir, record.Options{})
	if err != nil {
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
	if len(byKey) != 5 {
		t.Fatalf("Recover() = %v; want 5 recordings", byKey)
	}
	checkMP4Media(t, s2, byKey["alice/killed"], cut)
	if m := byKey["alice/killed"]; !m.CutShort || m.Live() {
		t.Errorf("alice/killed = %+v; want CutShort, ended", m)
	}
	checkMP4Media(t, s2, byKey["bob/killed"], clean)
	if m := byKey["bob/killed"]; m.CutShort || m.Keyframes != 2 {
		t.Errorf("bob/killed = %+v; want 2 keyframes, not CutShort", m)
	}
	if m := byKey["carol/early"]; m.Sealed || m.Live() || m.Failed == "" {
		t.Errorf("carol/early = %+v; want ended, not sealed, Failed", m)
	}
	checkMedia(t, s2, byKey["alice/webm"], wcut)
	if m := byKey["dave/mislabeled"]; !m.Sealed || m.Keyframes != len(frags) {
		t.Errorf("dave/mislabeled = %+v; want sealed as MP4, %d keyframes", m, len(frags))
	}
	for _, room := range []string{"alice", "bob", "carol", "dave"} {
		checkNoTemp(t, s2, room)
	}
	if again, err := s2.Recover(); err != nil || len(again) != 0 {
		t.Errorf("second Recover() = %v, %v; want nothing", again, err)
	}
}

// TestDetachReopenMP4: a node that takes an MP4 broadcast over continues
// its recording in the same <id>.mp4 file, at the offset it is given.
func TestDetachReopenMP4(t *testing.T) {
	fx := fixture.Load(t, fixture.MP4)
	dir := filepath.Join(t.TempDir(), "rec")
	a, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := record.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := recordMP4(t, a, "room", "b1", fx.Chunks[:3])
	// A chunk the new owner will resend, written past its offset.
	if _, err := w.Write(fx.Chunks[3][:100]); err != nil {
		t.Fatal(err)
	}
	m, err := w.Detach()
	if err != nil {
		t.Fatalf("Detach() error = %v", err)
	}
	at := int64(len(slices.Concat(fx.Chunks[:3]...)))
	if m.Bytes != at+100 || !m.Live() {
		t.Errorf("Detach() Meta = %+v; want %d bytes, live", m, at+100)
	}
	w2, err := b.Reopen("room", "b1", at)
	if err != nil {
		t.Fatalf("Reopen() error = %v", err)
	}
	for _, c := range fx.Chunks[3:] {
		if _, err := w2.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	finish(t, w2, t0.Add(time.Minute))
	got, err := os.ReadFile(filepath.Join(dir, "room", "b1.mp4"))
	if err != nil || !bytes.Equal(got, fx.Full) {
		t.Fatalf("file holds %d bytes (%v); want the %d of the stream, in order", len(got), err, len(fx.Full))
	}
	sealed, err := b.Seal("room", "b1")
	if err != nil {
		t.Fatalf("Seal() error = %v", err)
	}
	checkMP4Media(t, b, sealed, fx.Full)
}

// TestBothContainers: WebM and MP4 recordings share a room: listed,
// looked up, deleted and pruned alike; an id is taken whatever the
// container.
func TestBothContainers(t *testing.T) {
	s := newStore(t, record.Options{})
	finish(t, create(t, s, "alice", "a", t0), t0.Add(time.Hour))
	wb := createMP4(t, s, "alice", "b", t0.Add(time.Hour))
	if _, err := wb.Write(payload(300)); err != nil {
		t.Fatal(err)
	}
	finish(t, wb, t0.Add(2*time.Hour))
	finish(t, createMP4(t, s, "alice", "c", t0.Add(2*time.Hour)), t0.Add(3*time.Hour))

	list, err := s.List("alice")
	if err != nil {
		t.Fatal(err)
	}
	var ids, exts []string
	for _, m := range list {
		ids, exts = append(ids, m.Broadcast), append(exts, m.Ext())
	}
	if !slices.Equal(ids, []string{"c", "b", "a"}) || !slices.Equal(exts, []string{".mp4", ".mp4", ".webm"}) {
		t.Errorf("List() = %v %v; want c b a, .mp4 .mp4 .webm", ids, exts)
	}
	if _, err := s.Create("alice", "a", mp4Type, t0); !errors.Is(err, record.ErrExists) {
		t.Errorf("Create(MP4 of a WebM id) error = %v; want ErrExists", err)
	}
	// A media file without sidecar claims its id too, in either container.
	if err := os.WriteFile(filepath.Join(s.Dir(), "alice", "orphan.mp4"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create("alice", "orphan", "video/webm", t0); !errors.Is(err, record.ErrExists) {
		t.Errorf("Create(beside a stray .mp4) error = %v; want ErrExists", err)
	}
	if f, m, err := s.OpenFile("alice", "b"); err != nil || filepath.Base(f.Name()) != "b.mp4" || m.Bytes != 300 {
		t.Errorf("OpenFile(b) = %v, %+v, %v; want b.mp4 of 300 bytes", f, m, err)
	} else {
		f.Close()
	}

	// MaxBytes counts both containers and the young stray: 300 bytes of
	// b, 10 of the stray, none of a and c; a bound of 305 deletes the
	// oldest, a then b, until the total fits.
	if err := os.WriteFile(filepath.Join(s.Dir(), "alice", "orphan.mp4"), payload(10), 0o644); err != nil {
		t.Fatal(err)
	}
	gone, err := s.Prune(record.Retention{MaxBytes: 305}, t0.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var pruned []string
	for _, m := range gone {
		pruned = append(pruned, m.Broadcast)
	}
	if !slices.Equal(pruned, []string{"a", "b"}) {
		t.Errorf("Prune(MaxBytes 305) deleted %v; want a and b, oldest first, until 10 bytes of stray and c fit", pruned)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "alice", "b.mp4")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b.mp4 after Prune: %v; want deleted", err)
	}
	// KeepPerRoom counts both containers.
	finish(t, create(t, s, "alice", "d", t0.Add(3*time.Hour)), t0.Add(4*time.Hour))
	gone, err = s.Prune(record.Retention{KeepPerRoom: 1}, t0.Add(5*time.Hour))
	if err != nil || len(gone) != 1 || gone[0].Broadcast != "c" {
		t.Errorf("Prune(KeepPerRoom 1) = %v, %v; want c, the older, MP4", gone, err)
	}
	// Strays of either container are removed once old.
	gone, err = s.Prune(record.Retention{StrayAge: time.Nanosecond}, time.Now().Add(time.Hour))
	if err != nil || len(gone) != 0 {
		t.Errorf("Prune(strays) = %v, %v", gone, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "alice", "orphan.mp4")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stray orphan.mp4 after Prune: %v; want removed", err)
	}
}

// TestRecoverRemovesMP4Temporaries: a seal's temporary copy of an MP4
// recording is removed by BeginRecover like a WebM one's.
func TestRecoverRemovesMP4Temporaries(t *testing.T) {
	s := newStore(t, record.Options{})
	finish(t, createMP4(t, s, "alice", "b1", t0), t0)
	tmp := filepath.Join(s.Dir(), "alice", ".b1.mp4.12345.tmp")
	if err := os.WriteFile(tmp, payload(10), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := s.BeginRecover()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after BeginRecover: %v; want removed", tmp, err)
	}
}

func TestMetaExt(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "chromium mp4", give: "video/mp4;codecs=avc1,opus", want: ".mp4"},
		{name: "quoted codecs", give: `video/mp4; codecs="avc1.42C01F, opus"`, want: ".mp4"},
		{name: "audio mp4", give: "audio/mp4", want: ".mp4"},
		{name: "upper case", give: "Video/MP4", want: ".mp4"},
		{name: "webm", give: "video/webm;codecs=vp8,opus", want: ".webm"},
		{name: "audio webm", give: "audio/webm", want: ".webm"},
		{name: "empty, as old sidecars", give: "", want: ".webm"},
		{name: "malformed", give: "video/mp4;;;=", want: ".mp4"},
		{name: "other", give: "video/x-matroska", want: ".webm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (record.Meta{MIMEType: tc.give}).Ext(); got != tc.want {
				t.Errorf("Meta{MIMEType: %q}.Ext() = %q; want %q", tc.give, got, tc.want)
			}
		})
	}
}
