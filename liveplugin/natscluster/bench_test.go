package natscluster

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkOriginPublish measures the origin's publish path: each Write
// goes to the local hub and, numbered and split to the max payload, to
// NATS, where one other node relays it to a viewer. Bytes/s is the stream
// rate one origin sustains towards the other nodes.
func BenchmarkOriginPublish(b *testing.B) {
	for _, size := range []int{16 << 10, 256 << 10, 2 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			ns := startServer(b, nil)
			a, r := newNode(b, ns.ClientURL(), testOpts("a")), newNode(b, ns.ClientURL(), testOpts("b"))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			o, err := a.r.Start(ctx, "bench", "b1", "tok", time.Now())
			if err != nil {
				b.Fatal(err)
			}
			defer o.End("")
			o.SetInit("video/webm", []byte("init"))
			chunk := make([]byte, size)
			o.Write(chunk, []int64{0})
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				s, err := r.r.Subscribe(ctx, "bench")
				if err == nil {
					done := make(chan struct{})
					go func() {
						defer close(done)
						for {
							if _, err := s.Next(ctx); err != nil {
								return
							}
						}
					}()
					defer func() { cancel(); <-done; s.Close() }()
					break
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				o.Write(chunk, nil)
			}
		})
	}
}
