package browser_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/amlive/amlive/internal/browser"
)

// RecordFixturesEnv is the environment variable that, set to a folder,
// makes TestRecordFixture record the MediaRecorder fixture sets into it
// (one sub-folder per set: chunk-NNNN.bin and recording.json, as
// internal/fixture/testdata/README.md describes). It never runs in CI.
const RecordFixturesEnv = "AMLIVE_RECORD_FIXTURES"

// recordChunksJS records the fake camera and microphone the way the
// fixtures' README says, uploads each blob to /upload/NAME-NNNN, and
// resolves with what recording.json holds. It is called with the JSON of
// a fixtureConfig and the set's name.
const recordChunksJS = `async (cfg, name) => {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const stream = await navigator.mediaDevices.getUserMedia({
    video: {width: {ideal: cfg.width}, height: {ideal: cfg.height}, frameRate: {ideal: cfg.frameRate}}, audio: true});
  const supported = MediaRecorder.isTypeSupported(cfg.mimeType);
  const r = new MediaRecorder(stream, {mimeType: cfg.mimeType, ...cfg.options});
  const chunks = [], events = [], errors = [];
  const reads = [];
  r.addEventListener('dataavailable', (e) => {
    const i = chunks.length;
    chunks.push({i, size: e.data.size, type: e.data.type, tMs: ms(), state: r.state});
    reads.push(e.data.arrayBuffer().then((b) => fetch('/upload/' + name + '-' + String(i).padStart(4, '0'), {method: 'POST', body: b})));
  });
  r.addEventListener('error', (e) => errors.push(String(e.error || e)));
  const stopped = new Promise((res) => r.addEventListener('stop', () => { events.push(['stop', ms()]); res(); }, {once: true}));
  r.addEventListener('start', () => events.push(['start', ms()]), {once: true});
  if (cfg.timeslice) r.start(cfg.timeslice); else r.start();
  await new Promise((res) => setTimeout(res, cfg.durationMs));
  r.stop();
  await stopped;
  await Promise.all(reads);
  const [v] = stream.getVideoTracks(), [a] = stream.getAudioTracks();
  const out = {cfg, isTypeSupported: supported, recorderMimeType: r.mimeType,
    videoSettings: v.getSettings(), audioSettings: a ? a.getSettings() : null,
    chunks, errors, events, userAgent: navigator.userAgent,
    fullSize: chunks.reduce((n, c) => n + c.size, 0), chunkCount: chunks.length,
    zeroSizeChunks: chunks.filter((c) => !c.size).length};
  for (const t of stream.getTracks()) t.stop();
  return out;
}`

// fixtureConfig is what the recorder page is asked to record.
type fixtureConfig struct {
	MimeType   string         `json:"mimeType"`
	Timeslice  int            `json:"timeslice"`
	DurationMS int            `json:"durationMs"`
	Width      int            `json:"width"`
	Height     int            `json:"height"`
	FrameRate  int            `json:"frameRate"`
	Options    map[string]any `json:"options"`
}

// TestRecordFixture records the MP4 fixture sets with each engine that
// has a recorder for them. It runs only when RecordFixturesEnv names a
// folder; the sets it writes are then checked and described by hand (see
// the fixtures' README) before they go into internal/fixture/testdata.
func TestRecordFixture(t *testing.T) {
	dir := os.Getenv(RecordFixturesEnv)
	if dir == "" {
		t.Skipf("set %s to a folder to record fixture sets into it", RecordFixturesEnv)
	}
	opts := func(kf int) map[string]any {
		o := map[string]any{"videoBitsPerSecond": 500000, "audioBitsPerSecond": 64000}
		if kf > 0 {
			o["videoKeyFrameIntervalDuration"] = kf
		}
		return o
	}
	tests := []struct {
		name   string
		engine browser.Engine
		give   fixtureConfig
	}{
		{"mp4-avc1-opus-1000ms", browser.Chromium, fixtureConfig{"video/mp4;codecs=avc1,opus", 1000, 12000, 640, 360, 30, opts(0)}},
		{"mp4-avc3-opus-1000ms-kf2s", browser.Chromium, fixtureConfig{"video/mp4;codecs=avc3,opus", 1000, 12000, 640, 360, 30, opts(2000)}},
		{"mp4-avc1-opus-1000ms-720p", browser.Chromium, fixtureConfig{"video/mp4;codecs=avc1.640028,opus", 1000, 12000, 1280, 720, 30, opts(2000)}},
		{"mp4-webkit-1000ms", browser.WebKit, fixtureConfig{"video/mp4", 1000, 6000, 640, 360, 30, opts(2000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Contains(browser.Engines(), tc.engine) {
				t.Skipf("%s is not among the engines", tc.engine)
			}
			srv := newTestServer(t, nil)
			b := browser.Start(t, tc.engine)
			p := b.NewPage(t, "recorder")
			if err := p.Navigate(srv.URL + "/smoke.html"); err != nil {
				t.Fatal(err)
			}
			cfg, _ := json.Marshal(tc.give)
			var rec map[string]any
			if err := p.Eval(fmt.Sprintf(`(%s)(%s, %q)`, recordChunksJS, cfg, tc.name), &rec); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, tc.name)
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			n := int(rec["chunkCount"].(float64))
			for i := range n {
				b := srv.upload(fmt.Sprintf("%s-%04d", tc.name, i))
				if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("chunk-%04d.bin", i)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rec["browser"] = b.Version()
			j, _ := json.MarshalIndent(rec, "", " ")
			if err := os.WriteFile(filepath.Join(out, "recording.json"), j, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s recorded %q in %d chunks, %v bytes; %s", tc.name, tc.engine, rec["recorderMimeType"], n, rec["fullSize"], strings.TrimSpace(fmt.Sprint(rec["errors"])))
		})
	}
}
