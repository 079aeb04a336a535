package main

import (
	"net/url"
	"strings"
)

// redirectBase stands for the site's origin when a redirect target is
// resolved: any http(s) origin gives the same answer, since only a
// target that keeps it is accepted.
var redirectBase = url.URL{Scheme: "http", Host: "site.invalid"}

// localRedirect returns target as a path on this site, or "" when a
// browser could take it anywhere else: a ?next that pointed off-site would
// make the sign-in form an open redirect.
//
// It reads target as a browser reads a Location header (the WHATWG URL
// parser), not as Go does, because the two differ in the places redirect
// checks are bypassed through: the browser first strips leading and
// trailing C0 controls and spaces and removes every tab and newline
// anywhere ("/\t/evil.example" is "//evil.example"), and in an http(s)
// URL it reads '\' as '/' ("/\evil.example" is "//evil.example"). After
// that, target must be a path-absolute URL ("/x", not "//host",
// "scheme:", "x" or "") that, resolved against the site's origin, keeps
// it. Its path, decoded and with dot segments removed, must not hold
// "//" nor '\' either, so that no later step that decodes or
// cleans it (a router, a proxy, another redirect built from the path)
// can turn it into one.
//
// What it returns is the URL as resolved and re-encoded, so the Location
// header carries exactly what was checked: no tab, no newline, no '\'.
func localRedirect(target string) string {
	s := strings.TrimFunc(target, func(r rune) bool { return r <= ' ' }) // C0 control or space
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, s)
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Opaque != "" || u.User != nil || u.Host != "" {
		return ""
	}
	r := redirectBase.ResolveReference(u)
	if r.Scheme != redirectBase.Scheme || r.Host != redirectBase.Host || r.User != nil {
		return ""
	}
	// An empty segment anywhere ("/..//x") is refused: Go removes dot
	// segments around it differently from browsers, which keep "//x".
	for _, p := range []string{u.Path, r.Path} {
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, `\`) {
			return ""
		}
	}
	out := url.URL{Path: r.Path, RawPath: r.RawPath, RawQuery: r.RawQuery, Fragment: r.Fragment, RawFragment: r.RawFragment}
	return out.String()
}
