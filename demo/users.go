package main

import (
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

	"golang.org/x/crypto/bcrypt"

	"github.com/amlive/amlive/liveplugin"
)

// minPassword is the shortest password accepted at sign-up.
const minPassword = 8

// maxPassword is the longest: bcrypt looks at 72 bytes at most.
const maxPassword = 72

// Sign-up and sign-in errors; their text is shown in the forms.
var (
	errInvalidName   = errors.New("user names are 1 to 64 letters, digits, '_' or '-', starting with a letter or digit")
	errReservedName  = errors.New("this user name is reserved")
	errNameTaken     = errors.New("this user name is taken")
	errShortPassword = fmt.Errorf("passwords have at least %d characters", minPassword)
	errLongPassword  = fmt.Errorf("passwords have at most %d bytes", maxPassword)
	errBadLogin      = errors.New("wrong user name or password")
)

// user is one account. Its name is also its live room.
type user struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"` // bcrypt
	Created time.Time `json:"created"`
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

	mu    sync.Mutex
	users map[string]user // by lower-case name: names differ in more than case
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

// validPassword reports why pw cannot be a password, or nil.
func validPassword(pw string) error {
	switch {
	case len([]rune(pw)) < minPassword:
		return errShortPassword
	case len(pw) > maxPassword:
		return errLongPassword
	}
	return nil
}

// create adds an account and saves the file.
func (s *userStore) create(name, password string, now time.Time) (user, error) {
	if err := validName(name); err != nil {
		return user{}, err
	}
	if err := validPassword(password); err != nil {
		return user{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return user{}, fmt.Errorf("users: hash: %w", err)
	}
	u := user{Name: name, Hash: string(hash), Created: now.UTC()}
	key := strings.ToLower(name)

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[key]; ok {
		return user{}, errNameTaken
	}
	s.users[key] = u
	if err := s.saveLocked(); err != nil {
		delete(s.users, key)
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
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok {
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

// saveLocked writes every account to the file. s.mu is held: sign-ups are
// rare, and holding it keeps the writes in order.
func (s *userStore) saveLocked() error {
	list := make([]user, 0, len(s.users))
	for _, u := range s.users {
		list = append(list, u)
	}
	slices.SortFunc(list, func(a, b user) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := writeFileAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("users: %w", err)
	}
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
