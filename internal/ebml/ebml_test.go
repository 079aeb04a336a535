package ebml

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		give func() []byte
		want []byte
	}{
		{name: "1-byte id", give: func() []byte { return AppendID(nil, 0xA3) }, want: []byte{0xA3}},
		{name: "2-byte id", give: func() []byte { return AppendID(nil, 0x4282) }, want: []byte{0x42, 0x82}},
		{name: "3-byte id", give: func() []byte { return AppendID(nil, 0x2AD7B1) }, want: []byte{0x2A, 0xD7, 0xB1}},
		{name: "4-byte id", give: func() []byte { return AppendID(nil, 0x1A45DFA3) }, want: []byte{0x1A, 0x45, 0xDF, 0xA3}},
		{name: "size 0", give: func() []byte { return AppendSize(nil, 0) }, want: []byte{0x80}},
		{name: "size 126", give: func() []byte { return AppendSize(nil, 126) }, want: []byte{0xFE}},
		{name: "size 127 takes two bytes", give: func() []byte { return AppendSize(nil, 127) }, want: []byte{0x40, 0x7F}},
		{name: "size 16382", give: func() []byte { return AppendSize(nil, 16382) }, want: []byte{0x7F, 0xFE}},
		{name: "size 16383 takes three bytes", give: func() []byte { return AppendSize(nil, 16383) }, want: []byte{0x20, 0x3F, 0xFF}},
		{name: "max size", give: func() []byte { return AppendSize(nil, MaxSize) }, want: []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE}},
		{name: "size 5 in 8 bytes", give: func() []byte { return AppendSizeWidth(nil, 5, 8) }, want: []byte{0x01, 0, 0, 0, 0, 0, 0, 5}},
		{name: "size 5 in 2 bytes", give: func() []byte { return AppendSizeWidth(nil, 5, 2) }, want: []byte{0x40, 5}},
		{name: "unknown size 1", give: func() []byte { return AppendUnknownSize(nil, 1) }, want: []byte{0xFF}},
		{name: "unknown size 2", give: func() []byte { return AppendUnknownSize(nil, 2) }, want: []byte{0x7F, 0xFF}},
		{name: "unknown size 8", give: func() []byte { return AppendUnknownSize(nil, 8) }, want: []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
		{name: "unknown header", give: func() []byte { return AppendUnknownHeader(nil, 0x1F43B675, 1) }, want: []byte{0x1F, 0x43, 0xB6, 0x75, 0xFF}},
		{name: "header", give: func() []byte { return AppendHeader([]byte{9}, 0x1F43B675, 200) }, want: []byte{9, 0x1F, 0x43, 0xB6, 0x75, 0x40, 200}},
		{name: "uint 0", give: func() []byte { return AppendUint(nil, 0xE7, 0) }, want: []byte{0xE7, 0x81, 0}},
		{name: "uint 300", give: func() []byte { return AppendUint(nil, 0xE7, 300) }, want: []byte{0xE7, 0x82, 0x01, 0x2C}},
		{name: "uint max", give: func() []byte { return AppendUint(nil, 0xE7, math.MaxUint64) }, want: []byte{0xE7, 0x88, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
		{name: "uint 1 in 8 bytes", give: func() []byte { return AppendUintWidth(nil, 0x53AC, 1, 8) }, want: []byte{0x53, 0xAC, 0x88, 0, 0, 0, 0, 0, 0, 0, 1}},
		{name: "float", give: func() []byte { return AppendFloat(nil, 0x4489, 1.5) }, want: []byte{0x44, 0x89, 0x88, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0}},
		{name: "string", give: func() []byte { return AppendString(nil, 0x4282, "webm") }, want: []byte{0x42, 0x82, 0x84, 'w', 'e', 'b', 'm'}},
		{name: "bytes", give: func() []byte { return AppendBytes(nil, 0x63A2, []byte{1, 2}) }, want: []byte{0x63, 0xA2, 0x82, 1, 2}},
		{name: "empty bytes", give: func() []byte { return AppendBytes(nil, 0xEC, nil) }, want: []byte{0xEC, 0x80}},
		{
			name: "master",
			give: func() []byte {
				return AppendMaster(nil, 0xE0, func(b []byte) []byte {
					return AppendUint(AppendUint(b, 0xB0, 640), 0xBA, 360)
				})
			},
			want: []byte{0xE0, 0x88, 0xB0, 0x82, 0x02, 0x80, 0xBA, 0x82, 0x01, 0x68},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.give(); !bytes.Equal(got, tc.want) {
				t.Errorf("got % x; want % x", got, tc.want)
			}
		})
	}
}

