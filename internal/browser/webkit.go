package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// miniBrowserPaths are where Debian's WebKitGTK packages put MiniBrowser.
var miniBrowserPaths = []string{
	"/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
	"/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
	"/usr/lib/x86_64-linux-gnu/webkitgtk-6.0/MiniBrowser",
	"/usr/lib/aarch64-linux-gnu/webkitgtk-6.0/MiniBrowser",
}

// miniBrowserArgs give MiniBrowser mock capture devices (a fake camera and
// microphone with no prompt), Media Source Extensions, and autoplay with
// sound (without --autoplay-policy=allow, an unmuted play() is refused
// with NotAllowedError).
var miniBrowserArgs = []string{
	"--automation",
	"--enable-mock-capture-devices=true",
	"--enable-media-stream=true",
	"--enable-mediasource=true",
	"--autoplay-policy=allow",
}

// webkit is WebKitGTK's MiniBrowser under its own Xvfb display, driven by
// classic WebDriver over HTTP to WebKitWebDriver.
type webkit struct {
	xvfb    *process
	driver  *process
	base    string // http://127.0.0.1:PORT/session/ID
	http    *http.Client
	version string
	tmp     string // the driver's HOME and XDG dirs, where WebKit keeps its data
	// wedged is set, for good, by the first command the driver leaves
	// unanswered past its own timeout (see Browser.Wedged).
	wedged wedge

	// mu serialises commands: a WebDriver session has one current window,
	// which each page's commands switch to first. It is held across the
	// HTTP request, because the switch and the command must not
	// interleave with another page's.
	mu       sync.Mutex
	current  string // the current window handle
	spare    string // a window no page uses, kept because closing the last window ends the session
	windows  int    // the pages open
	closed   bool
	closeErr error
}

// startWebKit starts Xvfb on a free display, WebKitWebDriver on a free
// port, and a WebDriver session that starts MiniBrowser.
func startWebKit(tb testing.TB) (w *webkit, err error) {
	driverPath, ok := lookPath("WebKitWebDriver")
	if !ok {
		return nil, &missingError{WebKit, "WebKitWebDriver not found on PATH; install the Debian package webkit2gtk-driver"}
	}
	mini, ok := lookPath(miniBrowserPaths...)
	if !ok {
		return nil, &missingError{WebKit, "MiniBrowser not found (" + strings.Join(miniBrowserPaths, ", ") + "); install the Debian package webkit2gtk-driver"}
	}
	xvfbPath, ok := lookPath("Xvfb")
	if !ok {
		return nil, &missingError{WebKit, "Xvfb not found on PATH; install the Debian package xvfb"}
	}
	tmp, err := os.MkdirTemp("", "browser-webkit-")
	if err != nil {
		return nil, fmt.Errorf("browser: webkit: %w", err)
	}
	w = &webkit{tmp: tmp, http: &http.Client{}}
	defer func() {
		if err != nil {
			_ = w.Close()
			err = fmt.Errorf("browser: webkit: %w", err)
		}
	}()
	tb.Cleanup(func() {
		if !tb.Failed() {
			return
		}
		if w.xvfb != nil {
			tb.Logf("browser: webkit: the end of Xvfb's output:\n%s", w.xvfb.out.String())
		}
		if w.driver != nil {
			tb.Logf("browser: webkit: the end of WebKitWebDriver's and MiniBrowser's output:\n%s", w.driver.out.String())
		}
	})

	display, err := w.startXvfb(xvfbPath)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(driverPath, "--port="+strconv.Itoa(port), "--host=local")
	cmd.Env = append(os.Environ(),
		ownerEnv,
		"DISPLAY="+display,
		"HOME="+tmp,
		"XDG_CACHE_HOME="+tmp+"/cache",
		"XDG_CONFIG_HOME="+tmp+"/config",
		"XDG_DATA_HOME="+tmp+"/data",
		"XDG_RUNTIME_DIR="+tmp,
		"GTK_A11Y=none",
		"NO_AT_BRIDGE=1",
	)
	if w.driver, err = startProcess("WebKitWebDriver", cmd, nil); err != nil {
		return nil, err
	}
	root := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := w.waitReady(root); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	var sess struct {
		SessionID    string `json:"sessionId"`
		Capabilities struct {
			BrowserVersion string `json:"browserVersion"`
		} `json:"capabilities"`
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"webkitgtk:browserOptions": map[string]any{"binary": mini, "args": miniBrowserArgs},
	}}}
	if err := w.do(ctx, http.MethodPost, root+"/session", caps, &sess); err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	w.base = root + "/session/" + sess.SessionID
	w.version = sess.Capabilities.BrowserVersion
	ms := ActionTimeout.Milliseconds()
	if err := w.do(ctx, http.MethodPost, w.base+"/timeouts", map[string]any{"script": ms, "pageLoad": ms}, nil); err != nil {
		return nil, fmt.Errorf("setting timeouts: %w", err)
	}
	if err := w.do(ctx, http.MethodGet, w.base+"/window", nil, &w.current); err != nil {
		return nil, fmt.Errorf("reading the window handle: %w", err)
	}
	w.spare = w.current
	return w, nil
}

