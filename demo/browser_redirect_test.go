package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/amlive/amlive/internal/chrometest"
)

// TestBrowserNextStaysOnSite signs in from a link whose ?next a browser
// would read as another site, in Chromium, and checks where the browser
// ends up: on the user's profile, never on the other site (a second local
// server, so that a bypass shows as a page of it rather than as a DNS
// error). With the old check, Chromium did not reach the other site
// either, for another reason: the page's CSP (form-action 'self') stops a
// form's redirect to another origin, so the sign-in went nowhere and this
// test timed out. A browser that does not apply form-action to redirects
// would have followed it.
func TestBrowserNextStaysOnSite(t *testing.T) {
	s := newSite(t, t.TempDir(), options{LoginBurst: 100})
	newClient(t, s.ts.URL).mustSignUp("alice")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<!doctype html><title>another site</title>")
	}))
	defer evil.Close()
	host := strings.TrimPrefix(evil.URL, "http://")
	tab := chrometest.New(t).NewTab(t, "visitor")

	tests := []struct {
		name string
		give string
	}{
		{name: "tab between slashes", give: "/\t/" + host + "/"},
		{name: "tab and backslash", give: "/\t\\" + host + "/"},
		{name: "backslash", give: `/\` + host + "/"},
		{name: "leading control character", give: "\x01//" + host + "/"},
	}
	for _, tc := range tests {
		tab.Navigate(s.ts.URL + "/login?next=" + url.QueryEscape(tc.give))
		tab.Do(
			chromedp.SendKeys(chromedp.CSS(`[data-testid="login-username"]`), "alice"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid="login-password"]`), "password-alice"),
		)
		tab.Click(`[data-testid="login-submit"]`)
		tab.WaitFor(fmt.Sprintf(`location.host === %q || (%s)`, host, jsAt("/u/alice", "alice")), browserTimeout)
		if got := chrometest.Eval[string](tab, `location.href`); !strings.HasPrefix(got, s.ts.URL+"/") {
			t.Errorf("%s: signing in with next %q went to %s; want a page of %s", tc.name, tc.give, got, s.ts.URL)
		}
	}
}
