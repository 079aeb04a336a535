package liveplugin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin"
)

// TestCaptureInBroadcaster: the broadcaster widget's markup carries
// Config.Capture (its defaults, or less when MaxBitrate is low) and a
// resolution picker with only the sizes up to its maximum.
func TestCaptureInBroadcaster(t *testing.T) {
	tests := []struct {
		name     string
		give     liveplugin.Config
		want     []string
		wantNot  []string
		wantNone bool // no resolution picker
	}{
		{
			name: "defaults",
			want: []string{`data-max-width="1280"`, `data-max-height="720"`, `data-max-fps="30"`, `data-video-bps="2500000"`, `data-audio-bps="128000"`,
				`<option value="640x360" data-width="640" data-height="360">360p (640×360)</option>`, `value="854x480"`, `value="1280x720"`},
			wantNot: []string{`value="1920x1080"`, `data-latency`},
		},
		{
			name:    "low MaxBitrate",
			give:    liveplugin.Config{MaxBitrate: 2_000_000, MaxMessageBytes: 1 << 20},
			want:    []string{`data-video-bps="1372000"`, `data-audio-bps="128000"`},
			wantNot: []string{`data-video-bps="2500000"`},
		},
		{
			name: "set",
			give: liveplugin.Config{Capture: liveplugin.Capture{MaxWidth: 1920, MaxHeight: 1080, MaxFrameRate: 60, VideoBitsPerSecond: 6_000_000, AudioBitsPerSecond: 192_000}},
			want: []string{`data-max-width="1920"`, `data-max-height="1080"`, `data-max-fps="60"`, `data-video-bps="6000000"`, `data-audio-bps="192000"`,
				`value="1280x720"`, `<option value="1920x1080" data-width="1920" data-height="1080">1080p (1920×1080)</option>`},
			wantNot: []string{`value="2560x1440"`},
		},
		{
			name: "low latency",
			give: liveplugin.Config{Capture: liveplugin.Capture{LowLatency: true}},
			want: []string{`data-latency="low"`, `data-max-width="1280"`},
		},
		{
			name:    "below the ladder",
			give:    liveplugin.Config{Capture: liveplugin.Capture{MaxWidth: 320, MaxHeight: 240}},
			want:    []string{`<option value="320x240" data-width="320" data-height="240">320×240</option>`},
			wantNot: []string{`value="640x360"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.give.Dir = t.TempDir()
			p, err := liveplugin.Register(echo.New(), tc.give)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := p.Close(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			html, err := p.BroadcasterHTML("alice")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(html), w) {
					t.Errorf("BroadcasterHTML = %s; want it to contain %s", html, w)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(string(html), w) {
					t.Errorf("BroadcasterHTML contains %s; want not", w)
				}
			}
		})
	}
}
