package liveplugin_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
)

// TestBrowserViewerReports has a Chromium viewer watch a Chromium
// broadcast: its reports reach the server (Status shows an audience of one
// with a plausible delay), the broadcaster page shows the summary and its
// upload health, and a forged report with absurd values, sent by a script
// on the viewer's own socket, is rejected without cutting the viewer off.
func TestBrowserViewerReports(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, Metrics: reg})
	b := chrometest.New(t)
	pub := openBroadcaster(t, b, srv)
	viewer := openViewer(t, b, srv, "viewer")
	viewer.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	viewer.WaitFor(jsLivePlaying, browserLiveTimeout)

	chrometest.Until(t, browserLiveTimeout, "an audience of one in Status", func() bool {
		b, ok := srv.p.Status(browserRoom)
		return ok && b.Audience != nil && b.Audience.Viewers == 1
	})
	st, _ := srv.p.Status(browserRoom)
	if d := st.Audience.MedianDelay; d < 0 || d > 10 {
		t.Errorf("median delay %v s; want a live viewer's (0 to 10 s)", d)
	}
	if st.Audience.DroppedFrames < 0 || st.Audience.DroppedFrames > 1 {
		t.Errorf("dropped frames %v; want a share", st.Audience.DroppedFrames)
	}
	accepted, rejected, _ := srv.p.ReportCounts()
	for reason, n := range rejected {
		if n != 0 {
			t.Errorf("the real player's reports: %d rejected for %s; want none", n, reason)
		}
	}
	if accepted < 1 {
		t.Errorf("accepted reports = %d; want the player's", accepted)
	}
	// The metrics count them: the delay histogram has a sample for each
	// report taken. A report is counted just before it is observed, and
	// more may come meanwhile: within one of the counts read around it.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	after, _, _ := srv.p.ReportCounts()
	var samples uint64
	for _, mf := range mfs {
		if mf.GetName() == "amlive_viewer_delay_seconds" {
			samples = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if int64(samples) < accepted-1 || int64(samples) > after {
		t.Errorf("amlive_viewer_delay_seconds counts %d reports; want the %d to %d taken", samples, accepted, after)
	}

	const audience = chrometest.BroadcasterJS + `.querySelector('[data-amlive-audience]').textContent`
	pub.WaitFor(audience+`.startsWith('1 watching, median delay ')`, browserLiveTimeout)
	pub.WaitFor(chrometest.BroadcasterJS+`.amliveBroadcaster.health.bitrate > 0`, browserLiveTimeout)
	health := chrometest.Eval[map[string]float64](pub, chrometest.BroadcasterJS+`.amliveBroadcaster.health`)
	if health["reconnects"] != 0 || health["unackedBytes"] < 0 || health["unackedMs"] < 0 {
		t.Errorf("upload health = %v; want 0 reconnects and non-negative lag", health)
	}
	text := chrometest.Eval[string](pub, chrometest.BroadcasterJS+`.querySelector('[data-amlive-health]').textContent`)
	if !strings.Contains(text, "Mbit/s") || !strings.Contains(text, "0 reconnects") || strings.Contains(text, "Upload 0.00 Mbit/s") {
		t.Errorf("health line %q; want a bitrate above 0 and 0 reconnects", text)
	}
	for _, sel := range []string{"[data-amlive-audience]", "[data-amlive-health]"} {
		if live := chrometest.Eval[string](pub, chrometest.BroadcasterJS+`.querySelector('`+sel+`').getAttribute('aria-live')`); live != "polite" {
			t.Errorf("%s aria-live = %q; want polite", sel, live)
		}
	}

	pub.Screenshot(filepath.Join(chrometest.ScreenshotDir(t), "broadcast-audience.png"))

	// A script on the viewer's page forges a report on the player's socket.
	_, before, _ := srv.p.ReportCounts()
	chrometest.Eval[bool](viewer, `(() => {
  const ws = `+chrometest.PlayerJS+`.amlivePlayer.engine._feed.ws;
  ws.send(JSON.stringify({type: 'report', delay: 1e6, stalls: 0, stallSeconds: 0, frames: -1, dropped: 5, skips: 0, errors: 0, codec: 'x'}));
  return true;
})()`)
	chrometest.Until(t, browserLiveTimeout, "the forged report rejected", func() bool {
		_, rej, _ := srv.p.ReportCounts()
		return rej["range"] == before["range"]+1
	})
	if st, ok := srv.p.Status(browserRoom); !ok || st.Audience == nil || st.Audience.MedianDelay > 10 || st.Audience.Viewers != 1 {
		t.Errorf("audience after the forged report = %+v; want the real viewer's alone", st.Audience)
	}
	viewer.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	chrometest.CheckNoPageErrors(t, pub, viewer)
}