// startXvfb starts Xvfb on a display it picks itself (-displayfd) and
// returns that display once the server accepts connections, which is when
// Xvfb writes its number.
func (w *webkit) startXvfb(path string) (string, error) {
	r, wr, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	cmd := exec.Command(path, "-displayfd", "3", "-screen", "0", "1920x1080x24", "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{wr}
	cmd.Env = append(os.Environ(), ownerEnv)
	w.xvfb, err = startProcess("Xvfb", cmd, nil)
	wr.Close()
	if err != nil {
		return "", err
	}
	line := make(chan string, 1)
	go func() {
		// Returns when Xvfb writes its display or exits (closing the pipe).
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	select {
	case s := <-line:
		if _, err := strconv.Atoi(s); err != nil {
			w.xvfb.wait(closeTimeout)
			return "", fmt.Errorf("starting Xvfb: no display (%v):\n%s", w.xvfb.err, w.xvfb.out.String())
		}
		return ":" + s, nil
	case <-timer.C:
		w.xvfb.stop(closeTimeout) // closes the pipe, so the reader returns
		<-line
		return "", fmt.Errorf("starting Xvfb: no display within %v:\n%s", StartTimeout, w.xvfb.out.String())
	}
}

// waitReady polls the driver's /status until it is ready.
func (w *webkit) waitReady(root string) error {
	deadline := time.Now().Add(StartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var st struct {
			Ready bool `json:"ready"`
		}
		err := w.do(ctx, http.MethodGet, root+"/status", nil, &st)
		cancel()
		switch {
		case err == nil && st.Ready:
			return nil
		case w.driver.exited():
			return fmt.Errorf("WebKitWebDriver exited (%v):\n%s", w.driver.err, w.driver.out.String())
		case time.Now().After(deadline):
			return fmt.Errorf("WebKitWebDriver not ready after %v (%v):\n%s", StartTimeout, err, w.driver.out.String())
		}
		time.Sleep(PollInterval)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// commandError is a command the driver answered with an error: its
// WebDriver error code and message.
type commandError struct {
	method, url string
	Code        string `json:"error"`
	Message     string `json:"message"`
}

func (c *commandError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", c.method, c.url, c.Code, c.Message)
}

// do sends one WebDriver command and decodes the reply's value into out
// (when not nil). A command that ctx's deadline ends, which is later than
// the driver's own timeouts, wedges the browser; once it is wedged, do
// fails at once.
func (w *webkit) do(ctx context.Context, method, url string, body, out any) error {
	if err := w.Wedged(); err != nil {
		return err
	}
	err := w.send(ctx, method, url, body, out)
	var c *commandError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		w.wedged.set(fmt.Errorf("browser: webkit: wedged: %s %s went unanswered: %w", method, strings.TrimPrefix(url, w.base), err))
	case errors.As(err, &c) && c.Code == "invalid session id":
		// The driver deleted the session (its page's web process crashed
		// or hung): no later command can succeed either.
		w.wedged.set(fmt.Errorf("browser: webkit: wedged: its session is gone: %w", err))
	}
	return err
}

// Wedged implements Browser.
func (w *webkit) Wedged() error { return w.wedged.err() }

// send is do without the wedge.
func (w *webkit) send(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("%s %s: %s: %q", method, url, resp.Status, data)
	}
	if resp.StatusCode != http.StatusOK {
		c := &commandError{method: method, url: url}
		_ = json.Unmarshal(r.Value, c)
		return c
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Value, out); err != nil {
		return fmt.Errorf("%s %s: decoding %s: %w", method, url, r.Value, err)
	}
	return nil
}

func (w *webkit) Engine() Engine  { return WebKit }
func (w *webkit) Version() string { return w.version }

func (w *webkit) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	if w.base != "" && w.Wedged() == nil {
		// Ending the session quits MiniBrowser, which stops its web,
		// network and GPU processes.
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		if err := w.do(ctx, http.MethodDelete, w.base, nil, nil); err != nil {
			w.closeErr = fmt.Errorf("browser: webkit: ending the session: %w", err)
		}
		cancel()
	}
	if w.driver != nil {
		w.driver.stop(closeTimeout)
	}
	if w.xvfb != nil {
		w.xvfb.stop(closeTimeout)
	}
	w.http.CloseIdleConnections()
	if err := os.RemoveAll(w.tmp); err != nil && w.closeErr == nil {
		w.closeErr = fmt.Errorf("browser: webkit: %w", err)
	}
	return w.closeErr
}

func (w *webkit) NewPage(tb testing.TB, name string) Page {
	tb.Helper()
	p := &webkitPage{w: w, name: name}
	w.mu.Lock()
	if w.spare != "" {
		p.handle, w.spare = w.spare, ""
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), ActionTimeout)
		var r struct {
			Handle string `json:"handle"`
		}
		err := w.do(ctx, http.MethodPost, w.base+"/window/new", map[string]any{"type": "tab"}, &r)
		cancel()
		if err != nil {
			w.mu.Unlock()
			tb.Fatalf("browser: webkit: %s: opening the page: %v", name, err)
		}
		p.handle = r.Handle
	}
	w.windows++
	w.mu.Unlock()
	tb.Cleanup(func() { _ = p.Close() })
	if err := p.setViewport(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// webkitPage is one MiniBrowser window.
type webkitPage struct {
	w      *webkit
	name   string
	handle string
	closed bool
}

// do runs one command in the page's window within ActionTimeout.
func (p *webkitPage) do(what, method, path string, body, out any) error {
	w := p.w
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), ActionTimeout+5*time.Second)
	defer cancel()
	err := w.switchTo(ctx, p.handle)
	if err == nil {
		err = w.do(ctx, method, w.base+path, body, out)
	}
	if err != nil {
		return fmt.Errorf("browser: webkit: %s: %s: %w", p.name, what, err)
	}
	return nil
}

