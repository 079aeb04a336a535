package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/amlive/amlive/liveplugin/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// secret is a Standard Webhooks secret.
var secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
	err    error // Verify's verdict
}

// receiver is an httptest server answering each request with the next
// status of statuses (200 once they are spent), recording them.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []delivery
	arrived  chan struct{}
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, arrived: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: body, err: webhook.Verify(secret, req.Header, body, 5*time.Minute)})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		r.arrived <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

// wait waits for n more requests.
func (r *receiver) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.arrived:
		case <-t.Context().Done():
			t.Fatal("request did not arrive")
		}
	}
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func newSender(t *testing.T, o webhook.Options) *webhook.Sender {
	t.Helper()
	if o.Secret == "" {
		o.Secret = secret
	}
	s, err := webhook.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeSender(t *testing.T, s *webhook.Sender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestSendSigned sends two events: each arrives once, in order, signed
// (Verify accepts it), with a distinct id and the Standard Webhooks body.
func TestSendSigned(t *testing.T) {
	r := newReceiver(t)
	s := newSender(t, webhook.Options{URL: r.URL})
	if err := s.Send(webhook.TypeLive, map[string]string{"room": "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(webhook.TypeEnded, map[string]string{"room": "bob"}); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 2)
	closeSender(t, s)
	got := r.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d deliveries; want 2", len(got))
	}
	for i, want := range []struct{ typ, room string }{{webhook.TypeLive, "alice"}, {webhook.TypeEnded, "bob"}} {
		d := got[i]
		if d.err != nil {
			t.Errorf("delivery %d: Verify: %v", i, d.err)
		}
		var body struct {
			Type      string            `json:"type"`
			Timestamp time.Time         `json:"timestamp"`
			Data      map[string]string `json:"data"`
		}
		if err := json.Unmarshal(d.body, &body); err != nil {
			t.Fatalf("delivery %d: %s: %v", i, d.body, err)
		}
		if body.Type != want.typ || body.Data["room"] != want.room || body.Timestamp.IsZero() {
			t.Errorf("delivery %d: %s; want type %s for room %s", i, d.body, want.typ, want.room)
		}
		if ts, err := strconv.ParseInt(d.header.Get("webhook-timestamp"), 10, 64); err != nil || ts <= 0 {
			t.Errorf("delivery %d: webhook-timestamp %q", i, d.header.Get("webhook-timestamp"))
		}
	}
	if got[0].header.Get("webhook-id") == got[1].header.Get("webhook-id") {
		t.Errorf("both messages have the id %s; want distinct ids", got[0].header.Get("webhook-id"))
	}
	if st := s.Stats(); st != (webhook.Stats{Sent: 2}) {
		t.Errorf("Stats = %+v; want 2 sent", st)
	}
}

// TestRetries answers with statuses in turn: 5xx and 429 are retried with
// the same webhook-id until a 2xx, another 4xx is not, and MaxRetries
// bounds the attempts.
func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		give       []int
		maxRetries int
		want       int // attempts
		wantStats  webhook.Stats
	}{
		{name: "500 then 200", give: []int{500}, want: 2, wantStats: webhook.Stats{Sent: 1, Retries: 1}},
		{name: "429, 503 then 200", give: []int{429, 503}, want: 3, wantStats: webhook.Stats{Sent: 1, Retries: 2}},
		{name: "400 is final", give: []int{400}, want: 1, wantStats: webhook.Stats{Failed: 1}},
		{name: "retries spent", give: []int{500, 500, 500}, maxRetries: 2, want: 3, wantStats: webhook.Stats{Failed: 1, Retries: 2}},
		{name: "no retries", give: []int{500}, maxRetries: -1, want: 1, wantStats: webhook.Stats{Failed: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, tc.give...)
			s := newSender(t, webhook.Options{URL: r.URL, Backoff: time.Millisecond, MaxRetries: tc.maxRetries})
			if err := s.Send(webhook.TypeLive, map[string]string{"room": "alice"}); err != nil {
				t.Fatal(err)
			}
			closeSender(t, s) // delivers, retries included
			got := r.deliveries()
			if len(got) != tc.want {
				t.Fatalf("%d attempts; want %d", len(got), tc.want)
			}
			for i, d := range got {
				if d.err != nil {
					t.Errorf("attempt %d: Verify: %v", i, d.err)
				}
				if id := d.header.Get("webhook-id"); id != got[0].header.Get("webhook-id") || id == "" {
					t.Errorf("attempt %d has id %q; want %q, the first attempt's", i, id, got[0].header.Get("webhook-id"))
				}
			}
			if st := s.Stats(); st != tc.wantStats {
				t.Errorf("Stats = %+v; want %+v", st, tc.wantStats)
			}
		})
	}
}

