package browser_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/browser"
	"github.com/amlive/amlive/internal/fixture"
)

// opusFull is an Opus sample's duration in Chromium's MP4 (60 ms at
// 48 kHz); opusShort is what the last sample of each fragment claims.
const (
	opusFull  = 2880
	opusShort = 1008
)

// fillOpusGaps returns a copy of a Chromium MP4 fragment chunk with the
// last sample duration of each trun that says opusShort after samples
// of opusFull set to opusFull: the repair the server does, done here by
// a walk of its own so that the browser fact does not rest on the
// plugin's code. It returns how many durations it changed.
func fillOpusGaps(b []byte) ([]byte, int) {
	out := append([]byte(nil), b...)
	n := 0
	var walk func(from, to int)
	walk = func(from, to int) {
		for off := from; off+8 <= to; {
			size := int(binary.BigEndian.Uint32(out[off:]))
			typ := string(out[off+4 : off+8])
			if size < 8 || off+size > to {
				return
			}
			switch typ {
			case "moof", "traf":
				walk(off+8, off+size)
			case "trun":
				flags := binary.BigEndian.Uint32(out[off+8:]) & 0xffffff
				count := int(binary.BigEndian.Uint32(out[off+12:]))
				p := off + 16
				if flags&0x1 != 0 {
					p += 4
				}
				if flags&0x4 != 0 {
					p += 4
				}
				if flags&0x100 == 0 || count < 2 {
					break
				}
				stride := 4
				for _, f := range []uint32{0x200, 0x400, 0x800} {
					if flags&f != 0 {
						stride += 4
					}
				}
				last := p + (count-1)*stride
				prev := p + (count-2)*stride
				if last+4 <= off+size && binary.BigEndian.Uint32(out[last:]) == opusShort && binary.BigEndian.Uint32(out[prev:]) == opusFull {
					binary.BigEndian.PutUint32(out[last:], opusFull)
					n++
				}
			}
			off += size
		}
	}
	walk(0, len(out))
	return out, n
}

// TestMP4OpusGapFreezes pins down the browser fact behind the server's
// repair of Chromium's MP4: appended to Chromium's MSE as a live stream
// comes (a fragment every 2 s), the recording as Chromium made it paints
// few frames and freezes for long spells between keyframes, while the same
// bytes with each fragment's last Opus duration set to 60 ms play
// smoothly. It runs only when FactsEnv is "1" (it takes 2×12 s).
func TestMP4OpusGapFreezes(t *testing.T) {
	if os.Getenv(FactsEnv) != "1" {
		t.Skipf("set %s=1 to measure the Opus gap in Chromium", FactsEnv)
	}
	fx := fixture.Load(t, fixture.MP4)
	media := map[string][]byte{}
	var raw, fixed []string
	for i, c := range fx.Chunks {
		if len(c) == 0 {
			continue
		}
		f, _ := fillOpusGaps(c)
		media[fmt.Sprintf("raw-%d", i)], media[fmt.Sprintf("fixed-%d", i)] = c, f
		raw, fixed = append(raw, fmt.Sprintf("'/media/raw-%d'", i)), append(fixed, fmt.Sprintf("'/media/fixed-%d'", i))
	}
	srv := newTestServer(t, media)
	b := browser.Start(t, browser.Chromium)
	type played struct {
		Frames      int
		MaxGapMS    int `json:"maxGapMs"`
		CurrentTime float64
		Buffered    [][2]float64
		Error       *string
	}
	run := func(name string, urls []string) played {
		p := b.NewPage(t, name)
		if err := p.Navigate(srv.URL + "/smoke.html"); err != nil {
			t.Fatal(err)
		}
		var r played
		expr := fmt.Sprintf(`smoke.playChunks([%s], 'video/mp4;codecs="avc1.42C01F,opus"', 2000, 10000)`, strings.Join(urls, ","))
		if err := p.Eval(expr, &r); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d frames painted in 10 s, longest gap %v, currentTime %.2f, buffered %v, error %v", name, r.Frames, time.Duration(r.MaxGapMS)*time.Millisecond, r.CurrentTime, r.Buffered, r.Error)
		return r
	}
	gaps := run("as recorded", raw)
	filled := run("durations set", fixed)
	if filled.Error != nil || filled.MaxGapMS > 1000 || filled.Frames < 50 {
		t.Errorf("with the durations set: %+v; want no freeze over 1 s and at least 50 frames", filled)
	}
	// Measured with Chromium 156: 48 frames and a 2 s freeze as recorded,
	// 198 frames and 133 ms at most with the durations set.
	if gaps.MaxGapMS <= 1000 {
		t.Errorf("as recorded: %+v; want a freeze over 1 s (has Chromium changed?)", gaps)
	}
}
