package browser_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/browser"
	"github.com/amlive/amlive/internal/fixture"
)

// FFVP8Env turns on TestFirefoxVP8Variants, an investigation of why
// Firefox's MSE stalls on Chromium's VP8 timeslice recordings: it plays
// variants of a fixture and logs what the video element shows, with every
// buffered range. Run it with MOZ_LOG=MediaSource:5,MediaDemuxer:5 and
// MOZ_LOG_FILE=/tmp/moz.log to see Firefox's side.
//
// What it found (Firefox 153.8.0esr): the buffer has a hole after most
// Clusters up to the next keyframe ([0.017 0.303] [2.054 2.105] [4.103 ...]
// for vp8-opus-250ms-kf2s). TrackBuffersManager parses each Cluster as a
// media segment; when a Cluster's first block (audio, in Chromium's) starts
// before the end of the previous Cluster's last parsed frame (the last video
// frame's duration is guessed from the frame before it, or taken from
// DefaultDuration), it logs "Re-creating demuxer, new start (300000) is
// smaller than last parsed end time (303000)", and the new WebM demuxer
// skips video up to a keyframe ("Failed to demux video: WAITING_FOR_DATA").
// VP9 recordings have the same holes (shorter; they play on by skipping).
// Append mode, append granularity, AlphaMode, Cluster sizes known or not and
// the keyframe flags make no difference; video only still breaks where a
// Cluster's first video frame falls inside the guess (2.103 < 2.105); moving
// each Cluster's first video block first, or a 1 ms DefaultDuration or
// BlockDuration on each Cluster's last video frame, mends some boundaries
// but not a keyframe that ends a Cluster (its 1 ms becomes the longest frame
// duration and the next frame a discontinuity). One Cluster per GOP (the
// "gop" variant) plays: that is what the player's ClusterMerger does.
const FFVP8Env = "AMLIVE_FFVP8"

// EBML IDs the variants rewrite.
const (
	idTimecode    = 0xE7
	idSimpleBlock = 0xA3
	idTrackNumber = 0xD7
)

// block is one SimpleBlock of a Cluster, with its absolute timecode.
type block struct {
	track int
	time  int // ms
	flags byte
	data  []byte // after the flags
	dur   int    // > 0: written as a BlockGroup with this BlockDuration
}

// parsed is a MediaRecorder stream cut into its parts.
type parsed struct {
	head     []byte // EBML header, Segment header, Info
	tracks   []byte // the Tracks element, whole
	clusters [][]block
}

// parseStream cuts full into head, Tracks and Clusters of blocks.
func parseStream(full []byte) (parsed, error) {
	var p parsed
	off, err := segmentBody(full)
	if err != nil {
		return p, err
	}
	headEnd := off
	for off < len(full) {
		e, err := readElement(full, off)
		if err != nil {
			return p, err
		}
		switch {
		case e.id == idTracks:
			p.tracks = full[e.start : e.dataStart+e.size]
			off = e.dataStart + e.size
		case e.id == idCluster:
			var bs []block
			base := 0
			c := e.dataStart
			for c < len(full) {
				k, err := readElement(full, c)
				if err != nil {
					return p, err
				}
				if k.id == idCluster {
					break
				}
				body := full[k.dataStart : k.dataStart+k.size]
				switch k.id {
				case idTimecode:
					base = 0
					for _, x := range body {
						base = base<<8 | int(x)
					}
				case idSimpleBlock:
					rel := int(int16(binary.BigEndian.Uint16(body[1:3])))
					bs = append(bs, block{track: int(body[0] & 0x7f), time: base + rel, flags: body[3], data: body[4:]})
				}
				c = k.dataStart + k.size
			}
			p.clusters = append(p.clusters, bs)
			off = c
		default:
			if p.tracks == nil {
				headEnd = e.dataStart + e.size
			}
			off = e.dataStart + e.size
		}
	}
	p.head = full[:headEnd]
	return p, nil
}

// encode writes p back with known-size Clusters.
func (p parsed) encode() []byte {
	out := bytes.Clone(p.head)
	out = append(out, p.tracks...)
	for _, bs := range p.clusters {
		if len(bs) == 0 {
			continue
		}
		base := bs[0].time
		for _, b := range bs {
			base = min(base, b.time)
		}
		var c []byte
		c = appendElement(c, idTimecode, binary.BigEndian.AppendUint32(nil, uint32(base)))
		for _, b := range bs {
			sb := []byte{0x80 | byte(b.track)}
			sb = binary.BigEndian.AppendUint16(sb, uint16(int16(b.time-base)))
			sb = append(sb, b.flags)
			sb = append(sb, b.data...)
			if b.dur > 0 {
				sb[3] &^= 0x80 // a Block has no keyframe flag
				g := appendElement(nil, 0xA1, sb)
				g = appendElement(g, 0x9B, []byte{byte(b.dur)})
				c = appendElement(c, 0xA0, g)
				continue
			}
			c = appendElement(c, idSimpleBlock, sb)
		}
		out = appendElement(out, idCluster, c)
	}
	return out
}

