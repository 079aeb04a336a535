package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultFlushBytes is the default for [Options.FlushBytes].
	DefaultFlushBytes = 64 << 10

	metaExt  = ".json"
	dirPerm  = 0o755
	filePerm = 0o644
)

// Options tune a [Store]. The zero value gives the defaults. Options is a
// plain value, read once by New.
type Options struct {
	// FlushBytes is the most bytes a Writer buffers before handing them to
	// the OS. Optional. Defaults to DefaultFlushBytes (64 KiB).
	FlushBytes int
	// SyncInterval makes a Writer flush and fsync its file from within
	// Write once the last fsync (or Create) is at least this old, so that
	// while a broadcast streams, a crash of the process or the machine
	// loses no more than about this much of it. There is no timer: a
	// Writer that receives nothing syncs at Finish. Optional. Defaults to
	// 0: only Sync and Finish fsync.
	SyncInterval time.Duration
}

// Store is a directory of recordings, one subdirectory per room. It is safe
// for concurrent use. It holds no open files of its own and needs no
// closing; each Writer it returns must be finished.
type Store struct {
	dir          string
	flushBytes   int
	syncInterval time.Duration

	writersMu sync.Mutex
	// writers holds the recordings in use, keyed by room/id.
	writers map[string]use
	// unsaved holds, by room/id, the Metas whose sidecar could not be
	// written: readMeta reports them instead of their stale sidecar, and
	// saveUnsaved retries writing them.
	unsaved map[string]Meta

	// metaFault, when set, makes writeMeta fail with its error: the
	// tests' way to fail a sidecar write. Set only while the Store is
	// idle.
	metaFault func() error
}

// use is a recording in use: being created or sealed (w nil), written (w
// set), deleted, or waiting for or undergoing recovery.
type use struct {
	w          *Writer
	deleting   bool
	recovering bool
}

// Open creates dir (0o755, with parents) if needed and returns a Store with
// default Options. Several Stores may share a directory, but only the one
// that created a recording knows it is busy.
func Open(dir string) (*Store, error) {
	return New(dir, Options{})
}

// New is Open with Options; it rejects a negative FlushBytes or
// SyncInterval.
func New(dir string, o Options) (*Store, error) {
	if o.FlushBytes < 0 {
		return nil, fmt.Errorf("record: FlushBytes must be >= 0, got %d", o.FlushBytes)
	}
	if o.SyncInterval < 0 {
		return nil, fmt.Errorf("record: SyncInterval must be >= 0, got %v", o.SyncInterval)
	}
	if o.FlushBytes == 0 {
		o.FlushBytes = DefaultFlushBytes
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("record: open %s: %w", dir, err)
	}
	return &Store{
		dir:          dir,
		flushBytes:   o.FlushBytes,
		syncInterval: o.SyncInterval,
		writers:      make(map[string]use),
		unsaved:      make(map[string]Meta),
	}, nil
}

// Dir returns the Store's root directory. It is safe for concurrent use.
func (s *Store) Dir() string { return s.dir }

// Path returns the media file path of recording id in room, whether or not
// it exists, or ErrInvalidName: <id>.webm or <id>.mp4, whichever is on
// disk, else the one its sidecar's MIME type names. It is safe for
// concurrent use.
func (s *Store) Path(room, id string) (string, error) {
	if err := checkNames(room, id); err != nil {
		return "", err
	}
	return s.mediaPath(room, id), nil
}

// Create starts recording broadcast id in room: it creates the media file,
// <room>/<id>.mp4 for an MP4 mimeType (video/mp4, audio/mp4) and
// <room>/<id>.webm for any other (see [Meta.Ext]), and writes the sidecar
// <room>/<id>.json with Bytes 0 and no End. It returns
// ErrInvalidName unless room and id pass ValidName, ErrExists if the
// recording exists, and ErrBusy while a Delete of that id is under way.
// Create is safe for concurrent use; the returned Writer belongs to the
// caller, who must call Finish.
func (s *Store) Create(room, id, mimeType string, start time.Time) (*Writer, error) {
	if err := checkNames(room, id); err != nil {
		return nil, err
	}
	k := key(room, id)
	s.writersMu.Lock()
	if u, ok := s.writers[k]; ok {
		s.writersMu.Unlock()
		if u.deleting {
			return nil, fmt.Errorf("record: create %s: %w", k, ErrBusy)
		}
		return nil, fmt.Errorf("record: create %s: %w", k, ErrExists)
	}
	s.writers[k] = use{} // reserve the name while the files are made
	s.writersMu.Unlock()
	return s.register(k, func() (*Writer, error) { return s.create(room, id, mimeType, start) })
}

