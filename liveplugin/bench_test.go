package liveplugin_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/amlive/amlive/internal/loadgen"
	"github.com/amlive/amlive/liveplugin"
)

// BenchmarkSubscribeWrite measures the fan-out through real sockets: one
// publisher uploads a synthetic 2.5 Mbit/s stream in chunks of 125 ms of
// media (about 39 KB) as fast as the viewers take them, and n viewers on
// loopback TCP read them. Each round publishes one chunk and waits until
// every viewer has received it, so no viewer falls behind. The viewers are
// raw TCP clients that only scan the bytes for the stream's markers, so
// that the figures are mostly the server's: ns/delivery is the wall time per
// chunk per viewer; cpu-ns/delivery (user and system CPU time) and
// allocs/delivery count the whole process (server, publisher and viewers)
// per chunk per viewer.
func BenchmarkSubscribeWrite(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			benchmarkSubscribeWrite(b, n, nil)
		})
	}
}

// BenchmarkSubscribeWriteMetrics is BenchmarkSubscribeWrite with
// Config.Metrics set, for the cost of the metrics on the viewers' path.
func BenchmarkSubscribeWriteMetrics(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			benchmarkSubscribeWrite(b, n, prometheus.NewRegistry())
		})
	}
}

func benchmarkSubscribeWrite(b *testing.B, n int, reg prometheus.Registerer) {
	e := echo.New()
	p, err := liveplugin.Register(e.Group("/live"), liveplugin.Config{
		Dir:               b.TempDir(),
		Authorize:         allowAll,
		Logger:            slog.New(slog.DiscardHandler),
		ViewerUpgrades:    liveplugin.RateLimit{PerMinute: 1 << 30, Burst: 1 << 30},
		PublisherUpgrades: liveplugin.RateLimit{PerMinute: 1 << 30, Burst: 1 << 30},
		Metrics:           reg,
	})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(e)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			b.Errorf("Close: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()

	// The publisher.
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/live/r/upload?mime=" + url.QueryEscape(loadgen.MIMEType)
	pub, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.CloseNow()
	ready := make(chan struct{})
	go func() { // exits when pub is closed
		for i := 0; ; i++ {
			if _, _, err := pub.Read(context.Background()); err != nil {
				return
			}
			if i == 0 {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		b.Fatal("no ready event")
	}

	const chunk = 125 * time.Millisecond
	st := loadgen.NewStream(loadgen.Options{})
	var elapsed time.Duration
	var held, buf []byte
	// next generates the next chunk of stream time, holding back its last
	// byte so that chunks do not end on element boundaries, and returns
	// the number of its last marker; send publishes it.
	next := func() uint64 {
		elapsed += chunk
		buf = st.AppendUntil(append(buf[:0], held...), elapsed, time.Now())
		held = append(held[:0], buf[len(buf)-1])
		buf = buf[:len(buf)-1]
		return st.Markers() - 1
	}
	send := func() {
		if err := pub.Write(ctx, websocket.MessageBinary, buf); err != nil {
			b.Fatal(err)
		}
	}
	held = st.Init(nil)
	first := next() // the init segment and a first keyframe Cluster
	send()

	// The viewers.
	var (
		target  atomic.Uint64 // the marker every viewer must reach this round
		reached atomic.Int64  // viewers that reached it
		all     = make(chan struct{}, 1)
		wg      sync.WaitGroup
		conns   []net.Conn
	)
	host := strings.TrimPrefix(hs.URL, "http://")
	target.Store(first)
	for range n {
		conn, br, err := rawSubscribe(host, "/live/r/subscribe")
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, conn)
		wg.Go(func() { // exits when conn is closed
			var sc loadgen.Scanner
			var ms []loadgen.Marker
			var counted uint64
			seen := int64(-1)
			buf := make([]byte, 64<<10)
			for {
				k, err := br.Read(buf)
				if err != nil {
					return
				}
				ms = sc.Scan(ms[:0], buf[:k])
				if len(ms) > 0 {
					seen = int64(ms[len(ms)-1].Seq)
				}
				if t := target.Load(); seen >= int64(t) && counted < t+1 {
					counted = t + 1
					if reached.Add(1) == int64(n) {
						all <- struct{}{}
					}
				}
			}
		})
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}()
	wait := func() {
		select {
		case <-all:
		case <-ctx.Done():
			b.Fatalf("only %d of %d viewers received marker %d", reached.Load(), n, target.Load())
		}
	}
	wait() // every viewer joined and has what was sent so far

	b.SetBytes(int64(len(buf)) * int64(n))
	b.ReportAllocs()
	allocs0, cpu0 := mallocs(), cpuTime()
	b.ResetTimer()
	for range b.N {
		reached.Store(0)
		target.Store(next())
		send()
		wait()
	}
	b.StopTimer()
	allocs1, cpu1 := mallocs(), cpuTime()
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/deliveries, "cpu-ns/delivery")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(allocs1-allocs0)/deliveries, "allocs/delivery")
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// rawSubscribe opens a viewer WebSocket by hand and returns the connection
// and a reader positioned at the first frame.
func rawSubscribe(host, path string) (net.Conn, *bufio.Reader, error) {
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return nil, nil, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	status, err := br.ReadSlice('\n')
	if err != nil || !bytes.Contains(status, []byte(" 101 ")) {
		conn.Close()
		return nil, nil, errors.Join(errors.New("subscribe: no upgrade: "+string(status)), err)
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		if len(line) <= 2 {
			return conn, br, nil
		}
	}
}
