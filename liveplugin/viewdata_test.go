package liveplugin_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin"
)

// TestViewData checks that an override of the plugin's header in Views
// gets the app's data for the request from ViewData, as .App.
func TestViewData(t *testing.T) {
	s := newServer(t, liveplugin.Config{
		Views: fstest.MapFS{"site/header.html": {Data: []byte(
			`{{define "amlive-header"}}<header class="site">{{with .App}}signed in as {{.}}{{else}}signed out{{end}}</header>{{end}}`)}},
		ViewData: func(c echo.Context) any {
			if u := c.QueryParam("user"); u != "" {
				return u
			}
			return nil
		},
	})
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "rooms page, signed in", give: "/live/?user=%3Cbob%3E", want: `<header class="site">signed in as &lt;bob&gt;</header>`},
		{name: "watch page, signed in", give: "/live/alice?user=carol", want: `<header class="site">signed in as carol</header>`},
		{name: "signed out", give: "/live/", want: `<header class="site">signed out</header>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, http.MethodGet, s.URL+tc.give, nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
				t.Errorf("GET %s = %d; want 200 with %s; got:\n%s", tc.give, resp.StatusCode, tc.want, body)
			}
		})
	}
}
