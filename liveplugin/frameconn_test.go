package liveplugin

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// recordConn records what is written to it.
type recordConn struct {
	net.Conn // nil: only Write is called
	out      bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) { return c.out.Write(p) }

// frame returns a WebSocket frame with a payload of n bytes, masked or not.
func frame(n int, masked bool, rng *rand.Rand) []byte {
	b := []byte{0x82, 0}
	switch {
	case n > 0xffff:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	case n > 125:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = byte(n)
	}
	if masked {
		b[1] |= 0x80
		b = append(b, 1, 2, 3, 4)
	}
	for range n {
		b = append(b, byte(rng.IntN(256)))
	}
	return b
}

func TestFrameConnHoldsOnlyIncompleteFrames(t *testing.T) {
	sizes := []int{0, 1, 50, pendBytes - 2, pendBytes, 125, 126, 1000, 0xffff, 0x10000, 100_000}
	tests := []struct {
		name   string
		masked bool
		// write writes one frame to fc, as the websocket library would or
		// in arbitrary pieces.
		write func(fc *frameConn, bw *bufio.Writer, f []byte, rng *rand.Rand)
	}{
		{name: "through a buffer", write: func(_ *frameConn, bw *bufio.Writer, f []byte, _ *rand.Rand) {
			// The header goes in byte by byte, then the payload.
			size, _ := frameHeader(f)
			hdr := len(f) - int(size)
			for _, c := range f[:hdr] {
				_ = bw.WriteByte(c)
			}
			_, _ = bw.Write(f[hdr:])
			_ = bw.Flush()
		}},
		{name: "in random pieces", masked: true, write: func(fc *frameConn, _ *bufio.Writer, f []byte, rng *rand.Rand) {
			for len(f) > 0 {
				n := min(len(f), 1+rng.IntN(2*pendBytes))
				_, _ = fc.Write(f[:n])
				f = f[n:]
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			rc := &recordConn{}
			fc := &frameConn{Conn: rc}
			bw := bufio.NewWriterSize(fc, pendBytes)
			var want []byte
			for i := range 200 {
				f := frame(sizes[rng.IntN(len(sizes))], tc.masked, rng)
				want = append(want, f...)
				tc.write(fc, bw, f, rng)
				if !bytes.Equal(rc.out.Bytes(), want) {
					t.Fatalf("after frame %d (%d bytes): %d bytes out, %d held; want all %d out",
						i, len(f), rc.out.Len(), fc.npend, len(want))
				}
			}
		})
	}
}

func TestFrameConnHoldsAtMostPendBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rc := &recordConn{}
	fc := &frameConn{Conn: rc}
	f := frame(10_000, false, rng)
	for i, n := range []int{3, pendBytes - 10, 20, 500, len(f) - 3 - (pendBytes - 10) - 20 - 500} {
		written := rc.out.Len()
		_, _ = fc.Write(f[:n])
		f = f[n:]
		if fc.npend > pendBytes {
			t.Fatalf("write %d: %d bytes held; want at most %d", i, fc.npend, pendBytes)
		}
		if fc.npend == 0 && rc.out.Len() == written {
			t.Fatalf("write %d of %d bytes neither held nor passed on", i, n)
		}
	}
	if fc.npend != 0 {
		t.Errorf("%d bytes held after the frame ended", fc.npend)
	}
}

func TestFrameHeader(t *testing.T) {
	tests := []struct {
		give     []byte
		wantSize int64
		wantOK   bool
	}{
		{give: []byte{0x82}, wantOK: false},
		{give: []byte{0x82, 5}, wantSize: 5, wantOK: true},
		{give: []byte{0x82, 0x85, 1, 2, 3}, wantOK: false},
		{give: []byte{0x82, 0x85, 1, 2, 3, 4}, wantSize: 5, wantOK: true},
		{give: []byte{0x82, 126, 1}, wantOK: false},
		{give: []byte{0x82, 126, 1, 0}, wantSize: 256, wantOK: true},
		{give: []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0}, wantOK: false},
		{give: []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, wantSize: 65536, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%x", tc.give), func(t *testing.T) {
			size, ok := frameHeader(tc.give)
			if size != tc.wantSize || ok != tc.wantOK {
				t.Errorf("frameHeader(%x) = %d, %v; want %d, %v", tc.give, size, ok, tc.wantSize, tc.wantOK)
			}
		})
	}
}
