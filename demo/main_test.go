package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun starts the demo as main does, on a free port, checks that it
// serves, then cancels its context and expects a clean return.
func TestRun(t *testing.T) {
	tests := []struct {
		name string
		args func(dir string) []string
		env  func(dir string) map[string]string
	}{
		{
			name: "flags",
			args: func(dir string) []string { return []string{"-addr", "127.0.0.1:0", "-data", dir} },
			env:  func(string) map[string]string { return nil },
		},
		{
			name: "environment",
			args: func(string) []string { return nil },
			env: func(dir string) map[string]string {
				return map[string]string{"AMLIVE_ADDR": "127.0.0.1:0", "AMLIVE_DATA": dir}
			},
		},
		{
			name: "flags win over environment",
			args: func(dir string) []string { return []string{"-addr", "127.0.0.1:0", "-data", dir} },
			env: func(string) map[string]string {
				return map[string]string{"AMLIVE_ADDR": "256.0.0.1:bad", "AMLIVE_DATA": "/nonexistent/dir"}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := tc.env(dir)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()

			out, w := io.Pipe()
			done := make(chan error, 1)
			go func() { // exits when run returns
				err := run(ctx, tc.args(dir), func(k string) string { return env[k] }, w)
				w.Close()
				done <- err
			}()

			urls := make(chan string, 1)
			go func() { // exits when run has returned and closed w
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if u, ok := strings.CutPrefix(sc.Text(), "amlive demo listening on "); ok {
						urls <- u
					}
				}
				close(urls)
			}()

			var base string
			select {
			case base = <-urls:
			case err := <-done:
				t.Fatalf("run returned before listening: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("run did not print its URL")
			}
			if !strings.HasPrefix(base, "http://127.0.0.1:") {
				t.Errorf("listening on %q; want http://127.0.0.1:<port>", base)
			}

			hc := &http.Client{Transport: &http.Transport{}}
			defer hc.CloseIdleConnections()
			for _, path := range []string{"/", "/signup", "/live/rooms", "/static/style.css", "/live/assets/player.js"} {
				res, err := hc.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Errorf("GET %s = %d; want 200", path, res.StatusCode)
				}
			}
			hc.CloseIdleConnections()

			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run() = %v; want nil after cancel", err)
				}
			case <-time.After(shutdownTimeout + 5*time.Second):
				t.Fatal("run did not return after cancel")
			}
			for range urls { // drain until the scanner ends
			}
		})
	}
}

func TestRunBadArgs(t *testing.T) {
	tests := []struct {
		name string
		give []string
	}{
		{name: "unknown flag", give: []string{"-nope"}},
		{name: "extra argument", give: []string{"extra"}},
		{name: "bad address", give: []string{"-addr", "127.0.0.1:notaport"}},
		{name: "not a duration", give: []string{"-addr", "127.0.0.1:0", "-read-timeout", "soon"}},
		{name: "negative timeout", give: []string{"-addr", "127.0.0.1:0", "-write-stall-timeout", "-1s"}},
		{name: "negative header bytes", give: []string{"-addr", "127.0.0.1:0", "-max-header-bytes", "-1"}},
		{name: "no nodes", give: []string{"-addr", "127.0.0.1:0", "-nodes", "0"}},
		{name: "nodes past the last port", give: []string{"-addr", "127.0.0.1:65535", "-nodes", "2"}},
		{name: "no NATS server there", give: []string{"-addr", "127.0.0.1:0", "-nats", "nats://127.0.0.1:1"}},
		{name: "not a NATS URL", give: []string{"-addr", "127.0.0.1:0", "-nodes", "2", "-nats", "::nope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-data", t.TempDir()}, tc.give...)
			err := run(t.Context(), args, func(string) string { return "" }, io.Discard)
			if err == nil {
				t.Errorf("run(%q) = nil; want an error", tc.give)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var out strings.Builder
	err := run(t.Context(), []string{"-h"}, func(string) string { return "" }, &out)
	if err != nil {
		t.Errorf("run(-h) = %v; want nil", err)
	}
	if !strings.Contains(out.String(), "-addr") {
		t.Errorf("run(-h) printed %q; want the usage", out.String())
	}
}

// TestRunBounds starts the demo as main does, with small bounds given as
// flags, and checks that its server keeps them: a client that sends
// nothing is cut, large headers get 431.
func TestRunBounds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	args := []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-read-header-timeout", testBound.String(), "-max-header-bytes", "4096"}
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() { // exits when run returns
		err := run(ctx, args, func(string) string { return "" }, w)
		w.Close()
		done <- err
	}()
	urls := make(chan string, 1)
	go func() { // exits when run has returned and closed w
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "amlive demo listening on "); ok {
				urls <- u
			}
		}
		close(urls)
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not print its URL")
	}

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(cutWithin))
	if n, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("a client that sends nothing read %d bytes, %v; want EOF: the server cuts it after %v", n, err, testBound)
	}

	hc := &http.Client{Transport: &http.Transport{}}
	req, err := http.NewRequest(http.MethodGet, base+"/static/style.css", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Pad", strings.Repeat("a", 8<<10))
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	hc.CloseIdleConnections()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("GET with 8 kB of headers = %d; want 431 (-max-header-bytes 4096)", res.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run() = %v; want nil after cancel", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("run did not return after cancel")
	}
	for range urls { // drain until the scanner ends
	}
}
