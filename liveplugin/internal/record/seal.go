package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Seal makes recording id in room seekable and returns its new Meta. It
// rewrites the media file into a temporary file in the same directory
// (the media bytes are unchanged): a WebM file with known sizes, a
// Duration and Cues (see webm.Seal), an MP4 file with its duration in the
// moov, a sidx and an mfra (see mp4.Seal), as its first bytes say, else
// its extension. It fsyncs that file, renames it over the original and
// fsyncs the directory, so that a crash leaves either the old or the new
// file, whole. The sidecar then gets Sealed, the sealed file's Duration
// and Bytes, and Keyframes. A partial element or box at the end of the
// file (the process died while writing it) is left out. An already sealed
// recording is returned unchanged.
//
// Seal returns ErrBusy while the recording's Writer is open (or another
// Seal or Delete of it runs, or it is being recovered: then the error
// wraps ErrRecovering too), ErrNotFound, ErrInvalidName, or an error
// wrapping webm.ErrNotWebM or webm.ErrMalformed when a WebM file holds no
// complete header and first Cluster, mp4.ErrNotMP4 or mp4.ErrMalformed
// when an MP4 file holds no complete ftyp, moov and first fragment, or
// webm.ErrLimit or mp4.ErrLimit; the recording is then left as it was.
// Seal reads the file two or three times; its memory is bounded whatever
// the file (at most about 8.5 MiB for WebM, see webm.SealWith, and about
// 20 MiB for MP4, see mp4.SealWith), and it needs free disk space for the
// sealed copy, about the file's size, until the rename. It is safe for
// concurrent use.
func (s *Store) Seal(room, id string) (Meta, error) {
	if err := checkNames(room, id); err != nil {
		return Meta{}, err
	}
	k := key(room, id)
	if err := s.reserve(k); err != nil {
		if s.recovering(k) {
			err = fmt.Errorf("%w (%w)", ErrRecovering, err)
		}
		return Meta{}, fmt.Errorf("record: seal %s: %w", k, err)
	}
	defer s.unregister(k)
	return s.seal(context.Background(), "seal", room, id, nil)
}

