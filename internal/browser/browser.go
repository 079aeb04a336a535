// Package browser drives the system's browser engines (Chromium, Firefox
// and WebKit) behind one small interface, so that a browser test runs the
// same scenario on each of them from one table. It is test support: import
// it from _test.go files only.
//
//	for _, e := range browser.Engines() {
//		t.Run(string(e), func(t *testing.T) {
//			t.Parallel()
//			b := browser.Start(t, e)
//			p := b.NewPage(t, "viewer")
//			if err := p.Navigate(srv.URL + "/live/alice"); err != nil {
//				t.Fatal(err)
//			}
//			if err := p.WaitFor(`document.querySelector("video").currentTime > 1`, time.Minute); err != nil {
//				t.Fatal(err)
//			}
//		})
//	}
//
// Each engine has a fake camera and microphone that need no permission
// prompt, and media autoplays with sound:
//   - Chromium (Debian's chromium) through the DevTools protocol
//     (chromedp), with the flags of internal/chrometest;
//   - Firefox (Debian's firefox-esr) through WebDriver BiDi on its own
//     WebSocket, with no geckodriver;
//   - WebKit (Debian's webkit2gtk-driver: WebKitGTK's MiniBrowser) through
//     classic WebDriver over HTTP to WebKitWebDriver, under an Xvfb
//     display that the package starts and stops itself.
//
// Every process a Browser starts is killed, and its temporary profile
// removed, when it closes (Start registers that as a cleanup).
package browser

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/amlive/amlive/internal/chrometest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Engine names a browser engine.
type Engine string

// The engines the package drives.
const (
	// Chromium is Blink, driven through the DevTools protocol.
	Chromium Engine = "chromium"
	// Firefox is Gecko, driven through WebDriver BiDi.
	Firefox Engine = "firefox"
	// WebKit is WebKitGTK's MiniBrowser (Safari's engine), driven through
	// classic WebDriver.
	WebKit Engine = "webkit"
)

// EnginesEnv is the environment variable that, when set, restricts
// Engines to the engines it lists, separated by commas (such as
// "firefox,webkit"), for a quicker run on a developer's machine. CI leaves
// it unset.
const EnginesEnv = "AMLIVE_ENGINES"

// Engines returns the engines a browser test runs on: all of them, in a
// fixed order, unless EnginesEnv restricts them.
func Engines() []Engine {
	all := []Engine{Chromium, Firefox, WebKit}
	v := strings.TrimSpace(os.Getenv(EnginesEnv))
	if v == "" {
		return all
	}
	var out []Engine
	for _, e := range all {
		for _, name := range strings.Split(v, ",") {
			if strings.TrimSpace(name) == string(e) {
				out = append(out, e)
			}
		}
	}
	return out
}

// Timeouts of the drivers and the size of their pages: those of
// chrometest, so that a scenario behaves alike under both.
const (
	// StartTimeout bounds the start of a browser, display included.
	StartTimeout = chrometest.StartTimeout
	// ActionTimeout bounds one command: a navigation, an evaluation, a
	// screenshot.
	ActionTimeout = chrometest.ActionTimeout
	// PollInterval is how often Page.WaitFor checks its condition.
	PollInterval = chrometest.PollInterval
	// closeTimeout bounds the graceful close of a browser, after which its
	// processes are killed.
	closeTimeout = 15 * time.Second
	// ViewportWidth is the width, in CSS pixels, of every page.
	ViewportWidth = chrometest.ViewportWidth
	// ViewportHeight is the height, in CSS pixels, of every page.
	ViewportHeight = chrometest.ViewportHeight
)

// Browser is one running browser. Its methods are safe for concurrent use;
// each Page is not. Close (or the cleanup Start registers) closes its
// pages, stops its processes and removes its profile.
type Browser interface {
	// NewPage opens a blank page (a tab) named name in error messages, and
	// registers a cleanup on tb that closes it. It fails tb when the page
	// cannot be opened.
	NewPage(tb testing.TB, name string) Page
	// Close stops the browser and everything it started, and removes its
	// temporary files. It is idempotent.
	Close() error
	// Engine returns the browser's engine.
	Engine() Engine
	// Version returns the version the browser reports, such as "153.8.0esr".
	Version() string
	// Wedged returns nil while the browser answers its driver, and
	// otherwise why not: a command the driver left unanswered past its own
	// timeout, or a session the driver deleted (its page's process crashed
	// or hung). A wedged browser stays so, and its later commands fail at
	// once: Close it and start another. WebKit's is detected by its
	// driver: it answers a script or page-load timeout of its own before
	// the client's deadline, so a deadline means the driver is stuck.
	// Firefox's by its log: its Remote Agent pings a page's process that
	// leaves a command unanswered for seconds, and says when the ping goes
	// unanswered too; its later commands still run (a process that was
	// only slow may answer them). Chromium's protocol has no timeout of its
	// own to tell a stuck browser from a slow page: its Wedged is nil.
	Wedged() error
}

