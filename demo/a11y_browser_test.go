package main

import (
	"testing"
	"time"

	"github.com/amlive/amlive/internal/chrometest"
)

// TestBrowserAccessibility runs axe-core on the demo's pages, signed out
// (home, sign in, sign up) and signed in (a profile as its owner, with the
// "Go live" panel, and as a visitor, with the player), and fails on every
// serious or critical violation.
func TestBrowserAccessibility(t *testing.T) {
	axe := chrometest.AxeSource(t)
	s := newSite(t, t.TempDir(), options{IdleTimeout: 2 * time.Minute})
	base := s.ts.URL
	newClient(t, base).mustSignUp("alice")
	tab := chrometest.New(t).NewTab(t, "a11y")

	check := func(path, ready string) {
		t.Helper()
		tab.Navigate(base + path)
		tab.WaitFor(`document.readyState === 'complete' && (`+ready+`)`, browserTimeout)
		if got := chrometest.CheckAccessibility(t, tab, axe); len(got) > 0 {
			t.Logf("%s: %d serious violations", path, len(got))
		}
	}
	check("/", jsAt("/", ""))
	check("/login", jsAt("/login", ""))
	check("/signup", jsAt("/signup", ""))
	signUpInBrowser(t, tab, base, "bob")
	check("/u/bob", jsAt("/u/bob", "bob")+` && `+chrometest.BroadcasterIs("idle"))
	check("/u/alice", jsAt("/u/alice", "bob")+` && `+chrometest.PlayerIn("document", "offline"))
}
