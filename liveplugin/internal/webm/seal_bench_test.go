package webm

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/amlive/amlive/internal/ebml"
)

// writeLongRecording writes a raw MediaRecorder-style recording of about d
// to path by repeating the Clusters of a fixture with their timecodes moved
// on, and returns its size.
func writeLongRecording(tb testing.TB, path string, d time.Duration) int64 {
	tb.Helper()
	fx := loadFixture(tb, "vp8-opus-250ms-kf2s")
	_, info := seal(tb, fx.Full)
	period := (info.Duration + time.Millisecond - 1).Truncate(time.Millisecond)
	var clusters [][]byte
	for i, c := range fx.St.Clusters {
		end := int64(len(fx.Full))
		if i+1 < len(fx.St.Clusters) {
			end = fx.St.Clusters[i+1].Offset
		}
		clusters = append(clusters, fx.Full[c.Offset:end])
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	if _, err := w.Write(fx.Full[:fx.St.InitSegmentEnd]); err != nil {
		tb.Fatal(err)
	}
	var buf []byte
	for k := 0; time.Duration(k)*period < d; k++ {
		shift := uint64(time.Duration(k) * period / time.Millisecond)
		for _, c := range clusters {
			_, n, _, _ := parseHeader(c) // unknown size
			id, tn, tsize, ok := parseHeader(c[n:])
			if !ok || id != idTimecode {
				tb.Fatalf("cluster does not start with its timecode")
			}
			tc := readUint(c[n+tn : int64(n+tn)+tsize])
			buf = append(buf[:0], c[:n]...)
			buf = ebml.AppendUint(buf, idTimecode, tc+shift)
			buf = append(buf, c[int64(n+tn)+tsize:]...)
			if _, err := w.Write(buf); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// heapPeak samples the heap's live objects until stop is called, which
// returns the highest value seen.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkSeal seals long synthetic recordings from and to files. Its
// peak-heap-MB (the most live heap seen while sealing, above the heap
// before) and B/op stay about the same from 10 minutes to 1 hour: Seal's
// memory grows with the number of Clusters only, by some 40 bytes each.
func BenchmarkSeal(b *testing.B) {
	for _, bc := range []struct {
		name string
		d    time.Duration
	}{
		{name: "10min", d: 10 * time.Minute},
		{name: "1h", d: time.Hour},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			src := filepath.Join(dir, "raw.webm")
			size := writeLongRecording(b, src, bc.d)
			in, err := os.Open(src)
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			b.SetBytes(size)
			b.ReportAllocs()
			base := heapPeak()()
			stop := heapPeak()
			var info SealInfo
			for b.Loop() {
				out, err := os.Create(filepath.Join(dir, "sealed.webm"))
				if err != nil {
					b.Fatal(err)
				}
				if info, err = Seal(out, in, size); err != nil {
					b.Fatal(err)
				}
				if err := out.Close(); err != nil {
					b.Fatal(err)
				}
			}
			peak := stop()
			b.ReportMetric(float64(size)/1e6, "file-MB")
			b.ReportMetric(float64(info.Clusters), "clusters")
			b.ReportMetric(float64(peak-min(base, peak))/1e6, "peak-heap-MB")
		})
	}
}
