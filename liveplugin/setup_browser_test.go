package liveplugin_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
)

// setupWidget is what jsSetup reads of the broadcaster's setup: the
// pickers and the track the preview shows.
type setupWidget struct {
	Camera      string   `json:"camera"`      // the widget's data-camera: "on" or "off"
	Cameras     []string `json:"cameras"`     // the camera picker's labels
	CameraValue string   `json:"cameraValue"` // its selected deviceId
	CameraLabel string   `json:"cameraLabel"` // its selected label
	Microphones []string `json:"microphones"` // the microphone picker's labels
	Sizes       []string `json:"sizes"`       // the resolution picker's values
	Size        string   `json:"size"`        // its selected value
	Track       string   `json:"track"`       // the preview's video track's label
	TrackDevice string   `json:"trackDevice"` // its deviceId
	Width       int      `json:"width"`       // its settings
	Height      int      `json:"height"`
	FrameRate   float64  `json:"frameRate"`
	Disabled    bool     `json:"disabled"` // the camera picker is disabled
}

const jsSetup = `(() => {
  const el = ` + chrometest.BroadcasterJS + `, q = (s) => el.querySelector(s);
  const cam = q('[data-amlive-camera]'), mic = q('[data-amlive-microphone]'), res = q('[data-amlive-resolution]');
  const v = q('[data-amlive-preview]'), tr = v.srcObject ? v.srcObject.getVideoTracks()[0] : null, st = tr ? tr.getSettings() : {};
  return {camera: el.dataset.camera, cameras: [...cam.options].map((o) => o.textContent), cameraValue: cam.value,
    cameraLabel: cam.selectedOptions[0] ? cam.selectedOptions[0].textContent : '',
    microphones: [...mic.options].map((o) => o.textContent),
    sizes: res ? [...res.options].map((o) => o.value) : [], size: res ? res.value : '',
    track: tr && tr.readyState === 'live' ? tr.label : '', trackDevice: st.deviceId || '',
    width: st.width || 0, height: st.height || 0, frameRate: st.frameRate || 0, disabled: cam.disabled};
})()`

// jsPreviewFrom is true once the preview shows a live track of the camera
// labelled label, and the camera picker shows it selected.
func jsPreviewFrom(label string) string {
	return fmt.Sprintf(`(() => {
  const el = %s, v = el.querySelector('[data-amlive-preview]'), cam = el.querySelector('[data-amlive-camera]');
  const tr = v.srcObject && v.srcObject.getVideoTracks()[0];
  return el.dataset.camera === 'on' && tr && tr.readyState === 'live' && tr.label === %[2]q && v.videoWidth > 0 &&
    cam.selectedOptions[0] && cam.selectedOptions[0].textContent === %[2]q && tr.getSettings().deviceId === cam.value;
})()`, chrometest.BroadcasterJS, label)
}

// jsLevels samples the microphone level meter every 100 ms for 2 s and
// returns the values it showed.
const jsLevels = `new Promise((resolve) => {
  const m = ` + chrometest.BroadcasterJS + `.querySelector('[data-amlive-level]'), seen = [];
  const id = setInterval(() => seen.push(m.value), 100);
  setTimeout(() => { clearInterval(id); resolve(seen); }, 2000);
})`

// checkLevelMoves fails t unless the level meter shows at least three
// distinct values, one of them above silence, within a 2 s sample (the
// fake microphone beeps), allowing a few samples for a slow start.
func checkLevelMoves(t *testing.T, tab *chrometest.Tab) {
	t.Helper()
	var levels []float64
	for range 5 {
		levels = chrometest.Eval[[]float64](tab, jsLevels)
		distinct := slices.Compact(slices.Sorted(slices.Values(levels)))
		if len(distinct) >= 3 && distinct[len(distinct)-1] > 0 {
			return
		}
	}
	t.Errorf("%s: microphone level meter showed %v in 2 s; want it to move with the fake microphone", tab.Name(), levels)
}

