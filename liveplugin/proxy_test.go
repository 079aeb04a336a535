package liveplugin_test

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// netProxy forwards TCP connections to a server and plays the network
// failures of the tests: it can cut the connections (each side sees its
// connection end without a close frame, possibly in the middle of a
// message), refuse new ones for a while, or freeze: forward nothing more,
// either way, while keeping both connections open, so that to each side the
// other has vanished without a word.
type netProxy struct {
	ln     net.Listener
	target string
	frozen atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
	cutAt int64     // cut once this many more client bytes passed; <0: never
	down  time.Time // refuse connections until then
	wg    sync.WaitGroup
}

func newNetProxy(t testing.TB, target string) *netProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &netProxy{ln: ln, target: strings.TrimPrefix(target, "http://"), cutAt: -1}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// addr returns the proxy's host:port.
func (p *netProxy) addr() string { return p.ln.Addr().String() }

// URL returns the proxy's ws:// URL for path.
func (p *netProxy) URL(path string) string { return "ws://" + p.ln.Addr().String() + path }

func (p *netProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := time.Now().Before(p.down)
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(s, c, true) })
		p.wg.Go(func() { p.forward(c, s, false) })
	}
}

// forward copies src to dst, counting client bytes against cutAt.
func (p *netProxy) forward(dst, src net.Conn, fromClient bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 512)
	for {
		n, err := src.Read(buf)
		if p.frozen.Load() {
			n = 0 // dropped
		}
		if n > 0 && fromClient {
			p.mu.Lock()
			if p.cutAt >= 0 && int64(n) >= p.cutAt {
				n = int(p.cutAt)
				p.cutAt = 0
			} else if p.cutAt > 0 {
				p.cutAt -= int64(n)
			}
			cutNow := p.cutAt == 0
			p.mu.Unlock()
			_, _ = dst.Write(buf[:n])
			if cutNow {
				p.cut()
				return
			}
			continue
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cutAfter cuts every connection once n more bytes came from clients.
func (p *netProxy) cutAfter(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutAt = n
}

// outage cuts every connection and refuses new ones for d.
func (p *netProxy) outage(d time.Duration) {
	p.cut()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = time.Now().Add(d)
}

// cut closes every connection now.
func (p *netProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.cutAt = -1
}
