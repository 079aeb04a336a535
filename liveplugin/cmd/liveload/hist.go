package main

import (
	"math/bits"
	"time"
)

// hist counts durations in microseconds, exactly below 64 µs and in
// buckets about 3% wide above (32 per power of two), up to about 71
// minutes. Its zero value is empty; it is not safe for concurrent use.
type hist struct {
	counts [histBuckets]uint32
	n      uint64
	max    time.Duration
}

const histBuckets = 64 + 27*32

func histIndex(us uint64) int {
	if us < 64 {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us>>e is in [32, 64)
	i := 64 + (e-1)*32 + int(us>>e) - 32
	return min(i, histBuckets-1)
}

// histUpper returns the largest value, in microseconds, of bucket i.
func histUpper(i int) uint64 {
	if i < 64 {
		return uint64(i)
	}
	e := (i-64)/32 + 1
	m := uint64((i-64)%32 + 32)
	return (m+1)<<e - 1
}

func (h *hist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d/time.Microsecond))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the upper bound of the bucket holding quantile q (0 to
// 1), never more than the largest value counted; 0 when h is empty.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return min(time.Duration(histUpper(i))*time.Microsecond, h.max)
		}
	}
	return h.max
}

// Percentiles summarises a distribution of durations.
type Percentiles struct {
	N   uint64        `json:"n"`
	P50 time.Duration `json:"p50"`
	P95 time.Duration `json:"p95"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

func (h *hist) percentiles() Percentiles {
	return Percentiles{N: h.n, P50: h.quantile(0.50), P95: h.quantile(0.95), P99: h.quantile(0.99), Max: h.max}
}
