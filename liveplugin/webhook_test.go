package liveplugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/webhook"
)

const webhookSecret = "a secret of at least 16 bytes"

// broadcastAll sends every chunk of a new broadcast in room and waits for
// the server's acknowledgement of the last, then ends it.
func broadcastAll(t *testing.T, ctx context.Context, s *testServer, room string, chunks [][]byte) string {
	t.Helper()
	pub, id := publish(t, ctx, s, room)
	var sent int64
	for _, c := range chunks {
		pub.send(t, ctx, websocket.MessageBinary, c)
		sent += int64(len(c))
	}
	if err := pub.waitFor(ctx, "the last ack", func() bool {
		for j := len(pub.events) - 1; j >= 0; j-- {
			if pub.events[j].Type == "ack" {
				return pub.events[j].Offset == sent
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	if code, _ := pub.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d; want 1000", code)
	}
	return id
}

// TestWebhooksOfBroadcast plugs a webhook.Sender into Config.Events: a
// broadcast's live, sealed and ended webhooks reach an httptest receiver
// in order, each signed, with the broadcast's data.
func TestWebhooksOfBroadcast(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	type hook struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
		err  error
	}
	var mu sync.Mutex
	var got []hook
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var h hook
		h.err = errors.Join(json.Unmarshal(body, &h), webhook.Verify(webhookSecret, r.Header, body, time.Minute))
		mu.Lock()
		got = append(got, h)
		mu.Unlock()
	}))
	defer rcv.Close()
	sender, err := webhook.New(webhook.Options{URL: rcv.URL, Secret: webhookSecret})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, liveplugin.Config{Authorize: allowAll, Events: webhook.Handlers(sender)})
	id := broadcastAll(t, ctx, s, "alice", fx.Chunks)
	if err := s.p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sender.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{webhook.TypeLive, webhook.TypeRecordingSealed, webhook.TypeEnded}
	if len(got) != len(want) {
		t.Fatalf("%d webhooks %+v; want %v", len(got), got, want)
	}
	for i, h := range got {
		if h.err != nil || h.Type != want[i] {
			t.Errorf("webhook %d: %s (%v); want a valid %s", i, h.Type, h.err, want[i])
		}
	}
	var live liveplugin.BroadcastInfo
	var sealed liveplugin.RecordingEvent
	var ended liveplugin.EndedEvent
	for i, v := range []any{&live, &sealed, &ended} {
		if err := json.Unmarshal(got[i].Data, v); err != nil {
			t.Fatalf("webhook %d data %s: %v", i, got[i].Data, err)
		}
	}
	if live.Room != "alice" || live.ID != id {
		t.Errorf("live data %+v; want alice's %s", live, id)
	}
	fi, err := os.Stat(sealed.Path)
	if err != nil {
		t.Fatalf("sealed data's path: %v", err)
	}
	if sealed.Broadcast != id || sealed.Bytes != fi.Size() || sealed.Bytes <= 0 || sealed.DurationMs <= 0 {
		t.Errorf("sealed data %+v (file %d bytes); want %s with the file's size and a duration", sealed, fi.Size(), id)
	}
	if ended.Broadcast.ID != id || ended.Why != liveplugin.EndedByPublisher || ended.Broadcast.Recording == "" {
		t.Errorf("ended data %+v; want %s ended by the publisher with its recording", ended, id)
	}
}

// TestWebhookReceiverHangs plugs in a Sender whose receiver never
// answers: three broadcasts still get every chunk acknowledged, the
// Sender's queue keeps one message and drops the rest (counted), and
// closing both leaves no goroutine (TestMain's goleak).
func TestWebhookReceiverHangs(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving once it has read the body
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer rcv.Close()
	defer close(release) // before rcv.Close, should the test fail
	sender, err := webhook.New(webhook.Options{URL: rcv.URL, Secret: webhookSecret, QueueSize: 1, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, liveplugin.Config{Authorize: allowAll, Events: webhook.Handlers(sender)})
	pub, _ := publish(t, ctx, s, "alice")
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0]) // the header: live
	select {
	case <-entered: // broadcast.live is being delivered, and hangs
	case <-ctx.Done():
		t.Fatal("the live webhook did not arrive")
	}
	for _, c := range fx.Chunks[1:] {
		pub.send(t, ctx, websocket.MessageBinary, c)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	pub.closed(t, ctx)
	for range 2 {
		broadcastAll(t, ctx, s, "alice", fx.Chunks)
	}
	if err := s.p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// 9 events: the first live hangs, the first sealed waits, 7 dropped.
	if st := sender.Stats(); st.Dropped != 7 || st.Sent != 0 {
		t.Errorf("Stats = %+v; want 7 dropped and none sent", st)
	}
	giveUp, cancel := context.WithCancel(ctx)
	cancel()
	if err := sender.Close(giveUp); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v; want context.Canceled", err)
	}
	if st := sender.Stats(); st.Failed != 2 {
		t.Errorf("Stats = %+v; want 2 failed (abandoned by Close)", st)
	}
}
