package liveplugin_test

// The Go publisher of the engine scenarios: a real MediaRecorder fixture
// sent chunk by chunk over the upload WebSocket at the pace it was
// recorded, looped (its Cluster timecodes shifted each time) for as long
// as a scenario needs a live broadcast.

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// EBML IDs the looping reads.
const (
	ebmlCluster     = 0x1F43B675
	ebmlTimecode    = 0xE7
	ebmlSimpleBlock = 0xA3
)

// maxLoops bounds how many times a loopedPublisher replays its fixture:
// about two minutes of broadcast.
const maxLoops = 10

// piece is one WebSocket message of a looped fixture.
type piece struct {
	data       []byte
	due        time.Duration // when it is sent, from the start of the broadcast
	clusterEnd bool          // it ends a Cluster: the broadcast may end after it
}

// loopedFixture is a fixture split for looping: its init segment, and its
// Clusters, each with its original timecode, cut at the fixture's chunk
// boundaries.
type loopedFixture struct {
	init     []byte
	clusters []loopCluster
	loop     time.Duration // the media time of one pass
	chunk    time.Duration // the media time of one chunk (about the timeslice)
}

// loopCluster is one Cluster of a loopedFixture.
type loopCluster struct {
	timecode uint64   // ms
	body     [][]byte // what follows the Timecode, cut at chunk boundaries
	chunks   []int    // the original chunk each part of body starts in
}

// ebmlVint reads an EBML variable-length integer at b[off:]; mask keeps
// the length marker (IDs) or clears it (sizes).
func ebmlVint(b []byte, off int, keepMarker bool) (v uint64, n int, err error) {
	if off >= len(b) || b[off] == 0 {
		return 0, 0, fmt.Errorf("ebml: bad vint at %d", off)
	}
	for n = 1; b[off]&(0x80>>(n-1)) == 0; n++ {
	}
	if off+n > len(b) {
		return 0, 0, fmt.Errorf("ebml: vint at %d runs past the end", off)
	}
	v = uint64(b[off])
	if !keepMarker {
		v &= uint64(0xFF >> n)
	}
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[off+i])
	}
	return v, n, nil
}

// newLoopedFixture splits s for looping. Its Clusters must have unknown
// sizes (as MediaRecorder writes them) and start with their Timecode.
func newLoopedFixture(s fixture.Set) (*loopedFixture, error) {
	full := s.Full
	initEnd := int(s.St.InitSegmentEnd)
	var chunkStarts []int
	off := 0
	for _, c := range s.Chunks {
		chunkStarts = append(chunkStarts, off)
		off += len(c)
	}
	chunkOf := func(pos int) int {
		i := 0
		for i+1 < len(chunkStarts) && chunkStarts[i+1] <= pos {
			i++
		}
		return i
	}
	lf := &loopedFixture{init: full[:initEnd]}
	var lastEnd uint64
	for i, c := range s.St.Clusters {
		start := int(c.Offset)
		end := len(full)
		if i+1 < len(s.St.Clusters) {
			end = int(s.St.Clusters[i+1].Offset)
		}
		id, n, err := ebmlVint(full, start, true)
		if err != nil || id != ebmlCluster {
			return nil, fmt.Errorf("cluster %d at %d: not a Cluster (%v)", i, start, err)
		}
		p := start + n
		if _, n, err = ebmlVint(full, p, false); err != nil {
			return nil, err
		}
		p += n
		if full[p] != ebmlTimecode {
			return nil, fmt.Errorf("cluster %d: first child %#x is not its Timecode", i, full[p])
		}
		size, n, err := ebmlVint(full, p+1, false)
		if err != nil {
			return nil, err
		}
		var tc uint64
		for _, b := range full[p+1+n : p+1+n+int(size)] {
			tc = tc<<8 | uint64(b)
		}
		bodyStart := p + 1 + n + int(size)
		lc := loopCluster{timecode: tc}
		cut := bodyStart
		for _, cs := range chunkStarts {
			if cs > bodyStart && cs < end {
				lc.body = append(lc.body, full[cut:cs])
				lc.chunks = append(lc.chunks, chunkOf(cut))
				cut = cs
			}
		}
		lc.body = append(lc.body, full[cut:end])
		lc.chunks = append(lc.chunks, chunkOf(max(cut, start)))
		lc.chunks[0] = chunkOf(start)
		lf.clusters = append(lf.clusters, lc)
		// The end of the media: the last block of the last Cluster.
		if i == len(s.St.Clusters)-1 {
			for q := bodyStart; q < end; {
				id, n, err := ebmlVint(full, q, true)
				if err != nil {
					return nil, err
				}
				size, m, err := ebmlVint(full, q+n, false)
				if err != nil {
					return nil, err
				}
				data := q + n + m
				if id == ebmlSimpleBlock {
					rel := int16(binary.BigEndian.Uint16(full[data+1 : data+3]))
					lastEnd = max(lastEnd, tc+uint64(rel))
				}
				q = data + int(size)
			}
		}
	}
	// One frame at 30 fps after the last block.
	lf.loop = time.Duration(lastEnd+34) * time.Millisecond
	lf.chunk = lf.loop / time.Duration(len(s.Chunks))
	return lf, nil
}

