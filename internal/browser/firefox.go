package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// firefoxPrefs is the profile's user.js: a fake camera and microphone with
// no permission prompt, autoplay with sound (media elements and Web Audio
// alike, as Chromium's --autoplay-policy=no-user-gesture-required),
// WebDriver BiDi only, and no
// attempt to reach the internet (updates, telemetry, remote settings).
const firefoxPrefs = `user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.disabled", true);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("media.autoplay.block-webaudio", false);
user_pref("remote.active-protocols", 2);
user_pref("app.update.disabledForTesting", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.startup.page", 0);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("services.settings.server", "http://127.0.0.1:9/");
`

// bidiListening is what Firefox prints on stderr once its WebDriver BiDi
// server accepts connections.
var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://[0-9.:\[\]]+)\r?\n`)

// pingTimedOut is what Firefox's Remote Agent prints on stderr when a page's
// process left a command unanswered for seconds and then its ping too: the
// process is hung (a script that never yields, or Firefox's own deadlock),
// and the commands to its pages wait out the client's deadline.
var pingTimedOut = regexp.MustCompile(`MessageHandlerFrameParent ping for command (\S+) to \S+ timed out`)

// firefox is a headless Firefox driven over WebDriver BiDi.
type firefox struct {
	proc    *process
	profile string
	sound   *soundServer // nil when the machine's own serves, or none
	bidi    *bidiConn
	version string
	log     firefoxLog

	closeOnce sync.Once
	closeErr  error
}

// startFirefox starts Firefox with a fresh profile and opens a BiDi
// session on it.
func startFirefox(tb testing.TB) (b *firefox, err error) {
	execPath, ok := lookPath("firefox-esr", "firefox")
	if !ok {
		return nil, &missingError{Firefox, "firefox-esr not found on PATH; install the Debian package firefox-esr"}
	}
	profile, err := os.MkdirTemp("", "browser-firefox-")
	if err != nil {
		return nil, fmt.Errorf("browser: firefox: %w", err)
	}
	f := &firefox{profile: profile}
	defer func() {
		if err != nil {
			_ = f.Close()
			err = fmt.Errorf("browser: firefox: %w", err)
		}
	}()
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o644); err != nil {
		return nil, err
	}

	// Web Audio needs a sound output (see soundServer).
	if f.sound, err = startSoundServer(filepath.Join(profile, "pulse")); err != nil {
		return nil, err
	}

	// Port 0: Firefox picks a free port and says which on stderr.
	cmd := exec.Command(execPath, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port", "0")
	cmd.Env = append(os.Environ(), ownerEnv, "MOZ_CRASHREPORTER_DISABLE=1")
	if f.sound != nil {
		cmd.Env = append(cmd.Env, "PULSE_SERVER="+f.sound.server)
	}
	f.log = firefoxLog{listening: make(chan string, 1)}
	f.proc, err = startProcess("firefox", cmd, f.log.write)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("browser: firefox: the end of its output:\n%s", f.proc.out.String())
		}
	})

	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	var url string
	select {
	case url = <-f.log.listening:
	case <-f.proc.done:
		return nil, fmt.Errorf("%s exited before WebDriver BiDi listened (%v):\n%s", execPath, f.proc.err, f.proc.out.String())
	case <-timer.C:
		return nil, fmt.Errorf("WebDriver BiDi not listening after %v:\n%s", StartTimeout, f.proc.out.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), ActionTimeout)
	defer cancel()
	f.bidi, err = dialBiDi(ctx, url+"/session")
	if err != nil {
		return nil, err
	}
	var sess struct {
		Capabilities struct {
			BrowserVersion string `json:"browserVersion"`
		} `json:"capabilities"`
	}
	if err := f.bidi.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}, &sess); err != nil {
		return nil, err
	}
	f.version = sess.Capabilities.BrowserVersion
	err = f.bidi.call(ctx, "script.addPreloadScript", map[string]any{
		"functionDeclaration": collectErrorsBody,
	}, nil)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (f *firefox) Engine() Engine  { return Firefox }
func (f *firefox) Version() string { return f.version }

// Wedged implements Browser: Firefox's own log says when a page's process
// stopped answering (pingTimedOut).
func (f *firefox) Wedged() error { return f.log.hung.err() }

