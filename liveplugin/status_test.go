package liveplugin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// sseEvent is one event of GET /live/rooms/events, decoded into a struct
// with the fields of them all.
type sseEvent struct {
	Name string
	Data string

	Room      string                             `json:"room"`
	Broadcast string                             `json:"broadcast"`
	Viewers   int                                `json:"viewers"`
	Rooms     []liveplugin.BroadcastInfo         `json:"rooms"`
	Recs      map[string][]statusRecordingFields `json:"recordings"`
	Recording *statusRecordingFields             `json:"recording"`
	SinceText string                             `json:"sinceText"`
}

// statusRecordingFields is a recording of the status feed.
type statusRecordingFields struct {
	ID           string `json:"id"`
	Live         bool   `json:"live"`
	DurationMs   int64  `json:"durationMs"`
	DurationText string `json:"durationText"`
	SizeText     string `json:"sizeText"`
	StartText    string `json:"startText"`
}

// sseClient reads a status stream on a goroutine that exits when the
// stream ends.
type sseClient struct {
	resp *http.Response

	mu       sync.Mutex
	events   []sseEvent
	comments int
	err      error // why reading stopped
	change   chan struct{}
	done     chan struct{}
}

// openStatus opens the status stream at path; it fails the test unless
// the answer is 200 with text/event-stream.
func openStatus(t *testing.T, ctx context.Context, url string) *sseClient {
	t.Helper()
	c, resp := tryStatus(t, ctx, url)
	if c == nil {
		t.Fatalf("GET %s = %d; want 200", url, resp.StatusCode)
	}
	return c
}

// tryStatus opens the stream; on a status other than 200 it returns nil
// and the response, its body read.
func tryStatus(t *testing.T, ctx context.Context, url string) (*sseClient, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		var body strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&body)
		resp.Header.Set("X-Test-Body", body.String())
		return nil, resp
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q; want text/event-stream", ct)
	}
	c := &sseClient{resp: resp, change: make(chan struct{}, 1), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c, resp
}

func (c *sseClient) read() {
	defer close(c.done)
	defer c.resp.Body.Close()
	sc := bufio.NewScanner(c.resp.Body)
	var e sseEvent
	for sc.Scan() {
		line := sc.Text()
		c.mu.Lock()
		switch {
		case line == "":
			if e.Name != "" {
				if err := json.Unmarshal([]byte(e.Data), &e); err != nil {
					e.Name = "invalid:" + e.Data
				}
				c.events = append(c.events, e)
			}
			e = sseEvent{}
		case strings.HasPrefix(line, ":"):
			c.comments++
		case strings.HasPrefix(line, "event: "):
			e.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			e.Data += strings.TrimPrefix(line, "data: ")
		}
		c.mu.Unlock()
		select {
		case c.change <- struct{}{}:
		default:
		}
	}
	c.mu.Lock()
	c.err = sc.Err()
	if c.err == nil {
		c.err = errors.New("stream ended")
	}
	c.mu.Unlock()
}

// waitFor waits until cond, evaluated under the client's lock, holds.
func (c *sseClient) waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.change:
		case <-c.done:
			c.mu.Lock()
			ok, err := cond(), c.err
			c.mu.Unlock()
			if !ok {
				t.Fatalf("stream ended before %s: %v", what, err)
			}
			return
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// names returns the events' names, in order.
func (c *sseClient) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.events {
		out = append(out, e.Name)
	}
	return out
}

// event waits for the n-th event (from 0) and returns it.
func (c *sseClient) event(t *testing.T, ctx context.Context, n int) sseEvent {
	t.Helper()
	c.waitFor(t, ctx, "event "+string(rune('0'+n)), func() bool { return len(c.events) > n })
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events[n]
}

// ended waits for the stream to end.
func (c *sseClient) ended(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-c.done:
	case <-ctx.Done():
		t.Fatal("timed out waiting for the stream to end")
	}
}

// statusConfig is a Config whose status feed looks for changes often.
func statusConfig() liveplugin.Config {
	return liveplugin.Config{Authorize: allowAll, StatusInterval: 10 * time.Millisecond}
}