func TestLen(t *testing.T) {
	tests := []struct {
		name string
		give int64
		want int64
	}{
		{name: "IDLen 1", give: int64(IDLen(0xA3)), want: 1},
		{name: "IDLen 4", give: int64(IDLen(0x18538067)), want: 4},
		{name: "SizeLen 0", give: int64(SizeLen(0)), want: 1},
		{name: "SizeLen 127", give: int64(SizeLen(127)), want: 2},
		{name: "SizeLen 2^49-2", give: int64(SizeLen(1<<49 - 2)), want: 7},
		{name: "SizeLen 2^49-1", give: int64(SizeLen(1<<49 - 1)), want: 8},
		{name: "SizeLen max", give: int64(SizeLen(MaxSize)), want: 8},
		{name: "UintLen 0", give: int64(UintLen(0)), want: 1},
		{name: "UintLen 255", give: int64(UintLen(255)), want: 1},
		{name: "UintLen 256", give: int64(UintLen(256)), want: 2},
		{name: "UintLen max", give: int64(UintLen(math.MaxUint64)), want: 8},
		{name: "HeaderLen", give: int64(HeaderLen(0x1F43B675, 127)), want: 6},
		{name: "ElementLen", give: ElementLen(0xA3, 10), want: 12},
		{name: "UintElementLen", give: UintElementLen(0xE7, 300), want: 4},
		{name: "StringLen", give: StringLen(0x4282, "webm"), want: 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.give != tc.want {
				t.Errorf("got %d; want %d", tc.give, tc.want)
			}
		})
	}
}

func TestPanics(t *testing.T) {
	tests := []struct {
		name string
		give func()
	}{
		{name: "id 0", give: func() { AppendID(nil, 0) }},
		{name: "id without marker", give: func() { AppendID(nil, 0x7F) }},
		{name: "4-byte id without marker", give: func() { AppendID(nil, 0x8A45DFA3) }},
		{name: "negative size", give: func() { AppendSize(nil, -1) }},
		{name: "size too large", give: func() { AppendSize(nil, MaxSize+1) }},
		{name: "width 0", give: func() { AppendSizeWidth(nil, 0, 0) }},
		{name: "width 9", give: func() { AppendUnknownSize(nil, 9) }},
		{name: "size wider than width", give: func() { AppendSizeWidth(nil, 127, 1) }},
		{name: "uint wider than width", give: func() { AppendUintWidth(nil, 0xE7, 256, 1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			tc.give()
		})
	}
}

// decodeVint decodes the variable-size integer at the start of b: its
// length, its value with the marker bit removed, and whether all value bits
// are set (unknown size). It is the reading half of the round trip.
func decodeVint(tb testing.TB, b []byte) (n int, v uint64, allOnes bool) {
	tb.Helper()
	if len(b) == 0 || b[0] == 0 {
		tb.Fatalf("invalid vint % x", b)
	}
	n = 1
	for b[0]&(0x80>>(n-1)) == 0 {
		n++
	}
	v = uint64(b[0]) & (0xFF >> n)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return n, v, v == 1<<(7*n)-1
}

// FuzzRoundTrip checks that a size or unsigned integer element written by
// the package decodes to the value written, at the length its Len function
// gave.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(0), uint64(0), uint8(1))
	f.Add(int64(127), uint64(256), uint8(8))
	f.Add(int64(MaxSize), uint64(math.MaxUint64), uint8(3))
	f.Fuzz(func(t *testing.T, size int64, v uint64, w uint8) {
		if size < 0 {
			size = -(size + 1)
		}
		size %= MaxSize + 1
		b := AppendSize(nil, size)
		n, got, unknown := decodeVint(t, b)
		if n != len(b) || n != SizeLen(size) || got != uint64(size) || unknown {
			t.Fatalf("AppendSize(%d) = % x: decodes to %d in %d bytes (unknown %v)", size, b, got, n, unknown)
		}
		width := int(w%8) + 1
		if SizeLen(size) <= width {
			b := AppendSizeWidth(nil, size, width)
			if n, got, _ := decodeVint(t, b); n != width || got != uint64(size) {
				t.Fatalf("AppendSizeWidth(%d, %d) = % x", size, width, b)
			}
		}
		if n, _, unknown := decodeVint(t, AppendUnknownSize(nil, width)); n != width || !unknown {
			t.Fatalf("AppendUnknownSize(%d) is not unknown", width)
		}
		e := AppendUint(nil, 0xE7, v)
		if int64(len(e)) != UintElementLen(0xE7, v) || e[0] != 0xE7 {
			t.Fatalf("AppendUint(%d) = % x", v, e)
		}
		n, l, _ := decodeVint(t, e[1:])
		var p [8]byte
		copy(p[8-l:], e[1+n:])
		if int(l) != UintLen(v) || binary.BigEndian.Uint64(p[:]) != v {
			t.Fatalf("AppendUint(%d) = % x", v, e)
		}
	})
}
