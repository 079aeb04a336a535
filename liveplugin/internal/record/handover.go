package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Handing a recording over: in a cluster whose nodes share the directory,
// the node that takes a broadcast over continues its recording where the
// previous node stopped, in the same file.

// ErrShort is returned by Reopen when the recording holds fewer bytes than
// the broadcast's new owner expects: part of the stream never reached it.
var ErrShort = errors.New("record: recording shorter than the stream")

// Detach stops writing without finishing: it flushes, fsyncs and closes the
// media file, writes the sidecar with the bytes written and no End, and
// releases the recording in the Store, so that a Store of another process
// sharing the directory continues it with Reopen. It returns the Meta it
// wrote. A Writer whose recording had stopped with a write error reports
// that error and leaves the recording as it is. Detach, like Finish, ends
// the Writer: later calls return ErrClosed.
func (w *Writer) Detach() (Meta, error) {
	if w.finished {
		return w.finMeta, fmt.Errorf("record: detach %s: %w", w.key, ErrClosed)
	}
	w.finished = true
	err := w.err
	if err == nil {
		err = w.flush()
	}
	if err == nil {
		if err = w.f.Sync(); err != nil {
			w.fail(err)
			err = w.err
		}
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		w.fail(cerr)
		err = w.err
	}
	w.buf = nil
	m := w.Meta()
	if serr := w.s.saveMeta(m); serr != nil && err == nil {
		err = fmt.Errorf("record: detach %s: %w", w.key, serr)
	}
	w.s.unregister(w.key)
	w.finMeta, w.finErr = m, err
	return m, err
}

// Reopen continues a recording that a Store sharing the directory
// detached: it opens the media file for appending once its size is size,
// the bytes of the stream written so far. A longer file (bytes written
// after the new owner's offset, which the publisher resends) is cut to
// size; a shorter one fails with ErrShort, and a recording that does not
// exist or has ended with ErrNotFound. The returned Writer belongs to the
// caller, who must Finish it.
func (s *Store) Reopen(room, id string, size int64) (*Writer, error) {
	if err := checkNames(room, id); err != nil {
		return nil, err
	}
	k := key(room, id)
	s.writersMu.Lock()
	if _, ok := s.writers[k]; ok {
		s.writersMu.Unlock()
		return nil, fmt.Errorf("record: reopen %s: %w", k, ErrBusy)
	}
	s.writers[k] = use{} // reserved while the file is opened
	s.writersMu.Unlock()
	return s.register(k, func() (*Writer, error) { return s.reopen(room, id, size) })
}

func (s *Store) reopen(room, id string, size int64) (*Writer, error) {
	k := key(room, id)
	m, err := s.readSidecar(room, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("record: reopen %s: %w", k, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("record: reopen %s: %w", k, err)
	}
	if !m.Live() || m.Sealed {
		return nil, fmt.Errorf("record: reopen %s: ended: %w", k, ErrNotFound)
	}
	path := s.mediaPath(room, id)
	f, err := os.OpenFile(path, os.O_WRONLY, filePerm)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("record: reopen %s: %w", k, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("record: reopen %s: %w", k, err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case fi.Size() < size:
		err = fmt.Errorf("%w: %d bytes, want %d", ErrShort, fi.Size(), size)
	case fi.Size() > size:
		err = f.Truncate(size)
	}
	if err == nil {
		_, err = f.Seek(size, 0)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("record: reopen %s: %w", k, err)
	}
	m.Bytes = size
	return &Writer{
		s:        s,
		key:      k,
		path:     path,
		f:        f,
		written:  size,
		buf:      make([]byte, 0, s.flushBytes),
		lastSync: time.Now(),
		meta:     m,
	}, nil
}
