package mp4

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/browser"
)

// repairBrowserPage exposes window.appendAll(mime, urls): it appends each
// URL's bytes to one SourceBuffer, in turn, and resolves to the buffered
// ranges after each append.
const repairBrowserPage = `<!doctype html><html><body><video muted></video>
<script>
window.appendAll = async (mime, urls) => {
  const ms = new MediaSource();
  document.querySelector('video').src = URL.createObjectURL(ms);
  await new Promise((r) => ms.addEventListener('sourceopen', r, {once: true}));
  const sb = ms.addSourceBuffer(mime);
  const out = [];
  for (const u of urls) {
    const b = await (await fetch(u)).arrayBuffer();
    sb.appendBuffer(b);
    await new Promise((r) => sb.addEventListener('updateend', r, {once: true}));
    const ranges = [];
    for (let i = 0; i < sb.buffered.length; i++) ranges.push([sb.buffered.start(i), sb.buffered.end(i)]);
    out.push(ranges);
  }
  return out;
};
</script></body></html>`

// fragmentEnds returns where each fragment of a stream begins (the init
// segment's end first) and, for each, the latest start of a sample in it
// on the track whose samples end soonest: what a Media Source that buffered
// the fragment whole holds at least up to.
func fragmentEnds(events []Event) (starts []int64, ends []time.Duration) {
	var last map[uint64]time.Duration
	flush := func() {
		if last == nil {
			return
		}
		e := time.Duration(-1)
		for _, tc := range last {
			if e < 0 || tc < e {
				e = tc
			}
		}
		ends = append(ends, e)
	}
	for _, ev := range events {
		switch ev.Kind {
		case KindFragment:
			flush()
			starts = append(starts, ev.Offset)
			last = map[uint64]time.Duration{}
		case KindSample:
			if last != nil {
				last[ev.Track] = max(last[ev.Track], ev.Timecode)
			}
		}
	}
	flush()
	return starts, ends
}

// TestRepairKeepsPicture appends Chromium's MP4 recordings fragment by
// fragment to Chromium's Media Source, as Feed repairs them, as recorded,
// and with their sound's durations made uneven as a busy machine's
// Chromium writes them: repaired, every fragment is buffered whole, in one
// range, as soon as it is appended. As recorded, Chromium reads the 39 ms
// gap at the end of each fragment's sound as a discontinuity, and where a
// fragment's video keyframe comes before its first sound it drops the
// fragment's other frames: the picture freezes for a fragment.
func TestRepairKeepsPicture(t *testing.T) {
	type stream struct {
		mime   string
		pieces [][]byte // the init segment, then one piece a fragment
		ends   []time.Duration
	}
	streams := map[string]stream{}
	var names []string
	for _, set := range mp4Sets(t) {
		fx := loadMP4(t, set)
		opus := opusTrackID(t, fx.Chunks)
		if opus == 0 {
			continue
		}
		for _, jittered := range []bool{false, true} {
			full := fx.Full
			name := set
			if jittered {
				full, name = jitterOpus(t, full, opus), set+"/jittered"
			}
			res, r := feedPieces(t, Limits{}, resplit(full, fx.Chunks))
			if res.err != nil {
				t.Fatal(res.err)
			}
			starts, ends := fragmentEnds(res.events)
			for _, v := range []struct {
				name string
				b    []byte
			}{{"as recorded", full}, {"repaired", res.out}} {
				s := stream{mime: r.MIMEType(), ends: ends}
				prev := int64(0)
				for _, at := range append(starts, int64(len(v.b))) {
					s.pieces = append(s.pieces, v.b[prev:at])
					prev = at
				}
				streams[name+"/"+v.name] = s
				names = append(names, name+"/"+v.name)
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no MP4 fixture with Opus")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(repairBrowserPage))
	})
	mux.HandleFunc("GET /piece", func(w http.ResponseWriter, r *http.Request) {
		s, ok := streams[r.URL.Query().Get("s")]
		i, err := strconv.Atoi(r.URL.Query().Get("i"))
		if !ok || err != nil || i < 0 || i >= len(s.pieces) {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "piece.mp4", time.Time{}, bytes.NewReader(s.pieces[i]))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	p := browser.Start(t, browser.Chromium).NewPage(t, "media source")
	if err := p.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		s := streams[name]
		var urls []string
		for i := range s.pieces {
			urls = append(urls, strconv.Quote(fmt.Sprintf("/piece?s=%s&i=%d", strings.ReplaceAll(name, " ", "+"), i)))
		}
		var got [][][2]float64
		if err := p.Eval(fmt.Sprintf("appendAll(%s, [%s])", strconv.Quote(s.mime), strings.Join(urls, ",")), &got); err != nil {
			t.Fatal(err)
		}
		// got[0] is after the init segment; got[i] after fragment i-1.
		var short []string
		for i, end := range s.ends {
			r := got[i+1]
			if len(r) != 1 || r[0][1] < end.Seconds() {
				short = append(short, fmt.Sprintf("fragment %d (to %.3fs): buffered %v", i, end.Seconds(), r))
			}
		}
		switch {
		case strings.HasSuffix(name, "repaired") && len(short) > 0:
			t.Errorf("%s: fragments not buffered whole when appended:\n%s", name, strings.Join(short, "\n"))
		case strings.HasSuffix(name, "repaired"):
			t.Logf("%s: all %d fragments buffered whole", name, len(s.ends))
		default:
			// Chromium 156 drops frames in some of them; a later Chromium
			// may not, which this test does not ask of it.
			t.Logf("%s: %d of %d fragments not buffered whole", name, len(short), len(s.ends))
		}
	}
}