// switchTo makes handle the current window. w.mu must be held.
func (w *webkit) switchTo(ctx context.Context, handle string) error {
	if w.closed {
		return errors.New("the browser is closed")
	}
	if w.current == handle {
		return nil
	}
	if err := w.do(ctx, http.MethodPost, w.base+"/window", map[string]any{"handle": handle}, nil); err != nil {
		return err
	}
	w.current = handle
	return nil
}

// setViewport sizes the window so that its viewport is ViewportWidth by
// ViewportHeight: it sets the window's size, measures the browser's
// chrome, and sets it again.
func (p *webkitPage) setViewport() error {
	width, height := ViewportWidth, ViewportHeight
	for range 2 {
		rect := map[string]any{"width": width, "height": height}
		if err := p.do("sizing the window", http.MethodPost, "/window/rect", rect, nil); err != nil {
			return err
		}
		var inner [2]int
		if err := p.Eval(`[innerWidth, innerHeight]`, &inner); err != nil {
			return err
		}
		if inner[0] == ViewportWidth && inner[1] == ViewportHeight {
			return nil
		}
		width += ViewportWidth - inner[0]
		height += ViewportHeight - inner[1]
	}
	return nil
}

// webkitCollect installs the collectors of Page.Errors after a
// navigation: classic WebDriver cannot run a script before the page's own.
// (WebKit's ReportingObserver reports no Content-Security-Policy
// violations, and MiniBrowser under automation writes no console messages
// to its output, so neither can fill the gap.)
const webkitCollect = `(` + collectErrorsBody + `)();`