// TestBrowserGoLiveSetup goes live the way a person expects to: with two
// fake cameras, the broadcaster page shows the camera at once (the fake
// UI has granted the permission), lists both cameras and the
// microphones, switches the preview to the second camera picked with the
// keyboard, shows the microphone level moving, takes a title, goes live
// with the second camera, and a viewer's live list shows the title and a
// thumbnail that loaded. A reload remembers the second camera.
func TestBrowserGoLiveSetup(t *testing.T) {
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, StatusInterval: 200 * time.Millisecond})
	b := chrometest.NewWith(t, chrometest.FakeCameras(2))
	const title = "Two cameras, one stream"

	pub := b.NewTab(t, "broadcaster")
	pub.Diagnose = jsSetup
	pub.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	pub.WaitFor(jsPreviewFrom("fake_device_0"), browserLiveTimeout)
	got := chrometest.Eval[setupWidget](pub, jsSetup)
	if !slices.Equal(got.Cameras, []string{"fake_device_0", "fake_device_1"}) {
		t.Errorf("camera picker lists %q; want both fake cameras", got.Cameras)
	}
	if len(got.Microphones) < 2 || !slices.Contains(got.Microphones, "Fake Default Audio Input") {
		t.Errorf("microphone picker lists %q; want the fake microphones", got.Microphones)
	}
	if toggle := chrometest.Eval[string](pub, chrometest.BroadcasterJS+`.querySelector('[data-amlive-camera-toggle]').textContent`); toggle != "Turn camera off" {
		t.Errorf("camera button says %q with the preview on; want \"Turn camera off\"", toggle)
	}

	// The second camera, picked with the keyboard.
	pub.Do(chromedp.Focus(chromedp.CSS("[data-amlive-camera]")), chromedp.KeyEvent(kb.ArrowDown))
	pub.WaitFor(jsPreviewFrom("fake_device_1"), browserLiveTimeout)
	second := chrometest.Eval[setupWidget](pub, jsSetup).CameraValue
	checkLevelMoves(t, pub)
	shots := chrometest.ScreenshotDir(t)
	pub.Screenshot(filepath.Join(shots, "broadcaster-setup.png"))
	t.Logf("screenshot in %s", shots)

	pub.Do(chromedp.SendKeys(chromedp.CSS("[data-amlive-title-input]"), title))
	pub.Click("[data-amlive-start]")
	pub.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)
	got = chrometest.Eval[setupWidget](pub, jsSetup)
	if got.Track != "fake_device_1" || got.TrackDevice != second {
		t.Errorf("live with track %q (device %q); want the second camera, fake_device_1 (%q)", got.Track, got.TrackDevice, second)
	}
	if !got.Disabled {
		t.Error("the camera picker is enabled while live; want it disabled (a recorder cannot change tracks)")
	}
	checkLevelMoves(t, pub) // it goes on while live

	viewer := b.NewTab(t, "viewer")
	viewer.Navigate(srv.url + "/live/")
	viewer.WaitFor(jsTextIs(`[data-amlive-room="`+browserRoom+`"] [data-amlive-field="title"]`, title), browserLiveTimeout)
	viewer.WaitFor(jsThumbLoaded, browserLiveTimeout)
	chrometest.CheckNoPageErrors(t, pub, viewer)

	stopBroadcast(t, pub)
	if cam := chrometest.Eval[string](pub, chrometest.BroadcasterJS+`.dataset.camera`); cam != "off" {
		t.Errorf("camera %q after the broadcast ended; want off", cam)
	}

	// A reload: the second camera, remembered.
	pub.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	pub.WaitFor(jsPreviewFrom("fake_device_1"), browserLiveTimeout)
	chrometest.CheckNoPageErrors(t, pub)
}

// TestBrowserCaptureLimits: with Config.Capture below the defaults, the
// resolution picker offers only the sizes up to its maximum (the largest
// chosen), the preview's camera keeps within it, a smaller size picked
// restarts the camera at that size, and the recorder of the broadcast
// gets the configured bitrates.
func TestBrowserCaptureLimits(t *testing.T) {
	capture := liveplugin.Capture{MaxWidth: 854, MaxHeight: 480, MaxFrameRate: 15, VideoBitsPerSecond: 600_000, AudioBitsPerSecond: 64_000}
	srv := newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, Capture: capture})
	b := chrometest.New(t)
	pub := b.NewTab(t, "broadcaster")
	pub.Diagnose = jsSetup
	pub.Navigate(srv.url + "/live/" + browserRoom + "/broadcast")
	pub.WaitFor(jsPreviewFrom("fake_device_0"), browserLiveTimeout)
	got := chrometest.Eval[setupWidget](pub, jsSetup)
	if want := []string{"640x360", "854x480"}; !slices.Equal(got.Sizes, want) || got.Size != "854x480" {
		t.Errorf("resolution picker offers %q, %q chosen; want %q, the largest chosen", got.Sizes, got.Size, want)
	}
	if got.Width > capture.MaxWidth || got.Height > capture.MaxHeight || got.FrameRate > float64(capture.MaxFrameRate) {
		t.Errorf("preview camera at %dx%d, %.0f fps; want within %dx%d, %d fps", got.Width, got.Height, got.FrameRate, capture.MaxWidth, capture.MaxHeight, capture.MaxFrameRate)
	}

	chrometest.Eval[bool](pub, `(() => { const s = `+chrometest.BroadcasterJS+`.querySelector('[data-amlive-resolution]'); s.value = '640x360'; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	pub.WaitFor(`(() => { const v = `+chrometest.BroadcasterJS+`.querySelector('[data-amlive-preview]'), tr = v.srcObject && v.srcObject.getVideoTracks()[0];
  return tr && tr.readyState === 'live' && tr.getSettings().width === 640 && tr.getSettings().height === 360; })()`, browserLiveTimeout)

	pub.Click("[data-amlive-start]")
	pub.WaitFor(chrometest.BroadcasterIs("live"), browserLiveTimeout)
	type recorder struct {
		MIMEType string `json:"mimeType"`
		Video    int    `json:"videoBitsPerSecond"`
		Audio    int    `json:"audioBitsPerSecond"`
	}
	rec := chrometest.Eval[recorder](pub, chrometest.BroadcasterJS+`.amliveBroadcaster.recorder`)
	if rec.Video != capture.VideoBitsPerSecond || rec.Audio != capture.AudioBitsPerSecond {
		t.Errorf("MediaRecorder %+v; want %d and %d bit/s, Config.Capture's", rec, capture.VideoBitsPerSecond, capture.AudioBitsPerSecond)
	}
	if got := chrometest.Eval[setupWidget](pub, jsSetup); got.Width != 640 || got.Height != 360 {
		t.Errorf("live at %dx%d; want the 640x360 picked", got.Width, got.Height)
	}
	stopBroadcast(t, pub)
	chrometest.CheckNoPageErrors(t, pub)
}
