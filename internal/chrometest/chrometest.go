// Package chrometest drives the system's headless Chromium, with a fake
// camera and microphone, for browser tests of amlive's pages (the
// plugin's and the demo's). It is test support: import it from _test.go
// files only.
//
// A test starts a browser with New, opens tabs with Browser.NewTab and
// checks what a person would see with Eval, Tab.WaitFor and Tab.Screenshot:
//
//	b := chrometest.New(t)
//	tab := b.NewTab(t, "viewer")
//	tab.Navigate(srv.URL + "/live/alice")
//	tab.WaitFor(`document.querySelector("video").currentTime > 1`, time.Minute)
//	state := chrometest.Eval[string](tab, `document.body.dataset.state`)
//
// Every helper fails the test (t.Fatal) on error, so call them from the
// test's own goroutine. Without Chromium, New skips the test, or fails it
// when the environment variable CI is "true".
package chrometest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Timeouts of the helpers.
const (
	// StartTimeout bounds the start of a browser.
	StartTimeout = 90 * time.Second
	// ActionTimeout bounds one navigation, click, evaluation or screenshot:
	// generous, because a busy machine can starve the browser for long.
	ActionTimeout = time.Minute
	// PollInterval is how often Tab.WaitFor and Until check their condition.
	PollInterval = 100 * time.Millisecond
	// closeTimeout bounds the graceful close of a browser.
	closeTimeout = 15 * time.Second
)

// The size, in CSS pixels, of every tab that NewTab opens.
const (
	// ViewportWidth is the width of a tab.
	ViewportWidth = 1280
	// ViewportHeight is the height of a tab.
	ViewportHeight = 900
)

// ExecPath returns the Chromium binary: /usr/bin/chromium if it exists,
// else "chromium" or "chromium-browser" on PATH. When there is none, it
// fails tb if the environment variable CI is "true" (CI must run the
// browser tests) and skips tb otherwise.
func ExecPath(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "chromium not found (/usr/bin/chromium or chromium on PATH); install the Debian package chromium"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// Flags returns the command-line flags New starts Chromium with, on top of
// chromedp's defaults: headless without a sandbox or GPU, no network
// access of its own, a fake camera and microphone that need no permission
// prompt, autoplay with sound, and userDataDir as a fresh profile.
func Flags(userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(userDataDir),
	}
}

// Browser is a headless Chromium process. Its methods are safe for
// concurrent use; each Tab is not. Close (or the cleanup New registers)
// closes its tabs and stops the process.
type Browser struct {
	ctx         context.Context // the browser's first tab, which owns the process
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	out         *tailBuffer

	closeOnce sync.Once
	closeErr  error
}

// New starts a browser with Flags and a profile in tb.TempDir(), and
// registers a cleanup that closes it and, if tb failed, logs the end of
// the browser's own output. It skips or fails tb as ExecPath says when
// there is no Chromium.
func New(tb testing.TB) *Browser {
	tb.Helper()
	return NewWith(tb)
}

// FakeCameras is an option for NewWith: the browser offers n fake
// cameras, each a device of its own (its own deviceId and label,
// "fake_device_0", "fake_device_1", …), instead of Chromium's one.
func FakeCameras(n int) chromedp.ExecAllocatorOption {
	return chromedp.Flag("use-fake-device-for-media-stream", fmt.Sprintf("device-count=%d", n))
}

// NewWith is New with extra options after Flags, which override them: for
// example chromedp.Flag("autoplay-policy", "document-user-activation-required"),
// a browser that refuses to autoplay with sound, as phones do.
func NewWith(tb testing.TB, extra ...chromedp.ExecAllocatorOption) *Browser {
	tb.Helper()
	execPath := ExecPath(tb)
	out := &tailBuffer{max: 16 << 10}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(execPath), chromedp.CombinedOutput(out))
	opts = append(opts, Flags(tb.TempDir())...)
	opts = append(opts, extra...)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{ctx: ctx, cancel: cancel, allocCancel: allocCancel, out: out}
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Errorf("chrometest: closing the browser: %v", err)
		}
		if tb.Failed() {
			tb.Logf("chrometest: the end of Chromium's output:\n%s", out.String())
		}
	})

	// The first Run starts the process and binds it to ctx, which must not
	// have a deadline; the watchdog cancels a start that hangs instead.
	start := time.Now()
	watchdog := time.AfterFunc(StartTimeout, cancel)
	err := chromedp.Do(ctx)
	stopped := watchdog.Stop()
	if err != nil || !stopped {
		tb.Fatalf("chrometest: starting %s: %v (after %v)\n%s", execPath, err, time.Since(start).Round(time.Millisecond), out.String())
	}
	tb.Logf("chrometest: %s started in %v", execPath, time.Since(start).Round(time.Millisecond))
	return b
}

