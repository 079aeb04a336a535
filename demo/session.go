package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"
)

const (
	// sessionName is the name of the session cookie.
	sessionName = "amlive_session"
	// sessionKeyLen is the length of the session key: 32 bytes to sign
	// the cookie (HMAC-SHA256), 32 to encrypt it (AES-256).
	sessionKeyLen = 64
	// Keys of the session's values.
	keyUser     = "user"
	keyIssuedAt = "iat" // Unix seconds of the sign-in
	keySession  = "sid" // the session's id in the user store
	// ctxUser caches the signed-in user of a request in its echo.Context.
	ctxUser = "demo.user"
)

// loadSessionKey returns the session key kept in path, creating it (with
// mode 0600) the first time. Because the key survives restarts, so do the
// sessions; deleting the file signs everybody out.
func loadSessionKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createSessionKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	if len(key) != sessionKeyLen {
		return nil, fmt.Errorf("session key: %s holds %d bytes, want %d (delete it to make a new one)", path, len(key), sessionKeyLen)
	}
	return key, nil
}

// createSessionKey writes a new random key to path, unless another process
// got there first: the key is written to a temporary file, synced, then
// linked to path, which fails if path exists. Either way it returns the
// key that path holds.
func createSessionKey(path string) ([]byte, error) {
	key := make([]byte, sessionKeyLen)
	_, _ = rand.Read(key) // never fails

	// CreateTemp makes the file with mode 0600.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(key)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	} else if err != nil {
		return nil, err
	}
	return key, nil
}

// newCookieStore returns the session store: the session lives in a signed
// and encrypted cookie, HttpOnly, SameSite=Lax, valid for maxAge (the
// signature carries a timestamp, so an old cookie is refused even if a
// browser kept it). Secure is set per request, on HTTPS (see saveSession).
func newCookieStore(key []byte, maxAge time.Duration) *sessions.CookieStore {
	store := sessions.NewCookieStore(key[:32], key[32:])
	store.Options = &sessions.Options{
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	store.MaxAge(int(maxAge / time.Second)) // the cookie's and the signature's
	return store
}

// currentUser returns the name of the signed-in user, or "". A session is
// refused when its cookie does not verify, when it is older than the
// session lifetime, when its user no longer exists, or when the user store
// does not hold it: the cookie is signed but the session it names has been
// signed out (or was dropped as the user's oldest).
func (s *server) currentUser(c echo.Context) string {
	if name, ok := c.Get(ctxUser).(string); ok {
		return name
	}
	name := s.sessionUser(c)
	c.Set(ctxUser, name)
	return name
}

func (s *server) sessionUser(c echo.Context) string {
	sess, err := session.Get(sessionName, c)
	if err != nil {
		return "" // no session store, or a cookie that does not verify
	}
	name, _ := sess.Values[keyUser].(string)
	iat, _ := sess.Values[keyIssuedAt].(int64)
	sid, _ := sess.Values[keySession].(string)
	if name == "" {
		return ""
	}
	// The cookie's own timestamp is checked against the wall clock by
	// securecookie; this check is the app's, against its clock, and stops
	// a session at the same age however the cookie was kept.
	if age := s.now().Sub(time.Unix(iat, 0)); age < -time.Minute || age >= s.opts.SessionMaxAge {
		return ""
	}
	if !s.users.validSession(name, sid, s.now()) {
		return ""
	}
	return name
}

// signIn starts a session for name, replacing (and revoking) any other
// of this browser.
func (s *server) signIn(c echo.Context, name string) error {
	sess, _ := session.Get(sessionName, c) // on error: a new, empty session
	if sess == nil {
		return errors.New("session: no store")
	}
	if err := s.revoke(sess); err != nil {
		return err
	}
	now := s.now()
	sid, err := s.users.startSession(name, now, now.Add(s.opts.SessionMaxAge))
	if err != nil {
		return fmt.Errorf("session: start: %w", err)
	}
	sess.Values = map[any]any{keyUser: name, keyIssuedAt: now.Unix(), keySession: sid}
	c.Set(ctxUser, name)
	return saveSession(c, sess)
}

// signOut ends the session: the user store forgets it, so its cookie signs
// nobody in even if it was copied or kept, and the browser deletes the
// cookie.
func (s *server) signOut(c echo.Context) error {
	sess, _ := session.Get(sessionName, c)
	if sess == nil {
		return errors.New("session: no store")
	}
	if err := s.revoke(sess); err != nil {
		return err
	}
	sess.Values = map[any]any{}
	sess.Options.MaxAge = -1
	c.Set(ctxUser, "")
	return saveSession(c, sess)
}

// revoke removes the session sess names, if any, from the user store. A
// session it does not hold (expired, dropped, signed out elsewhere) is no
// error.
func (s *server) revoke(sess *sessions.Session) error {
	name, _ := sess.Values[keyUser].(string)
	sid, _ := sess.Values[keySession].(string)
	if name == "" || sid == "" {
		return nil
	}
	if err := s.users.endSession(name, sid); err != nil && !errors.Is(err, errSessionNotFound) {
		return fmt.Errorf("session: end: %w", err)
	}
	return nil
}

// saveSession writes the session cookie; it is Secure when the request
// came over HTTPS (directly or, as X-Forwarded-Proto says, via a proxy).
func saveSession(c echo.Context, sess *sessions.Session) error {
	sess.Options.Secure = c.Scheme() == "https" // Options is this session's copy
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	return nil
}
