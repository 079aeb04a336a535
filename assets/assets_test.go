package assets

import (
	"io/fs"
	"testing"
)

func TestFS(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{name: "protocol", give: "protocol.js"},
		{name: "core", give: "core.js"},
		{name: "broadcaster", give: "broadcaster.js"},
		{name: "capture worklet", give: "capture-worklet.js"},
		{name: "player", give: "player.js"},
		{name: "webcodecs", give: "webcodecs.js"},
		{name: "status", give: "status.js"},
		{name: "stylesheet", give: "live.css"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := fs.ReadFile(FS, tc.give)
			if err != nil {
				t.Fatalf("ReadFile(%s) error = %v", tc.give, err)
			}
			if len(b) == 0 {
				t.Errorf("ReadFile(%s) is empty", tc.give)
			}
		})
	}
}