// register runs open, for the recording k reserved in s.writers, and
// records the Writer it returns, or frees k if it fails.
func (s *Store) register(k string, open func() (*Writer, error)) (*Writer, error) {
	w, err := open()
	s.writersMu.Lock()
	if err != nil {
		delete(s.writers, k)
	} else {
		s.writers[k] = use{w: w}
	}
	s.writersMu.Unlock()
	return w, err
}

func (s *Store) create(room, id, mimeType string, start time.Time) (*Writer, error) {
	k := key(room, id)
	if err := os.MkdirAll(filepath.Join(s.dir, room), dirPerm); err != nil {
		return nil, fmt.Errorf("record: create %s: %w", k, err)
	}
	// A sidecar without media file (a stray) still claims the name.
	if _, err := os.Lstat(s.metaPath(room, id)); err == nil {
		return nil, fmt.Errorf("record: create %s: %w", k, ErrExists)
	}
	base := filepath.Join(s.dir, room, id)
	// A media file of the other container claims the name too.
	for _, ext := range mediaExts() {
		if _, err := os.Lstat(base + ext); err == nil {
			return nil, fmt.Errorf("record: create %s: %w", k, ErrExists)
		}
	}
	path := base + mediaExt(mimeType)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("record: create %s: %w", k, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("record: create %s: %w", k, err)
	}
	m := Meta{Room: room, Broadcast: id, MIMEType: mimeType, Start: start.Round(0)}
	if err := s.writeMeta(m); err != nil {
		_ = f.Close()       // the file is empty and about to go
		_ = os.Remove(path) // best effort: a stray media file is ignored by List
		return nil, fmt.Errorf("record: create %s: %w", k, err)
	}
	return &Writer{
		s:        s,
		key:      k,
		path:     path,
		f:        f,
		buf:      make([]byte, 0, s.flushBytes),
		lastSync: time.Now(),
		meta:     m,
	}, nil
}

// List returns room's recordings, newest first (by Start, then by id,
// descending). A recording being written is reported with its Writer's
// current Meta; one whose sidecar could not be written, with the Meta it
// should hold (Failed included); one waiting for or undergoing recovery
// (see [Store.BeginRecover]) with Recovering set; one whose Writer never
// finished, as its sidecar says (no End). Files that are not a recording
// (temporary files, media without sidecar, sidecars without media or that
// do not parse) are skipped; [Store.Prune] counts and removes them. A room without recordings gives an empty, non-nil slice. List
// returns ErrInvalidName for an invalid room. It is safe for concurrent use.
func (s *Store) List(room string) ([]Meta, error) {
	if !ValidName(room) {
		return nil, fmt.Errorf("record: list %q: %w", room, ErrInvalidName)
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, room))
	if errors.Is(err, fs.ErrNotExist) {
		return []Meta{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record: list %s: %w", room, err)
	}
	media := make(map[string]bool, len(entries)/2)
	for _, e := range entries {
		if id, ok := mediaName(e.Name()); ok && e.Type().IsRegular() {
			media[id] = true
		}
	}
	list := make([]Meta, 0, len(media))
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), metaExt)
		if !ok || !e.Type().IsRegular() || !ValidName(id) || !media[id] {
			continue
		}
		m, err := s.readMeta(room, id)
		if err != nil {
			continue // gone meanwhile, or not a sidecar of ours
		}
		list = append(list, m)
	}
	slices.SortFunc(list, func(a, b Meta) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return strings.Compare(b.Broadcast, a.Broadcast)
	})
	return list, nil
}

// Latest returns room's newest recording that can be served (the first of
// List that is not Recovering), or ErrNotFound. It is safe for concurrent
// use.
func (s *Store) Latest(room string) (Meta, error) {
	list, err := s.List(room)
	if err != nil {
		return Meta{}, err
	}
	for _, m := range list {
		if !m.Recovering {
			return m, nil
		}
	}
	return Meta{}, fmt.Errorf("record: latest %s: %w", room, ErrNotFound)
}

