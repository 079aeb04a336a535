package views

import (
	"bytes"
	"errors"
	"html/template"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

var testAssets = Assets{
	ProtocolJS:    "/live/assets/protocol.js?v=abc123",
	CoreJS:        "/live/assets/core.js?v=abc123",
	WebCodecsJS:   "/live/assets/webcodecs.js?v=abc123",
	PlayerJS:      "/live/assets/player.js?v=abc123",
	BroadcasterJS: "/live/assets/broadcaster.js?v=abc123",
	StatusJS:      "/live/assets/status.js?v=abc123",
	CSS:           "/live/assets/live.css?v=abc123",
}

func samplePage() Page {
	start := time.Date(2026, 2, 1, 12, 30, 0, 0, time.UTC)
	return Page{
		Title:  "alice — live",
		Base:   "/live",
		Room:   "alice",
		Assets: testAssets,
		Live:   true,
		Status: Status{Live: true, Broadcast: "b1", MIMEType: `video/webm; codecs="vp8,opus"`, StartedAt: start, Viewers: 3},
		Recordings: []Recording{
			{ID: "b1", Start: start, URL: "/live/alice/playback?b=b1", Live: true, Bytes: 2048},
			{ID: "b0", Start: start.Add(-time.Hour), End: start.Add(-time.Hour + 62*time.Minute),
				Duration: time.Hour + 2*time.Minute + 3*time.Second, Bytes: 1_234_567, URL: "/live/alice/playback?b=b0"},
		},
		Rooms:      []RoomSummary{{Room: "alice", URL: "/live/alice", Viewers: 3, StartedAt: start}},
		EmbedURL:   "https://example.com/live/alice/embed",
		CanPublish: true,
	}
}

func mustNew(t *testing.T, override fs.FS, funcs template.FuncMap) *Set {
	t.Helper()
	s, err := New(override, funcs)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return s
}

func render(t *testing.T, s *Set, page string, data any) string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Render(&buf, page, data); err != nil {
		t.Fatalf("Render(%s) error = %v", page, err)
	}
	return buf.String()
}

