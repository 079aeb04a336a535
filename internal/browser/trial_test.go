package browser

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestTryKeepsFailures(t *testing.T) {
	var order []string
	tr := Try(t, func(tb testing.TB) {
		tb.Cleanup(func() { order = append(order, "first cleanup") })
		tb.Cleanup(func() {
			order = append(order, "second cleanup")
			if tb.Context().Err() == nil {
				tb.Error("the context is not canceled before the cleanups")
			}
			tb.FailNow() // ends this cleanup alone
		})
		tb.Errorf("error %d", 1)
		if !tb.Failed() {
			t.Error("Failed is false after Errorf")
		}
		tb.Fatal("fatal", 2)
		order = append(order, "after Fatal")
	})
	if !tr.Failed || tr.Skipped {
		t.Errorf("trial = %+v, want failed, not skipped", tr)
	}
	if want := []string{"error 1", "fatal 2"}; !slices.Equal(tr.Errors, want) {
		t.Errorf("errors = %q, want %q", tr.Errors, want)
	}
	if want := []string{"second cleanup", "first cleanup"}; !slices.Equal(order, want) {
		t.Errorf("ran %q, want %q", order, want)
	}
	if t.Failed() {
		t.Fatal("Try reported the body's failures itself")
	}

	again := Try(t, tr.Report)
	if !again.Failed || !slices.Equal(again.Errors, tr.Errors) {
		t.Errorf("Report reported %+v, want the errors %q", again, tr.Errors)
	}
}

func TestTrySkipsAndPasses(t *testing.T) {
	tr := Try(t, func(tb testing.TB) {
		tb.Skipf("not %s", "here")
		tb.Error("after Skip")
	})
	if tr.Failed || !tr.Skipped || tr.SkipReason != "not here" {
		t.Errorf("trial = %+v, want skipped with %q", tr, "not here")
	}
	again := Try(t, tr.Report)
	if !again.Skipped || again.SkipReason != "not here" {
		t.Errorf("Report reported %+v, want the skip", again)
	}

	ok := Try(t, func(tb testing.TB) { tb.Log("fine") })
	if ok.Failed || ok.Skipped || len(ok.Errors) != 0 {
		t.Errorf("trial = %+v, want a pass", ok)
	}
}