// TestStatusEvents follows one broadcast through the stream: an empty
// snapshot, live, viewers, ended with its recording, in that order.
func TestStatusEvents(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, statusConfig())
	st := openStatus(t, ctx, s.URL+"/live/rooms/events?room=alice")
	snap := st.event(t, ctx, 0)
	if snap.Name != "snapshot" || len(snap.Rooms) != 0 || len(snap.Recs["alice"]) != 0 {
		t.Fatalf("first event = %s %s; want an empty snapshot", snap.Name, snap.Data)
	}

	pub, id := publish(t, ctx, s, "alice")
	for _, c := range fx.Chunks[:2] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	live := st.event(t, ctx, 1)
	if live.Name != "live" || live.Room != "alice" || live.Broadcast != id || live.SinceText == "" {
		t.Fatalf("second event = %s %s; want alice live with %s and sinceText", live.Name, live.Data, id)
	}
	v := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	viewers := st.event(t, ctx, 2)
	if viewers.Name != "viewers" || viewers.Room != "alice" || viewers.Viewers != 1 {
		t.Fatalf("third event = %s %s; want alice with 1 viewer", viewers.Name, viewers.Data)
	}
	for _, c := range fx.Chunks[2:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	v.event(t, ctx, "end")
	st.waitFor(t, ctx, "ended", func() bool { return st.events[len(st.events)-1].Name == "ended" })
	names := st.names()
	got := names[len(names)-1]
	for _, n := range names[3 : len(names)-1] { // the viewer leaving
		if n != "viewers" {
			t.Errorf("events = %v; want only viewers events between viewers and ended", names)
		}
	}
	st.mu.Lock()
	e := st.events[len(st.events)-1]
	st.mu.Unlock()
	if got != "ended" || e.Room != "alice" || e.Broadcast != id {
		t.Fatalf("last event = %s %s; want alice ended", got, e.Data)
	}
	recs, err := s.p.Recordings("alice")
	if err != nil || len(recs) != 1 {
		t.Fatalf("Recordings = %v, %v; want one", recs, err)
	}
	if e.Recording == nil || e.Recording.ID != id || e.Recording.Live || e.Recording.DurationText == "" ||
		e.Recording.DurationMs != recs[0].DurationMs || e.Recording.SizeText == "" {
		t.Errorf("ended recording = %+v; want %s finished, with its texts and %d ms", e.Recording, id, recs[0].DurationMs)
	}

	// A new stream starts from the recording.
	again := openStatus(t, ctx, s.URL+"/live/rooms/events?room=alice&room=bob")
	snap = again.event(t, ctx, 0)
	if rs := snap.Recs["alice"]; len(rs) != 1 || rs[0].ID != id || rs[0].DurationText != e.Recording.DurationText {
		t.Errorf("snapshot recordings = %+v; want %s", snap.Recs, id)
	}
	if rs, ok := snap.Recs["bob"]; !ok || len(rs) != 0 {
		t.Errorf("snapshot recordings of bob = %v, %v; want an empty list", rs, ok)
	}
}

// TestStatusSnapshot checks that a stream opened while rooms are live
// starts with them, and only with those Authorize lets it view.
func TestStatusSnapshot(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	cfg := statusConfig()
	cfg.Authorize = func(c echo.Context, room string, a liveplugin.Action) error {
		if room == "secret" && a == liveplugin.View && c.QueryParam("key") != "k" {
			return liveplugin.ErrForbidden
		}
		return nil
	}
	s := newServer(t, cfg)
	for _, room := range []string{"alice", "secret"} {
		pub, _ := publish(t, ctx, s, room)
		pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
		eventually(t, ctx, room+" live", func() bool { _, ok := s.p.Status(room); return ok })
	}
	tests := []struct {
		name string
		give string
		want []string
	}{
		{name: "anyone", give: "", want: []string{"alice"}},
		{name: "allowed", give: "?key=k", want: []string{"alice", "secret"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStatus(t, ctx, s.URL+"/live/rooms/events"+tc.give)
			snap := st.event(t, ctx, 0)
			var got []string
			for _, b := range snap.Rooms {
				got = append(got, b.Room)
			}
			if snap.Name != "snapshot" || strings.Join(got, ",") != strings.Join(sorted(tc.want, got), ",") || len(got) != len(tc.want) {
				t.Errorf("snapshot rooms = %v; want %v", got, tc.want)
			}
		})
	}
}

