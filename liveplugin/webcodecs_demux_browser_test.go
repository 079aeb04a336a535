package liveplugin_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/amlive/amlive/assets"
	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// demuxBlock is a block as webcodecs.js's WebMDemuxer or the Go webm
// reader reports it.
type demuxBlock struct {
	Track     uint64 `json:"track"`
	Timestamp int64  `json:"timestamp"` // µs, absolute
	Key       bool   `json:"key"`
}

// demuxResult is what jsDemux returns.
type demuxResult struct {
	Blocks   []demuxBlock `json:"blocks"`
	Tracks   int          `json:"tracks"`   // tracks of the onTracks calls
	Laced    int          `json:"laced"`    // laced blocks skipped
	Buffered int          `json:"buffered"` // bytes the demuxer still holds
	Error    string       `json:"error"`    // what push threw, if anything
}

// jsDemuxHelper defines window.demux(b64, pieces, size): it decodes the
// base64 stream and pushes it to a new WebMDemuxer in pieces of the
// lengths pieces lists, then in pieces of size bytes, and returns a
// demuxResult.
const jsDemuxHelper = `window.demux = (b64, pieces, size) => {
  const s = atob(b64), all = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) all[i] = s.charCodeAt(i);
  const out = {blocks: [], tracks: 0, laced: 0, buffered: 0, error: ''};
  const d = new amlive.webcodecs.WebMDemuxer((ts) => { out.tracks += ts.length; },
    (b) => out.blocks.push({track: b.track, timestamp: b.timestamp, key: b.key}));
  let i = 0;
  try {
    for (const n of pieces || []) { d.push(all.subarray(i, i + n)); i += n; }
    for (; i < all.length; i += size) d.push(all.subarray(i, i + size));
  } catch (e) {
    out.error = String(e && e.message || e);
  }
  out.laced = d.laced;
  out.buffered = d.buf.length;
  return out;
}; true`

// webCodecsTab opens a blank Chromium tab with webcodecs.js and the
// scripts it needs, for tests of its parts.
func webCodecsTab(t *testing.T, name string) *chrometest.Tab {
	t.Helper()
	return scriptsTab(t, name, "protocol.js", "core.js", "webcodecs.js")
}

// scriptsTab opens a blank Chromium tab with the assets named, in order.
func scriptsTab(t *testing.T, name string, scripts ...string) *chrometest.Tab {
	t.Helper()
	tab := chrometest.New(t).NewTab(t, name)
	tab.Navigate("about:blank")
	for _, script := range scripts {
		src, err := assets.FS.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		chrometest.Eval[any](tab, string(src)+"\n;true")
	}
	return tab
}

// goBlocks returns the blocks the Go webm reader finds in stream that end
// within it, and how many tracks it read.
func goBlocks(t *testing.T, stream []byte) ([]demuxBlock, int) {
	t.Helper()
	r := webm.NewReader(webm.Limits{})
	r.Blocks = true
	evs, err := r.Feed(nil, append([]byte(nil), stream...)) // Feed may repair its input in place
	if err != nil {
		t.Fatalf("Go webm reader: %v", err)
	}
	var out []demuxBlock
	for _, ev := range evs {
		if ev.Kind == webm.KindBlock && ev.Offset+ev.Size <= int64(len(stream)) {
			out = append(out, demuxBlock{Track: ev.Track, Timestamp: ev.Timecode.Microseconds(), Key: ev.Keyframe})
		}
	}
	return out, len(r.Tracks())
}

// TestBrowserWebMDemuxer feeds a MediaRecorder fixture to webcodecs.js's
// WebMDemuxer in Chromium, split at its chunk boundaries and in pieces of
// 1, 7, 100 and 4096 bytes (and of random sizes), and checks that it finds
// the blocks the Go webm reader finds in the same bytes (track, timestamp,
// keyframe flag) whatever the split; and that malformed input (garbage,
// a block declaring a huge size) gives an error at once instead of a hang
// or an unbounded buffer.
func TestBrowserWebMDemuxer(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	tab := webCodecsTab(t, "demuxer")
	chrometest.Eval[bool](tab, jsDemuxHelper)

	demux := func(stream []byte, pieces []int, size int) demuxResult {
		t.Helper()
		p, err := json.Marshal(pieces)
		if err != nil {
			t.Fatal(err)
		}
		return chrometest.Eval[demuxResult](tab, fmt.Sprintf("demux(%q, %s, %d)", base64.StdEncoding.EncodeToString(stream), p, size))
	}
	check := func(name string, stream []byte, pieces []int, size int) {
		t.Helper()
		want, tracks := goBlocks(t, stream)
		got := demux(stream, pieces, size)
		if got.Error != "" {
			t.Errorf("%s: the demuxer threw %q", name, got.Error)
		}
		if got.Tracks != tracks || got.Laced != 0 {
			t.Errorf("%s: %d tracks, %d laced blocks; want %d tracks, none laced", name, got.Tracks, got.Laced, tracks)
		}
		keys := 0
		for _, bl := range want {
			if bl.Key {
				keys++
			}
		}
		if keys == 0 || len(want) < 20 {
			t.Fatalf("%s: the Go reader found %d blocks, %d keyframes; want a stream to compare on", name, len(want), keys)
		}
		if len(got.Blocks) != len(want) {
			t.Errorf("%s: %d blocks; the Go reader finds %d", name, len(got.Blocks), len(want))
		}
		for i := range min(len(got.Blocks), len(want)) {
			if got.Blocks[i] != want[i] {
				t.Errorf("%s: block %d is %+v; the Go reader has %+v", name, i, got.Blocks[i], want[i])
				break
			}
		}
	}

	var chunks []int
	for _, c := range fx.Chunks {
		chunks = append(chunks, len(c))
	}
	check("at the chunk boundaries", fx.Full, chunks, 1)
	// Byte by byte costs a copy of the partial element per byte: a prefix
	// of a few clusters is enough.
	check("in pieces of 1 byte", fx.Full[:min(len(fx.Full), 48<<10)], nil, 1)
	for _, n := range []int{7, 100, 4096} {
		check(fmt.Sprintf("in pieces of %d bytes", n), fx.Full, nil, n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var random []int
	for sum := 0; sum < len(fx.Full); {
		n := 1 + rng.IntN(300)
		random, sum = append(random, n), sum+n
	}
	check("in pieces of random sizes", fx.Full, random, 1)

	// Malformed input: an error from push, at once.
	init := fx.Full[:fx.St.Clusters[0].Offset]
	garbage := append(append([]byte(nil), init...), make([]byte, 64)...)
	if got := demux(garbage, nil, 4096); got.Error == "" {
		t.Errorf("zero bytes after the init segment: no error (%d blocks); want one", len(got.Blocks))
	}
	// A Cluster (unknown size) with a Timecode, then a SimpleBlock
	// declaring 2^56-2 bytes, and 1 MiB that could be its payload.
	huge := append(append([]byte(nil), init...),
		0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xe7, 0x81, 0x00,
		0xa3, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe)
	huge = append(huge, make([]byte, 1<<20)...)
	got := demux(huge, nil, 64<<10)
	t.Logf("huge block: %q, %d bytes held", got.Error, got.Buffered)
	if got.Error == "" {
		t.Errorf("a SimpleBlock of 2^56-2 bytes: no error (%d bytes held); want one", got.Buffered)
	}
	if got.Buffered > 128<<10 {
		t.Errorf("a SimpleBlock of 2^56-2 bytes: the demuxer holds %d bytes; want it to refuse the element before buffering it", got.Buffered)
	}
	chrometest.CheckNoPageErrors(t, tab)
}
