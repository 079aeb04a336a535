package liveplugin_test

import (
	"context"
	"testing"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
)

// bystander is a second live room with a viewer, which a test feeds
// before and after an event in another room to show that the event left
// it alone.
type bystander struct {
	room   string
	pub    *client
	viewer *client
	fx     fixture.Set
	sent   int   // chunks sent
	bytes  int64 // bytes sent
}

// startBystander starts a broadcast in room with one viewer and feeds it
// until the viewer receives media.
func startBystander(t testing.TB, ctx context.Context, s *testServer, room string) *bystander {
	t.Helper()
	b := &bystander{room: room, fx: fixture.Load(t, "vp9-opus-250ms-kf2s")}
	b.pub, _ = publish(t, ctx, s, room)
	b.viewer = mustDial(t, ctx, s.ws("/live/"+room+"/subscribe"))
	b.pub.viewers(t, ctx, 1)
	b.feed(t, ctx, 3)
	return b
}

// feed sends n more chunks and waits until the viewer has every byte of
// them; it fails if either side of the room was closed meanwhile.
func (b *bystander) feed(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	for range n {
		if b.sent == len(b.fx.Chunks) {
			t.Fatalf("bystander %s: fixture exhausted", b.room)
		}
		c := b.fx.Chunks[b.sent]
		if err := b.pub.conn.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatalf("bystander %s: publisher write: %v", b.room, err)
		}
		b.sent++
		b.bytes += int64(len(c))
	}
	want := b.bytes - b.fx.St.InitSegmentEnd // the viewer joined before the first chunk
	err := b.viewer.waitFor(ctx, "the bystander's media", func() bool {
		var got int64
		for _, d := range b.viewer.binary[min(1, len(b.viewer.binary)):] {
			got += int64(len(d))
		}
		return got == want
	})
	if err != nil {
		t.Fatalf("bystander %s: %v", b.room, err)
	}
	select {
	case <-b.pub.done:
		t.Fatalf("bystander %s: publisher closed: %v", b.room, b.pub.err)
	default:
	}
}
