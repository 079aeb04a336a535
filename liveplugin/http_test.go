package liveplugin_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestMetaAndStatus follows a room from offline to live to ended through
// its meta and status routes.
func TestMetaAndStatus(t *testing.T) {
	fx := fixture.Load(t, "vp9-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})

	resp, _ := get(t, http.MethodGet, s.URL+"/live/alice/meta", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("meta offline = %d; want 404", resp.StatusCode)
	}
	var st struct {
		Room       string
		Live       bool
		Broadcast  string
		MIMEType   string
		Container  string
		Codecs     []string
		Viewers    int
		Recordings []struct {
			ID, URL    string
			Container  string
			Codecs     []string
			Live       bool
			Seekable   bool
			Bytes      int64
			DurationMs int64
		}
	}
	status := func() {
		t.Helper()
		resp, body := get(t, http.MethodGet, s.URL+"/live/alice/status", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d", resp.StatusCode)
		}
		st.Recordings = nil
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
	}
	status()
	if st.Live || st.Room != "alice" || len(st.Recordings) != 0 {
		t.Errorf("status offline = %+v; want not live, no recordings", st)
	}

	pub, id := publish(t, ctx, s, "alice")
	viewer := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
	s.waitBytes(t, ctx, "alice", int64(len(fx.Chunks[0])))
	resp, body := get(t, http.MethodGet, s.URL+"/live/alice/meta", nil)
	want := `video/webm; codecs="vp9,opus"`
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != want || !bytes.Equal(body, withoutAlpha(t, fx.Full, fx.St.InitSegmentEnd)[:fx.St.InitSegmentEnd]) {
		t.Errorf("meta live = %d %q, %d bytes; want 200 %q and the init segment", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), want)
	}
	status()
	if !st.Live || st.Broadcast != id || st.MIMEType != want || st.Viewers != 1 || len(st.Recordings) != 1 || !st.Recordings[0].Live {
		t.Errorf("status live = %+v; want live %s with 1 viewer and a recording in progress", st, id)
	}
	if st.Container != "webm" || !slices.Equal(st.Codecs, []string{"vp9", "opus"}) {
		t.Errorf("status live says container %q, codecs %q; want webm, [vp9 opus]", st.Container, st.Codecs)
	}

	for _, c := range fx.Chunks[1:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	viewer.closed(t, ctx)
	status()
	if st.Live || len(st.Recordings) != 1 {
		t.Fatalf("status ended = %+v; want offline with one recording", st)
	}
	r := st.Recordings[0]
	fi, err := os.Stat(filepath.Join(s.dir, "alice", id+".webm"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != id || r.Live || !r.Seekable || r.Bytes != fi.Size() || r.URL != "/live/alice/playback?b="+id {
		t.Errorf("recording = %+v; want %s, finished, sealed, %d bytes", r, id, fi.Size())
	}
	if r.Container != "webm" || !slices.Equal(r.Codecs, []string{"vp9", "opus"}) {
		t.Errorf("recording says container %q, codecs %q; want webm, [vp9 opus]", r.Container, r.Codecs)
	}
	// The last block is at about 12 s.
	if r.DurationMs < 11000 || r.DurationMs > 13000 {
		t.Errorf("recording duration = %d ms; want about 12000", r.DurationMs)
	}
	resp, body = get(t, http.MethodGet, s.URL+"/live/alice/recordings", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), id) {
		t.Errorf("recordings = %d %s; want the list", resp.StatusCode, body)
	}
}

func TestHTTPErrors(t *testing.T) {
	s := newServer(t, liveplugin.Config{})
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{"invalid room", http.MethodGet, "/live/-x/status", http.StatusBadRequest},
		{"too long room", http.MethodGet, "/live/" + strings.Repeat("a", 65) + "/status", http.StatusBadRequest},
		{"dots", http.MethodGet, "/live/..%2F..%2Fetc/status", http.StatusBadRequest},
		{"no recording", http.MethodGet, "/live/alice/playback", http.StatusNotFound},
		{"unknown recording", http.MethodGet, "/live/alice/playback?b=20260101T000000Z-abcdef", http.StatusNotFound},
		{"bad broadcast id", http.MethodGet, "/live/alice/playback?b=../../x", http.StatusBadRequest},
		{"hidden broadcast id", http.MethodGet, "/live/alice/playback?b=.x", http.StatusBadRequest},
		{"broadcast id with a slash", http.MethodGet, "/live/alice/playback?b=a%2Fb", http.StatusBadRequest},
		{"broadcast id too long", http.MethodGet, "/live/alice/playback?b=" + strings.Repeat("a", 65), http.StatusBadRequest},
		{"broadcast id of no recording", http.MethodGet, "/live/alice/playback?b=x.json", http.StatusNotFound},
		{"markup in a room id", http.MethodGet, "/live/%3Cscript%3E/status", http.StatusBadRequest},
		{"reserved room", http.MethodGet, "/live/api/status", http.StatusNotFound},
		{"reserved room in another case", http.MethodGet, "/live/Static/recordings", http.StatusNotFound},
		{"reserved room upload", http.MethodGet, "/live/rooms/upload", http.StatusNotFound},
		{"reserved room page", http.MethodGet, "/live/API", http.StatusNotFound},
		{"upload without upgrade", http.MethodGet, "/live/alice/upload", http.StatusUpgradeRequired},
		{"broadcast page, nobody may publish", http.MethodGet, "/live/alice/broadcast", http.StatusForbidden},
		{"delete, nobody may manage", http.MethodDelete, "/live/alice/recordings/x", http.StatusForbidden},
		{"unknown asset", http.MethodGet, "/live/assets/nope.js", http.StatusNotFound},
		{"watch page", http.MethodGet, "/live/alice", http.StatusOK},
		{"embed page", http.MethodGet, "/live/alice/embed", http.StatusOK},
		{"rooms page", http.MethodGet, "/live/", http.StatusOK},
		{"rooms JSON", http.MethodGet, "/live/rooms", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.method, s.URL+tc.path, nil)
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s = %d %s; want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
			}
			if tc.want >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("error Content-Type = %q; want JSON", resp.Header.Get("Content-Type"))
			}
			// Errors say what went wrong in words, never where or in Go.
			var e struct{ Message string }
			if tc.want >= 400 && (json.Unmarshal(body, &e) != nil || e.Message == "" ||
				strings.ContainsAny(e.Message, ":/") || strings.Contains(e.Message, "liveplugin")) {
				t.Errorf("error body %s; want a message in words only", body)
			}
		})
	}
}

