package liveplugin

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
)

// Handing a broadcast over between the nodes of a Cluster: a publisher
// whose connection dropped may resume through any node (load balancers are
// rarely sticky for WebSockets). The node it reaches asks the broadcast's
// node for its state (Rooms.Takeover); that node's publisher stops writing,
// detaches or seals its recording and answers (handOver); the new node
// builds a publisher that stands where the old one stood (takeOver) and
// serves the connection as a resume.

// errNoJoinPoint refuses a handover while the broadcast has no join point
// to prime the new node's parser and viewers from.
var errNoJoinPoint = errors.New("liveplugin: no keyframe to hand the broadcast over from")

// tokenMatches reports whether token is the broadcast's resume token.
func (pub *publisher) tokenMatches(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(pub.token)) == 1
}

// handOver answers another node's request to take the broadcast over,
// once the connection (if any) is closed. It reports whether the broadcast
// now lives on the other node; if not, the caller ends it.
func (pub *publisher) handOver(req *cluster.HandoverRequest) bool {
	p := pub.p
	if !pub.tokenMatches(req.Token) {
		_ = req.Reply(nil, errNoResume)
		return false
	}
	st, err := pub.state(req.Shared)
	if err != nil {
		pub.log.Warn("handover refused", "err", err)
		_ = req.Reply(nil, err)
		return false
	}
	if err := req.Reply(st, nil); err != nil {
		pub.log.Warn("handover failed; ending the broadcast here", "err", err)
		if st.Recording == cluster.RecordingShared {
			// Take the recording back, to seal it.
			pub.rec, pub.recErr = p.store.Reopen(pub.b.Room(), pub.b.ID(), st.Offset)
			if pub.recErr != nil {
				pub.rec = nil
				pub.log.Error("recording not reopened", "err", pub.recErr)
			}
		}
		return false
	}
	close(pub.ended)
	p.sessions.remove(pub.b.Room(), pub)
	pub.log.Info("broadcast handed over to another node", "offset", st.Offset, "recording", st.Recording)
	return true
}

// state stops the recording and returns what a new node needs to go on
// with the broadcast. shared says whether the new node sees this node's
// recording file: then it is detached for the new node to append to,
// otherwise this node seals its part.
func (pub *publisher) state(shared bool) (*cluster.State, error) {
	st := &cluster.State{
		Room:    pub.b.Room(),
		ID:      pub.b.ID(),
		Started: pub.started,
		Offset:  pub.total,
		Last:    pub.last,
		Claimed: pub.claimed,
		Token:   pub.token,
	}
	d, _ := pub.meta.current()
	st.Title, st.Description = d.Title, d.Description
	if pub.chunks != nil {
		st.Chunks = pub.chunks.marshal()
	}
	if pub.live {
		start, chunks, ok := pub.b.GOP()
		if !ok {
			return nil, errNoJoinPoint
		}
		st.MIMEType, st.Init = pub.reader.MIMEType(), pub.reader.Init()
		st.HeadOffset, st.Head = start, bytes.Join(chunks, nil)
	} else {
		st.Head = bytes.Join(pub.pending, nil)
	}
	if end := st.HeadOffset + int64(len(st.Head)); end != st.Offset {
		return nil, fmt.Errorf("liveplugin: handover: stream at %d, cache ends at %d", st.Offset, end)
	}
	switch {
	case pub.rec == nil || pub.recErr != nil:
		st.Recording = cluster.RecordingNone
	case shared:
		if _, err := pub.rec.Detach(); err != nil {
			pub.log.Error("recording not detached", "err", err)
			st.Recording = cluster.RecordingNone
		} else {
			st.Recording = cluster.RecordingShared
		}
		pub.rec = nil
	default:
		pub.recURL = pub.finishRecording()
		pub.rec = nil
		st.Recording = cluster.RecordingSealed
	}
	return st, nil
}

