package chrometest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The phone that NewPhoneTab emulates: an iPhone 14's viewport, in CSS
// pixels, its pixel ratio, and a mobile Chrome user agent.
const (
	// PhoneWidth is the width of a phone tab.
	PhoneWidth = 390
	// PhoneHeight is the height of a phone tab.
	PhoneHeight = 844
	// PhoneScale is a phone tab's device pixel ratio.
	PhoneScale = 3
	// PhoneUserAgent is a phone tab's navigator.userAgent.
	PhoneUserAgent = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36"
)

// The desktop size of the README's screenshots, in CSS pixels.
const (
	// DesktopShotWidth is the width of a desktop screenshot.
	DesktopShotWidth = 1280
	// DesktopShotHeight is the height of a desktop screenshot.
	DesktopShotHeight = 800
)

// MinTarget is the smallest width and height, in CSS pixels, of a control
// a finger can hit (WCAG 2.5.5, Apple's and Google's guidelines: 44 px).
const MinTarget = 44

// NewPhoneTab opens a blank tab that emulates a phone: a PhoneWidth by
// PhoneHeight viewport at PhoneScale, a mobile viewport (the page's
// <meta name="viewport"> applies), touch input (pointer: coarse) and
// PhoneUserAgent. Tab.Tap touches its elements. Otherwise it is NewTab.
func (b *Browser) NewPhoneTab(tb testing.TB, name string) *Tab {
	tb.Helper()
	t := b.NewTab(tb, name)
	t.Do(
		chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := cdp.Call(ctx, target, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: PhoneUserAgent, Platform: "Linux armv8l"})
			return err
		}),
		chromedp.EmulateViewport(PhoneWidth, PhoneHeight, chromedp.EmulateScale(PhoneScale), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait),
	)
	t.phone = true
	return t
}

// Resize sets the tab's viewport to width by height CSS pixels, at a pixel
// ratio of 1, with no mobile or touch emulation: a desktop window.
func (t *Tab) Resize(width, height int64) {
	t.tb.Helper()
	t.Do(chromedp.EmulateViewport(width, height))
	t.phone = false
}

// Tap touches, with a finger (touchstart and touchend, then the click the
// browser makes of them), the centre of the first visible element that
// matches the CSS selector, waiting for one to appear. It needs a tab of
// NewPhoneTab: only there does the browser turn touches into clicks.
func (t *Tab) Tap(selector string) {
	t.tb.Helper()
	if !t.phone {
		t.tb.Fatalf("%s: Tap needs a tab of NewPhoneTab (touch emulation)", t.name)
	}
	t.Do(chromedp.Tap(chromedp.CSS(selector)))
}

// ScreenshotScaled saves a PNG of the tab's viewport to path, as Screenshot
// does, at scale device pixels per CSS pixel (1 keeps a phone's
// screenshot 390 pixels wide whatever its pixel ratio).
func (t *Tab) ScreenshotScaled(path string, scale float64) {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, ActionTimeout)
	defer cancel()
	type size struct {
		W   float64 `json:"w"`
		H   float64 `json:"h"`
		DPR float64 `json:"dpr"`
	}
	s := Eval[size](t, `({w: innerWidth, h: innerHeight, dpr: devicePixelRatio})`)
	var png []byte
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		r, err := cdp.Call(ctx, target, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng,
			Clip:   &page.Viewport{X: 0, Y: 0, Width: s.W, Height: s.H, Scale: scale / s.DPR}, // the clip's scale multiplies the pixel ratio
		})
		if err == nil {
			png = r.Data
		}
		return err
	}))
	if err != nil {
		t.tb.Fatalf("%s: screenshot: %v", t.name, err)
	}
	t.saveScreenshot(path, png)
}