// firefoxLog reads Firefox's output as it comes, line by line: its
// BiDi server's address goes to listening, once; the first pingTimedOut
// sets hung, for good.
type firefoxLog struct {
	listening chan string // buffered: one address
	hung      wedge

	mu       sync.Mutex
	line     []byte // the output's last line, unfinished, bounded
	reported bool
}

// maxLogLine bounds what firefoxLog keeps of a line that does not end.
const maxLogLine = 1024

func (l *firefoxLog) write(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line = append(l.line, p...)
	if !l.reported {
		if m := bidiListening.FindSubmatch(l.line); m != nil {
			l.listening <- string(m[1])
			l.reported = true
		}
	}
	if l.hung.err() == nil {
		if m := pingTimedOut.FindSubmatch(l.line); m != nil {
			l.hung.set(fmt.Errorf("browser: firefox: wedged: a page's process did not answer %s, nor the ping after it", m[1]))
		}
	}
	// Whole lines have been searched; a line's start waits for its end.
	if i := bytes.LastIndexByte(l.line, '\n'); i >= 0 {
		l.line = append(l.line[:0], l.line[i+1:]...)
	}
	if over := len(l.line) - maxLogLine; over > 0 {
		l.line = append(l.line[:0], l.line[over:]...)
	}
}

func (f *firefox) Close() error {
	f.closeOnce.Do(func() {
		if f.bidi != nil {
			ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			// browser.close ends the session and quits; the reply may not
			// come before the connection drops.
			_ = f.bidi.call(ctx, "browser.close", map[string]any{}, nil)
			cancel()
			f.bidi.close()
		}
		if f.proc != nil {
			f.proc.wait(closeTimeout)
			f.proc.stop(closeTimeout)
		}
		f.sound.close()
		if err := os.RemoveAll(f.profile); err != nil {
			f.closeErr = fmt.Errorf("browser: firefox: %w", err)
		}
	})
	return f.closeErr
}

func (f *firefox) NewPage(tb testing.TB, name string) Page {
	tb.Helper()
	p := &firefoxPage{f: f, name: name}
	ctx, cancel := context.WithTimeout(context.Background(), ActionTimeout)
	defer cancel()
	var created struct {
		Context string `json:"context"`
	}
	// A window, not a tab: only a window's selected tab is in front, and a
	// tab behind it has its timers and canvas capture throttled to about
	// once a second (a publisher page drawing its picture would stall).
	if err := f.bidi.call(ctx, "browsingContext.create", map[string]any{"type": "window"}, &created); err != nil {
		tb.Fatalf("browser: firefox: %s: opening the page: %v", name, err)
	}
	p.context = created.Context
	tb.Cleanup(func() { _ = p.Close() })
	err := f.bidi.call(ctx, "browsingContext.setViewport", map[string]any{
		"context":  p.context,
		"viewport": map[string]any{"width": ViewportWidth, "height": ViewportHeight},
	}, nil)
	if err != nil {
		tb.Fatalf("browser: firefox: %s: setting the viewport: %v", name, err)
	}
	return p
}

// firefoxPage is one Firefox tab (a top-level browsing context).
type firefoxPage struct {
	f       *firefox
	name    string
	context string

	closeOnce sync.Once
}

// call runs one BiDi command within ActionTimeout.
func (p *firefoxPage) call(what, method string, params map[string]any, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), ActionTimeout)
	defer cancel()
	if err := p.f.bidi.call(ctx, method, params, out); err != nil {
		return fmt.Errorf("browser: firefox: %s: %s: %w", p.name, what, err)
	}
	return nil
}

func (p *firefoxPage) Navigate(url string) error {
	return p.call("navigating to "+url, "browsingContext.navigate",
		map[string]any{"context": p.context, "url": url, "wait": "complete"}, nil)
}

