package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// TestMetrics broadcasts a recording as alice, ends it, then scrapes
// /metrics: the plugin's metrics count what happened, beside the HTTP
// metrics of echoprometheus.
func TestMetrics(t *testing.T) {
	chunks := fixture.Load(t, "vp8-opus-250ms-kf2s").Chunks
	ended := make(chan liveplugin.BroadcastInfo, 1)
	s := newSite(t, t.TempDir(), options{OnEnd: func(b liveplugin.BroadcastInfo) { ended <- b }})
	alice := newClient(t, s.ts.URL)
	alice.mustSignUp("alice")

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := alice.dial(ctx, "/live/alice/upload?mime="+url.QueryEscape("video/webm;codecs=vp8,opus"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	closed := make(chan error, 1)
	go func() { // exits when the connection is closed
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	var sent int
	for _, c := range chunks {
		if err := conn.Write(ctx, websocket.MessageBinary, c); err != nil {
			t.Fatal(err)
		}
		sent += len(c)
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"end"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("the broadcast did not end")
	}
	if err := <-closed; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("upload closed with %v; want a normal closure", err)
	}

	r := newClient(t, s.ts.URL).get("/metrics")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics = %d; want 200", r.Status)
	}
	tests := []struct {
		name string
		want float64
	}{
		{"amlive_live_rooms", 0},
		{"amlive_publishers", 0},
		{"amlive_received_bytes_total", float64(sent)},
		{"amlive_received_messages_total", float64(len(chunks) + 1)},
		{"amlive_recording_written_bytes_total", float64(sent)},
		{"amlive_recording_seal_seconds_count", 1},
		{`amlive_websocket_closes_total{code="1000"}`, 1},
	}
	for _, tc := range tests {
		got, ok := sample(r.Body, tc.name)
		if !ok || got != tc.want {
			t.Errorf("GET /metrics: %s = %v (found %v); want %v", tc.name, got, ok, tc.want)
		}
	}
	if !strings.Contains(r.Body, `echo_requests_total{code="200",host="",method="GET",url="/signup"}`) {
		t.Errorf("GET /metrics lacks echoprometheus's request counts:\n%s", r.Body)
	}
}

// sample returns the value of the series named series (with its labels,
// as the text format writes them) in a scrape.
func sample(scrape, series string) (float64, bool) {
	for line := range strings.Lines(scrape) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}