func TestPagesAndAssets(t *testing.T) {
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	resp, body := get(t, http.MethodGet, s.URL+"/live/alice", nil)
	page := string(body)
	for _, want := range []string{`data-amlive-player`, `data-room="alice"`, `data-base="/live"`, `/live/assets/player.js?v=`, `/live/alice/embed`, `/live/alice/broadcast`} {
		if !strings.Contains(page, want) {
			t.Errorf("watch page lacks %q", want)
		}
	}
	if got := resp.Header.Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Errorf("watch page X-Frame-Options = %q; want SAMEORIGIN", got)
	}
	resp, _ = get(t, http.MethodGet, s.URL+"/live/alice/embed", nil)
	if got := resp.Header.Get("X-Frame-Options"); got != "" {
		t.Errorf("embed page X-Frame-Options = %q; want none (it is meant to be framed)", got)
	}
	_, body = get(t, http.MethodGet, s.URL+"/live/alice/broadcast", nil)
	if !strings.Contains(string(body), "data-amlive-broadcaster") {
		t.Error("broadcast page lacks the broadcaster widget")
	}

	// Versioned asset URLs are immutable; a revalidation gets 304.
	i := strings.Index(page, "/live/assets/player.js?v=")
	url := page[i : i+strings.IndexByte(page[i:], '"')]
	resp, body = get(t, http.MethodGet, s.URL+url, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || len(body) == 0 {
		t.Errorf("asset = %d %q; want 200, immutable", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("asset Content-Type = %q", ct)
	}
	resp, _ = get(t, http.MethodGet, s.URL+"/live/assets/player.js", http.Header{"If-None-Match": {resp.Header.Get("ETag")}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation = %d; want 304", resp.StatusCode)
	}
}

func TestViewsOverride(t *testing.T) {
	views := fstest.MapFS{
		"player.html": {Data: []byte(`{{define "amlive-player"}}<div id="custom-player" data-room="{{.Room}}"></div>{{end}}`)},
		"watch.html":  {Data: []byte(`{{define "watch"}}<h1>My site: {{.Room}}</h1>{{template "amlive-player" .}}{{end}}`)},
	}
	s := newServer(t, liveplugin.Config{Views: views})
	_, body := get(t, http.MethodGet, s.URL+"/live/alice", nil)
	if want := `<h1>My site: alice</h1><div id="custom-player" data-room="alice"></div>`; string(body) != want {
		t.Errorf("watch page = %q; want %q", body, want)
	}
	html, err := s.p.PlayerHTML("alice")
	if err != nil || !strings.Contains(string(html), "custom-player") {
		t.Errorf("PlayerHTML = %q, %v; want the app's player", html, err)
	}
	// The embed page keeps the default layout, with the app's player.
	_, body = get(t, http.MethodGet, s.URL+"/live/alice/embed", nil)
	if !strings.Contains(string(body), "custom-player") || !strings.Contains(string(body), "<!DOCTYPE html>") {
		t.Errorf("embed page = %q; want the default page with the app's player", body)
	}
}

func TestBrokenViewsFailRegister(t *testing.T) {
	e := echo.New()
	_, err := liveplugin.Register(e.Group("/live"), liveplugin.Config{
		Dir:   t.TempDir(),
		Views: fstest.MapFS{"watch.html": {Data: []byte(`{{define "watch"}}{{.Room`)}},
	})
	if err == nil || !strings.Contains(err.Error(), "watch.html") {
		t.Errorf("Register = %v; want an error naming watch.html", err)
	}
	if len(e.Routes()) != 0 {
		t.Errorf("Register mounted %d routes despite the error", len(e.Routes()))
	}
}

func TestFuncMapInAppTemplate(t *testing.T) {
	s := newServer(t, liveplugin.Config{})
	tmpl := template.Must(template.New("profile").Funcs(s.p.FuncMap()).Parse(
		`<head>{{amliveHead}}</head><main>{{amlivePlayer "bob"}}{{amliveBroadcaster "bob"}}</main>`))
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/live/assets/live.css?v=", "data-amlive-player", "data-amlive-broadcaster", `data-room="bob"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	if err := template.Must(template.New("x").Funcs(s.p.FuncMap()).Parse(`{{amlivePlayer "../x"}}`)).Execute(&buf, nil); !errors.Is(err, liveplugin.ErrInvalidRoom) {
		t.Errorf("amlivePlayer with a bad room = %v; want ErrInvalidRoom", err)
	}
}

func TestRegisterValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		give liveplugin.Config
		want string
	}{
		{"negative message size", liveplugin.Config{MaxMessageBytes: -1}, "MaxMessageBytes must be > 0, got -1"},
		{"negative idle", liveplugin.Config{IdleTimeout: -time.Second}, "IdleTimeout must be > 0"},
		{"viewers over total", liveplugin.Config{MaxViewers: 10, MaxTotalViewers: 5}, "MaxViewers (10) must not exceed MaxTotalViewers (5)"},
		{"negative sync interval", liveplugin.Config{SyncInterval: -1}, "SyncInterval must be > 0, got -1"},
		{"negative ping interval", liveplugin.Config{PingInterval: -1}, "PingInterval must be > 0, got -1"},
		{"negative keep", liveplugin.Config{KeepRecordings: -1}, "KeepRecordings must be >= 0, got -1"},
		{"negative max bytes", liveplugin.Config{MaxRecordingBytes: -1}, "MaxRecordingBytes must be >= 0, got -1"},
		{"negative max age", liveplugin.Config{MaxRecordingAge: -1}, "MaxRecordingAge must be >= 0, got -1"},
		{"capture over the bitrate", liveplugin.Config{Capture: liveplugin.Capture{VideoBitsPerSecond: 19_950_000, AudioBitsPerSecond: 128_000}},
			"Capture.VideoBitsPerSecond + Capture.AudioBitsPerSecond (20078000) must not exceed MaxBitrate (20000000)"},
		{"capture too small", liveplugin.Config{Capture: liveplugin.Capture{MaxWidth: 8}}, "Capture.MaxWidth must be in [16, 7680], got 8"},
		{"capture frame rate", liveplugin.Config{Capture: liveplugin.Capture{MaxFrameRate: -1}}, "Capture.MaxFrameRate must be in [1, 240], got -1"},
		{"capture audio", liveplugin.Config{Capture: liveplugin.Capture{AudioBitsPerSecond: -1}}, "Capture.AudioBitsPerSecond must be > 0, got -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.give.Dir = t.TempDir()
			_, err := liveplugin.Register(echo.New(), tc.give)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Register = %v; want %q", err, tc.want)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("MustRegister with a bad Config did not panic")
		}
	}()
	liveplugin.MustRegister(echo.New(), liveplugin.Config{MaxRooms: -1})
}