// Close closes the browser gracefully (or kills it after a while) and
// waits until the process has exited and its goroutines have returned.
// It is idempotent.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(b.ctx, closeTimeout)
		defer cancel()
		err := chromedp.Cancel(ctx)
		b.cancel()
		b.allocCancel() // waits for the process and its output
		if err != nil && !errors.Is(err, context.Canceled) {
			b.closeErr = err
		}
	})
	return b.closeErr
}

// Tab is one browser tab. Its methods fail the test that opened it on
// error; they are not safe for concurrent use.
type Tab struct {
	tb   testing.TB
	name string
	ctx  context.Context

	phone bool // opened by NewPhoneTab: touch emulation is on

	// Diagnose, when set, is a JavaScript expression whose value WaitFor
	// adds to its failure message, such as the state of a widget.
	Diagnose string
}

// errorsKey is the global in which the page's uncaught errors and
// Content-Security-Policy violations collect.
const errorsKey = "__chrometestErrors"

// collectErrors runs in every document before the page's own scripts.
const collectErrors = `(() => {
  const errs = (window.` + errorsKey + ` = []);
  window.addEventListener('error', (e) => errs.push(String(e.message || e.error || e)));
  window.addEventListener('unhandledrejection', (e) => errs.push('unhandled rejection: ' + String(e.reason && (e.reason.stack || e.reason))));
  window.addEventListener('securitypolicyviolation', (e) => errs.push('Content-Security-Policy violation: ' +
    e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + (e.sourceFile ? ' (' + e.sourceFile + ':' + e.lineNumber + ')' : '')));
})();`

// NewTab opens a blank tab of ViewportWidth by ViewportHeight, named name
// in failure messages, and registers a cleanup on tb that closes it.
// Uncaught errors, unhandled promise rejections and Content-Security-Policy
// violations of its pages are kept for Errors.
func (b *Browser) NewTab(tb testing.TB, name string) *Tab {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t := &Tab{tb: tb, name: name, ctx: ctx}
	tb.Cleanup(cancel)
	// The first Run opens the tab and binds its event loop to the context
	// it is given, which must therefore be the tab's own, with no
	// deadline; the watchdog closes a tab that does not open in time.
	watchdog := time.AfterFunc(ActionTimeout, cancel)
	err := chromedp.Do(ctx)
	if !watchdog.Stop() || err != nil {
		tb.Fatalf("%s: opening the tab: %v", name, err)
	}
	t.Do(
		chromedp.EmulateViewport(ViewportWidth, ViewportHeight),
		chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := cdp.Call(ctx, target, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: collectErrors})
			return err
		}),
	)
	return t
}

// Context returns the tab's chromedp context, for actions the helpers do
// not cover. It ends when the tab is closed.
func (t *Tab) Context() context.Context { return t.ctx }

// Name returns the name the tab was opened with.
func (t *Tab) Name() string { return t.name }

// Do runs actions in order, each within ActionTimeout, and fails the test
// on the first error.
func (t *Tab) Do(actions ...chromedp.Action[chromedp.Void]) {
	t.tb.Helper()
	for _, a := range actions {
		if err := t.try(a); err != nil {
			t.tb.Fatalf("%s: %v", t.name, err)
		}
	}
}

// try runs a, within ActionTimeout.
func (t *Tab) try(a chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(t.ctx, ActionTimeout)
	defer cancel()
	return chromedp.Do(ctx, a)
}

