package main

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

var nextField = regexp.MustCompile(`name="next"`)

// redirectTests are targets of ?next: the shapes open-redirect checks are
// known to be bypassed with, each of which a browser would follow off the
// site (or to a page that is not a path), and paths of the site, which
// must be kept. want is what localRedirect returns: "" for the default.
var redirectTests = []struct {
	name string
	give string
	want string
}{
	// Kept: paths on this site.
	{name: "path with query and fragment", give: "/live/alice?x=1#t", want: "/live/alice?x=1#t"},
	{name: "profile", give: "/u/bob", want: "/u/bob"},
	{name: "root", give: "/", want: "/"},
	{name: "broadcaster page", give: "/live/alice/broadcast", want: "/live/alice/broadcast"},
	{name: "at sign in the path", give: "/@evil", want: "/@evil"}, // a path: the browser stays on the site
	{name: "encoded query", give: "/u/bob?next=%2F%2Fevil.example", want: "/u/bob?next=%2F%2Fevil.example"},
	{name: "dot segments are resolved", give: "/live/../u/bob", want: "/u/bob"},
	{name: "fullwidth solidus is only a character in a path", give: "/\uff0fevil.example", want: "/%EF%BC%8Fevil.example"},
	{name: "tab inside a path is removed", give: "/u/b\tob", want: "/u/bob"},
	{name: "surrounding spaces are removed", give: "  /u/bob  ", want: "/u/bob"},

	// Tabs and newlines: the browser removes them, then reads "//host".
	{name: "tab between slashes", give: "/\t/evil.example/x", want: ""},
	{name: "newline between slashes", give: "/\n/evil.example", want: ""},
	{name: "carriage return between slashes", give: "/\r/evil.example", want: ""},
	{name: "CRLF between slashes", give: "/\r\n/evil.example", want: ""},
	{name: "tabs everywhere", give: "\t/\t/\tevil.example", want: ""},
	// Backslashes: '\' is '/' in an http(s) URL.
	{name: "slash backslash", give: `/\evil.example`, want: ""},
	{name: "two backslashes", give: `\\evil.example`, want: ""},
	{name: "backslash slash", give: `\/evil.example`, want: ""},
	{name: "slash backslash slash", give: `/\/evil`, want: ""},
	{name: "backslash and tab", give: "/\t\\evil.example", want: ""},
	// Network-path references.
	{name: "two slashes", give: "//evil.example", want: ""},
	{name: "three slashes", give: "///evil", want: ""},
	{name: "two slashes and userinfo", give: "//site.invalid@evil.example", want: ""},
	{name: "dot segment to two slashes", give: "/.//evil.example", want: ""},
	{name: "parent segment to two slashes", give: "/..//evil.example", want: ""},
	{name: "empty segment", give: "/u//bob", want: ""},
	// Encoded forms: a decoding step later must not make a network path.
	{name: "encoded slashes after a slash", give: "/%2F%2Fevil.example", want: ""},
	{name: "encoded slashes only", give: "%2F%2Fevil", want: ""},
	{name: "encoded backslash", give: "/%5Cevil", want: ""},
	{name: "encoded backslash and slash", give: "/%5C/evil", want: ""},
	// Absolute URLs and schemes.
	{name: "https URL", give: "https://evil.example", want: ""},
	{name: "https URL with userinfo", give: "https://site.invalid@evil.example/", want: ""},
	{name: "IDN host", give: "https://еvil.example/", want: ""}, // Cyrillic е
	{name: "backslash and userinfo", give: `/\site.invalid@evil.example`, want: ""},
	{name: "IDN host after two slashes", give: "//еvil.example", want: ""},
	{name: "ideographic full stop host", give: "//evil。example", want: ""},
	{name: "division slash is only a character in a path", give: "/∕evil.example", want: "/%E2%88%95evil.example"},
	{name: "javascript", give: "javascript:alert(1)", want: ""},
	{name: "javascript after a tab", give: "\tjavascript:alert(1)", want: ""},
	{name: "data URL", give: "data:text/html,<script>alert(1)</script>", want: ""},
	{name: "scheme-relative http", give: "http:evil.example", want: ""},
	{name: "scheme-relative http with slashes", give: "http:/\\evil.example", want: ""},
	// Leading spaces and C0 controls: stripped, then "//host".
	{name: "leading space", give: " //evil.example", want: ""},
	{name: "leading NUL", give: "\x00//evil.example", want: ""},
	{name: "leading control characters", give: "\x01\x1f//evil.example", want: ""},
	{name: "leading vertical tab", give: "\v/\\evil.example", want: ""},
	// Not a path at all.
	{name: "empty", give: "", want: ""},
	{name: "relative path", give: "u/bob", want: ""},
	{name: "host-like relative path", give: "evil.example", want: ""},
	{name: "fullwidth solidi", give: "\uff0f\uff0fevil.example", want: ""},
	{name: "control character inside", give: "/u/\x00bob", want: ""},
}

func TestLocalRedirect(t *testing.T) {
	for _, tc := range redirectTests {
		t.Run(tc.name, func(t *testing.T) {
			if got := localRedirect(tc.give); got != tc.want {
				t.Errorf("localRedirect(%q) = %q; want %q", tc.give, got, tc.want)
			}
		})
	}
}

// TestLoginNext signs in with each ?next and checks where the site sends
// the browser, and what the sign-in form carries over.
func TestLoginNext(t *testing.T) {
	s := newSite(t, t.TempDir(), options{LoginBurst: 1000})
	newClient(t, s.ts.URL).mustSignUp("alice")
	for _, tc := range redirectTests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, s.ts.URL)
			want := tc.want
			if want == "" {
				want = "/u/alice"
			}
			form := url.Values{"username": {"alice"}, "password": {"password-alice"}, "next": {tc.give}}
			r := c.submit("/login", "/login", form)
			if r.Status != http.StatusSeeOther || r.Location != want {
				t.Errorf("sign in with next %q = %d %q; want 303 %q", tc.give, r.Status, r.Location, want)
			}
			if r := c.get("/login?next=" + url.QueryEscape(tc.give)); tc.want == "" && r.Status == 200 && nextField.MatchString(r.Body) {
				t.Errorf("sign-in form for next %q carries it over", tc.give)
			}
		})
	}
}