// TestHangingReceiver never answers: Send still returns at once, the
// queue takes QueueSize messages and drops the rest (counted), and Close
// with a context that ends gives up on them, leaving no goroutine.
func TestHangingReceiver(t *testing.T) {
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body) // the server notices the client leaving once it has read the body
		entered <- struct{}{}
		select {
		case <-req.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release) // before hang.Close, should the test fail
	s := newSender(t, webhook.Options{URL: hang.URL, QueueSize: 2, Timeout: time.Hour})
	if err := s.Send(webhook.TypeLive, 1); err != nil {
		t.Fatal(err)
	}
	<-entered // the first is being delivered: the queue is empty
	var full int
	for i := range 5 {
		if err := s.Send(webhook.TypeLive, i); errors.Is(err, webhook.ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full != 3 {
		t.Errorf("Send refused %d messages; want 3 (the queue holds 2)", full)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v; want context.Canceled", err)
	}
	if st := s.Stats(); st != (webhook.Stats{Failed: 3, Dropped: 3}) {
		t.Errorf("Stats = %+v; want 3 failed (given up) and 3 dropped", st)
	}
	if err := s.Send(webhook.TypeLive, 1); !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("Send after Close = %v; want ErrClosed", err)
	}
}

// TestVerify checks Verify against a genuine request and altered ones.
func TestVerify(t *testing.T) {
	r := newReceiver(t)
	s := newSender(t, webhook.Options{URL: r.URL})
	if err := s.Send(webhook.TypeLive, map[string]string{"room": "alice"}); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 1)
	closeSender(t, s)
	d := r.deliveries()[0]
	with := func(k, v string) http.Header {
		h := d.header.Clone()
		h.Set(k, v)
		return h
	}
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret of 32 bytes......"))
	old := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   []byte
		want   error
	}{
		{name: "genuine", secret: secret, header: d.header, body: d.body},
		{name: "one of several signatures", secret: secret, header: with("webhook-signature", "v1,AAAA "+d.header.Get("webhook-signature")), body: d.body},
		{name: "body altered", secret: secret, header: d.header, body: append([]byte(" "), d.body...), want: webhook.ErrSignature},
		{name: "other secret", secret: other, header: d.header, body: d.body, want: webhook.ErrSignature},
		{name: "id altered", secret: secret, header: with("webhook-id", "msg_x"), body: d.body, want: webhook.ErrSignature},
		{name: "old timestamp", secret: secret, header: with("webhook-timestamp", old), body: d.body, want: webhook.ErrTimestamp},
		{name: "no signature", secret: secret, header: with("webhook-signature", ""), body: d.body, want: webhook.ErrMissingHeaders},
		{name: "other scheme", secret: secret, header: with("webhook-signature", "v1a,"+d.header.Get("webhook-signature")[3:]), body: d.body, want: webhook.ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := webhook.Verify(tc.secret, tc.header, tc.body, 5*time.Minute); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v; want %v", err, tc.want)
			}
		})
	}
}

// TestNewRefusesBadOptions checks New's validation.
func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		give webhook.Options
	}{
		{name: "no URL", give: webhook.Options{Secret: secret}},
		{name: "no secret", give: webhook.Options{URL: "http://x"}},
		{name: "short secret", give: webhook.Options{URL: "http://x", Secret: "short"}},
		{name: "bad base64", give: webhook.Options{URL: "http://x", Secret: "whsec_!!!"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := webhook.New(tc.give); err == nil {
				closeSender(t, s)
				t.Error("New succeeded; want an error")
			}
		})
	}
}
