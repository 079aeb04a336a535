package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/amlive/amlive/liveplugin"
)

// minPassword is the shortest password accepted at sign-up, in
// characters (runes), not counting spaces at either end.
const minPassword = 8

// maxPassword is the longest, in bytes: bcrypt looks at 72 bytes at most,
// and a longer password is refused rather than silently cut.
const maxPassword = 72

// maxSessions is how many browsers a user may be signed in on at once;
// signing in on one more signs out the oldest.
const maxSessions = 20

// Sign-up and sign-in errors; their text is shown in the forms.
var (
	errInvalidName     = errors.New("user names are 1 to 64 letters, digits, '_' or '-', starting with a letter or digit")
	errReservedName    = errors.New("this user name is reserved")
	errNameTaken       = errors.New("this user name is taken")
	errBlankPassword   = errors.New("a password of only spaces is no password: use letters, digits or symbols too")
	errShortPassword   = fmt.Errorf("passwords have at least %d characters, not counting spaces at either end", minPassword)
	errLongPassword    = fmt.Errorf("passwords have at most %d bytes: a plain letter or digit takes 1, an accented letter 2, most other characters 3 or 4", maxPassword)
	errNamePassword    = errors.New("the password must not be your user name")
	errCommonPassword  = errors.New("this password is one of the first that attackers try; choose another")
	errRepeatPassword  = errors.New("a password of one character repeated is easy to guess; choose another")
	errBadLogin        = errors.New("wrong user name or password")
	errSessionNotFound = errors.New("users: no such session")
)

// commonPasswords are the most common passwords of 8 characters or more
// in public breach corpora, and the site's own name, in lower case. A
// real site would check a larger list (NIST SP 800-63B asks for one of
// passwords known to be compromised).
var commonPasswords = map[string]bool{
	"password": true, "password1": true, "password12": true, "password123": true, "password1234": true,
	"passw0rd": true, "p@ssw0rd": true, "p@ssword": true, "pa$$word": true,
	"12345678": true, "123456789": true, "1234567890": true, "0123456789": true, "87654321": true,
	"987654321": true, "12341234": true, "11223344": true, "12121212": true, "123123123": true,
	"1q2w3e4r": true, "1q2w3e4r5t": true, "1qaz2wsx": true, "zaq12wsx": true, "q1w2e3r4": true,
	"qwertyui": true, "qwertyuiop": true, "qwerty123": true, "qwerty12": true, "1234qwer": true,
	"qwer1234": true, "asdfghjk": true, "asdfghjkl": true, "asdf1234": true, "zxcvbnm1": true,
	"abcd1234": true, "abc12345": true, "abcdefgh": true, "abcdefg1": true, "a1b2c3d4": true,
	"iloveyou": true, "iloveyou1": true, "sunshine": true, "princess": true, "football": true,
	"baseball": true, "superman": true, "batman123": true, "trustno1": true, "letmein1": true,
	"letmein123": true, "welcome1": true, "welcome123": true, "whatever": true, "starwars": true,
	"dragon123": true, "computer": true, "michelle": true, "jennifer": true, "internet": true,
	"liverpool": true, "chelsea1": true, "charlie1": true, "shadow12": true, "master12": true,
	"changeme": true, "administrator": true, "admin123": true, "admin1234": true, "secret123": true,
	"amlive": true, "amlivedemo": true, "amlive123": true,
}

// user is one account. Its name is also its live room.
type user struct {
	Name     string          `json:"name"`
	Hash     string          `json:"hash"` // bcrypt
	Created  time.Time       `json:"created"`
	Sessions []sessionRecord `json:"sessions,omitempty"` // signed-in browsers, oldest first
}

// sessionRecord is one signed-in browser of a user. The browser's cookie
// carries the session's secret id; the store keeps only its SHA-256, so
// that users.json alone does not let anyone make a session.
type sessionRecord struct {
	ID      string    `json:"id"` // hex SHA-256 of the session id
	Expires time.Time `json:"expires"`
}