// onlyTrack keeps the blocks and the TrackEntry of track n.
func (p parsed) onlyTrack(n int) (parsed, error) {
	q := p
	q.clusters = nil
	for _, bs := range p.clusters {
		var keep []block
		for _, b := range bs {
			if b.track == n {
				keep = append(keep, b)
			}
		}
		q.clusters = append(q.clusters, keep)
	}
	tr, err := readElement(p.tracks, 0)
	if err != nil {
		return q, err
	}
	var body []byte
	for off := tr.dataStart; off < tr.dataStart+tr.size; {
		e, err := readElement(p.tracks, off)
		if err != nil {
			return q, err
		}
		entry := p.tracks[e.start : e.dataStart+e.size]
		for o := e.dataStart; o < e.dataStart+e.size; {
			k, err := readElement(p.tracks, o)
			if err != nil {
				return q, err
			}
			if k.id == idTrackNumber && int(p.tracks[k.dataStart]) == n {
				body = append(body, entry...)
			}
			o = k.dataStart + k.size
		}
		off = e.dataStart + e.size
	}
	q.tracks = appendElement(nil, idTracks, body)
	return q, nil
}

// oneCluster puts every block in one Cluster.
func (p parsed) oneCluster() parsed {
	q := p
	q.clusters = [][]block{slices.Concat(p.clusters...)}
	return q
}

// videoFirst starts each Cluster at its first video block: the audio
// blocks before it go to the previous Cluster.
func (p parsed) videoFirst(video int) parsed {
	all := slices.Concat(p.clusters...)
	q := p
	q.clusters = nil
	var cur []block
	for i, b := range all {
		if b.track == video && i > 0 && len(cur) > 0 {
			// a new Cluster where the original had a boundary before a
			// video block within reach
			if b.time/300 != cur[len(cur)-1].time/300 && hasVideo(cur, video) {
				q.clusters = append(q.clusters, cur)
				cur = nil
			}
		}
		cur = append(cur, b)
	}
	q.clusters = append(q.clusters, cur)
	return q
}

func hasVideo(bs []block, video int) bool {
	for _, b := range bs {
		if b.track == video {
			return true
		}
	}
	return false
}

// firstVideoFirst moves each Cluster's first video block to the front of
// the Cluster (a permutation of the Cluster's bytes: same size).
func (p parsed) firstVideoFirst(video int) parsed {
	q := p
	q.clusters = nil
	for _, bs := range p.clusters {
		bs = slices.Clone(bs)
		for i, b := range bs {
			if b.track == video {
				copy(bs[1:i+1], bs[:i])
				bs[0] = b
				break
			}
		}
		q.clusters = append(q.clusters, bs)
	}
	return q
}

// lastVideoDuration gives each Cluster's last video block a BlockDuration
// of d ms.
func (p parsed) lastVideoDuration(video, d int) parsed {
	q := p
	q.clusters = nil
	for _, bs := range p.clusters {
		bs = slices.Clone(bs)
		for i := len(bs) - 1; i >= 0; i-- {
			if bs[i].track == video {
				bs[i].dur = d
				break
			}
		}
		q.clusters = append(q.clusters, bs)
	}
	return q
}

// withVideoDefaultDuration adds a DefaultDuration of ns to the video
// TrackEntry (track 2, the last entry).
func (p parsed) withVideoDefaultDuration(ns uint32) (parsed, error) {
	q := p
	tr, err := readElement(p.tracks, 0)
	if err != nil {
		return q, err
	}
	var body []byte
	for off := tr.dataStart; off < tr.dataStart+tr.size; {
		e, err := readElement(p.tracks, off)
		if err != nil {
			return q, err
		}
		entry := bytes.Clone(p.tracks[e.dataStart : e.dataStart+e.size])
		if off+e.headerSize+e.size == tr.dataStart+tr.size {
			entry = appendElement(entry, 0x23E383, binary.BigEndian.AppendUint32(nil, ns))
		}
		body = appendElement(body, idTrackEntry, entry)
		off = e.dataStart + e.size
	}
	q.tracks = appendElement(nil, idTracks, body)
	return q, nil
}

// gopClusters merges each Cluster without a video keyframe into the one
// before it, so that every Cluster but the first starts a GOP.
func (p parsed) gopClusters(video int) parsed {
	q := p
	q.clusters = nil
	for _, bs := range p.clusters {
		key := false
		for _, b := range bs {
			key = key || (b.track == video && b.flags&0x80 != 0)
		}
		if key || len(q.clusters) == 0 {
			q.clusters = append(q.clusters, slices.Clone(bs))
			continue
		}
		q.clusters[len(q.clusters)-1] = append(q.clusters[len(q.clusters)-1], bs...)
	}
	return q
}

// mapBlocks returns p with f applied to every block.
func (p parsed) mapBlocks(f func(block) block) parsed {
	q := p
	q.clusters = nil
	for _, bs := range p.clusters {
		var out []block
		for _, b := range bs {
			out = append(out, f(b))
		}
		q.clusters = append(q.clusters, out)
	}
	return q
}

