package liveplugin_test

import (
	"context"
	"fmt"
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