// userStore keeps the accounts in memory and in a JSON file.
//
// Why a JSON file: it adds no dependency and no service to run, and a demo
// has a handful of users. Every change rewrites the whole file atomically
// (temporary file, fsync, rename), so a crash leaves the old or the new
// version, never half of one. A real site would use its database.
//
// Its methods are safe for concurrent use.
type userStore struct {
	path string
	cost int // bcrypt cost

	// dummy is compared against when a user does not exist, so that a
	// wrong name takes as long as a wrong password.
	dummy []byte

	// saveMu orders the writes of the file, which are made without mu
	// held, so that a sign-in's fsync does not stall every request that
	// checks a session. It is taken before mu, never under it.
	saveMu sync.Mutex
	saved  uint64 // the version the file holds

	mu      sync.Mutex
	users   map[string]user // by lower-case name: names differ in more than case
	version uint64          // of users: one more at every change
}

// openUsers loads the accounts in path; a missing file is no accounts.
func openUsers(path string, cost int) (*userStore, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("not anyone's password"), cost)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	s := &userStore{path: path, cost: cost, dummy: dummy, users: make(map[string]user)}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	var list []user
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("users: %s: %w", path, err)
	}
	for _, u := range list {
		s.users[strings.ToLower(u.Name)] = u
	}
	return s, nil
}

// validName reports why name cannot be a user name, or nil. A user name is
// a room id (liveplugin.ValidRoom), so that /live/<name> is the user's room.
func validName(name string) error {
	err := liveplugin.ValidRoom(name)
	switch {
	case errors.Is(err, liveplugin.ErrReservedRoom):
		return errReservedName
	case err != nil:
		return errInvalidName
	}
	return nil
}

// validPassword reports why pw cannot be the password of the user name,
// or nil. The rules are NIST SP 800-63B's: a minimum length in characters,
// a maximum the hash can take, and no password an attacker tries first
// (the user name, a common password, one character repeated). Nothing
// else is asked for: no mix of classes, spaces allowed. The password is
// hashed as typed; spaces at its ends just do not count towards the
// minimum, so that "       a" is one character.
func validPassword(name, pw string) error {
	trimmed := strings.TrimSpace(pw)
	switch {
	case trimmed == "" && pw != "":
		return errBlankPassword
	case utf8.RuneCountInString(trimmed) < minPassword:
		return errShortPassword
	case len(pw) > maxPassword:
		return errLongPassword
	case strings.EqualFold(trimmed, name):
		return errNamePassword
	case commonPasswords[strings.ToLower(trimmed)]:
		return errCommonPassword
	case isRepeat(trimmed):
		return errRepeatPassword
	}
	return nil
}

// isRepeat reports whether s is one character repeated.
func isRepeat(s string) bool {
	first, size := utf8.DecodeRuneInString(s)
	return strings.Count(s, string(first))*size == len(s)
}

// create adds an account and saves the file.
func (s *userStore) create(name, password string, now time.Time) (user, error) {
	if err := validName(name); err != nil {
		return user{}, err
	}
	if err := validPassword(name, password); err != nil {
		return user{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return user{}, fmt.Errorf("users: hash: %w", err)
	}
	u := user{Name: name, Hash: string(hash), Created: now.UTC()}
	key := strings.ToLower(name)

	s.mu.Lock()
	if _, ok := s.users[key]; ok {
		s.mu.Unlock()
		return user{}, errNameTaken
	}
	s.users[key] = u
	s.version++
	s.mu.Unlock()
	if err := s.save(); err != nil {
		s.mu.Lock()
		if s.users[key].Hash == u.Hash {
			delete(s.users, key)
			s.version++
		}
		s.mu.Unlock()
		return user{}, err
	}
	return u, nil
}

// authenticate returns the account name (as it was signed up) if password
// is right, or errBadLogin.
func (s *userStore) authenticate(name, password string) (string, error) {
	u, ok := s.lookup(name)
	hash := []byte(u.Hash)
	if !ok {
		hash = s.dummy
	}
	// A password longer than bcrypt takes was never accepted at sign-up;
	// its first 72 bytes must not sign in. It is hashed all the same, so
	// that it takes as long as any other wrong password.
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok || len(password) > maxPassword {
		return "", errBadLogin
	}
	return u.Name, nil
}

// lookup finds an account by name, in any case.
func (s *userStore) lookup(name string) (user, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(name)]
	return u, ok
}

