// Package webhook sends the plugin's lifecycle events (liveplugin.Events)
// to an HTTP endpoint as signed webhooks, following the Standard Webhooks
// convention (https://www.standardwebhooks.com): each request is a POST
// of a JSON body
//
//	{"type": "broadcast.live", "timestamp": "2026-12-02T02:10:00Z", "data": {...}}
//
// with the headers webhook-id (unique per message, the same across its
// retries), webhook-timestamp (Unix seconds of the attempt) and
// webhook-signature ("v1," and the base64 HMAC-SHA256, keyed with the
// secret, of id + "." + timestamp + "." + body). Receivers check them with
// Verify.
//
// A Sender delivers from a bounded queue on one goroutine, in order, so
// Send never blocks: an app's uploads and viewers never wait for a
// receiver. Plug it into the plugin with Handlers:
//
//	s, err := webhook.New(webhook.Options{URL: "https://example.com/hooks", Secret: os.Getenv("AMLIVE_WEBHOOK_SECRET")})
//	...
//	cfg.Events = webhook.Handlers(s)
//	...
//	defer s.Close(ctx) // after the plugin's Close, which delivers its last events
//
// The event types and their data are in the constants' docs: the data of
// each is the JSON of the liveplugin type named there.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amlive/amlive/liveplugin"
)

// The event types Handlers sends, with their data.
const (
	// TypeLive is a broadcast that went live; data: liveplugin.BroadcastInfo
	// ({"room", "broadcast", "mimeType", "startedAt", "viewers", "bytes",
	// "url"}).
	TypeLive = "broadcast.live"
	// TypeEnded is a broadcast that ended; data: liveplugin.EndedEvent
	// ({"broadcast": BroadcastInfo with "endedAt" and "recording", "why",
	// "reason"}).
	TypeEnded = "broadcast.ended"
	// TypeRecordingSealed is a recording sealed into a seekable file;
	// data: liveplugin.RecordingEvent ({"room", "broadcast", "bytes",
	// "durationMs", "path", "url"}).
	TypeRecordingSealed = "recording.sealed"
	// TypeRecordingFailed is a recording that stopped early; data:
	// liveplugin.RecordingFailedEvent ({"room", "broadcast", "error"}).
	TypeRecordingFailed = "recording.failed"
	// TypeLimitReached is a limit that refused or ended a connection;
	// data: liveplugin.LimitEvent ({"limit", "room", "role"}).
	TypeLimitReached = "limit.reached"
)

// Errors of Send and Verify.
var (
	// ErrClosed is Send after Close.
	ErrClosed = errors.New("webhook: sender closed")
	// ErrQueueFull is Send when QueueSize messages wait: the new message
	// is dropped (and counted in Stats.Dropped).
	ErrQueueFull = errors.New("webhook: queue full; message dropped")
	// ErrMissingHeaders is a request without the webhook-id,
	// webhook-timestamp or webhook-signature header.
	ErrMissingHeaders = errors.New("webhook: missing webhook headers")
	// ErrTimestamp is a webhook-timestamp that is not a number or lies
	// further than the tolerance from now (a replay).
	ErrTimestamp = errors.New("webhook: timestamp outside the tolerance")
	// ErrSignature is a webhook-signature that matches no signature of
	// the body with the secret.
	ErrSignature = errors.New("webhook: invalid signature")
)

// Options configures a Sender.
type Options struct {
	// URL is where the webhooks are POSTed. Required.
	URL string
	// Secret signs the webhooks: "whsec_" followed by base64 (the
	// Standard Webhooks form, decoded), or any other string, used as
	// its bytes. Required; at least 16 bytes once decoded.
	Secret string
	// Timeout bounds one delivery attempt, from connecting to reading
	// the response's status. Optional. Defaults to 10 seconds.
	Timeout time.Duration
	// MaxRetries is how many times a message is retried after a network
	// error, a timeout, a 5xx or a 429 (never after another status).
	// Optional. Defaults to 5; negative disables retries.
	MaxRetries int
	// Backoff is the wait before the first retry; it doubles with each
	// retry, up to a minute (or Backoff, if longer), and each wait is
	// drawn at random between its half and its whole (jitter). Optional.
	// Defaults to 1 second.
	Backoff time.Duration
	// QueueSize bounds the messages waiting for delivery; when it is
	// full, Send drops the new message and counts it. Optional. Defaults
	// to 1000.
	QueueSize int
	// Client sends the requests. Optional. Defaults to a client of its
	// own with http.DefaultTransport's settings, whose idle connections
	// Close closes.
	Client *http.Client
	// Logger receives a line per message that could not be delivered.
	// Optional. Defaults to slog.Default().
	Logger *slog.Logger
}

// Stats counts a Sender's messages.
type Stats struct {
	Sent    int64 // delivered (a 2xx answer)
	Failed  int64 // given up: a 4xx, or the retries spent, or Close
	Retries int64 // attempts after the first
	Dropped int64 // refused by Send because the queue was full
}

// Sender delivers webhooks from a bounded queue. Its methods are safe for
// concurrent use.
type Sender struct {
	o      Options
	secret []byte
	queue  chan message
	ctx    context.Context // ended when Close gives up
	cancel context.CancelFunc
	done   chan struct{}

	ownClient bool // Options.Client was nil: Close closes its connections

	mu     sync.Mutex
	closed bool

	sent, failed, retries, dropped atomic.Int64
}