// Page is one tab of a Browser. Its methods return errors that name the
// engine, the page, the command and the browser's own message. A Page is
// not safe for concurrent use.
type Page interface {
	// Navigate loads url and waits for its load event.
	Navigate(url string) error
	// Eval evaluates the JavaScript expression expr within ActionTimeout,
	// waits for the promise it returns, if any, and decodes the result
	// (JSON.stringify) into out, which may be nil. An exception thrown by
	// expr is an *EvalError.
	Eval(expr string, out any) error
	// WaitFor evaluates the JavaScript expression expr every PollInterval
	// until it is truthy, and returns an error if it is not within timeout.
	// An exception thrown by expr (an *EvalError) ends the wait at once:
	// throw to stop waiting for a state that can no longer change.
	WaitFor(expr string, timeout time.Duration) error
	// Screenshot saves a PNG of the viewport to path.
	Screenshot(path string) error
	// Errors returns what went wrong on the current page, in order: its
	// uncaught errors, unhandled promise rejections, console.error calls
	// and Content-Security-Policy violations. In WebKit, whose WebDriver
	// runs no script before the page's own, they are seen only from the end
	// of Navigate on: what goes wrong while the page loads is missed.
	Errors() ([]string, error)
	// Close closes the page. It is idempotent.
	Close() error
}

// EvalError is a JavaScript exception thrown by an expression given to
// Page.Eval or Page.WaitFor.
type EvalError struct {
	Engine  Engine
	Page    string // the page's name
	Expr    string
	Message string // the exception, with its stack when there is one
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("browser: %s: %s: evaluating %s: %s", e.Engine, e.Page, e.Expr, e.Message)
}

// Start starts a browser of engine e, registers a cleanup on tb that
// closes it, and logs how long the start took. When the engine is not
// installed it skips tb, or fails it when the environment variable CI is
// "true" (CI must run every engine). A browser that is installed but does
// not start fails tb.
func Start(tb testing.TB, e Engine) Browser {
	tb.Helper()
	start := time.Now()
	var (
		b   Browser
		err error
	)
	switch e {
	case Chromium:
		b, err = startChromium(tb)
	case Firefox:
		b, err = startFirefox(tb)
	case WebKit:
		b, err = startWebKit(tb)
	default:
		tb.Fatalf("browser: unknown engine %q", e)
	}
	var missing *missingError
	switch {
	case errors.As(err, &missing) && os.Getenv("CI") == "true":
		tb.Fatal(err)
	case errors.As(err, &missing):
		tb.Skip(err)
	case err != nil:
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Errorf("%v", err)
		}
	})
	tb.Logf("browser: %s %s started in %v", e, b.Version(), time.Since(start).Round(time.Millisecond))
	return b
}

// missingError says that an engine is not installed.
type missingError struct {
	engine Engine
	what   string // what is missing and which package brings it
}

func (e *missingError) Error() string {
	return fmt.Sprintf("browser: %s: %s", e.engine, e.what)
}

// lookPath returns the first of paths that exists, looking names without
// a slash up on PATH.
func lookPath(paths ...string) (string, bool) {
	for _, p := range paths {
		if strings.Contains(p, "/") {
			if _, err := os.Stat(p); err == nil {
				return p, true
			}
			continue
		}
		if found, err := exec.LookPath(p); err == nil {
			return found, true
		}
	}
	return "", false
}

// errorsKey is the global in which the collectors keep what went wrong.
const errorsKey = "__browserErrors"

// collectErrorsBody is a function that installs the collectors of
// Page.Errors in a document, once: uncaught errors, unhandled rejections,
// console.error calls and Content-Security-Policy violations.
const collectErrorsBody = `() => {
  if (window.` + errorsKey + `) return;
  const errs = (window.` + errorsKey + ` = []);
  const str = (v) => {
    if (v instanceof Error) return String(v) + (v.stack ? '\n' + v.stack : '');
    if (typeof v === 'string') return v;
    try { return JSON.stringify(v); } catch (_) { return String(v); }
  };
  window.addEventListener('error', (e) => errs.push('uncaught error: ' + (e.error ? str(e.error) : String(e.message))));
  window.addEventListener('unhandledrejection', (e) => errs.push('unhandled rejection: ' + str(e.reason)));
  const consoleError = console.error;
  console.error = function (...args) {
    errs.push('console.error: ' + args.map(str).join(' '));
    return consoleError.apply(this, args);
  };
  window.addEventListener('securitypolicyviolation', (e) => errs.push('Content-Security-Policy violation: ' +
    e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + (e.sourceFile ? ' (' + e.sourceFile + ':' + e.lineNumber + ')' : '')));
}`