// ffvp8Play is the page script: it plays /media/NAME through MSE in the
// mode given, appending the file whole, and resolves at once.
const ffvp8Play = `(async (url, mime, mode) => {
  const v = document.getElementById('v');
  const ms = new MediaSource();
  v.src = URL.createObjectURL(ms);
  await new Promise((r) => ms.addEventListener('sourceopen', r, {once: true}));
  const sb = ms.addSourceBuffer(mime);
  if (mode) sb.mode = mode;
  window.ffsb = sb;
  const data = await (await fetch(url)).arrayBuffer();
  await new Promise((resolve, reject) => {
    sb.addEventListener('updateend', resolve, {once: true});
    sb.addEventListener('error', () => reject(new Error('SourceBuffer error')), {once: true});
    sb.appendBuffer(data);
  });
  ms.endOfStream();
  v.play().catch(() => {});
  return 'ok';
})`

// ffvp8State reports the video element with every buffered range.
const ffvp8State = `(() => {
  const v = document.getElementById('v');
  const q = v.getVideoPlaybackQuality();
  const rs = (b) => { const o = []; for (let i = 0; i < b.length; i++) o.push([+b.start(i).toFixed(3), +b.end(i).toFixed(3)]); return o; };
  return {t: v.currentTime, frames: q.totalVideoFrames, rs: v.readyState, err: v.error && v.error.message, buffered: rs(v.buffered)};
})()`

// TestFirefoxVP8Variants plays variants of the VP8 fixture in Firefox
// and logs how far each gets.
func TestFirefoxVP8Variants(t *testing.T) {
	if os.Getenv(FFVP8Env) == "" {
		t.Skipf("set %s=1 to investigate Firefox's VP8 MSE stall", FFVP8Env)
	}
	full, err := withoutAlphaMode(fixture.Load(t, "vp8-opus-250ms-kf2s").Full)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseStream(full)
	if err != nil {
		t.Fatal(err)
	}
	video, err := p.onlyTrack(2)
	if err != nil {
		t.Fatal(err)
	}
	audio, err := p.onlyTrack(1)
	if err != nil {
		t.Fatal(err)
	}
	media := map[string][]byte{
		"orig.webm":       full,
		"reenc.webm":      p.encode(),
		"video.webm":      video.encode(),
		"audio.webm":      audio.encode(),
		"one.webm":        p.oneCluster().encode(),
		"videoone.webm":   video.oneCluster().encode(),
		"videofirst.webm": p.videoFirst(2).encode(),
		"allkey.webm":     p.mapBlocks(func(b block) block { b.flags |= 0x80; return b }).encode(),
	}
	vp9full, err := withoutAlphaMode(fixture.Load(t, "vp9-opus-250ms-kf2s").Full)
	if err != nil {
		t.Fatal(err)
	}
	media["vp9.webm"] = vp9full
	dd, err := p.withVideoDefaultDuration(1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	media["gop.webm"] = p.gopClusters(2).encode()
	media["fvf.webm"] = p.firstVideoFirst(2).encode()
	media["lastdur1.webm"] = p.lastVideoDuration(2, 1).encode()
	media["defdur1.webm"] = dd.encode()
	type tc struct{ name, file, mime, mode string }
	cases := []tc{{"vp9", "vp9.webm", vp9, ""}, {"fvf", "fvf.webm", vp8, ""}, {"gop", "gop.webm", vp8, ""}, {"lastdur1", "lastdur1.webm", vp8, ""}, {"defdur1", "defdur1.webm", vp8, ""}}
	for _, n := range []string{"orig", "reenc", "video", "audio", "one", "videoone", "videofirst", "allkey"} {
		mime := vp8
		switch n {
		case "video", "videoone":
			mime = `video/webm;codecs="vp8"`
		case "audio":
			mime = `audio/webm;codecs="opus"`
		}
		cases = append(cases, tc{n, n + ".webm", mime, ""})
		if n == "orig" || n == "video" {
			cases = append(cases, tc{n + " sequence", n + ".webm", mime, "sequence"})
		}
	}
	if !slices.Contains(browser.Engines(), browser.Firefox) {
		t.Skip("no Firefox")
	}
	srv := newTestServer(t, media)
	b := browser.Start(t, browser.Firefox)
	for _, c := range cases {
		if only := os.Getenv("AMLIVE_FFVP8_ONLY"); only != "" && only != c.name {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			pg := b.NewPage(t, c.name)
			if err := pg.Navigate(srv.URL + "/smoke.html"); err != nil {
				t.Fatal(err)
			}
			var s string
			if err := pg.Eval(fmt.Sprintf(`%s(%q, %q, %q)`, ffvp8Play, "/media/"+c.file, c.mime, c.mode), &s); err != nil {
				t.Fatal(err)
			}
			var st map[string]any
			deadline := time.Now().Add(4 * time.Second)
			for time.Now().Before(deadline) {
				_ = pg.WaitFor(`new Promise((r) => setTimeout(() => r(true), 500))`, time.Second)
			}
			if err := pg.Eval(ffvp8State, &st); err != nil {
				t.Fatal(err)
			}
			t.Logf("%-20s %v", c.name, st)
		})
	}
}
