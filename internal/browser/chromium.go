package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/amlive/amlive/internal/chrometest"
)

// chromium is a headless Chromium driven by chromedp.
type chromium struct {
	ctx         context.Context // the browser's first tab, which owns the process
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	out         *tailBuffer
	profile     string
	version     string

	closeOnce sync.Once
	closeErr  error
}

// startChromium starts Chromium with chrometest.Flags and a fresh profile.
func startChromium(tb testing.TB) (*chromium, error) {
	execPath, ok := lookPath("/usr/bin/chromium", "chromium", "chromium-browser")
	if !ok {
		return nil, &missingError{Chromium, "chromium not found (/usr/bin/chromium or chromium on PATH); install the Debian package chromium"}
	}
	profile, err := os.MkdirTemp("", "browser-chromium-")
	if err != nil {
		return nil, fmt.Errorf("browser: chromium: %w", err)
	}
	out := &tailBuffer{max: 32 << 10}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(execPath), chromedp.CombinedOutput(out), chromedp.Env(ownerEnv))
	opts = append(opts, chrometest.Flags(profile)...)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	c := &chromium{ctx: ctx, cancel: cancel, allocCancel: allocCancel, out: out, profile: profile}

	// The first Run starts the process and binds it to ctx, which must not
	// have a deadline; the watchdog cancels a start that hangs instead.
	watchdog := time.AfterFunc(StartTimeout, cancel)
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		v, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.GetVersion, cdp.Empty{})
		c.version = v.Product
		return err
	}))
	stopped := watchdog.Stop()
	if err != nil || !stopped {
		_ = c.Close()
		return nil, fmt.Errorf("browser: chromium: starting %s: %v\n%s", execPath, err, out.String())
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("browser: chromium: the end of its output:\n%s", out.String())
		}
	})
	return c, nil
}

func (c *chromium) Engine() Engine  { return Chromium }
func (c *chromium) Version() string { return c.version }
func (*chromium) Wedged() error     { return nil }

func (c *chromium) Close() error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(c.ctx, closeTimeout)
		defer cancel()
		err := chromedp.Cancel(ctx)
		c.cancel()
		c.allocCancel() // waits for the process and its output
		if err != nil && !errors.Is(err, context.Canceled) {
			c.closeErr = fmt.Errorf("browser: chromium: closing: %w", err)
		}
		if err := os.RemoveAll(c.profile); err != nil && c.closeErr == nil {
			c.closeErr = fmt.Errorf("browser: chromium: %w", err)
		}
	})
	return c.closeErr
}

func (c *chromium) NewPage(tb testing.TB, name string) Page {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx)
	p := &chromiumPage{name: name, ctx: ctx, cancel: cancel}
	tb.Cleanup(func() { _ = p.Close() })
	// The first Run opens the tab and binds its event loop to the context
	// it is given, which must therefore be the tab's own, with no
	// deadline; the watchdog closes a tab that does not open in time.
	watchdog := time.AfterFunc(ActionTimeout, cancel)
	err := chromedp.Do(ctx)
	if !watchdog.Stop() || err != nil {
		tb.Fatalf("browser: chromium: %s: opening the page: %v", name, err)
	}
	err = p.do("setting up the page",
		chromedp.EmulateViewport(ViewportWidth, ViewportHeight),
		chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := cdp.Call(ctx, target, page.AddScriptToEvaluateOnNewDocument,
				page.AddScriptToEvaluateOnNewDocumentParams{Source: "(" + collectErrorsBody + ")()"})
			return err
		}),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// chromiumPage is one Chromium tab.
type chromiumPage struct {
	name   string
	ctx    context.Context
	cancel context.CancelFunc
}

// do runs actions in order, each within ActionTimeout.
func (p *chromiumPage) do(what string, actions ...chromedp.Action[chromedp.Void]) error {
	for _, a := range actions {
		ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
		err := chromedp.Do(ctx, a)
		cancel()
		if err != nil {
			return fmt.Errorf("browser: chromium: %s: %s: %w", p.name, what, err)
		}
	}
	return nil
}

func (p *chromiumPage) Navigate(url string) error {
	return p.do("navigating to "+url, chromedp.Navigate(url))
}

func (p *chromiumPage) Eval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](evalWrapper(expr), chromedp.EvalAwaitPromise))
	var ee *chromedp.ExceptionError
	switch {
	case errors.As(err, &ee):
		return &EvalError{Engine: Chromium, Page: p.name, Expr: expr, Message: err.Error()}
	case err != nil:
		return fmt.Errorf("browser: chromium: %s: evaluating %s: %w", p.name, expr, err)
	}
	return decodeEval(Chromium, p.name, expr, s, out)
}

func (p *chromiumPage) WaitFor(expr string, timeout time.Duration) error {
	if err := waitFor(p.Eval, p.ctx.Err, expr, timeout); err != nil {
		return fmt.Errorf("browser: chromium: %s: waiting: %w", p.name, err)
	}
	return nil
}

func (p *chromiumPage) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("browser: chromium: %s: screenshot: %w", p.name, err)
	}
	return writePNG(Chromium, p.name, path, png)
}

func (p *chromiumPage) Errors() ([]string, error) {
	var errs []string
	err := p.Eval(readErrors, &errs)
	return errs, err
}

func (p *chromiumPage) Close() error {
	p.cancel()
	return nil
}

// writePNG writes a screenshot to path, creating its directory.
func writePNG(e Engine, page, path string, png []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("browser: %s: %s: screenshot: %w", e, page, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("browser: %s: %s: screenshot: %w", e, page, err)
	}
	return nil
}
