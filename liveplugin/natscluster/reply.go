package natscluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Replies (a bootstrap snapshot, a handover's state) may exceed the max
// payload, so they go to the requester's inbox as a blob in numbered
// fragments: the length of a JSON head, the head, then raw bytes.

var errNoResponders = errors.New("natscluster: no responders")

// sendBlob sends meta and parts to subj.
func sendBlob(nc *nats.Conn, subj string, meta any, parts ...[]byte) error {
	head, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	n := 4 + len(head)
	for _, p := range parts {
		n += len(p)
	}
	blob := make([]byte, 4, n)
	binary.BigEndian.PutUint32(blob, uint32(len(head)))
	blob = append(blob, head...)
	for _, p := range parts {
		blob = append(blob, p...)
	}
	mp := int(nc.MaxPayload())
	if mp <= 0 {
		mp = 1 << 20
	}
	return frames(envelope{kind: kindReply, payload: blob}, mp, func(_ uint64, msg []byte) error {
		return nc.Publish(subj, msg)
	})
}

// request sends data to subj and returns the blob that answers it.
func (r *rooms) request(ctx context.Context, subj string, data []byte) (head, rest []byte, err error) {
	inbox := r.nc.NewInbox()
	sub, err := r.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, -1)
	if err := r.nc.PublishRequest(subj, inbox, data); err != nil {
		return nil, nil, err
	}
	var j joiner
	for want := uint64(0); ; want++ {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("natscluster: request %s: %w", subj, err)
		}
		if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
			return nil, nil, errNoResponders
		}
		f, err := parseFrame(m.Data)
		if err != nil || f.kind != kindReply || f.seq != want {
			return nil, nil, errBadFrame
		}
		e, ok := j.add(f)
		if !ok {
			continue
		}
		if len(e.payload) < 4 {
			return nil, nil, errBadFrame
		}
		n := int(binary.BigEndian.Uint32(e.payload))
		if len(e.payload) < 4+n {
			return nil, nil, errBadFrame
		}
		return e.payload[4 : 4+n], e.payload[4+n:], nil
	}
}
