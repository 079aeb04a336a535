package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// thumbExt is the extension of a recording's thumbnail, <id>.jpg beside
// its media file and sidecar.
const thumbExt = ".jpg"

// WriteThumbnail replaces the thumbnail of broadcast id in room,
// <room>/<id>.jpg, with data, atomically (temporary file, fsync, rename), so
// that a reader sees the old or the new image, never a torn one. The Store
// neither reads nor checks data: the caller writes only images it made. It
// creates the room's directory if needed, so a broadcast whose recording
// could not be created still has one; a thumbnail without sidecar is a
// stray that [Store.Prune] removes once it is older than
// [Retention.StrayAge]. It returns ErrInvalidName for invalid names and
// ErrBusy while a Delete of the recording runs. It is safe for concurrent
// use.
func (s *Store) WriteThumbnail(room, id string, data []byte) (err error) {
	if err := checkNames(room, id); err != nil {
		return err
	}
	k := key(room, id)
	defer func() {
		if err != nil {
			err = fmt.Errorf("record: write thumbnail %s: %w", k, err)
		}
	}()
	s.writersMu.Lock()
	deleting := s.writers[k].deleting
	s.writersMu.Unlock()
	if deleting {
		return ErrBusy
	}
	dir := filepath.Join(s.dir, room)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return err
	}
	// The leading dot keeps temporary names out of ValidName's space;
	// tempOwner knows them, so recovery and Prune remove leftovers.
	return replaceFile(dir, "."+id+thumbExt+".*.tmp", s.thumbPath(room, id), data)
}

// OpenThumbnail opens the thumbnail of broadcast id in room for reading,
// or returns ErrNotFound (there is none) or ErrInvalidName. The caller owns
// the file and must close it; a WriteThumbnail meanwhile replaces the
// file's name, not the open file. It is safe for concurrent use.
func (s *Store) OpenThumbnail(room, id string) (*os.File, error) {
	if err := checkNames(room, id); err != nil {
		return nil, err
	}
	f, err := os.Open(s.thumbPath(room, id))
	if err != nil {
		return nil, statErr("open thumbnail", room, id, err)
	}
	return f, nil
}

// StatThumbnail returns the file information of the thumbnail of
// broadcast id in room, or ErrNotFound, or ErrInvalidName. It is safe for
// concurrent use.
func (s *Store) StatThumbnail(room, id string) (fs.FileInfo, error) {
	if err := checkNames(room, id); err != nil {
		return nil, err
	}
	fi, err := os.Stat(s.thumbPath(room, id))
	if err != nil {
		return nil, statErr("stat thumbnail", room, id, err)
	}
	return fi, nil
}

// removeThumbnail removes the thumbnail of room/id, if any.
func (s *Store) removeThumbnail(room, id string) error {
	err := os.Remove(s.thumbPath(room, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (s *Store) thumbPath(room, id string) string {
	return filepath.Join(s.dir, room, id+thumbExt)
}
