package liveplugin

import (
	"crypto/rand"
	"encoding/base64"
	"regexp"
	"strings"
)

// newNonce returns a fresh Content-Security-Policy nonce: 128 random bits
// in base64.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return base64.StdEncoding.EncodeToString(b[:])
}

// hostPattern matches a Host header fit to name in a policy: a host name
// or IP literal and a port, nothing that could end a directive.
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// contentSecurityPolicy returns the Content-Security-Policy of the
// plugin's HTML pages. Scripts and styles come from the plugin's assets
// (same origin) or carry nonce; media plays from the recordings (same
// origin) and from the player's MediaSource (blob:); connections go to the
// same origin, its WebSockets included (host, the request's Host header,
// names them for browsers whose 'self' does not cover ws: and wss:).
// Pages that are not framable may be framed by the same origin only.
func contentSecurityPolicy(nonce, host string, framable bool) string {
	connect := "connect-src 'self'"
	if hostPattern.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	d := []string{
		"default-src 'none'",
		"script-src 'self' 'nonce-" + nonce + "'",
		"style-src 'self' 'nonce-" + nonce + "'",
		"img-src 'self' data:",
		"font-src 'self'",
		"media-src 'self' blob:",
		connect,
		"base-uri 'none'",
		"form-action 'self'",
	}
	if !framable {
		d = append(d, "frame-ancestors 'self'")
	}
	return strings.Join(d, "; ")
}
