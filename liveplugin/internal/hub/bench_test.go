package hub

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanout measures one publisher delivering 8 KiB chunks to n
// subscribers, each read by its own goroutine as a WebSocket writer would.
// The publisher waits for every subscriber after each round of 16 chunks,
// so no one overflows: the figures are for viewers that keep up. It reports
// delivered bytes per second (MB/s counts every copy a viewer receives),
// ns and allocations per delivered chunk.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			benchmarkFanout(b, n)
		})
	}
}

func benchmarkFanout(b *testing.B, n int) {
	const size, round = 8 << 10, 16
	h := newHub(Config{})
	bc, err := h.Start("r", "b", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	bc.SetInit("video/webm", []byte("init"))
	bc.Write(make([]byte, size), []int64{0})

	var delivered atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range n {
		s, err := h.Subscribe("r")
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer s.Close()
			for {
				m, err := s.Next(ctx)
				if err != nil {
					return
				}
				if !m.Text && m.kind == kindMedia {
					delivered.Add(1)
				}
			}
		})
	}
	chunks := make([][]byte, round)
	for i := range chunks {
		chunks[i] = make([]byte, size)
	}
	waitFor := func(want int64) {
		for delivered.Load() < want {
			runtime.Gosched()
		}
	}
	waitFor(int64(n)) // the join bursts
	base := delivered.Load()

	b.SetBytes(int64(size) * int64(n))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for i := range b.N {
		bc.Write(chunks[i%round], nil)
		if i%round == round-1 || i == b.N-1 {
			waitFor(base + int64(i+1)*int64(n))
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")
	bc.End("")
	wg.Wait()
}