// readErrors is the expression that Page.Errors evaluates.
const readErrors = `window.` + errorsKey + ` || []`

// evalWrapper wraps expr so that it evaluates to a string of JSON in every
// engine: {"v": value} or {"e": exception}.
func evalWrapper(expr string) string {
	return `(async () => { try { const v = await (` + expr + "\n" + `); return JSON.stringify({v: v === undefined ? null : v}); }` +
		` catch (e) { return JSON.stringify({e: String(e) + (e && e.stack ? '\n' + e.stack : '')}); } })()`
}

// decodeEval decodes the string that an evalWrapper expression gave into
// out, or returns the exception it carries.
func decodeEval(e Engine, page, expr, s string, out any) error {
	var r struct {
		V json.RawMessage `json:"v"`
		E *string         `json:"e"`
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return fmt.Errorf("browser: %s: %s: evaluating %s: decoding %q: %w", e, page, expr, s, err)
	}
	if r.E != nil {
		return &EvalError{Engine: e, Page: page, Expr: expr, Message: *r.E}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.V, out); err != nil {
		return fmt.Errorf("browser: %s: %s: evaluating %s: decoding %s: %w", e, page, expr, r.V, err)
	}
	return nil
}

// waitFor is Page.WaitFor over eval, which is the page's Eval.
func waitFor(eval func(string, any) error, ctxErr func() error, expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := eval(`Boolean(`+expr+"\n)", &ok)
		var ee *EvalError
		switch {
		case errors.As(err, &ee):
			return err
		case err != nil && ctxErr() != nil:
			return err
		case err == nil && ok:
			return nil
		}
		// Other errors (a page between documents) are retried.
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s still false after %v (last error: %w)", expr, timeout, err)
			}
			return fmt.Errorf("%s still false after %v", expr, timeout)
		}
		time.Sleep(PollInterval)
	}
}

// wedge holds why a browser is wedged: the first cause it is told of, for
// good (Browser.Wedged).
type wedge struct{ why atomic.Pointer[error] }

// set records err unless a cause is recorded already.
func (w *wedge) set(err error) { w.why.CompareAndSwap(nil, &err) }

// err is the recorded cause, or nil.
func (w *wedge) err() error {
	if err := w.why.Load(); err != nil {
		return *err
	}
	return nil
}

// ownerEnv marks the environment of every process a Browser starts, and
// so of all their descendants, with the test binary's process ID: Orphans
// finds them by it.
var ownerEnv = "AMLIVE_BROWSER_OWNER=" + strconv.Itoa(os.Getpid())

// Orphans returns the processes still running that a Browser of this
// test binary started, directly or not (a browser's helper processes
// included), each as "PID command line". Call it from TestMain after
// m.Run: every Browser has been closed by then, so anything it returns
// has outlived its test. It reads /proc, and returns nil without it.
func Orphans() []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), ownerEnv) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		out = append(out, filepath.Base(d)+" "+strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " "))
	}
	return out
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

// process is a child process in a process group of its own, so that
// stopping it also stops every process it started.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer // the end of its stdout and stderr
	done chan struct{}
	err  error // valid after done is closed
}

// startProcess starts cmd in a new process group, its output kept in a
// tail buffer (and copied to tee when it is not nil). A goroutine waits for
// it; it exits when the process has exited and its output is drained.
func startProcess(name string, cmd *exec.Cmd, tee func([]byte)) (*process, error) {
	p := &process{name: name, cmd: cmd, out: &tailBuffer{max: 32 << 10}, done: make(chan struct{})}
	var w interface{ Write([]byte) (int, error) } = p.out
	if tee != nil {
		w = teeWriter{p.out, tee}
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Grandchildren may hold the output pipes open after a kill.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit by itself.
func (p *process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then sends
// SIGKILL to the group and waits until the process has exited. The group's
// other members get SIGKILL too, in case they outlive their leader.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	if !p.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		p.wait(grace)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// teeWriter writes to a tail buffer and hands each write to fn.
type teeWriter struct {
	out *tailBuffer
	fn  func([]byte)
}

func (w teeWriter) Write(p []byte) (int, error) {
	w.fn(p)
	return w.out.Write(p)
}
