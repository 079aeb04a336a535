package mediatest

import (
	"bytes"
	"slices"
	"testing"
)

func TestSplitEvery(t *testing.T) {
	tests := []struct {
		name string
		give int
		want []int
	}{
		{name: "one byte", give: 1, want: []int{1, 1, 1, 1, 1}},
		{name: "two bytes", give: 2, want: []int{2, 2, 1}},
		{name: "whole", give: 5, want: []int{5}},
		{name: "larger", give: 9, want: []int{5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte("abcde")
			var lens []int
			for _, p := range SplitEvery(b, tc.give) {
				lens = append(lens, len(p))
			}
			if !slices.Equal(lens, tc.want) {
				t.Errorf("SplitEvery(5 bytes, %d) lengths = %v; want %v", tc.give, lens, tc.want)
			}
		})
	}
}

func TestSplitRandom(t *testing.T) {
	b := bytes.Repeat([]byte("0123456789"), 100)
	tests := []struct {
		name string
		give uint64
		max  int
	}{
		{name: "seed 1", give: 1, max: 7},
		{name: "seed 2", give: 2, max: 64},
		{name: "single bytes", give: 3, max: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitRandom(b, tc.give, tc.max)
			for _, p := range got {
				if len(p) < 1 || len(p) > tc.max {
					t.Fatalf("piece of %d bytes; want 1 to %d", len(p), tc.max)
				}
			}
			if joined := bytes.Join(got, nil); !bytes.Equal(joined, b) {
				t.Fatalf("pieces join to %d bytes; want the %d given", len(joined), len(b))
			}
			again := SplitRandom(b, tc.give, tc.max)
			if !slices.EqualFunc(got, again, bytes.Equal) {
				t.Fatalf("seed %d split differently twice", tc.give)
			}
		})
	}
}