func (p *firefoxPage) Eval(expr string, out any) error {
	var r struct {
		Type   string `json:"type"` // "success" or "exception"
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := p.call("evaluating "+expr, "script.evaluate", map[string]any{
		"expression":      evalWrapper(expr),
		"target":          map[string]any{"context": p.context},
		"awaitPromise":    true,
		"resultOwnership": "none",
	}, &r)
	if err != nil {
		return err
	}
	if r.Type == "exception" {
		return &EvalError{Engine: Firefox, Page: p.name, Expr: expr, Message: r.ExceptionDetails.Text}
	}
	var s string
	if r.Result.Type != "string" || json.Unmarshal(r.Result.Value, &s) != nil {
		return fmt.Errorf("browser: firefox: %s: evaluating %s: got a %s, not a string", p.name, expr, r.Result.Type)
	}
	return decodeEval(Firefox, p.name, expr, s, out)
}

func (p *firefoxPage) WaitFor(expr string, timeout time.Duration) error {
	if err := waitFor(p.Eval, p.f.bidi.err, expr, timeout); err != nil {
		return fmt.Errorf("browser: firefox: %s: waiting: %w", p.name, err)
	}
	return nil
}

func (p *firefoxPage) Screenshot(path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.call("screenshot", "browsingContext.captureScreenshot", map[string]any{"context": p.context}, &r); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return fmt.Errorf("browser: firefox: %s: screenshot: %w", p.name, err)
	}
	return writePNG(Firefox, p.name, path, png)
}

func (p *firefoxPage) Errors() ([]string, error) {
	var errs []string
	err := p.Eval(readErrors, &errs)
	return errs, err
}

func (p *firefoxPage) Close() error {
	var err error
	p.closeOnce.Do(func() {
		err = p.call("closing", "browsingContext.close", map[string]any{"context": p.context}, nil)
		if p.f.bidi.err() != nil {
			err = nil // the browser is gone, and the page with it
		}
	})
	return err
}

// bidiConn is a WebDriver BiDi client: commands carry an id that their
// reply repeats; events, which carry none, are dropped. It is safe for
// concurrent use.
type bidiConn struct {
	conn   *websocket.Conn
	ctx    context.Context // ends when the connection is lost or closed
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the reader has returned

	pendingMu sync.Mutex
	next      int64
	pending   map[int64]chan bidiMessage
}

// bidiMessage is a reply or an event.
type bidiMessage struct {
	Type    string          `json:"type"` // "success", "error" or "event"
	ID      *int64          `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

// dialBiDi connects to a WebDriver BiDi endpoint and starts the reader,
// which returns when the connection is lost or closed.
func dialBiDi(ctx context.Context, url string) (*bidiConn, error) {
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", url, err)
	}
	conn.SetReadLimit(256 << 20) // screenshots
	c := &bidiConn{conn: conn, done: make(chan struct{}), pending: map[int64]chan bidiMessage{}}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	go c.read()
	return c, nil
}

// read delivers replies to their callers until the connection ends.
func (c *bidiConn) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(c.ctx)
		if err != nil {
			c.cancel(fmt.Errorf("WebDriver BiDi connection lost: %w", err))
			return
		}
		var m bidiMessage
		if err := json.Unmarshal(data, &m); err != nil || m.ID == nil {
			continue // an event, or noise
		}
		c.pendingMu.Lock()
		ch := c.pending[*m.ID]
		delete(c.pending, *m.ID)
		c.pendingMu.Unlock()
		if ch != nil {
			ch <- m // buffered
		}
	}
}

// err returns why the connection ended, or nil while it is up.
func (c *bidiConn) err() error {
	if c.ctx.Err() == nil {
		return nil
	}
	return context.Cause(c.ctx)
}

// call sends a command and decodes its result into out (when not nil).
func (c *bidiConn) call(ctx context.Context, method string, params map[string]any, out any) error {
	c.pendingMu.Lock()
	c.next++
	id := c.next
	ch := make(chan bidiMessage, 1)
	c.pending[id] = ch
	c.pendingMu.Unlock()
	defer func() {
		c.pendingMu.Lock()
		delete(c.pending, id)
		c.pendingMu.Unlock()
	}()

	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if err := c.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(m.Result, out); err != nil {
			return fmt.Errorf("%s: decoding %s: %w", method, m.Result, err)
		}
		return nil
	case <-c.ctx.Done():
		return fmt.Errorf("%s: %w", method, context.Cause(c.ctx))
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// close closes the connection and waits for the reader.
func (c *bidiConn) close() {
	c.cancel(errors.New("WebDriver BiDi connection closed"))
	_ = c.conn.CloseNow()
	<-c.done
}