// sorted returns want in the order of got when they hold the same rooms.
func sorted(want, got []string) []string {
	out := make([]string, 0, len(got))
	for _, g := range got {
		for _, w := range want {
			if g == w {
				out = append(out, g)
			}
		}
	}
	return out
}

// TestStatusSubscriberCap checks MaxStatusSubscribers: one stream more is
// refused with 429 and the plugin's JSON error; a stream closed frees its
// place.
func TestStatusSubscriberCap(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	cfg := statusConfig()
	cfg.MaxStatusSubscribers = 1
	s := newServer(t, cfg)
	first := openStatus(t, ctx, s.URL+"/live/rooms/events")
	first.event(t, ctx, 0)
	c, resp := tryStatus(t, ctx, s.URL+"/live/rooms/events")
	if c != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second stream: status %d; want 429", resp.StatusCode)
	}
	var body struct{ Message string }
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Test-Body")), &body); err != nil || !strings.Contains(body.Message, "MaxStatusSubscribers") {
		t.Errorf("second stream: body %q; want the plugin's JSON error naming MaxStatusSubscribers", resp.Header.Get("X-Test-Body"))
	}
}

// TestStatusPerIPLimit checks that streams take tokens of ViewerUpgrades.
func TestStatusPerIPLimit(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	cfg := statusConfig()
	cfg.ViewerUpgrades = liveplugin.RateLimit{PerMinute: 1, Burst: 1}
	s := newServer(t, cfg)
	openStatus(t, ctx, s.URL+"/live/rooms/events").event(t, ctx, 0)
	if c, resp := tryStatus(t, ctx, s.URL+"/live/rooms/events"); c != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second stream from one IP: status %d; want 429", resp.StatusCode)
	}
}

// TestStatusCloseEndsStreams checks that Plugin.Close ends the streams,
// after they were told of the broadcasts it ended, and refuses new ones.
func TestStatusCloseEndsStreams(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, statusConfig())
	pub, _ := publish(t, ctx, s, "alice")
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
	eventually(t, ctx, "alice live", func() bool { _, ok := s.p.Status("alice"); return ok })
	var streams []*sseClient
	for range 3 {
		st := openStatus(t, ctx, s.URL+"/live/rooms/events")
		st.waitFor(t, ctx, "snapshot with alice", func() bool { return len(st.events) > 0 && len(st.events[0].Rooms) == 1 })
		streams = append(streams, st)
	}
	if err := s.p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, st := range streams {
		st.ended(t, ctx)
		if names := st.names(); names[len(names)-1] != "ended" {
			t.Errorf("stream %d: events %v; want the last to be ended", i, names)
		}
	}
	if c, resp := tryStatus(t, ctx, s.URL+"/live/rooms/events"); c != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stream after Close: status %d; want 503", resp.StatusCode)
	}
}

// TestClusterStatus checks that a room live on one node appears in the
// streams of the others, and leaves them when it ends.
func TestClusterStatus(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 60*time.Second)
	ns := startNATS(t)
	cfg := statusConfig()
	nodes := newCluster(t, ns.ClientURL(), 2, "", cfg)
	st := openStatus(t, ctx, nodes[1].URL+"/live/rooms/events")
	st.event(t, ctx, 0)
	pub, id := publish(t, ctx, nodes[0].testServer, "alice")
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
	st.waitFor(t, ctx, "alice live on node B", func() bool {
		for _, e := range st.events {
			if e.Name == "live" && e.Room == "alice" && e.Broadcast == id {
				return true
			}
		}
		return false
	})
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	st.waitFor(t, ctx, "alice ended on node B", func() bool {
		e := st.events[len(st.events)-1]
		return e.Name == "ended" && e.Room == "alice" && e.Broadcast == id
	})
}

// TestStatusHeartbeat checks that an idle stream gets comment lines every
// PingInterval, which keep proxies from closing it.
func TestStatusHeartbeat(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	cfg := statusConfig()
	cfg.PingInterval = 10 * time.Millisecond
	s := newServer(t, cfg)
	st := openStatus(t, ctx, s.URL+"/live/rooms/events")
	st.waitFor(t, ctx, "two heartbeats", func() bool { return st.comments >= 2 })
	if names := st.names(); len(names) != 1 || names[0] != "snapshot" {
		t.Errorf("events = %v; want only the snapshot", names)
	}
}
