package liveplugin

import (
	"context"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestStatusSlowSubscriber checks that a subscriber that reads nothing
// neither blocks the feed nor delays the others: it is dropped once its
// buffer is full, while the one that reads gets every message.
func TestStatusSlowSubscriber(t *testing.T) {
	p, err := Register(echo.New(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	f := p.feed
	slow, _, err := f.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer f.handlers.Done()
	fast, _, err := f.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer f.handlers.Done()

	n := statusBuffer * 3
	for i := range n {
		want := "r" + strconv.Itoa(i)
		f.mu.Lock()
		f.sendLocked([]statusMsg{{room: want}}) // would deadlock if it waited for slow
		f.mu.Unlock()
		if got := <-fast.ch; got.room != want {
			t.Fatalf("fast subscriber got %q; want %q", got.room, want)
		}
	}
	select {
	case <-slow.dropped:
	default:
		t.Fatalf("slow subscriber not dropped after %d messages (buffer %d)", n, statusBuffer)
	}
	if len(slow.ch) != statusBuffer {
		t.Errorf("slow subscriber holds %d messages; want its buffer, %d", len(slow.ch), statusBuffer)
	}
	if got := f.subscribers(); got != 1 {
		t.Errorf("subscribers = %d; want 1 (the fast one)", got)
	}
	f.unsubscribe(slow)
	f.unsubscribe(fast)
}