// takeOver builds the publisher of a broadcast moved to this node, from
// the state of its previous node, for the upload c whose connection
// resumes it.
func (p *Plugin) takeOver(c echo.Context, h *cluster.Handover) (*publisher, error) {
	st := h.State
	pub := &publisher{
		p:        p,
		c:        c,
		b:        h.Origin,
		log:      p.log.With("room", st.Room, "remote", p.clientIP(c), "broadcast", st.ID),
		started:  st.Started,
		token:    st.Token,
		takeover: make(chan *websocket.Conn),
		ended:    make(chan struct{}),
		stop:     make(chan string, 1),
		meta:     newPubMeta(),
		ackCh:    make(chan struct{}, 1),
		claimed:  st.Claimed,
		bitrate:  rate.NewLimiter(rate.Limit(p.cfg.MaxBitrate/8), int(p.cfg.MaxBitrate*bitrateWindow/8)),
		total:    st.Offset,
		last:     st.Last,
	}
	if len(st.Chunks) > 0 {
		// Encoded chunks: the muxer goes on where the old node's stood,
		// and the publisher counts the chunks' bytes, not the stream's.
		ci, err := restoreChunks(st.Chunks)
		if err != nil {
			return nil, err
		}
		pub.useChunks(ci)
	}
	pub.acked.Store(pub.offset())
	// Prime the parser, of the stream's container: the header, then the
	// stream from its newest join point, so that it stands where the old
	// node's stood.
	var err error
	if len(st.Init) > 0 {
		c := containerOfMIME(st.MIMEType)
		if c == "" {
			return nil, fmt.Errorf("liveplugin: takeover: no container in the MIME type %q", st.MIMEType)
		}
		pub.setReader(c)
		if pub.events, err = pub.reader.Feed(pub.events[:0], st.Init); err == nil {
			pub.events, err = pub.reader.Feed(pub.events[:0], st.Head)
		}
		if pub.cuts != nil {
			pub.cuts.scan(st.Init, 0, int64(len(st.Init)))
			pub.cuts.scan(st.Head, int64(len(st.Init)), pub.reader.Offset())
		}
		if err == nil {
			err = pub.reader.Playable()
		}
		pub.delta = st.Offset - pub.reader.Offset()
		pub.live = true
	} else if len(st.Head) > 0 {
		// Not live yet: the head is all the stream so far.
		var c container
		if c, err = pickContainer(st.Head, st.Claimed, p.containers); err == nil && c != "" {
			pub.setReader(c)
			pub.events, err = pub.reader.Feed(pub.events[:0], st.Head)
			if pub.cuts != nil {
				pub.cuts.scan(st.Head, 0, int64(len(st.Head)))
			}
		}
		pub.pending = [][]byte{st.Head}
	}
	pub.events = pub.events[:0]
	if err != nil {
		return nil, fmt.Errorf("liveplugin: takeover: the state does not parse: %w", err)
	}
	if st.Title != "" || st.Description != "" {
		pub.setDescription(Description{Title: st.Title, Description: st.Description})
	}
	pub.takeRecording(st)
	return pub, nil
}

// takeRecording continues the broadcast's recording on this node.
func (pub *publisher) takeRecording(st cluster.State) {
	p := pub.p
	var err error
	switch {
	case st.Recording == cluster.RecordingShared:
		pub.rec, err = p.store.Reopen(st.Room, st.ID, st.Offset)
	case st.Recording == cluster.RecordingSealed && pub.live:
		// The first part stays on the old node; this one starts at the
		// join point, so that it plays on its own.
		pub.rec, err = p.store.Create(st.Room, st.ID+"-"+time.Now().UTC().Format("150405"), st.MIMEType, time.Now())
		if err == nil {
			if _, err = pub.rec.Write(st.Init); err == nil {
				_, err = pub.rec.Write(st.Head)
			}
		}
	case pub.live:
		err = errors.New("the recording had stopped before the takeover")
	}
	if err == nil && pub.rec != nil {
		pub.newRecording()
	}
	if err != nil {
		if pub.rec != nil {
			_, _ = pub.rec.Finish(time.Now(), 0)
		}
		pub.rec = nil
		pub.recErr = err
		pub.log.Error("recording not continued", "err", err)
	}
}

// shares reports whether this node sees the recording of broadcast id of
// room as one being written: the nodes share Dir.
func (p *Plugin) shares(room, id string) bool {
	m, err := p.store.Stat(room, id)
	return err == nil && m.Live()
}
