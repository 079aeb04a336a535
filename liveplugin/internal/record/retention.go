package record

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"time"
)

// Retention says which recordings [Store.Prune] deletes. Only finished
// recordings (with an End) are ever deleted. The zero value keeps
// everything; a zero or negative field sets no bound.
type Retention struct {
	// KeepPerRoom is how many finished recordings each room keeps, the
	// newest by Start.
	KeepPerRoom int
	// MaxBytes bounds the total size of all rooms' recordings. Recordings
	// being written count towards it but are never deleted: the oldest
	// finished recordings are deleted until the total fits, even the
	// newest if need be.
	MaxBytes int64
	// MaxAge is how long a recording is kept after its End.
	MaxAge time.Duration
}

// none reports whether r sets no bound at all.
func (r Retention) none() bool {
	return r.KeepPerRoom <= 0 && r.MaxBytes <= 0 && r.MaxAge <= 0
}

// Prune deletes the finished recordings that r does not keep, judging ages
// at now, and returns their Metas, oldest first. A recording without End
// (being written, or left by a crash and not yet recovered) is never
// deleted, nor is one whose Writer or Seal is under way. Prune goes on
// past a recording it fails to delete and returns the errors joined.
// Without bounds it does nothing. It is safe for concurrent use.
func (s *Store) Prune(r Retention, now time.Time) ([]Meta, error) {
	if r.none() {
		return nil, nil
	}
	all, err := s.all()
	var errs []error
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
		var total int64
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