// TestRegisterLeavesAppAlone: the plugin only adds routes under its group.
func TestRegisterLeavesAppAlone(t *testing.T) {
	e := echo.New()
	handler := e.HTTPErrorHandler
	p, err := liveplugin.Register(e.Group("/live"), liveplugin.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	if e.Renderer != nil {
		t.Error("Register set e.Renderer")
	}
	if e.HTTPErrorHandler == nil || handler == nil {
		t.Error("error handler lost")
	}
	for _, r := range e.Routes() {
		if r.Path != "/live" && !strings.HasPrefix(r.Path, "/live/") {
			t.Errorf("route %s %s outside the group", r.Method, r.Path)
		}
	}
	// The app's own routes still work, with the app's middleware only.
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "home") })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Body.String() != "home" {
		t.Errorf("app route = %q", rec.Body.String())
	}
	if got := p.Base(); got != "/live" {
		t.Errorf("Base() = %q; want /live", got)
	}
}

// TestDeleteRecording: Manage permission deletes a finished recording.
func TestDeleteRecording(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 20*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	id := record(t, ctx, s, "alice", fx.Chunks[:5])
	resp, _ := get(t, http.MethodDelete, s.URL+"/live/alice/recordings/"+id, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE = %d; want 204", resp.StatusCode)
	}
	resp, _ = get(t, http.MethodGet, s.URL+"/live/alice/playback?b="+id, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("playback after DELETE = %d; want 404", resp.StatusCode)
	}
}

