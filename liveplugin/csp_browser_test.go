package liveplugin_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
)

// TestBrowserContentSecurityPolicy loads the plugin's pages in Chromium
// under their Content-Security-Policy: their widgets start (the player of
// an offline room fetches its status) and none violates the policy. In an
// app's override of a view, an inline script runs with the response's
// nonce, and one without is blocked and reported.
func TestBrowserContentSecurityPolicy(t *testing.T) {
	views := fstest.MapFS{"watch.html": {Data: []byte(`{{define "amlive-content"}}
<h1>{{.Room}}</h1>
<script nonce="{{.Nonce}}">window.withNonce = true;</script>
<script>window.withoutNonce = true;</script>
{{template "amlive-player" .}}
{{end}}`)}}
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, Views: views})
	b := chrometest.New(t)

	for _, page := range []struct{ path, ready string }{
		{"/live/", `document.querySelector('.amlive-empty') !== null`},
		{"/live/" + browserRoom + "/embed", chrometest.PlayerIn("document", "offline")},
		{"/live/" + browserRoom + "/broadcast", chrometest.BroadcasterIs("idle")},
	} {
		tab := b.NewTab(t, page.path)
		tab.Navigate(srv.url + page.path)
		tab.WaitFor(page.ready, browserLiveTimeout)
		chrometest.CheckNoPageErrors(t, tab)
	}

	tab := b.NewTab(t, "overridden watch page")
	tab.Navigate(srv.url + "/live/" + browserRoom)
	tab.WaitFor(chrometest.PlayerIn("document", "offline"), browserLiveTimeout)
	type ran struct{ With, Without bool }
	if got := chrometest.Eval[ran](tab, `({With: window.withNonce === true, Without: window.withoutNonce === true})`); !got.With || got.Without {
		t.Errorf("inline scripts ran: with the nonce %v, without %v; want only the one with", got.With, got.Without)
	}
	errs := tab.Errors()
	want := "Content-Security-Policy violation: script-src-elem blocked inline ("
	if len(errs) != 1 || !strings.HasPrefix(errs[0], want) {
		t.Errorf("page errors %q; want one: %q", errs, want)
	}
}