// pass returns the pieces of pass k (from 0) of the loop: its Clusters,
// their timecodes shifted by k loops, each Timecode written on 4 bytes.
func (lf *loopedFixture) pass(k int) []piece {
	shift := uint64(k) * uint64(lf.loop/time.Millisecond)
	var out []piece
	for _, c := range lf.clusters {
		for j, part := range c.body {
			var data []byte
			if j == 0 {
				data = []byte{0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, ebmlTimecode, 0x84}
				data = binary.BigEndian.AppendUint32(data, uint32(c.timecode+shift))
			}
			data = append(data, part...)
			out = append(out, piece{
				data:       data,
				due:        time.Duration(k)*lf.loop + time.Duration(c.chunks[j])*lf.chunk,
				clusterEnd: j == len(c.body)-1,
			})
		}
	}
	return out
}

// loopedPublisher broadcasts a looped fixture in a room from a goroutine.
type loopedPublisher struct {
	c    *client
	stop chan struct{}
	done chan struct{}
	err  error // why sending stopped early; valid after done
}

// startLoopedPublisher connects a publisher to room and broadcasts the
// fixture name, looped, paced as it was recorded, until End. mime is the
// type it claims.
func startLoopedPublisher(t testing.TB, s *testServer, room, name, mime string) *loopedPublisher {
	t.Helper()
	lf, err := newLoopedFixture(fixture.Load(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ctx := testContext(t, 5*time.Minute)
	c := mustDial(t, ctx, s.ws("/live/"+room+"/upload?mime="+url.QueryEscape(mime)))
	if ready := c.event(t, ctx, "ready"); ready.Broadcast == "" {
		t.Fatal("ready event without a broadcast id")
	}
	p := &loopedPublisher{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(ctx, lf)
	t.Cleanup(func() {
		p.End()
		<-p.done
	})
	return p
}

func (p *loopedPublisher) run(ctx context.Context, lf *loopedFixture) {
	defer close(p.done)
	send := func(b []byte) bool {
		if err := p.c.conn.Write(ctx, websocket.MessageBinary, b); err != nil {
			p.err = err
			return false
		}
		return true
	}
	if !send(lf.init) {
		return
	}
	start := time.Now()
	stopping := false
	for k := 0; k < maxLoops; k++ {
		for _, pc := range lf.pass(k) {
			if wait := time.Until(start.Add(pc.due)); wait > 0 && !stopping {
				// Pacing: the media goes out as fast as it was recorded.
				timer := time.NewTimer(wait)
				select {
				case <-timer.C:
				case <-p.stop:
					stopping = true
				case <-ctx.Done():
					timer.Stop()
					p.err = ctx.Err()
					return
				}
				timer.Stop()
			}
			if !send(pc.data) {
				return
			}
			if stopping && pc.clusterEnd {
				p.err = p.c.conn.Write(ctx, websocket.MessageText, liveplugin.EndMessage)
				return
			}
		}
	}
	// The loops ran out: wait for End, sending nothing more.
	select {
	case <-p.stop:
		p.err = p.c.conn.Write(ctx, websocket.MessageText, liveplugin.EndMessage)
	case <-ctx.Done():
	}
}

// End ends the broadcast after the Cluster being sent. It is idempotent.
func (p *loopedPublisher) End() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
}

// ended ends the broadcast and waits until the server has closed the
// publisher normally (the recording is saved).
func (p *loopedPublisher) ended(t testing.TB) {
	t.Helper()
	p.End()
	<-p.done
	if p.err != nil {
		t.Fatalf("publisher: %v", p.err)
	}
	ctx := testContext(t, time.Minute)
	if code, reason := p.c.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
}
