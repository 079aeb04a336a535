package record

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Writer appends one broadcast's bytes to its recording. It is not safe for
// concurrent use: one goroutine (the publisher's) owns it, except that Meta
// may be called concurrently. The owner must end it with Finish;
// until then the Store reports the recording as busy.
type Writer struct {
	s    *Store
	key  string // room/id
	path string // media file

	// Owned by the writing goroutine.
	f        *os.File
	buf      []byte // cap is the flush threshold
	written  int64  // bytes handed to the OS
	lastSync time.Time
	err      error // sticky write error; recording stopped
	finished bool
	finMeta  Meta
	finErr   error

	metaMu sync.Mutex
	meta   Meta
}

// Write appends p to the recording. Bytes are buffered: at most FlushBytes
// (default 64 KiB) wait in memory, and Flush, Sync and Finish hand them all
// to the OS. With Options.SyncInterval set, Write also syncs (as Sync) once
// the last fsync is that old, p included. After a write error the Writer
// stops recording: the sidecar records Failed, and this and every later
// Write return the same error at once, so the caller can keep its live
// stream going without it. Write after Finish returns ErrClosed.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.write(p)
	if err == nil && w.s.syncInterval > 0 && time.Since(w.lastSync) >= w.s.syncInterval {
		err = w.sync()
	}
	return n, err
}

func (w *Writer) write(p []byte) (int, error) {
	if err := w.usable("write"); err != nil {
		return 0, err
	}
	if len(w.buf)+len(p) > cap(w.buf) {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	if len(p) < cap(w.buf) {
		w.buf = append(w.buf, p...)
		w.addBytes(len(p))
		return len(p), nil
	}
	n, err := w.f.Write(p)
	w.written += int64(n)
	w.addBytes(n)
	if err != nil {
		w.fail(err)
		w.writeMetaBestEffort()
		return n, w.err
	}
	return n, nil
}

// Flush hands buffered bytes to the OS, without fsync. It returns the
// Writer's write error if recording stopped, and ErrClosed after Finish.
func (w *Writer) Flush() error {
	if err := w.usable("flush"); err != nil {
		return err
	}
	return w.flush()
}

// Sync flushes and then fsyncs the media file. A failing fsync stops the
// recording like a failing write. Sync returns ErrClosed after Finish.
func (w *Writer) Sync() error {
	if err := w.usable("sync"); err != nil {
		return err
	}
	return w.sync()
}

func (w *Writer) sync() error {
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.fail(err)
		w.writeMetaBestEffort()
		return w.err
	}
	w.lastSync = time.Now()
	return nil
}

// SetDescription sets the recording's Title and Description and, when
// they changed, rewrites the sidecar at once, so that they survive a
// crash. Like Write, it is for the owner only. A sidecar that cannot be
// written is reported; Finish writes the description with the rest. After
// Finish it returns ErrClosed.
func (w *Writer) SetDescription(title, description string) error {
	if w.finished {
		return fmt.Errorf("record: describe %s: %w", w.key, ErrClosed)
	}
	w.metaMu.Lock()
	same := w.meta.Title == title && w.meta.Description == description
	w.meta.Title, w.meta.Description = title, description
	m := w.meta
	w.metaMu.Unlock()
	if same {
		return nil
	}
	if err := w.s.writeMeta(m); err != nil {
		return fmt.Errorf("record: describe %s: %w", w.key, err)
	}
	return nil
}

// Meta returns a snapshot of the recording's Meta; Bytes counts the bytes
// accepted so far. Meta is safe for concurrent use, also with the owner's
// calls.
func (w *Writer) Meta() Meta {
	w.metaMu.Lock()
	defer w.metaMu.Unlock()
	return w.meta
}

// Finish ends the recording: it flushes, fsyncs and closes the media file,
// sets End (and Duration if d > 0) and rewrites the sidecar atomically, then
// releases the recording in the Store. It returns the final Meta. Its error
// reports what failed during Finish itself (flush, fsync, close, sidecar); a
// write error that already stopped the recording is not repeated but kept in
// Meta.Failed. When the sidecar cannot be written, the Store still reports
// the final Meta (List, Stat) and writes it on the next Seal, Prune or
// BeginRecover. Finish is idempotent: a second call returns the first result.
func (w *Writer) Finish(end time.Time, d time.Duration) (Meta, error) {
	if w.finished {
		return w.finMeta, w.finErr
	}
	w.finished = true
	var errs []error
	if w.err == nil {
		if err := w.flush(); err != nil {
			errs = append(errs, err)
		} else if err := w.f.Sync(); err != nil {
			w.fail(err)
			errs = append(errs, w.err)
		}
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.fail(err)
		errs = append(errs, w.err)
	}
	w.buf = nil

	w.metaMu.Lock()
	w.meta.End = end.Round(0)
	if d > 0 {
		w.meta.Duration = d
	}
	m := w.meta
	w.metaMu.Unlock()

	// On failure the Store keeps m for List and Stat and writes it later.
	if err := w.s.saveMeta(m); err != nil {
		errs = append(errs, fmt.Errorf("record: finish %s: %w", w.key, err))
	}
	w.s.unregister(w.key)
	w.finMeta, w.finErr = m, errors.Join(errs...)
	return w.finMeta, w.finErr
}

// usable returns ErrClosed after Finish, else the sticky write
// error, if any.
func (w *Writer) usable(op string) error {
	if w.finished {
		return fmt.Errorf("record: %s %s: %w", op, w.key, ErrClosed)
	}
	return w.err
}

// flush hands the buffer to the OS; on error it stops the recording.
func (w *Writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.f.Write(w.buf)
	w.written += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		w.fail(err)
		w.writeMetaBestEffort()
		return w.err
	}
	return nil
}

// fail stops the recording with err: Meta.Bytes drops to what reached the
// file and Meta.Failed says why.
func (w *Writer) fail(err error) {
	w.err = fmt.Errorf("record: write %s: %w", w.key, err)
	w.buf = w.buf[:0]
	w.metaMu.Lock()
	w.meta.Bytes = w.written
	w.meta.Failed = err.Error()
	w.metaMu.Unlock()
}

// writeMetaBestEffort records a failure in the sidecar at once, so that it
// survives a crash before Finish. On error it does nothing: Finish rewrites
// the sidecar and reports that error.
func (w *Writer) writeMetaBestEffort() {
	_ = w.s.writeMeta(w.Meta())
}

func (w *Writer) addBytes(n int) {
	w.metaMu.Lock()
	w.meta.Bytes += int64(n)
	w.metaMu.Unlock()
}