func TestRenderPages(t *testing.T) {
	hostile := samplePage()
	hostile.Title = `<script>alert("x")</script>`
	hostile.Room = `a"><img src=x onerror=alert(1)>`

	offline := samplePage()
	offline.Live = false
	offline.Status = Status{}
	offline.Recordings = nil
	offline.Rooms = nil
	offline.CanPublish = false
	offline.EmbedURL = ""

	scripts := []string{
		`<script src="/live/assets/protocol.js?v=abc123" defer></script>`,
		`<script src="/live/assets/core.js?v=abc123" defer></script>`,
		`<script src="/live/assets/player.js?v=abc123" defer></script>`,
		`<script src="/live/assets/broadcaster.js?v=abc123" defer></script>`,
		`<script src="/live/assets/status.js?v=abc123" data-base="/live" defer></script>`,
		`<link rel="icon" href="data:,">`,
		`<link rel="stylesheet" href="/live/assets/live.css?v=abc123">`,
	}
	tests := []struct {
		name     string
		page     string
		give     Page
		want     []string
		dontWant []string
	}{
		{
			name: "watch live",
			page: PageWatch,
			give: samplePage(),
			want: append([]string{
				"<!DOCTYPE html>", `<html lang="en">`, `name="viewport"`, "<title>alice — live</title>",
				`data-amlive-player data-base="/live" data-room="alice" data-live="true"`,
				`<video class="amlive-video" playsinline muted controls`,
				`data-amlive-status role="status" aria-live="polite"`,
				`data-amlive-unmute hidden`, `data-amlive-golive hidden`, `data-amlive-viewers`,
				"Live since",
				`&lt;iframe src=&#34;https://example.com/live/alice/embed&#34;`,
				`readonly`,
				`href="/live/alice/broadcast"`,
				`href="/live/alice/playback?b=b0"`, "1:02:03", "1.2 MB", "1 Feb 2026 11:30 UTC",
				`datetime="2026-02-01T12:30:00Z"`,
			}, scripts...),
		},
		{
			name: "watch offline without recordings",
			page: PageWatch,
			give: offline,
			want: []string{`data-room="alice" data-live="false"`, "No recordings yet.",
				// Hidden until status.js hears that the room is live, or has a recording.
				`<p class="amlive-meta" data-amlive-show="live" data-room="alice" hidden>Live since`,
				`<table class="amlive-recordings" data-amlive-if-rows hidden>`},
			dontWant: []string{"/alice/broadcast", "iframe"},
		},
		{
			name:     "embed",
			page:     PageEmbed,
			give:     samplePage(),
			want:     append([]string{`<body class="amlive-embed">`, `data-amlive-player data-base="/live" data-room="alice"`}, scripts...),
			dontWant: []string{"amlive-header", "Recordings", "iframe"},
		},
		{
			name: "broadcast",
			page: PageBroadcast,
			give: samplePage(),
			want: append([]string{
				`data-amlive-broadcaster data-base="/live" data-room="alice" data-state="idle"`,
				`muted playsinline`, `data-amlive-start`, `data-amlive-stop disabled`, `data-amlive-status role="status"`,
				`href="/live/alice"`, `value="/live/alice" data-amlive-share`,
			}, scripts...),
			dontWant: []string{"data-amlive-player"},
		},
		{
			name: "rooms",
			page: PageRooms,
			give: samplePage(),
			want: append([]string{"Live now", `<a href="/live/alice">`, `<span data-amlive-field="viewers">3</span> watching`,
				`<p class="amlive-empty" data-amlive-live-empty hidden>Nobody is live`, `<a href="/live/__room__">`}, scripts...),
		},
		{
			name: "rooms empty",
			page: PageRooms,
			give: offline,
			want: []string{"Nobody is live right now."},
		},
		{
			name: "hostile title and room are escaped",
			page: PageWatch,
			give: hostile,
			want: []string{
				"<title>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</title>",
				`data-room="a&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"`,
			},
			dontWant: []string{`<script>alert`, `<img src=x`},
		},
	}
	s := mustNew(t, nil, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, s, tc.page, tc.give)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Render(%s) does not contain %q; got:\n%s", tc.page, w, got)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(got, w) {
					t.Errorf("Render(%s) contains %q; got:\n%s", tc.page, w, got)
				}
			}
		})
	}
}

func TestPartials(t *testing.T) {
	data := PartialData{Base: "https://live.example.com/live", Room: "bob", Assets: testAssets}
	tests := []struct {
		name string
		give string
		data any
		want string
	}{
		{name: "player", give: "amlive-player", data: data,
			want: `data-amlive-player data-base="https://live.example.com/live" data-room="bob" data-live="false"`},
		{name: "broadcaster", give: "amlive-broadcaster", data: data, want: `data-amlive-broadcaster data-base="https://live.example.com/live" data-room="bob"`},
		{name: "head", give: "amlive-head", data: data, want: `<script src="/live/assets/player.js?v=abc123" defer></script>`},
		{name: "recordings", give: "amlive-recordings", data: samplePage().Recordings, want: `<a href="/live/alice/playback?b=b0" data-amlive-recording>Watch</a>`},
	}
	s := mustNew(t, nil, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Partial(tc.give, tc.data)
			if err != nil {
				t.Fatalf("Partial(%s) error = %v", tc.give, err)
			}
			if !strings.Contains(string(got), tc.want) {
				t.Errorf("Partial(%s) = %s; want it to contain %q", tc.give, got, tc.want)
			}
		})
	}
}

