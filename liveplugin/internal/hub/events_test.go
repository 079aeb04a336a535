package hub

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
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
func (testEvents) End(broadcast, recording, reason string) []byte {
	return encode(map[string]any{"type": "end", "broadcast": broadcast, "recording": recording, "reason": reason})
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

// countingEvents counts the calls of each Encoder method.
type countingEvents struct {
	testEvents
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingEvents) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[name]++
}

func (c *countingEvents) Hello(mime, broadcast string, started time.Time) []byte {
	c.count("hello")
	return c.testEvents.Hello(mime, broadcast, started)
}

func (c *countingEvents) Viewers(n int) []byte {
	c.count("viewers")
	return c.testEvents.Viewers(n)
}

func (c *countingEvents) Skip() []byte {
	c.count("skip")
	return c.testEvents.Skip()
}

func (c *countingEvents) End(broadcast, recording, reason string) []byte {
	c.count("end")
	return c.testEvents.End(broadcast, recording, reason)
}

// TestEventsEncodedOncePerEvent checks that the hub encodes each event once
// for all subscribers, not once per subscriber, and hands every subscriber
// the encoder's bytes.
func TestEventsEncodedOncePerEvent(t *testing.T) {
	ev := &countingEvents{}
	h := New(Config{Events: ev})
	if got := ev.calls["skip"]; got != 1 {
		t.Errorf("Skip encoded %d times by New; want 1", got)
	}
	b, _ := h.Start("r", "b", time.Now())
	const n = 5
	var subs []*Subscriber
	for range n {
		s, err := h.Subscribe("r")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		subs = append(subs, s)
	}
	b.SetInit("video/webm", []byte("I"))
	b.Write([]byte{1}, []int64{0})
	b.End("/rec")
	for i, s := range subs {
		got := describe(drain(t, s))
		if want := []string{"hello", fmt.Sprintf("viewers:%d", n), "init", "01", "end", "ERR EOF"}; !equal(got, want) {
			t.Errorf("subscriber %d: messages = %q; want %q", i, got, want)
		}
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	want := map[string]int{"hello": 1, "end": 1, "viewers": n, "skip": 1} // a count per change, not per viewer
	for name, w := range want {
		if got := ev.calls[name]; got != w {
			t.Errorf("%s encoded %d times; want %d", name, got, w)
		}
	}
}
