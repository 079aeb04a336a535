package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestUserStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	s, err := openUsers(path, bcrypt.MinCost)
	if err != nil {
		t.Fatalf("openUsers(missing file) = %v; want no error", err)
	}
	if _, err := s.create("Alice", "password-alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.create("bob", "password-bob", time.Now()); err != nil {
		t.Fatal(err)
	}

	reopened, err := openUsers(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		giveName     string
		givePassword string
		want         string
		wantErr      error
	}{
		{name: "as signed up", giveName: "Alice", givePassword: "password-alice", want: "Alice"},
		{name: "another case", giveName: "alice", givePassword: "password-alice", want: "Alice"},
		{name: "second user", giveName: "bob", givePassword: "password-bob", want: "bob"},
		{name: "wrong password", giveName: "bob", givePassword: "password-alice", wantErr: errBadLogin},
		{name: "unknown user", giveName: "carol", givePassword: "password-carol", wantErr: errBadLogin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reopened.authenticate(tc.giveName, tc.givePassword)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("authenticate(%q) = %q, %v; want %q, %v", tc.giveName, got, err, tc.want, tc.wantErr)
			}
		})
	}
	if got := reopened.names(); len(got) != 2 || got[0] != "Alice" || got[1] != "bob" {
		t.Errorf("names() = %q; want [Alice bob]", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data directory holds %d files; want only users.json (no temporary files left)", len(entries))
	}
}

func TestUserStoreCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, []byte("[{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openUsers(path, bcrypt.MinCost); err == nil {
		t.Error("openUsers(corrupt file) = nil error; want an error")
	}
}

func TestSessionKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "session.key")
	first, err := loadSessionKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != sessionKeyLen {
		t.Errorf("key has %d bytes; want %d", len(first), sessionKeyLen)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("session.key mode %v; want 0600", perm)
	}
	second, err := loadSessionKey(path)
	if err != nil || !bytes.Equal(first, second) {
		t.Errorf("second load = %x, %v; want the same key", second, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data directory holds %d files; want only session.key", len(entries))
	}

	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSessionKey(path); err == nil {
		t.Error("loadSessionKey(short file) = nil error; want an error")
	}
}