// message is one webhook, the same across its attempts.
type message struct {
	id   string
	body []byte
}

// New returns a Sender and starts its goroutine; Close stops it.
func New(o Options) (*Sender, error) {
	if o.URL == "" {
		return nil, errors.New("webhook: Options.URL is required")
	}
	secret, err := decodeSecret(o.Secret)
	if err != nil {
		return nil, err
	}
	if len(secret) < 16 {
		return nil, errors.New("webhook: Options.Secret must hold at least 16 bytes")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	own := o.Client == nil
	if own {
		o.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Sender{o: o, secret: secret, queue: make(chan message, o.QueueSize), done: make(chan struct{}), ownClient: own}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run() // exits when Close closes the queue and it is drained, or Close gives up
	return s, nil
}

// decodeSecret decodes a "whsec_" secret; any other is its bytes.
func decodeSecret(secret string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("webhook: secret: %w", err)
		}
		return b, nil
	}
	return []byte(secret), nil
}

// Send queues a message of type eventType whose data is payload's JSON.
// It never blocks: it returns ErrQueueFull (and drops the message) when
// QueueSize messages wait, and ErrClosed after Close.
func (s *Sender) Send(eventType string, payload any) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("webhook: %s: %w", eventType, err)
	}
	body, err := json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{eventType, time.Now().UTC().Truncate(time.Millisecond), data})
	if err != nil {
		return fmt.Errorf("webhook: %s: %w", eventType, err)
	}
	m := message{id: newID(), body: body}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case s.queue <- m:
		return nil
	default:
		s.dropped.Add(1)
		return ErrQueueFull
	}
}

// newID returns a unique message id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

// Stats returns the counters so far.
func (s *Sender) Stats() Stats {
	return Stats{Sent: s.sent.Load(), Failed: s.failed.Load(), Retries: s.retries.Load(), Dropped: s.dropped.Load()}
}

// Close stops accepting messages and delivers those queued, retries
// included, until ctx ends: it then abandons the delivery under way and
// the rest (counted as failed), waits for the goroutine to exit and
// returns ctx.Err(). It is idempotent.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.cancel()
		<-s.done
		return ctx.Err()
	}
}

func (s *Sender) run() {
	defer close(s.done)
	defer s.cancel()
	if s.ownClient {
		defer s.o.Client.CloseIdleConnections()
	}
	for m := range s.queue {
		if s.ctx.Err() != nil {
			s.failed.Add(1)
			continue
		}
		s.deliver(m)
	}
}

// deliver tries m until it is accepted, refused or out of retries.
func (s *Sender) deliver(m message) {
	wait := s.o.Backoff
	for attempt := 0; ; attempt++ {
		retry, err := s.attempt(m)
		if err == nil {
			s.sent.Add(1)
			return
		}
		if !retry || attempt >= s.o.MaxRetries || s.ctx.Err() != nil {
			s.failed.Add(1)
			s.o.Logger.Warn("webhook not delivered", "id", m.id, "attempts", attempt+1, "err", err)
			return
		}
		// Jitter: between half the wait and all of it.
		d := wait/2 + time.Duration(mrand.Int64N(int64(wait/2)+1))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			s.failed.Add(1)
			return
		}
		wait = min(wait*2, max(time.Minute, s.o.Backoff))
		s.retries.Add(1)
	}
}

// attempt POSTs m once; retry says whether a failure may be retried.
func (s *Sender) attempt(m message) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.URL, bytes.NewReader(m.body))
	if err != nil {
		return false, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", m.id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+sign(s.secret, m.id, ts, m.body))
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("webhook: %s", resp.Status)
	}
	return false, fmt.Errorf("webhook: %s", resp.Status)
}

// sign returns the base64 HMAC-SHA256 of id.timestamp.body.
func sign(secret []byte, id, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Verify checks a webhook a receiver got: that header holds a
// webhook-signature (a space-separated list of "v1,<base64>") one of
// which is body's signature with secret (as in Options.Secret), and a
// webhook-timestamp within tolerance of now (a tolerance of 0 skips that
// check; 5 minutes is usual). It returns nil, ErrMissingHeaders,
// ErrTimestamp or ErrSignature. Use the body's bytes as received, before
// any parsing.
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if tolerance > 0 {
		if d := time.Since(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return ErrTimestamp
		}
	}
	want := []byte(sign(key, id, ts, body))
	for _, sig := range strings.Fields(sigs) {
		if v, ok := strings.CutPrefix(sig, "v1,"); ok && hmac.Equal([]byte(v), want) {
			return nil
		}
	}
	return ErrSignature
}

// Handlers returns the plugin's lifecycle callbacks, each sending its
// event through s (see the Type constants); set Config.Events to it. A
// message Send refuses (queue full, closed) is dropped and counted.
func Handlers(s *Sender) liveplugin.Events {
	return liveplugin.Events{
		Live:            func(b liveplugin.BroadcastInfo) { _ = s.Send(TypeLive, b) },
		Ended:           func(e liveplugin.EndedEvent) { _ = s.Send(TypeEnded, e) },
		RecordingSealed: func(e liveplugin.RecordingEvent) { _ = s.Send(TypeRecordingSealed, e) },
		RecordingFailed: func(e liveplugin.RecordingFailedEvent) { _ = s.Send(TypeRecordingFailed, e) },
		LimitReached:    func(e liveplugin.LimitEvent) { _ = s.Send(TypeLimitReached, e) },
	}
}