// Stat returns the Meta of recording id in room (its Writer's current Meta
// while it is being written), ErrNotFound, or ErrInvalidName. It is safe for
// concurrent use.
func (s *Store) Stat(room, id string) (Meta, error) {
	if err := checkNames(room, id); err != nil {
		return Meta{}, err
	}
	if _, err := os.Stat(s.mediaPath(room, id)); err != nil {
		return Meta{}, statErr("stat", room, id, err)
	}
	m, err := s.readMeta(room, id)
	if err != nil {
		return Meta{}, statErr("stat", room, id, err)
	}
	return m, nil
}

// OpenFile opens the media file of recording id in room for reading and
// returns it with its Meta, or ErrNotFound, or ErrInvalidName. The caller
// owns the file and must close it. A recording being written may be read
// while it grows; its buffered bytes are not yet in the file. A recording
// waiting for or undergoing recovery is not served until it is sealed:
// OpenFile returns an error wrapping ErrRecovering and ErrBusy. OpenFile
// is safe for concurrent use.
func (s *Store) OpenFile(room, id string) (*os.File, Meta, error) {
	if err := checkNames(room, id); err != nil {
		return nil, Meta{}, err
	}
	if s.recovering(key(room, id)) {
		return nil, Meta{}, fmt.Errorf("record: open %s: %w (%w)", key(room, id), ErrRecovering, ErrBusy)
	}
	f, err := os.Open(s.mediaPath(room, id))
	if err != nil {
		return nil, Meta{}, statErr("open", room, id, err)
	}
	m, err := s.readMeta(room, id)
	if err != nil {
		_ = f.Close() // read-only; nothing to lose
		return nil, Meta{}, statErr("open", room, id, err)
	}
	return f, m, nil
}

// Delete removes the files of recording id in room: its sidecar, its
// media file and its thumbnail, if any. It returns ErrBusy
// while the recording's Writer is open (or another Delete of it runs),
// ErrNotFound if neither file exists, and ErrInvalidName for invalid names.
// It is safe for concurrent use.
func (s *Store) Delete(room, id string) error {
	if err := checkNames(room, id); err != nil {
		return err
	}
	k := key(room, id)
	s.writersMu.Lock()
	if _, ok := s.writers[k]; ok {
		s.writersMu.Unlock()
		return fmt.Errorf("record: delete %s: %w", k, ErrBusy)
	}
	s.writers[k] = use{deleting: true} // keep Create off the name while removing
	s.writersMu.Unlock()
	defer func() {
		s.writersMu.Lock()
		delete(s.writers, k)
		s.writersMu.Unlock()
	}()

	s.writersMu.Lock()
	delete(s.unsaved, k)
	s.writersMu.Unlock()
	// Sidecar first: a crash in between leaves a media file without
	// sidecar, which List ignores and Prune removes.
	errMeta := os.Remove(s.metaPath(room, id))
	errMedia := os.Remove(s.mediaPath(room, id))
	if errors.Is(errMeta, fs.ErrNotExist) && errors.Is(errMedia, fs.ErrNotExist) {
		return fmt.Errorf("record: delete %s: %w", k, ErrNotFound)
	}
	if errors.Is(errMeta, fs.ErrNotExist) {
		errMeta = nil
	}
	if errors.Is(errMedia, fs.ErrNotExist) {
		errMedia = nil
	}
	// The thumbnail last: without sidecar it is a stray, which Prune
	// removes.
	errThumb := s.removeThumbnail(room, id)
	if err := errors.Join(errMeta, errMedia, errThumb); err != nil {
		return fmt.Errorf("record: delete %s: %w", k, err)
	}
	return nil
}

// readMeta reads the sidecar of room/id, or, if a Writer of this Store has it
// open, returns that Writer's current Meta, or the Meta its sidecar failed
// to take. A recording waiting for recovery gets Recovering set.
func (s *Store) readMeta(room, id string) (Meta, error) {
	s.writersMu.Lock()
	u := s.writers[key(room, id)]
	um, unsaved := s.unsaved[key(room, id)]
	s.writersMu.Unlock()
	switch {
	case u.w != nil:
		return u.w.Meta(), nil
	case unsaved:
		um.Recovering = u.recovering
		return um, nil
	}
	m, err := s.readSidecar(room, id)
	m.Recovering = u.recovering
	return m, err
}

