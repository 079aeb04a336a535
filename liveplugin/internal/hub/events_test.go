package hub

import (
	"encoding/json"
	"time"
)

// testEvents encodes events as the plugin does, in JSON, for the tests'
// describe.
type testEvents struct{}

func (testEvents) Hello(mime, broadcast string, started time.Time) []byte {
	return encode(map[string]any{"type": "hello", "mime": mime, "broadcast": broadcast, "startedAt": started})
}
func (testEvents) Viewers(n int) []byte { return encode(map[string]any{"type": "viewers", "count": n}) }
func (testEvents) Skip() []byte         { return encode(map[string]any{"type": "skip"}) }
func (testEvents) Reconnecting() []byte { return encode(map[string]any{"type": "reconnecting"}) }
func (testEvents) Resumed() []byte      { return encode(map[string]any{"type": "resumed"}) }
func (testEvents) End(broadcast, recording string) []byte {
	return encode(map[string]any{"type": "end", "broadcast": broadcast, "recording": recording})
}

func encode(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// newHub is New with testEvents, unless cfg has an encoder.
func newHub(cfg Config) *Hub {
	if cfg.Events == nil {
		cfg.Events = testEvents{}
	}
	return New(cfg)
}
