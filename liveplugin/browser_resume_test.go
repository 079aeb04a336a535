package liveplugin_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
)

// jsCaptureRecorder makes the page keep a copy of every chunk its
// MediaRecorders produce (window.__produced), and log the broadcaster's
// states (window.__states). It must run before "Go live".
const jsCaptureRecorder = `(() => {
  window.__produced = [];
  window.__states = [];
  const start = MediaRecorder.prototype.start;
  MediaRecorder.prototype.start = function (...args) {
    this.addEventListener('dataavailable', (ev) => { if (ev.data && ev.data.size) window.__produced.push(ev.data); });
    return start.apply(this, args);
  };
  ` + chrometest.BroadcasterJS + `.amliveBroadcaster.on('state', (d) => window.__states.push(d.state));
  return true;
})()`

// jsProduced is every byte the page's MediaRecorder produced, in base64.
const jsProduced = `(async () => {
  const bytes = new Uint8Array(await new Blob(window.__produced).arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
})()`

// TestBrowserPublisherResumes cuts the broadcaster page's network for a
// second, twice, while it is live (its page is loaded through a proxy; the viewer's is
// not): the broadcaster reconnects by itself and resends what the server
// did not acknowledge, the viewer sees "reconnecting" and keeps playing
// without reconnecting itself, and the recording holds every block the
// browser's MediaRecorder produced.
func TestBrowserPublisherResumes(t *testing.T) {
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, ResumeGrace: 30 * time.Second})
	proxy := newNetProxy(t, srv.url)
	b := chrometest.New(t)

	pub := b.NewTab(t, "broadcaster")
	pub.Diagnose = chrometest.BroadcasterDiagnosis
	pub.Navigate(strings.Replace(proxy.URL("/live/"+browserRoom+"/broadcast"), "ws://", "http://", 1))
	chrometest.Eval[bool](pub, jsCaptureRecorder)
	pub.Click("[data-amlive-start]")
	pub.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)

	viewer := openViewer(t, b, srv, "viewer")
	viewer.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	chrometest.Eval[bool](viewer, `(() => {
  window.__publisher = [];
  document.addEventListener('amlive:publisher', (ev) => window.__publisher.push(ev.detail.reconnecting ? 'reconnecting' : 'resumed'));
  return true;
})()`)
	viewer.WaitFor(jsLivePlaying, browserLiveTimeout)
	chrometest.AssertPlays(t, browserLiveTimeout, false, []*chrometest.Tab{viewer}, "live")

	for drop := 1; drop <= 2; drop++ {
		// A short outage: the server notices the drop before the page
		// can reconnect (otherwise the resume replaces a connection the
		// server still holds, and viewers see no pause).
		proxy.outage(time.Second)
		// The broadcaster notices, reconnects and is live again.
		pub.WaitFor(fmt.Sprintf(`window.__states.filter((s) => s === 'reconnecting').length >= %d`, drop), browserLiveTimeout)
		pub.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)
		viewer.WaitFor(fmt.Sprintf(`window.__publisher.join(' ') === '%s'`, strings.Repeat(" reconnecting resumed", drop)[1:]), browserLiveTimeout)
		chrometest.AssertPlays(t, browserLiveTimeout, false, []*chrometest.Tab{viewer}, "live")
		if info, ok := srv.p.Status(browserRoom); !ok || info.Reconnecting {
			t.Errorf("after drop %d: Status = %+v, %v; want live and not reconnecting", drop, info, ok)
		}
	}
	if states := chrometest.Eval[[]string](pub, `window.__states`); strings.Join(states, " ") != "starting live reconnecting live reconnecting live" {
		t.Errorf("broadcaster states %q; want starting, live, then reconnecting and live twice", states)
	}
	stopBroadcast(t, pub)
	viewer.WaitFor(chrometest.PlayerIn("document", "ended", "recording"), browserLiveTimeout)

	produced, err := base64.StdEncoding.DecodeString(chrometest.Eval[string](pub, jsProduced))
	if err != nil {
		t.Fatal(err)
	}
	st := browserStatus(t, srv)
	if len(st.Recordings) != 1 {
		t.Fatalf("recordings %+v; want one", st.Recordings)
	}
	_, rec := get(t, http.MethodGet, srv.url+"/live/"+browserRoom+"/playback?b="+st.Recordings[0].ID, nil)
	checkRecording(t, rec, produced)
	t.Logf("MediaRecorder produced %d bytes; sealed recording %d bytes, %v", len(produced), len(rec), time.Duration(st.Recordings[0].DurationMs)*time.Millisecond)
	chrometest.CheckNoPageErrors(t, pub, viewer)
}