// Navigate loads url and waits for its load event.
func (t *Tab) Navigate(url string) {
	t.tb.Helper()
	t.Do(chromedp.Navigate(url))
}

// Click clicks, with the mouse, the first visible element that matches the
// CSS selector, waiting for one to appear. A page that re-renders (a live
// list following the status stream) may replace the element between the
// lookup and the click; Click then looks it up again, a few times.
func (t *Tab) Click(selector string) {
	t.tb.Helper()
	var err error
	for range 5 {
		if err = t.try(chromedp.Click(chromedp.CSS(selector))); err == nil || !staleNode(err) {
			break
		}
	}
	if err != nil {
		t.tb.Fatalf("%s: click %s: %v", t.name, selector, err)
	}
}

// staleNode reports whether err is the DevTools protocol's answer for a
// node that left the document after it was looked up.
func staleNode(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not find node with given id") || strings.Contains(msg, "No node with given id")
}

// Screenshot saves a PNG of the tab's viewport to path, creating its
// directory.
func (t *Tab) Screenshot(path string) {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.tb.Fatalf("%s: screenshot: %v", t.name, err)
	}
	t.saveScreenshot(path, png)
}

// saveScreenshot writes png to path, making its directory.
func (t *Tab) saveScreenshot(path string, png []byte) {
	t.tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.tb.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.tb.Fatal(err)
	}
}

// Errors returns the uncaught errors, unhandled promise rejections and
// Content-Security-Policy violations (securitypolicyviolation events) of
// the current page, in order.
func (t *Tab) Errors() []string {
	t.tb.Helper()
	return Eval[[]string](t, `window.`+errorsKey+` || []`)
}

// TryEval evaluates the JavaScript expression expr in the tab within
// ActionTimeout, waits for the promise it returns, if any, and decodes the
// result (JSON) into a T. An exception thrown by expr is an
// *chromedp.ExceptionError.
func TryEval[T any](t *Tab, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(t.ctx, ActionTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// Eval is TryEval that fails the test on error.
func Eval[T any](t *Tab, expr string) T {
	t.tb.Helper()
	v, err := TryEval[T](t, expr)
	if err != nil {
		t.tb.Fatalf("%s: evaluating %s: %v", t.name, expr, err)
	}
	return v
}

// WaitFor polls the JavaScript expression expr every PollInterval until it
// is truthy, and fails the test if it is not within timeout. An exception
// thrown by expr fails the test at once: throw to stop waiting for a state
// that can no longer change, such as an error.
func (t *Tab) WaitFor(expr string, timeout time.Duration) {
	t.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := TryEval[bool](t, `Boolean(`+expr+`)`)
		var ee *chromedp.ExceptionError
		switch {
		case errors.As(err, &ee):
			t.tb.Fatalf("%s: while waiting for %s: %v%s", t.name, expr, err, t.diagnosis())
		case err != nil && t.ctx.Err() != nil:
			t.tb.Fatalf("%s: while waiting for %s: %v", t.name, expr, err)
		case ok:
			return
		}
		// Other errors (a page between documents) are retried.
		if time.Now().After(deadline) {
			last := ""
			if err != nil {
				last = fmt.Sprintf(" (last error: %v)", err)
			}
			t.tb.Fatalf("%s: %s still false after %v%s%s", t.name, expr, timeout, last, t.diagnosis())
		}
		time.Sleep(PollInterval)
	}
}

// diagnosis evaluates Diagnose for a failure message.
func (t *Tab) diagnosis() string {
	if t.Diagnose == "" {
		return ""
	}
	v, err := TryEval[json.RawMessage](t, t.Diagnose)
	if err != nil {
		return fmt.Sprintf("\n%s: diagnosis failed: %v", t.name, err)
	}
	return fmt.Sprintf("\n%s: %s", t.name, v)
}

// Until calls cond every PollInterval until it returns true, and fails tb
// if it does not within timeout. what names the condition in the failure.
// It is for conditions on the Go side, such as the server's state.
func Until(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(PollInterval)
	}
}

// tailBuffer keeps the last max bytes written to it. It is safe for
// concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
