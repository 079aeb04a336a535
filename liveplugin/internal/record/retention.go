package record

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultStrayAge is the default [Retention.StrayAge], one hour.
const DefaultStrayAge = time.Hour

// Retention says which recordings [Store.Prune] deletes. Only finished
// recordings (with an End) are ever deleted. The zero value keeps every
// recording; a zero or negative bound field sets no bound.
type Retention struct {
	// KeepPerRoom is how many finished recordings each room keeps, the
	// newest by Start.
	KeepPerRoom int
	// MaxBytes bounds the total size of all rooms' recordings, and of
	// every other file the Store put in its directory: temporary files
	// (a seal's copy, a sidecar being replaced), media files without
	// sidecar and sidecars without media file (left by a crash during
	// Create or Delete), thumbnails without sidecar, recordings whose
	// sidecar does not parse. Only valid recordings' sidecars and
	// thumbnails, a few hundred bytes and some tens of kilobytes each,
	// are left out. Recordings being written or recovered count towards it but are
	// never deleted: the oldest finished recordings are deleted until the
	// total fits, even the newest if need be.
	MaxBytes int64
	// MaxAge is how long a recording is kept after its End.
	MaxAge time.Duration
	// StrayAge is how old (by modification time, judged at Prune's now)
	// a stray file must be before Prune removes it: a temporary file, a
	// media file or thumbnail without sidecar or a sidecar without media
	// file, none of
	// a recording this Store has in use. Younger ones may belong to
	// another Store's Create, Seal or Delete under way; they count towards
	// MaxBytes all the same. Strays are removed whatever the bounds, even
	// with a zero Retention. Optional. Defaults to DefaultStrayAge (1 h).
	StrayAge time.Duration
}

// none reports whether r sets no bound at all.
func (r Retention) none() bool {
	return r.KeepPerRoom <= 0 && r.MaxBytes <= 0 && r.MaxAge <= 0
}

// Prune deletes the finished recordings that r does not keep, judging ages
// at now, and returns their Metas, oldest first. A recording without End
// (being written, or left by a crash and not yet recovered) is never
// deleted, nor is one whose Writer, Seal or recovery is under way. It
// first writes the sidecars that failed to be written earlier, and removes
// the stray files older than r.StrayAge (they are not reported in the
// result); it counts the rest towards r.MaxBytes. Prune goes on past a
// recording or file it fails to delete and returns the errors joined.
// It is safe for concurrent use.
func (s *Store) Prune(r Retention, now time.Time) ([]Meta, error) {
	var errs []error
	if err := s.saveUnsaved(); err != nil {
		errs = append(errs, err)
	}
	extra, err := s.pruneStrays(cmp.Or(r.StrayAge, DefaultStrayAge), now)
	if err != nil {
		errs = append(errs, err)
	}
	if r.none() {
		return nil, errors.Join(errs...)
	}
	all, err := s.all()
	if err != nil {
		errs = append(errs, err)
	}
	// Oldest first, across rooms.
	slices.SortFunc(all, func(a, b Meta) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Room, b.Room), strings.Compare(a.Broadcast, b.Broadcast))
	})
	drop := make([]bool, len(all))
	if r.KeepPerRoom > 0 {
		kept := map[string]int{}
		for i := len(all) - 1; i >= 0; i-- { // newest first
			if m := all[i]; !m.Live() {
				kept[m.Room]++
				drop[i] = kept[m.Room] > r.KeepPerRoom
			}
		}
	}
	if r.MaxAge > 0 {
		for i, m := range all {
			if !m.Live() && now.Sub(m.End) > r.MaxAge {
				drop[i] = true
			}
		}
	}
	if r.MaxBytes > 0 {
		total := extra
		for i, m := range all {
			if !drop[i] {
				total += m.Bytes
			}
		}
		for i, m := range all {
			if total <= r.MaxBytes {
				break
			}
			if !drop[i] && !m.Live() {
				drop[i] = true
				total -= m.Bytes
			}
		}
	}
	var out []Meta
	for i, m := range all {
		if !drop[i] {
			continue
		}
		err := s.Delete(m.Room, m.Broadcast)
		switch {
		case err == nil:
			out = append(out, m)
		case errors.Is(err, ErrBusy), errors.Is(err, ErrNotFound):
			// Being sealed, written again or deleted meanwhile.
		default:
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// stray is a file in a room directory that is not part of a recording
// List reports.
type stray struct {
	path  string
	key   string // the recording it belongs to, for reserving it
	size  int64
	mtime time.Time
	// keep says it must not be removed: a recording whose sidecar does
	// not parse, which may be the Store's data all the same.
	keep bool
}

// strays returns the stray files of every room directory, with the
// errors that kept it from reading some.
func (s *Store) strays() ([]stray, error) {
	rooms, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("record: list %s: %w", s.dir, err)
	}
	var out []stray
	var errs []error
	for _, r := range rooms {
		if !r.IsDir() || !ValidName(r.Name()) {
			continue
		}
		room := r.Name()
		dir := filepath.Join(s.dir, room)
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("record: list %s: %w", room, err))
			continue
		}
		files := make(map[string]fs.DirEntry, len(entries))
		for _, e := range entries {
			if e.Type().IsRegular() {
				files[e.Name()] = e
			}
		}
		add := func(e fs.DirEntry, id string, keep bool) {
			fi, err := e.Info()
			if err != nil {
				return // gone meanwhile
			}
			out = append(out, stray{path: filepath.Join(dir, e.Name()), key: key(room, id), size: fi.Size(), mtime: fi.ModTime(), keep: keep})
		}
		for name, e := range files {
			if id, ok := tempOwner(name); ok {
				add(e, id, false)
				continue
			}
			if id, ok := mediaName(name); ok {
				if _, ok := files[id+metaExt]; !ok {
					add(e, id, false)
				}
				continue
			}
			if id, ok := strings.CutSuffix(name, thumbExt); ok && ValidName(id) {
				if _, ok := files[id+metaExt]; !ok {
					add(e, id, false) // a thumbnail without recording
				}
				continue
			}
			id, ok := strings.CutSuffix(name, metaExt)
			if !ok || !ValidName(id) {
				continue // not the Store's
			}
			var media []fs.DirEntry
			for _, ext := range mediaExts() {
				if m, ok := files[id+ext]; ok {
					media = append(media, m)
				}
			}
			if len(media) == 0 {
				add(e, id, false)
				continue
			}
			if _, err := s.readMeta(room, id); err != nil && !errors.Is(err, fs.ErrNotExist) {
				add(e, id, true) // a sidecar that does not parse: List skips the recording
				for _, m := range media {
					add(m, id, true)
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

// pruneStrays removes the stray files older than age at now, except those
// of recordings in use, and returns the bytes of those it left.
func (s *Store) pruneStrays(age time.Duration, now time.Time) (int64, error) {
	all, err := s.strays()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var left int64
	for _, st := range all {
		if st.keep || now.Sub(st.mtime) <= age || s.reserve(st.key) != nil {
			left += st.size
			continue
		}
		err := os.Remove(st.path)
		s.unregister(st.key)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("record: remove stray: %w", err))
			left += st.size
		}
	}
	return left, errors.Join(errs...)
}