// readSidecar reads and parses the sidecar of room/id.
func (s *Store) readSidecar(room, id string) (Meta, error) {
	b, err := os.ReadFile(s.metaPath(room, id))
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("parse %s: %w", s.metaPath(room, id), err)
	}
	// The file names are authoritative.
	m.Room, m.Broadcast = room, id
	return m, nil
}

// saveMeta writes m's sidecar as writeMeta does. When that fails, the
// Store keeps m, so that List and Stat report it rather than the stale
// sidecar, and saveUnsaved writes it later; a success forgets any older
// unsaved Meta of the recording.
func (s *Store) saveMeta(m Meta) error {
	m.Recovering = false
	err := s.writeMeta(m)
	k := key(m.Room, m.Broadcast)
	s.writersMu.Lock()
	if err != nil {
		s.unsaved[k] = m
	} else {
		delete(s.unsaved, k)
	}
	s.writersMu.Unlock()
	return err
}

// saveUnsaved retries writing the sidecars that saveMeta could not write,
// for the recordings not in use, and returns the errors that remain.
func (s *Store) saveUnsaved() error {
	s.writersMu.Lock()
	var todo []Meta
	for k, m := range s.unsaved {
		if _, busy := s.writers[k]; !busy {
			s.writers[k] = use{} // reserved while its sidecar is written
			todo = append(todo, m)
		}
	}
	s.writersMu.Unlock()
	var errs []error
	for _, m := range todo {
		if err := s.saveMeta(m); err != nil {
			errs = append(errs, fmt.Errorf("record: save %s: %w", key(m.Room, m.Broadcast), err))
		}
		s.unregister(key(m.Room, m.Broadcast))
	}
	return errors.Join(errs...)
}

// recovering reports whether recording k waits for or undergoes recovery.
func (s *Store) recovering(k string) bool {
	s.writersMu.Lock()
	defer s.writersMu.Unlock()
	return s.writers[k].recovering
}

// writeMeta replaces m's sidecar atomically: temporary file in the same
// directory, fsync, rename, fsync of the directory.
func (s *Store) writeMeta(m Meta) (err error) {
	if s.metaFault != nil {
		if err := s.metaFault(); err != nil {
			return err
		}
	}
	m.Recovering = false
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	// The leading dot keeps temporary names out of ValidName's space.
	return replaceFile(filepath.Join(s.dir, m.Room), "."+m.Broadcast+metaExt+".*.tmp", s.metaPath(m.Room, m.Broadcast), b)
}

// replaceFile replaces the file final, in dir, with data atomically: a
// temporary file named after pattern (os.CreateTemp) in dir, fsync,
// rename, fsync of the directory. On failure the temporary file is
// removed, best effort: a stray one is pruned later.
func replaceFile(dir, pattern, final string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()           // already failing; the file is discarded
			_ = os.Remove(f.Name()) // best effort
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(filePerm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename or file creation in dir durable. It is best effort:
// some platforms and file systems cannot fsync a directory, and the data
// itself is already safe.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// statErr maps a "file absent" error to ErrNotFound and wraps the rest.
func statErr(op, room, id string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		err = ErrNotFound
	}
	return fmt.Errorf("record: %s %s: %w", op, key(room, id), err)
}

// mediaPath returns the path of room/id's media file: the one on disk,
// <id>.webm or <id>.mp4; without one, the one its sidecar's MIME type
// names; without sidecar, <id>.webm.
func (s *Store) mediaPath(room, id string) string {
	base := filepath.Join(s.dir, room, id)
	for _, ext := range mediaExts() {
		if _, err := os.Lstat(base + ext); err == nil {
			return base + ext
		}
	}
	if m, err := s.readMeta(room, id); err == nil {
		return base + m.Ext()
	}
	return base + webmExt
}

func (s *Store) metaPath(room, id string) string {
	return filepath.Join(s.dir, room, id+metaExt)
}

func (s *Store) unregister(k string) {
	s.writersMu.Lock()
	delete(s.writers, k)
	s.writersMu.Unlock()
}

func checkNames(room, id string) error {
	if !ValidName(room) {
		return fmt.Errorf("record: room %q: %w", room, ErrInvalidName)
	}
	if !ValidName(id) {
		return fmt.Errorf("record: broadcast %q: %w", id, ErrInvalidName)
	}
	return nil
}

func key(room, id string) string { return room + "/" + id }
