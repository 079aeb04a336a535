package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// Seal makes recording id in room seekable and returns its new Meta. It
// rewrites the media file with known sizes, a Duration and Cues (see
// webm.Seal; the media bytes are unchanged) into a temporary file in the
// same directory, fsyncs it, renames it over the original and fsyncs the
// directory, so that a crash leaves either the old or the new file, whole.
// The sidecar then gets Sealed, the sealed file's Duration and Bytes, and
// Keyframes. A partial element at the end of the file (the process died
// while writing it) is left out. An already sealed recording is returned
// unchanged.
//
// Seal returns ErrBusy while the recording's Writer is open (or another
// Seal or Delete of it runs), ErrNotFound, ErrInvalidName, or an error
// wrapping webm.ErrNotWebM or webm.ErrMalformed when the file holds no
// complete WebM header and first Cluster; the recording is then left as
// it was. Seal reads the file twice and keeps a few bytes per Cluster in
// memory, never the file. It is safe for concurrent use.
func (s *Store) Seal(room, id string) (Meta, error) {
	return s.seal("seal", room, id, nil)
}

// seal seals room/id as Seal does; fix, if set, may change the Meta that
// is written, given the media file's modification time before sealing.
func (s *Store) seal(op, room, id string, fix func(m *Meta, mtime time.Time)) (Meta, error) {
	if err := checkNames(room, id); err != nil {
		return Meta{}, err
	}
	k := key(room, id)
	if err := s.reserve(k); err != nil {
		return Meta{}, fmt.Errorf("record: %s %s: %w", op, k, err)
	}
	defer s.unregister(k)

	m, err := s.Stat(room, id)
	if err != nil {
		return Meta{}, err
	}
	if m.Sealed {
		return m, nil
	}
	path := s.mediaPath(room, id)
	fi, err := os.Stat(path)
	if err != nil {
		return Meta{}, statErr(op, room, id, err)
	}
	info, err := sealFile(path)
	if err != nil {
		return Meta{}, fmt.Errorf("record: %s %s: %w", op, k, err)
	}
	m.Sealed = true
	m.Duration = info.Duration
	m.Bytes = info.Size
	m.Keyframes = info.Keyframes
	if fix != nil {
		fix(&m, fi.ModTime())
	}
	if err := s.writeMeta(m); err != nil {
		return Meta{}, fmt.Errorf("record: %s %s: %w", op, k, err)
	}
	return m, nil
}

// reserve claims key k for a Seal: Create then reports ErrExists, Delete
// and Seal ErrBusy. It returns ErrBusy if k is in use. unregister releases
// it.
func (s *Store) reserve(k string) error {
	s.writersMu.Lock()
	defer s.writersMu.Unlock()
	if _, ok := s.writers[k]; ok {
		return ErrBusy
	}
	s.writers[k] = use{}
	return nil
}

// sealFile seals the WebM file at path in place: it seals into a temporary
// file in the same directory, fsyncs it, renames it over path and fsyncs
// the directory.
func sealFile(path string) (info webm.SealInfo, err error) {
	src, err := os.Open(path)
	if err != nil {
		return info, err
	}
	defer src.Close() // read-only
	fi, err := src.Stat()
	if err != nil {
		return info, err
	}
	dir, name := filepath.Split(path)
	// The leading dot keeps temporary names out of ValidName's space.
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return info, err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()           // already failing; the file is discarded
			_ = os.Remove(tmp.Name()) // best effort; List ignores strays
		}
	}()
	if info, err = webm.Seal(tmp, src, fi.Size()); err != nil {
		return info, err
	}
	if err := tmp.Chmod(filePerm); err != nil {
		return info, err
	}
	if err := tmp.Sync(); err != nil {
		return info, err
	}
	if err := tmp.Close(); err != nil {
		return info, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return info, err
	}
	syncDir(dir)
	return info, nil
}

// Recover finishes the recordings a crash or kill left behind: every
// recording not open in this Store that has no End, or that ended but was
// never sealed and did not fail, is sealed as by Seal (a partial element
// at the end of its file is cut off, so nothing that reached the disk whole
// is lost), and one without End gets the media file's modification time
// as End. A recording that cannot be sealed (it holds no WebM header and
// first Cluster) is marked ended and Failed, and kept as it is; it is not
// tried again.
//
// Recover returns the Metas of the recordings it changed, sealed or marked
// Failed, and the errors (joined) that left others unchanged, such as an
// unreadable directory or sidecar. Run it when the Store is opened, before
// recording, and only while no other process records into the directory:
// it cannot tell another process's live recording from a dead one. It is
// safe for concurrent use.
func (s *Store) Recover() ([]Meta, error) {
	all, err := s.all()
	var out []Meta
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, m := range all {
		if m.Sealed || (!m.Live() && m.Failed != "") {
			continue
		}
		setEnd := func(m *Meta, mtime time.Time) {
			if m.End.IsZero() {
				m.End = mtime.UTC().Round(0)
			}
		}
		sealed, err := s.seal("recover", m.Room, m.Broadcast, setEnd)
		switch {
		case err == nil:
			out = append(out, sealed)
		case errors.Is(err, ErrBusy), errors.Is(err, ErrNotFound):
			// Being written by this Store, or deleted meanwhile.
		case errors.Is(err, webm.ErrNotWebM), errors.Is(err, webm.ErrMalformed), errors.Is(err, webm.ErrLimit):
			failed, ferr := s.markFailed(m.Room, m.Broadcast, err)
			if ferr != nil {
				errs = append(errs, ferr)
				continue
			}
			out = append(out, failed)
		default:
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// markFailed ends recording room/id, if it has no End, with the media
// file's modification time, and records cause in Failed.
func (s *Store) markFailed(room, id string, cause error) (Meta, error) {
	k := key(room, id)
	if err := s.reserve(k); err != nil {
		return Meta{}, fmt.Errorf("record: recover %s: %w", k, err)
	}
	defer s.unregister(k)
	m, err := s.Stat(room, id)
	if err != nil {
		return Meta{}, err
	}
	if m.End.IsZero() {
		fi, err := os.Stat(s.mediaPath(room, id))
		if err != nil {
			return Meta{}, statErr("recover", room, id, err)
		}
		m.End = fi.ModTime().UTC().Round(0)
	}
	if m.Failed == "" {
		m.Failed = "not sealed: " + cause.Error()
	}
	if err := s.writeMeta(m); err != nil {
		return Meta{}, fmt.Errorf("record: recover %s: %w", k, err)
	}
	return m, nil
}

// all returns the recordings of every room, as List reports them, room by
// room. Rooms it cannot list are skipped and reported in the error.
func (s *Store) all() ([]Meta, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("record: list %s: %w", s.dir, err)
	}
	var out []Meta
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !ValidName(e.Name()) {
			continue
		}
		list, err := s.List(e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, list...)
	}
	return out, errors.Join(errs...)
}
