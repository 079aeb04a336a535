package record

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/amlive/amlive/internal/fixture"
)

func TestSealFileCancelled(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	dir := t.TempDir()
	path := filepath.Join(dir, "b1.webm")
	if err := os.WriteFile(path, fx.Full, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sealFile(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("sealFile(cancelled) error = %v; want context.Canceled", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v, %v; want only the media file", entries, err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, fx.Full) {
		t.Errorf("media file changed by a cancelled seal (%v)", err)
	}
}