// TestHeadScriptOrder checks that the head partial loads the scripts in the
// order they depend on each other: the protocol's constants, the shared
// core, then the widgets; all deferred, so they run in that order.
func TestHeadScriptOrder(t *testing.T) {
	got, err := mustNew(t, nil, nil).Partial("amlive-head", PartialData{Assets: testAssets})
	if err != nil {
		t.Fatalf("Partial(amlive-head) error = %v", err)
	}
	want := []string{testAssets.ProtocolJS, testAssets.CoreJS, testAssets.WebCodecsJS, testAssets.PlayerJS, testAssets.BroadcasterJS, testAssets.StatusJS}
	at := -1
	for _, src := range want {
		tag := `<script src="` + src + `" defer></script>`
		if src == testAssets.StatusJS {
			tag = `<script src="` + src + `" data-base="" defer></script>`
		}
		i := strings.Index(string(got), tag)
		if i < 0 {
			t.Fatalf("amlive-head = %s; want it to contain %s", got, tag)
		}
		if i < at {
			t.Errorf("amlive-head = %s; want %s after the scripts before it in %q", got, src, want)
		}
		at = i
	}
}

func TestOverride(t *testing.T) {
	override := fstest.MapFS{
		"templates/player.html": {Data: []byte(`{{define "amlive-player"}}<div class="my-player" data-room="{{.Room}}"></div>{{end}}`)},
		"watch.html":            {Data: []byte(`{{define "amlive-content"}}<h1>My watch page for {{.Room}}</h1>{{template "amlive-player" .}}{{end}}`)},
		"rooms.html":            {Data: []byte(`{{define "rooms"}}my rooms: {{len .Rooms}}{{end}}`)},
		"notes.txt":             {Data: []byte(`{{ not a template`)},
	}
	s := mustNew(t, override, nil)
	tests := []struct {
		name     string
		page     string
		want     []string
		dontWant []string
	}{
		{name: "watch uses both overrides", page: PageWatch,
			want:     []string{"<h1>My watch page for alice</h1>", `<div class="my-player" data-room="alice">`, "<title>"},
			dontWant: []string{"data-amlive-player", "Recordings"}},
		{name: "embed uses the player override", page: PageEmbed,
			want: []string{`<div class="my-player" data-room="alice">`}, dontWant: []string{"data-amlive-player", "My watch page"}},
		{name: "broadcast is unchanged", page: PageBroadcast,
			want: []string{"data-amlive-broadcaster"}, dontWant: []string{"My watch page"}},
		{name: "rooms page replaced entirely", page: PageRooms,
			want: []string{"my rooms: 1"}, dontWant: []string{"<html"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, s, tc.page, samplePage())
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Render(%s) does not contain %q; got:\n%s", tc.page, w, got)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(got, w) {
					t.Errorf("Render(%s) contains %q; got:\n%s", tc.page, w, got)
				}
			}
		})
	}

	got, err := s.Partial("amlive-player", PartialData{Room: "bob"})
	if err != nil {
		t.Fatalf("Partial(amlive-player) error = %v", err)
	}
	if want := `<div class="my-player" data-room="bob"></div>`; string(got) != want {
		t.Errorf("Partial(amlive-player) = %s; want %s", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		give     fstest.MapFS
		wantName string // the file the error must name
	}{
		{name: "common file syntax error", give: fstest.MapFS{"site/broken.html": {Data: []byte(`{{define "amlive-player"}}{{.Room`)}}, wantName: "site/broken.html"},
		{name: "page file syntax error", give: fstest.MapFS{"watch.html": {Data: []byte(`{{if}}`)}}, wantName: "watch.html"},
		{name: "page file overridden twice", give: fstest.MapFS{"a/embed.html": {}, "b/embed.html": {}}, wantName: "b/embed.html"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.give, nil)
			if err == nil {
				t.Fatalf("New() = %v, nil; want an error", s)
			}
			// The message is the contract here: it must tell the developer which file to fix.
			if !strings.Contains(err.Error(), tc.wantName) {
				t.Errorf("New() error = %q; want it to name %q", err, tc.wantName)
			}
		})
	}
}

