package natscluster

import (
	"encoding/binary"
	"errors"
)

// The envelope of every message on a room's stream subject, and of the
// fragments of a bootstrap or handover reply: a fixed binary header, the
// offsets of the join points in the payload (first fragment only), then
// the payload.
//
//	byte  0     version (1)
//	byte  1     kind
//	bytes 2-9   seq: consecutive from 1 on a stream subject, from 0 in a reply
//	bytes 10-17 off: the stream offset of the payload's first byte (media);
//	            the count (viewers)
//	bytes 18-19 fragment index
//	bytes 20-21 fragment count (1 when the message is whole)
//	byte  22    number of join points n
//	then n times 8 bytes: the join points' stream offsets
const (
	envVersion = 1
	headerSize = 23
	maxSyncs   = 255
)

// kind is what an envelope carries.
type kind uint8

const (
	kindMedia     kind = iota + 1 // payload: stream bytes at off
	kindInit                      // payload: initPayload
	kindLost                      // the publisher dropped
	kindResumed                   // the publisher is back
	kindViewers                   // off: the broadcast's viewers on every node
	kindEnd                       // payload: the recording's URL, then "\n" and the site's reason if any
	kindHeartbeat                 // off: the stream offset so far
	kindReply                     // a fragment of a reply (bootstrap, handover)
)

// envelope is one logical message, before fragmenting or after joining.
type envelope struct {
	kind    kind
	seq     uint64
	off     int64
	syncs   []int64
	payload []byte
}

// frame is one NATS message's share of an envelope.
type frame struct {
	kind  kind
	seq   uint64
	off   int64
	index int
	count int
	syncs []int64
	data  []byte
}

var errBadFrame = errors.New("natscluster: malformed message")

// frames splits e into messages of at most maxPayload bytes, numbered
// from e.seq on, and calls send with each. It stops at send's first error.
func frames(e envelope, maxPayload int, send func(seq uint64, msg []byte) error) error {
	syncs := e.syncs
	if len(syncs) > maxSyncs {
		syncs = syncs[len(syncs)-maxSyncs:]
	}
	room := maxPayload - headerSize - 8*maxSyncs
	if room < 1 {
		room = 1
	}
	count := max(1, (len(e.payload)+room-1)/room)
	if count > 0xffff {
		return errors.New("natscluster: message too large")
	}
	p := e.payload
	for i := range count {
		n := min(len(p), room)
		var ss []int64
		if i == 0 {
			ss = syncs
		}
		msg := make([]byte, headerSize+8*len(ss)+n)
		msg[0] = envVersion
		msg[1] = byte(e.kind)
		binary.BigEndian.PutUint64(msg[2:], e.seq+uint64(i))
		binary.BigEndian.PutUint64(msg[10:], uint64(e.off))
		binary.BigEndian.PutUint16(msg[18:], uint16(i))
		binary.BigEndian.PutUint16(msg[20:], uint16(count))
		msg[22] = byte(len(ss))
		for j, x := range ss {
			binary.BigEndian.PutUint64(msg[headerSize+8*j:], uint64(x))
		}
		copy(msg[headerSize+8*len(ss):], p[:n])
		p = p[n:]
		if err := send(e.seq+uint64(i), msg); err != nil {
			return err
		}
	}
	return nil
}

// fragments returns how many messages frames makes of a payload of n
// bytes.
func fragments(n, maxPayload int) int {
	room := max(1, maxPayload-headerSize-8*maxSyncs)
	return max(1, (n+room-1)/room)
}

// parseFrame reads one message. The frame's data aliases msg.
func parseFrame(msg []byte) (frame, error) {
	if len(msg) < headerSize || msg[0] != envVersion {
		return frame{}, errBadFrame
	}
	f := frame{
		kind:  kind(msg[1]),
		seq:   binary.BigEndian.Uint64(msg[2:]),
		off:   int64(binary.BigEndian.Uint64(msg[10:])),
		index: int(binary.BigEndian.Uint16(msg[18:])),
		count: int(binary.BigEndian.Uint16(msg[20:])),
	}
	n := int(msg[22])
	if len(msg) < headerSize+8*n || f.count == 0 || f.index >= f.count {
		return frame{}, errBadFrame
	}
	if n > 0 {
		f.syncs = make([]int64, n)
		for j := range n {
			f.syncs[j] = int64(binary.BigEndian.Uint64(msg[headerSize+8*j:]))
		}
	}
	f.data = msg[headerSize+8*n:]
	return f, nil
}

// joiner joins the fragments of consecutive messages into envelopes.
type joiner struct {
	cur  envelope
	have int // fragments of cur so far; 0 when none
	want int
}

// add takes the next frame, which follows the previous one without a gap
// (the caller resets the joiner on a gap). It returns the envelope once
// whole. A frame that does not continue the envelope under way drops it.
func (j *joiner) add(f frame) (envelope, bool) {
	if f.index == 0 {
		j.cur = envelope{kind: f.kind, seq: f.seq, off: f.off, syncs: f.syncs}
		j.have, j.want = 0, f.count
		if f.count == 1 {
			j.cur.payload = f.data
		} else {
			j.cur.payload = append(make([]byte, 0, len(f.data)*f.count), f.data...)
		}
		j.have = 1
	} else {
		if j.have == 0 || f.index != j.have || f.count != j.want || f.kind != j.cur.kind {
			j.reset()
			return envelope{}, false
		}
		j.cur.payload = append(j.cur.payload, f.data...)
		j.have++
	}
	if j.have < j.want {
		return envelope{}, false
	}
	e := j.cur
	j.reset()
	return e, true
}

// pending reports whether an envelope is under way.
func (j *joiner) pending() bool { return j.have > 0 }

func (j *joiner) reset() {
	j.cur = envelope{}
	j.have, j.want = 0, 0
}

// initPayload encodes a MIME type and an init segment.
func initPayload(mime string, init []byte) []byte {
	p := make([]byte, 2+len(mime)+len(init))
	binary.BigEndian.PutUint16(p, uint16(len(mime)))
	copy(p[2:], mime)
	copy(p[2+len(mime):], init)
	return p
}

// parseInit decodes initPayload.
func parseInit(p []byte) (mime string, init []byte, err error) {
	if len(p) < 2 {
		return "", nil, errBadFrame
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) < 2+n {
		return "", nil, errBadFrame
	}
	return string(p[2 : 2+n]), p[2+n:], nil
}
