package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// stream is a fake stream: each chunk is its index repeated, so tests can
// tell which bytes arrived.
func payload(i, n int) []byte { return bytes.Repeat([]byte{byte(i)}, n) }

// drain reads every message currently queued for s without waiting.
func drain(t *testing.T, s *Subscriber) []Message {
	t.Helper()
	var got []Message
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		m, err := s.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return got
		}
		if err != nil {
			got = append(got, Message{Text: true, Data: []byte("ERR " + err.Error())})
			return got
		}
		got = append(got, m)
	}
}

// describe turns messages into short strings: "hello", "init", "viewers:N",
// "skip", "end", or the bytes of a media message.
func describe(ms []Message) []string {
	var out []string
	for _, m := range ms {
		if !m.Text {
			if m.kind == kindInit {
				out = append(out, "init")
				continue
			}
			out = append(out, fmt.Sprintf("%x", m.Data))
			continue
		}
		var e struct {
			Type  string
			Count int
		}
		if err := json.Unmarshal(m.Data, &e); err != nil {
			out = append(out, string(m.Data))
			continue
		}
		if e.Type == "viewers" {
			out = append(out, fmt.Sprintf("viewers:%d", e.Count))
			continue
		}
		out = append(out, e.Type)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJoinStartsAtSyncPoint(t *testing.T) {
	tests := []struct {
		name string
		give func(b *Broadcast) // writes before the subscriber joins
		more func(b *Broadcast) // writes after
		want []string
	}{
		{
			name: "before init",
			give: func(b *Broadcast) {},
			more: func(b *Broadcast) {
				b.SetInit("video/webm", []byte("I"))
				b.Write([]byte{1, 1, 2, 2}, []int64{2}) // sync at offset 2
				b.Write([]byte{3}, nil)
			},
			want: []string{"hello", "viewers:1", "init", "0202", "03"},
		},
		{
			name: "mid chunk sync after earlier chunks",
			give: func(b *Broadcast) {
				b.SetInit("video/webm", []byte("I"))
				b.Write([]byte{1, 1}, []int64{0})
				b.Write([]byte{2, 2, 2}, nil)
				b.Write([]byte{3, 3, 4}, []int64{7}) // sync at the 4
				b.Write([]byte{5}, nil)
			},
			more: func(b *Broadcast) { b.Write([]byte{6}, nil) },
			want: []string{"hello", "viewers:1", "init", "04", "05", "06"},
		},
		{
			name: "sync found one chunk after its cluster started",
			give: func(b *Broadcast) {
				b.SetInit("video/webm", []byte("I"))
				b.Write([]byte{1, 9}, nil)     // a cluster starts at offset 1
				b.Write([]byte{9}, []int64{1}) // its keyframe is found here
			},
			more: func(b *Broadcast) {},
			want: []string{"hello", "viewers:1", "init", "09", "09"},
		},
		{
			name: "no join point yet",
			give: func(b *Broadcast) {
				b.SetInit("video/webm", []byte("I"))
				b.Write([]byte{1, 1}, nil)
			},
			more: func(b *Broadcast) { b.Write([]byte{2}, nil) },
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(Config{})
			b, err := h.Start("room", "b1", time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer b.End("")
			tc.give(b)
			s, err := h.Subscribe("room")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tc.more(b)
			if got := describe(drain(t, s)); !equal(got, tc.want) {
				t.Errorf("messages = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestEndDeliversQueuedThenEOF(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	b.SetInit("video/webm", []byte("I"))
	b.Write([]byte{1}, []int64{0})
	s, err := h.Subscribe("r")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.Write([]byte{2}, nil)
	b.End("/rec")
	got := describe(drain(t, s))
	want := []string{"hello", "viewers:1", "init", "01", "02", "end", "ERR EOF"}
	if !equal(got, want) {
		t.Errorf("messages = %q; want %q", got, want)
	}
	if _, ok := h.Lookup("r"); ok {
		t.Error("room still live after End")
	}
	if _, err := h.Subscribe("r"); !errors.Is(err, ErrNotLive) {
		t.Errorf("Subscribe after End = %v; want ErrNotLive", err)
	}
	b2, err := h.Start("r", "b2", time.Now())
	if err != nil {
		t.Fatalf("Start after End = %v", err)
	}
	b2.End("")
}

func TestEndMessageNamesRecording(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	s, _ := h.Subscribe("r")
	defer s.Close()
	b.End("/live/r/playback?b=b")
	m, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Type, Recording string }
	if err := json.Unmarshal(m.Data, &e); err != nil || e.Type != "end" || e.Recording != "/live/r/playback?b=b" {
		t.Errorf("end event = %s (%v); want type end with the recording URL", m.Data, err)
	}
}

func TestSecondPublisherRefused(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	defer b.End("")
	if _, err := h.Start("r", "c", time.Now()); !errors.Is(err, ErrRoomLive) {
		t.Errorf("second Start = %v; want ErrRoomLive", err)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name string
		give Config
		do   func(h *Hub) error
		want string
	}{
		{"MaxRooms", Config{MaxRooms: 1}, func(h *Hub) error {
			_, _ = h.Start("a", "1", time.Now())
			_, err := h.Start("b", "1", time.Now())
			return err
		}, "MaxRooms"},
		{"MaxViewers", Config{MaxViewers: 2}, func(h *Hub) error {
			_, _ = h.Start("a", "1", time.Now())
			for range 2 {
				if _, err := h.Subscribe("a"); err != nil {
					return err
				}
			}
			_, err := h.Subscribe("a")
			return err
		}, "MaxViewers"},
		{"MaxTotalViewers", Config{MaxTotalViewers: 2}, func(h *Hub) error {
			_, _ = h.Start("a", "1", time.Now())
			_, _ = h.Start("b", "1", time.Now())
			_, _ = h.Subscribe("a")
			_, _ = h.Subscribe("b")
			_, err := h.Subscribe("a")
			return err
		}, "MaxTotalViewers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(tc.give)
			err := tc.do(h)
			var le *LimitError
			if !errors.As(err, &le) || le.Name != tc.want {
				t.Errorf("err = %v; want LimitError %s", err, tc.want)
			}
			for _, in := range h.Live() {
				if b, ok := h.Lookup(in.Room); ok {
					b.End("")
				}
			}
			h.Close()
		})
	}
}

func TestViewerCountFollowsSubscribers(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	defer b.End("")
	var subs []*Subscriber
	for range 3 {
		s, _ := h.Subscribe("r")
		subs = append(subs, s)
	}
	select {
	case <-b.ViewersChanged():
	default:
		t.Fatal("ViewersChanged did not fire")
	}
	if got := b.Viewers(); got != 3 {
		t.Errorf("Viewers() = %d; want 3", got)
	}
	subs[0].Close()
	subs[0].Close() // idempotent
	if got, want := b.Viewers(), 2; got != want {
		t.Errorf("Viewers() after Close = %d; want %d", got, want)
	}
	if got := h.Viewers(); got != 2 {
		t.Errorf("Hub.Viewers() = %d; want 2", got)
	}
	// A subscriber in sync sees the latest count before its next media.
	b.SetInit("video/webm", []byte("I"))
	b.Write([]byte{1}, []int64{0})
	got := describe(drain(t, subs[1]))
	want := []string{"hello", "viewers:2", "init", "01"}
	if !equal(got, want) {
		t.Errorf("messages = %q; want %q", got, want)
	}
	for _, s := range subs[1:] {
		s.Close()
	}
}

func TestViewerCountAtMostOncePerInterval(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	h := newHub(Config{Now: func() time.Time { return clock }, ViewersInterval: time.Second})
	b, _ := h.Start("r", "b", clock)
	defer b.End("")
	b.SetInit("video/webm", []byte("I"))
	b.Write([]byte{1}, []int64{0})
	s, _ := h.Subscribe("r")
	defer s.Close()
	steps := []struct {
		advance time.Duration
		want    []string
	}{
		{0, []string{"hello", "viewers:1", "init", "01"}}, // the count right after hello
		{999 * time.Millisecond, []string{"02"}},          // 2 viewers, but too soon
		{time.Millisecond, []string{"viewers:3", "03"}},   // the latest count, once due
		{500 * time.Millisecond, []string{"04"}},          // 4 viewers, too soon again
		{2 * time.Second, []string{"viewers:4", "05"}},    // then due
		{10 * time.Second, []string{"06"}},                // unchanged: nothing to say
	}
	var others []*Subscriber
	for i, st := range steps {
		clock = clock.Add(st.advance)
		if i > 0 && i < 4 {
			o, _ := h.Subscribe("r")
			others = append(others, o)
		}
		if i > 0 {
			b.Write([]byte{byte(i + 1)}, nil)
		}
		if got := describe(drain(t, s)); !equal(got, st.want) {
			t.Errorf("step %d: messages = %q; want %q", i, got, st.want)
		}
	}
	for _, o := range others {
		o.Close()
	}
}

func TestSlowSubscriberSkipsToNextSyncPoint(t *testing.T) {
	h := newHub(Config{QueueMessages: 2, SlowSkips: 5})
	b, _ := h.Start("r", "b", time.Now())
	defer b.End("")
	b.SetInit("video/webm", []byte("I"))
	b.Write([]byte{1}, []int64{0})
	s, _ := h.Subscribe("r")
	defer s.Close()
	// Read hello, the viewer count and the init segment, then stop reading.
	if got := describe(drain1(t, s, 3)); !equal(got, []string{"hello", "viewers:1", "init"}) {
		t.Fatalf("start = %q", got)
	}
	// Queue holds "01" (join burst) + 2 more; the third overflows.
	b.Write([]byte{2}, nil)
	b.Write([]byte{3}, nil)
	b.Write([]byte{4}, nil) // overflow: dropped, skipping
	b.Write([]byte{5}, nil) // still skipping
	b.Write([]byte{6, 7}, []int64{6})
	b.Write([]byte{8}, nil)
	// Queued: the init segment and 07, 08.
	if st := h.Stats(); st.QueuedBytes != 3 || st.Skips != 1 || st.SlowDrops != 0 {
		t.Errorf("Stats() = %+v before reading; want 3 bytes queued, 1 skip", st)
	}
	got := describe(drain(t, s))
	want := []string{"skip", "init", "07", "08"}
	if !equal(got, want) {
		t.Errorf("messages = %q; want %q", got, want)
	}
	if s.Skips() != 1 {
		t.Errorf("Skips() = %d; want 1", s.Skips())
	}
	if st := h.Stats(); st.QueuedBytes != 0 {
		t.Errorf("Stats() = %+v after reading; want nothing queued", st)
	}
}

func drain1(t *testing.T, s *Subscriber, n int) []Message {
	t.Helper()
	var got []Message
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		m, err := s.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, m)
	}
	return got
}

func TestHopelessSubscriberDropped(t *testing.T) {
	h := newHub(Config{QueueMessages: 1, SlowSkips: 2})
	b, _ := h.Start("r", "b", time.Now())
	defer b.End("")
	b.SetInit("video/webm", []byte("I"))
	b.Write([]byte{1}, []int64{0})
	stalled, _ := h.Subscribe("r")
	defer stalled.Close()
	for i := range 20 {
		b.Write([]byte{byte(i)}, []int64{b.Info().Bytes})
	}
	ms := drain(t, stalled)
	last := describe(ms[len(ms)-1:])
	if want := "ERR " + ErrTooSlow.Error(); last[0] != want {
		t.Errorf("last = %q; want %q", last[0], want)
	}
	if got := b.Viewers(); got != 0 {
		t.Errorf("Viewers() = %d after drop; want 0", got)
	}
	if st := h.Stats(); st.QueuedBytes != 0 || st.Skips != 3 || st.SlowDrops != 1 {
		t.Errorf("Stats() = %+v; want nothing queued, 3 skips, 1 slow drop", st)
	}
}

// TestManySubscribersGetEveryByte publishes while many goroutines read, and
// checks that each receives the stream from its join point without a gap.
func TestManySubscribersGetEveryByte(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	b.SetInit("video/webm", []byte("I"))
	const chunks, viewers = 200, 50
	var want bytes.Buffer
	var wg sync.WaitGroup
	results := make([][]byte, viewers)
	ready := make(chan struct{}, viewers)
	for i := range viewers {
		s, err := h.Subscribe("r")
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer s.Close()
			ready <- struct{}{}
			var got bytes.Buffer
			for {
				m, err := s.Next(context.Background())
				if err == io.EOF {
					results[i] = got.Bytes()
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if !m.Text && m.kind == kindMedia {
					got.Write(m.Data)
				}
			}
		})
	}
	for range viewers {
		<-ready
	}
	for i := range chunks {
		p := payload(i, 100+i)
		want.Write(p)
		var syncs []int64
		if i == 0 {
			syncs = []int64{0}
		}
		b.Write(p, syncs)
	}
	b.End("")
	wg.Wait()
	for i, got := range results {
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("viewer %d got %d bytes; want %d", i, len(got), want.Len())
		}
	}
}

func TestGOPCacheBounded(t *testing.T) {
	h := newHub(Config{MaxGOPBytes: 10})
	b, _ := h.Start("r", "b", time.Now())
	defer b.End("")
	b.SetInit("video/webm", []byte("I"))
	b.Write(payload(1, 4), []int64{0})
	for i := range 10 {
		b.Write(payload(2+i, 4), nil)
	}
	// The GOP grew past the bound: a joiner waits for the next sync point.
	s, _ := h.Subscribe("r")
	defer s.Close()
	if got := describe(drain(t, s)); len(got) != 0 {
		t.Fatalf("joined without a join point: %q", got)
	}
	off := b.Info().Bytes
	b.Write(payload(20, 2), nil)
	b.Write(payload(21, 2), []int64{off}) // its keyframe was in the chunk before
	got := describe(drain(t, s))
	want := []string{"hello", "viewers:1", "init", "1414", "1515"}
	if !equal(got, want) {
		t.Errorf("messages = %q; want %q", got, want)
	}
}

func TestLiveSnapshot(t *testing.T) {
	h := newHub(Config{})
	t0 := time.Unix(100, 0)
	a, _ := h.Start("a", "1", t0)
	b, _ := h.Start("b", "2", t0.Add(time.Second))
	a.SetInit("video/webm; codecs=\"vp8,opus\"", []byte("I"))
	if live := h.Live(); len(live) != 1 || live[0].Room != "a" || live[0].MIMEType != `video/webm; codecs="vp8,opus"` {
		t.Errorf("Live() = %+v; want only a, with its MIME type (b has no init segment yet)", live)
	}
	if _, ok := h.LookupLive("b"); ok {
		t.Error("LookupLive(b) before its init segment reports it live")
	}
	b.SetInit("video/webm", []byte("I"))
	live := h.Live()
	if len(live) != 2 || live[0].Room != "b" || live[1].MIMEType != `video/webm; codecs="vp8,opus"` {
		t.Errorf("Live() = %+v; want b first, then a with its MIME type", live)
	}
	a.End("")
	b.End("")
	if got := h.Live(); len(got) != 0 {
		t.Errorf("Live() after End = %+v; want none", got)
	}
}

func TestSubscriberNextHonoursContext(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	defer b.End("")
	s, _ := h.Subscribe("r")
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next = %v; want context.Canceled", err)
	}
}

func TestClosedHubRefusesStart(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	h.Close()
	if got, ok := h.Lookup("r"); !ok || got != b {
		t.Fatalf("Lookup(r) after Close = %v, %v; want the live broadcast until its owner ends it", got, ok)
	}
	b.End("")
	if _, err := h.Start("x", "y", time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v; want ErrClosed", err)
	}
}