func TestRenderErrorWritesNothing(t *testing.T) {
	errBoom := errors.New("boom")
	override := fstest.MapFS{
		"watch.html": {Data: []byte(`{{define "amlive-content"}}<p>half a page</p>{{fail}}{{end}}`)},
	}
	s := mustNew(t, override, template.FuncMap{"fail": func() (string, error) { return "", errBoom }})

	var buf bytes.Buffer
	err := s.Render(&buf, PageWatch, samplePage())
	if !errors.Is(err, errBoom) {
		t.Errorf("Render() error = %v; want %v", err, errBoom)
	}
	if buf.Len() != 0 {
		t.Errorf("Render() wrote %d bytes on error; want 0:\n%s", buf.Len(), buf.String())
	}

	if err := s.Render(&buf, "nope", samplePage()); err == nil {
		t.Error("Render(nope) error = nil; want an error")
	}
	if _, err := s.Partial("nope", nil); err == nil {
		t.Error("Partial(nope) error = nil; want an error")
	}
}

func TestCallerFuncsWin(t *testing.T) {
	s := mustNew(t, nil, template.FuncMap{"formatBytes": func(int64) string { return "lots" }})
	got := render(t, s, PageWatch, samplePage())
	if !strings.Contains(got, `<span data-amlive-field="size">lots</span>`) {
		t.Errorf("Render(watch) does not use the caller's formatBytes; got:\n%s", got)
	}
}

func TestRenderConcurrent(t *testing.T) {
	s := mustNew(t, nil, nil)
	var wg sync.WaitGroup
	for range 8 {
		for _, page := range pages {
			wg.Go(func() {
				var buf bytes.Buffer
				if err := s.Render(&buf, page, samplePage()); err != nil {
					t.Errorf("Render(%s) error = %v", page, err)
				}
				if _, err := s.Partial("amlive-player", PartialData{Room: "x"}); err != nil {
					t.Errorf("Partial() error = %v", err)
				}
			})
		}
	}
	wg.Wait()
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "duration zero", got: FormatDuration(0), want: "0:00"},
		{name: "duration negative", got: FormatDuration(-time.Second), want: "0:00"},
		{name: "duration minutes", got: FormatDuration(62*time.Second + 900*time.Millisecond), want: "1:02"},
		{name: "duration hours", got: FormatDuration(time.Hour + 2*time.Minute + 3*time.Second), want: "1:02:03"},
		{name: "bytes small", got: FormatBytes(999), want: "999 B"},
		{name: "bytes kB", got: FormatBytes(1000), want: "1.0 kB"},
		{name: "bytes MB", got: FormatBytes(1_234_567), want: "1.2 MB"},
		{name: "bytes GB", got: FormatBytes(5_600_000_000), want: "5.6 GB"},
		{name: "time zero", got: FormatTime(time.Time{}), want: ""},
		{name: "time", got: FormatTime(time.Date(2026, 2, 1, 13, 4, 0, 0, time.FixedZone("CET", 3600))), want: "1 Feb 2026 12:04 UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q; want %q", tc.got, tc.want)
			}
		})
	}
}

func TestResolutions(t *testing.T) {
	tests := []struct {
		name          string
		width, height int
		want          []string
	}{
		{name: "720p", width: 1280, height: 720, want: []string{"360p (640×360)", "480p (854×480)", "720p (1280×720)"}},
		{name: "between", width: 1000, height: 1000, want: []string{"360p (640×360)", "480p (854×480)"}},
		{name: "4K", width: 3840, height: 2160, want: []string{"360p (640×360)", "480p (854×480)", "720p (1280×720)", "1080p (1920×1080)", "1440p (2560×1440)", "2160p (3840×2160)"}},
		{name: "below", width: 320, height: 240, want: []string{"320×240"}},
		{name: "none", width: 0, height: 0, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range Resolutions(tc.width, tc.height) {
				got = append(got, r.Label)
				if r.Width > tc.width || r.Height > tc.height {
					t.Errorf("Resolutions(%d, %d) has %dx%d; want none larger", tc.width, tc.height, r.Width, r.Height)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Resolutions(%d, %d) = %q; want %q", tc.width, tc.height, got, tc.want)
			}
		})
	}
}
