package liveplugin_test

import (
	"context"
	"fmt"
	"html/template"
	"log"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin"
)

// currentUser stands for the app's own session lookup.
func currentUser(c echo.Context) string { return c.Request().Header.Get("X-User") }

func ExampleRegister() {
	dir, err := os.MkdirTemp("", "amlive-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	e := echo.New()
	p, err := liveplugin.Register(e.Group("/live"), liveplugin.Config{
		Dir: dir,
		// Anyone may watch; a signed-in user may go live in the room named
		// after them, and nowhere else.
		Authorize: func(c echo.Context, room string, a liveplugin.Action) error {
			if a == liveplugin.View {
				return nil
			}
			switch currentUser(c) {
			case "":
				return liveplugin.ErrSignInRequired
			case room:
				return nil
			}
			return liveplugin.ErrForbidden
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	fmt.Println(p.WatchURL("alice"))
	for _, r := range e.Routes() {
		if r.Path == "/live/:id/upload" {
			fmt.Println(r.Method, r.Path)
		}
	}
	// Output:
	// /live/alice
	// GET /live/:id/upload
}

func ExamplePlugin_Close() {
	dir, err := os.MkdirTemp("", "amlive-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	e := echo.New()
	p := liveplugin.MustRegister(e, liveplugin.Config{Dir: dir})

	// On SIGTERM: stop taking requests, then end the broadcasts. Echo's
	// Shutdown does not wait for WebSockets; Close does.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	if err := p.Close(ctx); err != nil {
		log.Print(err)
	}
	fmt.Println("broadcasts ended, recordings finished")
	// Output: broadcasts ended, recordings finished
}

func ExamplePlugin_FuncMap() {
	dir, err := os.MkdirTemp("", "amlive-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	p := liveplugin.MustRegister(echo.New().Group("/live"), liveplugin.Config{Dir: dir})
	defer p.Close(context.Background())

	// In the app's own templates:
	//
	//	<head>{{amliveHead}}</head>
	//	<body>{{amlivePlayer .User.Name}}</body>
	_, ok := p.FuncMap()["amlivePlayer"]
	fmt.Println(ok)
	// Output: true
}

func ExamplePlugin_EmbedURL() {
	dir, err := os.MkdirTemp("", "amlive-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	p := liveplugin.MustRegister(echo.New().Group("/live"), liveplugin.Config{Dir: dir})
	defer p.Close(context.Background())

	// The snippet a user pastes into another site.
	src := "https://example.com" + p.EmbedURL("alice")
	fmt.Printf("<iframe src=%q allowfullscreen></iframe>\n", src)
	// Output: <iframe src="https://example.com/live/alice/embed" allowfullscreen></iframe>
}

// The template functions format a recording as the plugin's own pages do:
// durations in whole seconds, rounded down like a player's clock.
func ExamplePlugin_FuncMap_format() {
	dir, err := os.MkdirTemp("", "amlive-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	p := liveplugin.MustRegister(echo.New().Group("/live"), liveplugin.Config{Dir: dir})
	defer p.Close(context.Background())

	t := template.Must(template.New("rec").Funcs(p.FuncMap()).Parse(
		"{{range .}}{{amliveDuration .Duration}} · {{amliveBytes .Bytes}}\n{{end}}"))
	recs := []liveplugin.Recording{
		{Duration: 39700 * time.Millisecond, Bytes: 4_870_000},
		{Duration: time.Hour + 2*time.Minute + 3*time.Second, Bytes: 512},
	}
	if err := t.Execute(os.Stdout, recs); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 0:39 · 4.9 MB
	// 1:02:03 · 512 B
}