// startSession records a new signed-in browser of the account name, valid
// until expires, saves the file, and returns the session's secret id for
// the cookie. Expired sessions of the account are dropped, and the oldest
// beyond maxSessions. Sign-ins are rate-limited, so the file is written
// at most a few times a minute per client.
func (s *userStore) startSession(name string, now, expires time.Time) (string, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // never fails
	id := base64.RawURLEncoding.EncodeToString(raw)

	h := sessionHash(id)
	key := strings.ToLower(name)
	s.mu.Lock()
	u, ok := s.users[key]
	if !ok {
		s.mu.Unlock()
		return "", errSessionNotFound
	}
	u.Sessions = slices.DeleteFunc(slices.Clone(u.Sessions), func(r sessionRecord) bool { return !now.Before(r.Expires) })
	u.Sessions = append(u.Sessions, sessionRecord{ID: h, Expires: expires.UTC()})
	if n := len(u.Sessions) - maxSessions; n > 0 {
		u.Sessions = u.Sessions[n:]
	}
	s.users[key] = u
	s.version++
	s.mu.Unlock()
	if err := s.save(); err != nil {
		s.dropSession(key, h) // not saved: no cookie names it
		return "", err
	}
	return id, nil
}

// validSession reports whether id is a session of the account name that
// has not ended nor expired at now. It reads memory only: it runs on every
// request of a signed-in user.
func (s *userStore) validSession(name, id string, now time.Time) bool {
	if id == "" {
		return false
	}
	h := sessionHash(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(name)]
	if !ok || u.Name != name {
		return false
	}
	for _, r := range u.Sessions {
		if subtle.ConstantTimeCompare([]byte(r.ID), []byte(h)) == 1 {
			return now.Before(r.Expires)
		}
	}
	return false
}

// endSession revokes session id of the account name and saves the file:
// its cookie no longer signs anyone in, wherever it was kept. It returns
// errSessionNotFound if there is no such session.
func (s *userStore) endSession(name, id string) error {
	if !s.dropSession(strings.ToLower(name), sessionHash(id)) {
		return errSessionNotFound
	}
	// If the file cannot be written, the session stays ended in memory
	// and the next write of the file records it.
	return s.save()
}

// dropSession removes the session whose hash is h from the account key,
// in memory, and reports whether there was one.
func (s *userStore) dropSession(key, h string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[key]
	if !ok {
		return false
	}
	n := len(u.Sessions)
	u.Sessions = slices.DeleteFunc(slices.Clone(u.Sessions), func(r sessionRecord) bool { return r.ID == h })
	if len(u.Sessions) == n {
		return false
	}
	s.users[key] = u
	s.version++
	return true
}

// sessionHash is what the store keeps of a session id.
func sessionHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// names returns every account name, sorted.
func (s *userStore) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.Name)
	}
	slices.Sort(out)
	return out
}

// save writes every account to the file, as they are now: when it
// returns nil, the file holds every change made before it was called.
// Writes are made one at a time, under saveMu, and s.mu is held only to
// copy the accounts: a change made while another is written is written
// next (or was already, by a save that started after it).
func (s *userStore) save() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	v := s.version
	if v == s.saved {
		s.mu.Unlock()
		return nil // a save that started after the change wrote it
	}
	list := make([]user, 0, len(s.users))
	for _, u := range s.users {
		list = append(list, u) // Sessions slices are never changed in place
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b user) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := writeFileAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	s.saved = v
	return nil
}

// writeFileAtomic replaces path with data (mode 0600): it writes a
// temporary file in the same directory, syncs it, renames it over path and
// syncs the directory, so that path holds the old or the new data even
// after a crash.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