// seal seals room/id, which the caller has reserved, as Seal does,
// stopping early with ctx.Err() when ctx is done; fix, if set, may change
// the Meta that is written, given the media file's modification time
// before sealing and what the seal found.
func (s *Store) seal(ctx context.Context, op, room, id string, fix func(m *Meta, mtime time.Time, info sealInfo)) (Meta, error) {
	k := key(room, id)
	m, err := s.Stat(room, id)
	if err != nil {
		return Meta{}, err
	}
	if m.Sealed {
		m.Recovering = false
		return m, nil
	}
	path := s.mediaPath(room, id)
	fi, err := os.Stat(path)
	if err != nil {
		return Meta{}, statErr(op, room, id, err)
	}
	info, err := sealFile(ctx, path)
	if err != nil {
		return Meta{}, fmt.Errorf("record: %s %s: %w", op, k, err)
	}
	m.Sealed = true
	m.Recovering = false
	m.Duration = info.Duration
	m.Bytes = info.Size
	m.Keyframes = info.Keyframes
	if fix != nil {
		fix(&m, fi.ModTime(), info)
	}
	// On failure the Store keeps m for List and Stat and writes it later;
	// the file is sealed already.
	if err := s.saveMeta(m); err != nil {
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

// sealFile seals the media file at path in place, WebM or MP4 (see
// sealMedia): it seals into a temporary file in the same directory,
// fsyncs it, renames it over path and fsyncs the directory. When ctx is
// done it stops, removes the temporary file and returns ctx.Err().
func sealFile(ctx context.Context, path string) (info sealInfo, err error) {
	f, err := os.Open(path)
	if err != nil {
		return info, err
	}
	defer f.Close() // read-only
	src := ctxReaderAt{ctx: ctx, r: f}
	fi, err := f.Stat()
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
	if info, err = sealMedia(tmp, src, fi.Size(), path); err != nil {
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
	if err := ctx.Err(); err != nil {
		return info, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return info, err
	}
	syncDir(dir)
	return info, nil
}

// ctxReaderAt reads from r until ctx is done, then fails with ctx.Err().
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

// Recover finishes the recordings a crash or kill left behind, at once: it
// is BeginRecover followed by Run with a context that is never done, and
// returns what Run returns, with BeginRecover's errors joined.
func (s *Store) Recover() ([]Meta, error) {
	rec, err := s.BeginRecover()
	out, rerr := rec.Run(context.Background())
	return out, errors.Join(err, rerr)
}

// Recovery is the work [Store.BeginRecover] found: the recordings to seal,
// reserved until [Recovery.Run] has sealed or released each. The caller
// must call Run once, from any goroutine.
type Recovery struct {
	s       *Store
	pending []Meta
	ran     bool
}

// BeginRecover prepares the recovery of the recordings a crash or kill left
// behind, without sealing them, so that the caller can seal them in the
// background with [Recovery.Run] while the Store serves. It takes little
// time whatever the recordings' sizes: it reads the directories and
// sidecars only.
//
// It first removes the temporary files a crash left in the room
// directories (a seal's or a sidecar's, of any age, except those of
// recordings this Store has in use) and writes the sidecars that failed
// to be written earlier. It then reserves every recording not in use that
// has no End, or that ended but was never sealed and did not fail: until
// Run has sealed it, List and Stat report it with Recovering set, Latest
// skips it, OpenFile and Seal return errors wrapping ErrRecovering and
// ErrBusy, Create of its id ErrExists, Delete ErrBusy, and Prune leaves it.
//
// It returns the Recovery, never nil, and the errors (joined) it met, such
// as an unreadable directory or sidecar. Call it when the Store is opened,
// before recording, and only while no other process records into the
// directory: it cannot tell another process's live recording or
// temporary file from a dead one. It is safe for concurrent use.
func (s *Store) BeginRecover() (*Recovery, error) {
	return s.BeginRecoverWith(RecoverOptions{})
}

// RecoverOptions let several processes share a Store's directory, as the
// nodes of a cluster do: BeginRecoverWith then leaves alone what another
// process may still be writing.
type RecoverOptions struct {
	// Live reports whether broadcast id of room is live somewhere: its
	// recording is left as it is. Optional.
	Live func(room, id string) bool
	// TempAge is how long a temporary file must have gone unmodified
	// before it counts as a crash's leftover and is removed. Optional.
	// Defaults to 0: every temporary file is removed.
	TempAge time.Duration
}

// BeginRecoverWith is BeginRecover for a directory shared with other
// processes, which o describes.
func (s *Store) BeginRecoverWith(o RecoverOptions) (*Recovery, error) {
	var errs []error
	if err := s.removeTemps(o.TempAge); err != nil {
		errs = append(errs, err)
	}
	if err := s.saveUnsaved(); err != nil {
		errs = append(errs, err)
	}
	all, err := s.all()
	if err != nil {
		errs = append(errs, err)
	}
	rec := &Recovery{s: s}
	s.writersMu.Lock()
	for _, m := range all {
		k := key(m.Room, m.Broadcast)
		if _, busy := s.writers[k]; busy || m.Sealed || (!m.Live() && m.Failed != "") {
			continue
		}
		if o.Live != nil && m.Live() && o.Live(m.Room, m.Broadcast) {
			continue // another process writes it
		}
		s.writers[k] = use{recovering: true}
		m.Recovering = true
		rec.pending = append(rec.pending, m)
	}
	s.writersMu.Unlock()
	return rec, errors.Join(errs...)
}

// Pending returns the recordings the Recovery has yet to seal, as
// BeginRecover found them. It must not be called concurrently with Run.
func (r *Recovery) Pending() []Meta { return slices.Clone(r.pending) }

// Run seals the recordings BeginRecover reserved, one after the other, as
// Seal would: a partial element or box at the end of a file is cut off,
// so nothing that reached the disk whole is lost, and one without End
// gets the media file's modification time as End. A recording whose file
// ended inside an element or box, or held garbage after its last good
// one, was cut short (the process died, or a disk error stopped it and
// its sidecar may never have said so): it gets CutShort. A recording that cannot be sealed
// (it holds no WebM header and first Cluster, no MP4 ftyp, moov and first
// fragment, or exceeds a sealer's bound) is marked ended and Failed,
// and kept as it is; it is not tried again. Each is released, and served,
// as soon as it is done.
//
// When ctx is done, Run stops between two reads of the file being sealed,
// leaves that recording and the rest as they were (they are recovered at
// the next BeginRecover), releases them and returns ctx.Err() among its
// errors. Run returns the Metas of the recordings it changed, sealed or
// marked Failed, and the errors (joined) that left others unchanged. A
// second call does nothing.
func (r *Recovery) Run(ctx context.Context) ([]Meta, error) {
	if r.ran {
		return nil, nil
	}
	r.ran = true
	s := r.s
	var out []Meta
	var errs []error
	for i, m := range r.pending {
		if err := ctx.Err(); err != nil {
			for _, m := range r.pending[i:] {
				s.unregister(key(m.Room, m.Broadcast))
			}
			errs = append(errs, err)
			break
		}
		changed, err := s.recoverOne(ctx, m)
		s.unregister(key(m.Room, m.Broadcast))
		if changed != nil {
			out = append(out, *changed)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	r.pending = nil
	return out, errors.Join(errs...)
}

// recoverOne seals recording m, reserved by BeginRecover, or marks it
// Failed. It returns the Meta it wrote, if any, and the error that left
// the recording unchanged, if any.
func (s *Store) recoverOne(ctx context.Context, m Meta) (*Meta, error) {
	fix := func(m *Meta, mtime time.Time, info sealInfo) {
		if m.End.IsZero() {
			m.End = mtime.UTC().Round(0)
		}
		m.CutShort = m.CutShort || info.Partial || info.Fault != nil
	}
	sealed, err := s.seal(ctx, "recover", m.Room, m.Broadcast, fix)
	switch {
	case err == nil:
		return &sealed, nil
	case errors.Is(err, ErrNotFound):
		return nil, nil // deleted meanwhile
	case ctx.Err() != nil:
		return nil, nil // Run reports ctx.Err()
	case unsealable(err):
		failed, ferr := s.markFailed(m.Room, m.Broadcast, err)
		if ferr != nil {
			return nil, ferr
		}
		return &failed, nil
	}
	return nil, err
}

// markFailed ends recording room/id, reserved by the caller, if it has no
// End, with the media file's modification time, and records cause in
// Failed.
func (s *Store) markFailed(room, id string, cause error) (Meta, error) {
	k := key(room, id)
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
	m.Recovering = false
	if err := s.saveMeta(m); err != nil {
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

// tempOwner returns the broadcast id whose temporary file name is, and
// whether name is one of the Store's temporary files: "."+id+".webm",
// "."+id+".mp4", "."+id+".json" or "."+id+".jpg", then "." and
// os.CreateTemp's random digits, then ".tmp".
func tempOwner(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return "", false
	}
	if rest, ok = strings.CutSuffix(rest, ".tmp"); !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", false
	}
	rest = rest[:i]
	for _, ext := range append(mediaExts(), metaExt, thumbExt) {
		if id, ok := strings.CutSuffix(rest, ext); ok && ValidName(id) {
			return id, true
		}
	}
	return "", false
}

// removeTemps removes the temporary files in every room directory that
// have gone unmodified for age, except those of recordings in use, and
// returns the errors it met.
func (s *Store) removeTemps(age time.Duration) error {
	now := time.Now()
	rooms, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("record: list %s: %w", s.dir, err)
	}
	var errs []error
	for _, r := range rooms {
		if !r.IsDir() || !ValidName(r.Name()) {
			continue
		}
		dir := filepath.Join(s.dir, r.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("record: list %s: %w", r.Name(), err))
			continue
		}
		for _, e := range entries {
			id, ok := tempOwner(e.Name())
			if !ok || !e.Type().IsRegular() {
				continue
			}
			if age > 0 {
				if fi, err := e.Info(); err != nil || now.Sub(fi.ModTime()) < age {
					continue // gone, or perhaps another process's
				}
			}
			k := key(r.Name(), id)
			s.writersMu.Lock()
			_, busy := s.writers[k]
			if !busy {
				s.writers[k] = use{} // keeps a Seal from starting meanwhile
			}
			s.writersMu.Unlock()
			if busy {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("record: remove %s: %w", e.Name(), err))
			}
			s.unregister(k)
		}
	}
	return errors.Join(errs...)
}
