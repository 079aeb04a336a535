package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func TestValidPassword(t *testing.T) {
	tests := []struct {
		name     string
		giveUser string
		give     string
		want     error
	}{
		{name: "fine", giveUser: "alice", give: "correct horse battery staple"},
		{name: "eight characters", giveUser: "alice", give: "kq7#mzp2"},
		{name: "seven characters", giveUser: "alice", give: "kq7#mzp", want: errShortPassword},
		{name: "empty", giveUser: "alice", give: "", want: errShortPassword},
		{name: "eight spaces", giveUser: "alice", give: "        ", want: errBlankPassword},
		{name: "one space", giveUser: "alice", give: " ", want: errBlankPassword},
		{name: "other white space", giveUser: "alice", give: "\t\n\r\v\f\u00a0\u2003\u3000", want: errBlankPassword},
		{name: "padded with spaces", giveUser: "alice", give: "       a", want: errShortPassword},
		{name: "spaces inside count", giveUser: "alice", give: "a b c d e"},
		{name: "runes, not bytes: 4 of 2 bytes", giveUser: "alice", give: "éééé", want: errShortPassword},
		{name: "runes, not bytes: 8 of 3 bytes", giveUser: "alice", give: "日本語のパスワ" + "ド"},
		{name: "72 bytes", giveUser: "alice", give: strings.Repeat("ab", 36)},
		{name: "73 bytes", giveUser: "alice", give: strings.Repeat("ab", 36) + "c", want: errLongPassword},
		{name: "24 runes of 4 bytes", giveUser: "alice", give: strings.Repeat("🙂", 24), want: errLongPassword},
		{name: "18 runes of 4 bytes", giveUser: "alice", give: strings.Repeat("🙂🙃", 9)},
		{name: "the user name", giveUser: "alice_cooper", give: "alice_cooper", want: errNamePassword},
		{name: "the user name in capitals", giveUser: "alice_cooper", give: "ALICE_COOPER", want: errNamePassword},
		{name: "the user name with spaces", giveUser: "alice_cooper", give: " alice_cooper ", want: errNamePassword},
		{name: "more than the user name", giveUser: "alice_cooper", give: "alice_cooper is me"},
		{name: "common", giveUser: "alice", give: "password", want: errCommonPassword},
		{name: "common in capitals", giveUser: "alice", give: "QWERTYUIOP", want: errCommonPassword},
		{name: "common with spaces", giveUser: "alice", give: " iloveyou ", want: errCommonPassword},
		{name: "one letter repeated", giveUser: "alice", give: "aaaaaaaa", want: errRepeatPassword},
		{name: "one accented letter repeated", giveUser: "alice", give: "éééééééé", want: errRepeatPassword},
		{name: "two letters", giveUser: "alice", give: "aaaaaaab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := validPassword(tc.giveUser, tc.give); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("validPassword(%q, %q) = %v; want %v", tc.giveUser, tc.give, err, tc.want)
			}
		})
	}
	for pw := range commonPasswords {
		if err := validPassword("alice", pw); err == nil {
			t.Errorf("validPassword(%q) = nil; want it refused as common", pw)
		}
	}
}

// TestAuthenticateLongPassword checks that a password longer than bcrypt
// takes does not sign in with its first 72 bytes.
func TestAuthenticateLongPassword(t *testing.T) {
	s, err := openUsers(filepath.Join(t.TempDir(), "users.json"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.Repeat("ab", 36) // 72 bytes
	if _, err := s.create("alice", pw, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := s.authenticate("alice", pw); got != "alice" || err != nil {
		t.Errorf("authenticate(72 bytes) = %q, %v; want alice", got, err)
	}
	if got, err := s.authenticate("alice", pw+"anything"); !errors.Is(err, errBadLogin) {
		t.Errorf("authenticate(72 bytes + more) = %q, %v; want %v", got, err, errBadLogin)
	}
}

// TestSessions checks the user store's record of signed-in browsers: a
// session is valid until it ends or expires, survives a reopen, and a
// user keeps at most maxSessions.
func TestSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	s, err := openUsers(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob"} {
		if _, err := s.create(name, "password-"+name, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	later := now.Add(time.Hour)
	a1, err := s.startSession("alice", now, later)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.startSession("alice", now, later)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := s.startSession("bob", now, later)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.startSession("nobody", now, later); !errors.Is(err, errSessionNotFound) {
		t.Errorf("startSession(nobody) = %v; want %v", err, errSessionNotFound)
	}
	if err := s.endSession("alice", a1); err != nil {
		t.Fatalf("endSession(a1) = %v", err)
	}
	if err := s.endSession("alice", a1); !errors.Is(err, errSessionNotFound) {
		t.Errorf("endSession(a1) again = %v; want %v", err, errSessionNotFound)
	}
	if err := s.endSession("alice", b1); !errors.Is(err, errSessionNotFound) {
		t.Errorf("endSession(alice, bob's session) = %v; want %v", err, errSessionNotFound)
	}

	reopened, err := openUsers(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		giveUser string
		giveID   string
		giveNow  time.Time
		want     bool
	}{
		{name: "live session", giveUser: "alice", giveID: a2, giveNow: now, want: true},
		{name: "ended session", giveUser: "alice", giveID: a1, giveNow: now},
		{name: "another user's session", giveUser: "alice", giveID: b1, giveNow: now},
		{name: "own session of the other user", giveUser: "bob", giveID: b1, giveNow: now, want: true},
		{name: "name in another case", giveUser: "Alice", giveID: a2, giveNow: now},
		{name: "expired", giveUser: "alice", giveID: a2, giveNow: later},
		{name: "no id", giveUser: "alice", giveID: "", giveNow: now},
		{name: "the stored hash as an id", giveUser: "alice", giveID: sessionHash(a2), giveNow: now},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := reopened.validSession(tc.giveUser, tc.giveID, tc.giveNow); got != tc.want {
				t.Errorf("validSession(%s, %.8s…, %v) = %v; want %v", tc.giveUser, tc.giveID, tc.giveNow.Sub(now), got, tc.want)
			}
		})
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(a2)) {
		t.Error("users.json holds a session id; want only its hash")
	}

	// More than maxSessions sign-ins: the oldest are signed out, and
	// expired ones are dropped when the next starts.
	ids := make([]string, maxSessions+5)
	for i := range ids {
		if ids[i], err = reopened.startSession("bob", now, later); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		if got, want := reopened.validSession("bob", id, now), i >= 5; got != want {
			t.Errorf("session %d of %d: valid %v; want %v", i+1, len(ids), got, want)
		}
	}
	if _, err := reopened.startSession("bob", later, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if u, _ := reopened.lookup("bob"); len(u.Sessions) != 1 {
		t.Errorf("bob has %d sessions after the others expired; want 1", len(u.Sessions))
	}
}

// TestSessionsConcurrent starts sessions from many goroutines at once:
// every one that returned must be in the file, however the writes of the
// file interleaved.
func TestSessionsConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	s, err := openUsers(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.create("alice", "password-alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ids := make([]string, maxSessions)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := s.startSession("alice", now, now.Add(time.Hour))
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
			_ = s.validSession("alice", id, now) // reads while others write
		})
	}
	wg.Wait()
	reopened, err := openUsers(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if !reopened.validSession("alice", id, now) {
			t.Errorf("session %d is not in the file after startSession returned", i)
		}
	}
}