// TestWebKitWedges checks that a WebDriver command left unanswered past
// its deadline wedges the browser, and that the later ones then fail at
// once without reaching the driver.
func TestWebKitWedges(t *testing.T) {
	release := make(chan struct{})
	var (
		calls atomic.Int32
		hang  atomic.Bool
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if hang.Load() {
			<-release
		}
		fmt.Fprint(w, `{"value":null}`)
	}))
	defer srv.Close()
	defer close(release)
	w := &webkit{base: srv.URL + "/session/s", http: srv.Client()}
	if err := w.do(context.Background(), http.MethodGet, w.base+"/window", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Wedged(); err != nil {
		t.Fatalf("wedged after an answered command: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	calls.Store(0)
	hang.Store(true)
	err := w.do(ctx, http.MethodPost, w.base+"/execute/async", map[string]any{}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered command: %v, want a deadline", err)
	}
	if err := w.Wedged(); err == nil || !strings.Contains(err.Error(), "/execute/async") {
		t.Fatalf("Wedged() = %v, want the unanswered command", err)
	}
	if err := w.do(context.Background(), http.MethodGet, w.base+"/window", nil, nil); err == nil || calls.Load() != 1 {
		t.Fatalf("a command after the wedge: %v after %d requests, want an error and no request", err, calls.Load())
	}
}

// TestWebKitSessionGone checks that a command the driver answers with
// "invalid session id" (it deleted the session: the page's web process
// crashed or hung) wedges the browser, and that the later ones then fail
// at once without reaching the driver.
func TestWebKitSessionGone(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"value":{"error":"invalid session id","message":"session deleted because of page crash or hang."}}`)
	}))
	defer srv.Close()
	w := &webkit{base: srv.URL + "/session/s", http: srv.Client()}
	err := w.do(context.Background(), http.MethodPost, w.base+"/url", map[string]any{"url": "about:blank"}, nil)
	var c *commandError
	if !errors.As(err, &c) || c.Code != "invalid session id" {
		t.Fatalf("command on a deleted session: %v, want the driver's invalid session id", err)
	}
	if err := w.Wedged(); err == nil || !strings.Contains(err.Error(), "session is gone") || !strings.Contains(err.Error(), "page crash") {
		t.Fatalf("Wedged() = %v, want the session gone, with the driver's reason", err)
	}
	if err := w.do(context.Background(), http.MethodGet, w.base+"/window", nil, nil); err == nil || calls.Load() != 1 {
		t.Fatalf("a command after the session went: %v after %d requests, want an error and no request", err, calls.Load())
	}
}

// fakeBrowser is a Browser that runs nothing: it reports wedged as told
// and counts its closes.
type fakeBrowser struct {
	wedged error
	closes int
}

func (f *fakeBrowser) NewPage(tb testing.TB, name string) Page {
	tb.Fatal("fakeBrowser has no pages")
	return nil
}
func (f *fakeBrowser) Close() error    { f.closes++; return nil }
func (f *fakeBrowser) Engine() Engine  { return Chromium }
func (f *fakeBrowser) Version() string { return "fake" }
func (f *fakeBrowser) Wedged() error   { return f.wedged }

// TestRetry checks that Retry reports a failure on a browser that still
// answers, and runs the body once more on a new browser of the engine
// (which it leaves in its place) when the browser wedged, or when broken
// says the failure was the browser's.
func TestRetry(t *testing.T) {
	fails := func(runs *[]Browser) func(testing.TB, Browser) {
		return func(tb testing.TB, b Browser) {
			*runs = append(*runs, b)
			if len(*runs) == 1 {
				tb.Fatal("the first run fails")
			}
		}
	}
	t.Run("answering", func(t *testing.T) {
		fake := &fakeBrowser{}
		var b Browser = fake
		var runs []Browser
		tr := Try(t, func(tb testing.TB) { Retry(tb, tb, &b, nil, fails(&runs)) })
		if !tr.Failed || len(runs) != 1 || b != fake || fake.closes != 0 {
			t.Fatalf("trial %+v, %d runs, browser replaced %v, %d closes; want the failure reported after one run on the same browser", tr, len(runs), b != fake, fake.closes)
		}
	})
	for _, c := range []struct {
		name   string
		wedged error
		broken func(Trial) error
	}{
		{"wedged", errors.New("wedged"), nil},
		{"broken", nil, func(tr Trial) error {
			if tr.String() == "the first run fails" {
				return errors.New("its media stack broke")
			}
			return nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := &fakeBrowser{wedged: c.wedged}
			var b Browser = fake
			var runs []Browser
			tr := Try(t, func(tb testing.TB) { Retry(tb, t, &b, c.broken, fails(&runs)) })
			if tr.Skipped {
				t.Skip(tr.SkipReason) // no Chromium to start
			}
			if tr.Failed || len(runs) != 2 || runs[0] != fake || runs[1] == fake || b != runs[1] || fake.closes != 1 {
				t.Fatalf("trial %+v, %d runs, %d closes; want a second, passing run on a new browser left in b, the first closed", tr, len(runs), fake.closes)
			}
			if b.Engine() != Chromium || b.Version() == "" || b.Version() == "fake" {
				t.Fatalf("the new browser: %s %q; want a Chromium that runs", b.Engine(), b.Version())
			}
		})
	}
}

// TestFirefoxLog checks that Firefox's output, however it is cut into
// writes, gives its BiDi address once and wedges the browser from the
// first ping its Remote Agent says went unanswered, and that a line with
// no end is kept bounded.
func TestFirefoxLog(t *testing.T) {
	out := "*** You are running in headless mode.\n" +
		"WebDriver BiDi listening on ws://127.0.0.1:34195\n" +
		"1796332164191\tRemoteAgent\tINFO\tPerform WebSocket upgrade for incoming connection from 127.0.0.1:36172\n" +
		"JavaScript error: chrome://remote/content/shared/Realm.sys.mjs, line 184: TypeError: argument is not a global object\n" +
		"1796332181533\tRemoteAgent\tWARN\tMessageHandlerFrameParent ping for command script.evaluateExpression to 18 timed out\n" +
		"1796332241692\tRemoteAgent\tWARN\tMessageHandlerFrameParent ping for command script.callFunction to 18 timed out\n"
	for _, size := range []int{1, 7, 64, len(out)} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			f := &firefox{log: firefoxLog{listening: make(chan string, 1)}}
			hungAt := strings.Index(out, "timed out") + len("timed out")
			for i := 0; i < len(out); i += size {
				end := min(i+size, len(out))
				if err := f.Wedged(); err != nil && i < hungAt {
					t.Fatalf("wedged after %d bytes, before the ping's line: %v", i, err)
				}
				f.log.write([]byte(out[i:end]))
			}
			select {
			case url := <-f.log.listening:
				if url != "ws://127.0.0.1:34195" {
					t.Errorf("listening on %q", url)
				}
			default:
				t.Error("no address")
			}
			if len(f.log.listening) != 0 {
				t.Error("the address twice")
			}
			err := f.Wedged()
			if err == nil || !strings.Contains(err.Error(), "script.evaluateExpression") {
				t.Errorf("Wedged() = %v, want the first unanswered command", err)
			}
		})
	}
	var l firefoxLog
	for range 100 {
		l.write([]byte(strings.Repeat("x", 100)))
	}
	if len(l.line) > maxLogLine {
		t.Errorf("an endless line kept to %d bytes, want at most %d", len(l.line), maxLogLine)
	}
	l.write([]byte("\n"))
	if len(l.line) != 0 || l.hung.err() != nil {
		t.Errorf("after the line's end: %d bytes kept, hung %v", len(l.line), l.hung.err())
	}
}

// TestFirefoxHealthyLog checks that Firefox's ordinary noise (the end of
// a passing run's output) wedges nothing.
func TestFirefoxHealthyLog(t *testing.T) {
	l := firefoxLog{listening: make(chan string, 1)}
	l.write([]byte("1796332164191\tRemoteAgent\tINFO\tPerform WebSocket upgrade\n" +
		"1796332164191\tRemoteAgent\tTRACE\tMessageHandlerFrameParent ping script.evaluateExpression to 18\n" +
		"Crash Annotation GraphicsCriticalError: |[0][GFX1-]: RenderCompositorSWGL failed mapping default framebuffer, no dt\n"))
	if err := l.hung.err(); err != nil {
		t.Errorf("wedged by a healthy log: %v", err)
	}
}