func TestSignInRedirect(t *testing.T) {
	signIn := func(_ echo.Context, _ string, a liveplugin.Action) error {
		if a == liveplugin.View {
			return nil
		}
		return liveplugin.ErrSignInRequired
	}
	tests := []struct {
		name      string
		signInURL string
		want      int
		wantLoc   string
	}{
		{"redirect", "/login", http.StatusSeeOther, "/login?next=%2Flive%2Falice%2Fbroadcast"},
		{"no sign-in URL", "", http.StatusUnauthorized, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, liveplugin.Config{Authorize: signIn, SignInURL: tc.signInURL})
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Get(s.URL + "/live/alice/broadcast")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want || resp.Header.Get("Location") != tc.wantLoc {
				t.Errorf("broadcast page = %d %q; want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.want, tc.wantLoc)
			}
		})
	}
}

func TestStatusLookup(t *testing.T) {
	ctx := testContext(t, 10*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	if _, ok := s.p.Status("alice"); ok {
		t.Error("Status of an offline room reports live")
	}
	pub, id := publish(t, ctx, s, "alice")
	if b, ok := s.p.Status("alice"); ok {
		t.Errorf("Status before the stream's header = %+v; want not live", b)
	}
	chunk := fixture.Load(t, "vp8-opus-250ms-kf2s").Chunks[0]
	pub.send(t, ctx, websocket.MessageBinary, chunk)
	s.waitBytes(t, ctx, "alice", int64(len(chunk)))
	b, ok := s.p.Status("alice")
	if !ok || b.ID != id || b.Room != "alice" || b.URL != "/live/alice" || b.MIMEType == "" {
		t.Errorf("Status = %+v, %v; want live broadcast %s with its MIME type", b, ok, id)
	}
}

func TestBitrateMustAllowAMessage(t *testing.T) {
	_, err := liveplugin.Register(echo.New(), liveplugin.Config{Dir: t.TempDir(), MaxBitrate: 100_000})
	if err == nil || !strings.Contains(err.Error(), "MaxMessageBytes") {
		t.Errorf("Register = %v; want an error about MaxMessageBytes and MaxBitrate", err)
	}
}