func (p *webkitPage) Navigate(url string) error {
	err := p.do("navigating to "+url, http.MethodPost, "/url", map[string]any{"url": url}, nil)
	var c *commandError
	if errors.As(err, &c) && c.Code == "unknown error" && c.Message == "" {
		// The driver's answer when the load was cut short under it (seen
		// now and then on a loaded machine, the page then blank): once
		// more.
		time.Sleep(250 * time.Millisecond)
		err = p.do("navigating to "+url+" again", http.MethodPost, "/url", map[string]any{"url": url}, nil)
	}
	if err != nil {
		return err
	}
	return p.do("installing the error collectors", http.MethodPost, "/execute/sync",
		map[string]any{"script": webkitCollect, "args": []any{}}, nil)
}

func (p *webkitPage) Eval(expr string, out any) error {
	script := `const done = arguments[arguments.length - 1];` + "\n" + evalWrapper(expr) + `.then(done);`
	var s string
	if err := p.do("evaluating "+expr, http.MethodPost, "/execute/async", map[string]any{"script": script, "args": []any{}}, &s); err != nil {
		if strings.Contains(err.Error(), "javascript error") {
			return &EvalError{Engine: WebKit, Page: p.name, Expr: expr, Message: err.Error()}
		}
		return err
	}
	return decodeEval(WebKit, p.name, expr, s, out)
}

func (p *webkitPage) WaitFor(expr string, timeout time.Duration) error {
	closed := func() error {
		p.w.mu.Lock()
		defer p.w.mu.Unlock()
		if p.w.closed {
			return errors.New("the browser is closed")
		}
		return nil
	}
	if err := waitFor(p.Eval, closed, expr, timeout); err != nil {
		return fmt.Errorf("browser: webkit: %s: waiting: %w", p.name, err)
	}
	return nil
}

func (p *webkitPage) Screenshot(path string) error {
	var data string
	if err := p.do("screenshot", http.MethodGet, "/screenshot", nil, &data); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return fmt.Errorf("browser: webkit: %s: screenshot: %w", p.name, err)
	}
	return writePNG(WebKit, p.name, path, png)
}

func (p *webkitPage) Errors() ([]string, error) {
	var errs []string
	err := p.Eval(readErrors, &errs)
	return errs, err
}

func (p *webkitPage) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	w := p.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.windows--
	if w.closed {
		return nil
	}
	if w.windows == 0 {
		// Closing the last window would end the session: keep it for the
		// next page.
		w.spare = p.handle
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ActionTimeout)
	defer cancel()
	if err := w.switchTo(ctx, p.handle); err != nil {
		return fmt.Errorf("browser: webkit: %s: closing: %w", p.name, err)
	}
	var left []string
	if err := w.do(ctx, http.MethodDelete, w.base+"/window", nil, &left); err != nil {
		return fmt.Errorf("browser: webkit: %s: closing: %w", p.name, err)
	}
	w.current = ""
	return nil
}
