package record_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/record"
)

func readThumbnail(t *testing.T, s *record.Store, room, id string) ([]byte, error) {
	t.Helper()
	f, err := s.OpenThumbnail(room, id)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func TestThumbnail(t *testing.T) {
	s := newStore(t, record.Options{})
	if _, err := readThumbnail(t, s, "alice", "a"); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("OpenThumbnail() of none: error = %v; want ErrNotFound", err)
	}
	w := create(t, s, "alice", "a", t0)
	for _, give := range [][]byte{[]byte("first"), []byte("second, longer")} {
		if err := s.WriteThumbnail("alice", "a", give); err != nil {
			t.Fatalf("WriteThumbnail() error = %v", err)
		}
		got, err := readThumbnail(t, s, "alice", "a")
		if err != nil || !bytes.Equal(got, give) {
			t.Fatalf("OpenThumbnail() = %q, %v; want %q", got, err, give)
		}
		fi, err := s.StatThumbnail("alice", "a")
		if err != nil || fi.Size() != int64(len(give)) {
			t.Fatalf("StatThumbnail() = %v, %v; want size %d", fi, err, len(give))
		}
	}
	// An open thumbnail keeps its bytes while another replaces it.
	f, err := s.OpenThumbnail("alice", "a")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.WriteThumbnail("alice", "a", []byte("third")); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(f); string(got) != "second, longer" {
		t.Errorf("open thumbnail read %q after a replacement; want the old bytes", got)
	}
	finish(t, w, t0.Add(time.Minute))

	// Recovery leaves the thumbnail alone, and removes a temporary left
	// by a crash.
	tmp := filepath.Join(s.Dir(), "alice", ".a.jpg.123.tmp")
	if err := os.WriteFile(tmp, []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recover(); err != nil {
		t.Fatalf("Recover() error = %v", err)
	}
	if got, err := readThumbnail(t, s, "alice", "a"); err != nil || string(got) != "third" {
		t.Errorf("thumbnail after Recover() = %q, %v; want %q", got, err, "third")
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary thumbnail after Recover(): %v; want removed", err)
	}
	if _, err := s.List("alice"); err != nil {
		t.Fatal(err)
	}

	// Deleting the recording deletes its thumbnail.
	if err := s.Delete("alice", "a"); err != nil {
		t.Fatalf("Delete() error = %v", err)
	}
	if _, err := s.StatThumbnail("alice", "a"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("StatThumbnail() after Delete: %v; want ErrNotFound", err)
	}
}

func TestThumbnailInvalidName(t *testing.T) {
	s := newStore(t, record.Options{})
	for _, give := range [][2]string{{"../x", "a"}, {"alice", "../a"}, {"alice", ".a"}, {"", "a"}} {
		if err := s.WriteThumbnail(give[0], give[1], []byte("x")); !errors.Is(err, record.ErrInvalidName) {
			t.Errorf("WriteThumbnail(%q, %q) error = %v; want ErrInvalidName", give[0], give[1], err)
		}
		if _, err := s.OpenThumbnail(give[0], give[1]); !errors.Is(err, record.ErrInvalidName) {
			t.Errorf("OpenThumbnail(%q, %q) error = %v; want ErrInvalidName", give[0], give[1], err)
		}
	}
}