// PhoneProblem is a defect CheckPhoneLayout found.
type PhoneProblem struct {
	Kind    string  `json:"kind"`    // "overflow" or "small"
	Element string  `json:"element"` // the element, as the start of its outerHTML
	Width   float64 `json:"width"`   // its width, in CSS pixels
	Height  float64 `json:"height"`  // its height, in CSS pixels
	Right   float64 `json:"right"`   // for "overflow": where it ends, in CSS pixels
}

func (p PhoneProblem) String() string {
	if p.Kind == "overflow" {
		return fmt.Sprintf("%s ends at x=%.0f, beyond the viewport (%.0f×%.0f px)", p.Element, p.Right, p.Width, p.Height)
	}
	return fmt.Sprintf("%s is %.0f×%.0f px; a finger needs %d×%d", p.Element, p.Width, p.Height, MinTarget, MinTarget)
}

// jsPhoneLayout lists the page's horizontal overflow beyond the viewport's
// width (the phone's, on a phone: a mobile browser widens its layout
// viewport, innerWidth, to fit a page that overflows) and its controls
// smaller than MinTarget. A link in running text (an inline <a> whose
// block has text besides its links, WCAG 2.5.8's inline exception) is not
// a control here; every other visible a[href], button, input, select and
// textarea is, except hidden inputs.
const jsPhoneLayout = `(() => {
  const min = %d, vw = %d || innerWidth, out = [];
  const name = (el) => el.outerHTML.replace(/\s+/g, ' ').slice(0, 140);
  const doc = document.documentElement;
  if (doc.scrollWidth > vw) {
    // Name the innermost elements that stick out.
    const wide = [...document.body.querySelectorAll('*')].filter((el) => {
      if (!el.checkVisibility()) return false;
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.right + scrollX > vw + 0.5;
    });
    const inner = wide.filter((el) => !wide.some((o) => o !== el && el.contains(o)));
    for (const el of inner.slice(0, 5)) {
      const r = el.getBoundingClientRect();
      out.push({kind: 'overflow', element: name(el), width: r.width, height: r.height, right: r.right + scrollX});
    }
    if (!inner.length) out.push({kind: 'overflow', element: '<html> scrollWidth ' + doc.scrollWidth, width: doc.scrollWidth, height: 0, right: doc.scrollWidth});
  }
  const inText = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display === 'inline') block = block.parentElement;
    if (!block) return false;
    let text = block.textContent;
    for (const a of block.querySelectorAll('a, button')) text = text.replace(a.textContent, '');
    return text.trim().length > 0;
  };
  const controls = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea');
  for (const el of controls) {
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true}) || inText(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.width < min - 0.5 || r.height < min - 0.5) out.push({kind: 'small', element: name(el), width: r.width, height: r.height, right: r.right});
  }
  return out;
})()`

// CheckPhoneLayout reports on tb (t.Error, so the test goes on) what
// makes the tab's current page hard to use on a phone: a page wider than
// the viewport (document.documentElement.scrollWidth > innerWidth; on a tab
// of NewPhoneTab, > PhoneWidth, since a mobile browser widens innerWidth to
// fit a page that overflows), naming the elements that stick out, and each
// visible control (link, button, input, select, textarea) narrower or
// shorter than MinTarget, naming it. Links in running text are exempt
// (WCAG 2.5.8). what names the page in the messages. It returns the
// problems found.
func CheckPhoneLayout(tb testing.TB, tab *Tab, what string) []PhoneProblem {
	tb.Helper()
	width := 0
	if tab.phone {
		width = PhoneWidth
	}
	probs := Eval[[]PhoneProblem](tab, fmt.Sprintf(jsPhoneLayout, MinTarget, width))
	if len(probs) > 0 {
		lines := make([]string, len(probs))
		for i, p := range probs {
			lines[i] = "\t" + p.String()
		}
		tb.Errorf("%s: %s at %.0f px wide is not fit for a phone:\n%s", tab.Name(), what, Eval[float64](tab, fmt.Sprintf("%d || innerWidth", width)), strings.Join(lines, "\n"))
	}
	return probs
}
