package webm

import (
	"cmp"
	"math"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/loadgen"
)

func TestReaderParsesLoadStream(t *testing.T) {
	tests := []struct {
		name string
		give loadgen.Options
	}{
		{name: "defaults", give: loadgen.Options{}},
		{name: "1 Mbit/s, keyframe 1 s, 25 fps", give: loadgen.Options{Bitrate: 1_000_000, Keyframe: time.Second, FrameRate: 25}},
		{name: "8 Mbit/s, keyframe 5 s", give: loadgen.Options{Bitrate: 8_000_000, Keyframe: 5 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const d = 10 * time.Second
			b, markers := loadgen.Generate(tc.give, d, 125*time.Millisecond)
			r := NewReader(Limits{})
			r.Blocks = true
			evs, err := r.Feed(nil, b)
			if err != nil {
				t.Fatalf("Feed: %v", err)
			}
			if err := r.Playable(); err != nil {
				t.Fatalf("Playable: %v", err)
			}
			if got, want := r.MIMEType(), `video/webm; codecs="vp8,opus"`; got != want {
				t.Errorf("MIMEType() = %q; want %q", got, want)
			}
			bitrate, keyframe, fps := tc.give.Bitrate, tc.give.Keyframe, tc.give.FrameRate
			bitrate = cmp.Or(bitrate, loadgen.DefaultBitrate)
			keyframe = cmp.Or(keyframe, loadgen.DefaultKeyframe)
			fps = cmp.Or(fps, loadgen.DefaultFrameRate)
			var syncs, clusters, blocks int
			for _, ev := range evs {
				switch ev.Kind {
				case KindSync:
					syncs++
				case KindCluster:
					clusters++
				case KindBlock:
					blocks++
				}
			}
			want := 0 // keyframes before d
			frame := time.Second / time.Duration(fps)
			gop := max(1, int(math.Round(keyframe.Seconds()*float64(fps))))
			for i := 0; time.Duration(i)*frame < d; i += gop {
				want++
			}
			if syncs != want || clusters != want {
				t.Errorf("%d Clusters, %d join points; want %d of each", clusters, syncs, want)
			}
			if uint64(blocks) != markers {
				t.Errorf("%d blocks; want %d (one per marker)", blocks, markers)
			}
			rate := float64(len(b)) * 8 / d.Seconds()
			if rate < 0.95*float64(bitrate) || rate > 1.05*float64(bitrate) {
				t.Errorf("rate %.0f bit/s; want %d ± 5%%", rate, bitrate)
			}
		})
	}
}
