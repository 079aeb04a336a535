package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// startChild runs this executable as "liveload serve": here, the test
	// binary.
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == "nats") {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestChild starts the bench server as a child process, as -serve does,
// and stops it.
func TestChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := startChild(ctx, "http://", "serve")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(c.URL + "/rooms")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET /rooms: %s", resp.Status)
		}
	}
	if err != nil {
		t.Error(err)
	}
	http.DefaultClient.CloseIdleConnections()
	if _, err := readProc(c.PID()); err != nil {
		t.Errorf("readProc(child): %v", err)
	}
	if err := c.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestRun runs a small load test in-process against an httptest server and
// checks its report.
func TestRun(t *testing.T) {
	e, p, err := newBenchServer(t.TempDir(), slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()

	o := options{
		URL:      hs.URL + "/live",
		PID:      os.Getpid(),
		Rooms:    2,
		Viewers:  10,
		Room:     "test",
		Ramp:     300 * time.Millisecond,
		Duration: 1500 * time.Millisecond,
		Joiners:  4,
		Bitrate:  1_000_000,
		Chunk:    100 * time.Millisecond,
		Keyframe: 500 * time.Millisecond,
		Drain:    30 * time.Second,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, t.Output())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var out bytes.Buffer
	printReport(&out, rep)
	t.Logf("report:\n%s", out.String())

	if rep.Connected != 20 || rep.Failed != 0 || rep.KeptUp != 20 {
		t.Errorf("%d connected, %d failed (%v), %d kept up; want 20, 0, 20", rep.Connected, rep.Failed, rep.Failures, rep.KeptUp)
	}
	if rep.Lost != 0 || rep.Delivered == 0 || rep.Delivered != rep.Expected {
		t.Errorf("delivered %d of %d bytes expected (lost %d); want all, and some", rep.Delivered, rep.Expected, rep.Lost)
	}
	// About 1.5 s × 20 viewers × (50 audio + 30 video frames per second).
	if rep.Latency.N < 1000 || rep.Latency.P50 <= 0 || rep.Latency.Max < rep.Latency.P99 {
		t.Errorf("latency %+v; want over 1000 samples, consistent percentiles", rep.Latency)
	}
	if rep.Join.N != 20 || rep.LateJoin.N != 4 {
		t.Errorf("join times of %d viewers and %d late joiners; want 20 and 4", rep.Join.N, rep.LateJoin.N)
	}
	if rep.Server == nil || rep.Server.PeakRSS <= 0 {
		t.Errorf("server stats %+v; want the peak RSS of this process", rep.Server)
	}
}

func TestRunMainFlags(t *testing.T) {
	tests := []struct {
		name string
		give []string
		want string
	}{
		{name: "neither -serve nor -url", give: nil, want: "exactly one of -serve and -url"},
		{name: "both", give: []string{"-serve", "-url", "http://x/live"}, want: "exactly one of -serve and -url"},
		{name: "bad header", give: []string{"-url", "http://x/live", "-header", "nocolon"}, want: `want "Name: value"`},
		{name: "no rooms", give: []string{"-url", "http://x/live", "-rooms", "0"}, want: "-rooms must be > 0"},
		{name: "no nodes", give: []string{"-serve", "-nodes", "0"}, want: "-nodes must be >= 1, got 0"},
		{name: "nodes without -serve", give: []string{"-url", "http://x/live", "-nodes", "2"}, want: "-nodes and -nats need -serve"},
		{name: "nats without -serve", give: []string{"-url", "http://x/live", "-nats", "nats://x:4222"}, want: "-nodes and -nats need -serve"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runMain(tc.give, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("runMain(%q) = %v; want an error containing %q", tc.give, err, tc.want)
			}
		})
	}
}

func TestHist(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tc.q)
		if got < tc.want || float64(got) > 1.04*float64(tc.want) {
			t.Errorf("quantile(%v) = %v; want %v to 4%% above", tc.q, got, tc.want)
		}
	}
	for i := range histBuckets {
		if histIndex(histUpper(i)) != i || i > 0 && histIndex(histUpper(i-1)+1) != i {
			t.Fatalf("bucket %d does not hold [%d, %d]", i, histUpper(i-1)+1, histUpper(i))
		}
	}
}
