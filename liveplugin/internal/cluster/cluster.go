// Package cluster is the contract between the plugin's handlers and the set
// of live rooms they serve, and its single-process implementation.
//
// The handlers never reach the hub directly. A publisher's upload calls
// [Rooms.Start] and writes the stream to the [Origin] it gets; a viewer
// calls [Rooms.Subscribe] and reads a [hub.Subscriber]; pages and JSON
// read [Rooms.Lookup] and [Rooms.Live]; an upload that resumes a broadcast
// whose publisher this node does not hold calls [Rooms.Takeover]. Two
// implementations keep that contract:
//
//   - [Local] (the default) keeps every room in this process's [hub.Hub].
//   - liveplugin/natscluster shares the rooms of every node over NATS: the
//     node that holds a publisher is the broadcast's origin, and a node
//     with viewers of a room relays it from the origin into its own hub,
//     so that its viewers fan out from memory as they do on one node.
//
// What the contract promises, whichever implementation keeps it:
//
//  1. At most one broadcast per room is live at once, across every node
//     that shares the rooms: Start fails with [hub.ErrRoomLive] otherwise.
//  2. A subscriber receives hello, the init segment, then media from a join
//     point (a Cluster that begins with a keyframe), and every byte after
//     it in order; when it cannot (its queue overflowed, or a relay lost a
//     message), it receives a skip event, the init segment again and media
//     from the next join point. It never receives bytes that do not decode.
//  3. Lookup, Live and the viewer counts describe the rooms as a whole: a
//     clustered implementation sums viewers over its nodes and may lag the
//     truth by a bounded interval, which it documents.
//  4. Origin.End frees the room, and every subscriber, wherever it is,
//     receives the end event after the media queued for it.
//  5. A takeover (resuming on another node) fences the broadcast: once
//     Takeover returns, the previous origin writes nothing more, neither
//     to the subscribers nor to the recording.
package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// ErrNoTakeover is returned by Rooms.Takeover when no node holds a
// broadcast of the room that the token may resume.
var ErrNoTakeover = errors.New("cluster: no broadcast to resume")

// Rooms is the set of live rooms as the handlers see it. Its methods are
// safe for concurrent use.
type Rooms interface {
	// Start claims room for broadcast id, begun at started, whose
	// publisher may resume with token (an implementation keeps only a
	// hash of it). It fails with hub.ErrRoomLive when the room is live
	// anywhere, with a *hub.LimitError past a limit and with
	// hub.ErrClosed after Close. The caller owns the Origin and must End
	// or hand it over.
	Start(ctx context.Context, room, id, token string, started time.Time) (Origin, error)
	// Subscribe adds a viewer of room's live broadcast on this node. It
	// fails with hub.ErrNotLive when the room is not live, and with a
	// *hub.LimitError past a limit. The caller must Close the subscriber.
	Subscribe(ctx context.Context, room string) (*hub.Subscriber, error)
	// Lookup returns room's live broadcast, if it has its init segment.
	Lookup(room string) (hub.Info, bool)
	// Live returns the live broadcasts (those with their init segment),
	// newest first.
	Live() []hub.Info
	// Init returns the MIME type and init segment of room's live
	// broadcast, or hub.ErrNotLive. The slice must not be modified.
	Init(ctx context.Context, room string) (mime string, init []byte, err error)
	// Takeover moves room's broadcast, whose publisher another node holds,
	// to this node, if token is its resume token. It returns
	// ErrNoTakeover when there is nothing to resume (no broadcast, a
	// wrong token, a broadcast that ended meanwhile). shared says whether
	// this node sees the previous origin's recording file (the nodes
	// share Dir): if so the previous origin leaves the file unsealed for
	// this node to append to; otherwise it seals its part.
	Takeover(ctx context.Context, room, token string, shared func(room, id string) bool) (*Handover, error)
	// Stop ends room's live broadcast, wherever its publisher is, for
	// reason (Plugin.End): it reaches the node that holds the publisher
	// and calls its Node.Stop. It returns hub.ErrNotLive when no node
	// holds a broadcast of the room, once the publisher was told.
	Stop(ctx context.Context, room, reason string) error
	// Describe sets the title and description of room's live broadcast,
	// wherever its publisher is: it reaches the node that holds the
	// publisher and calls its Node.Describe. It returns hub.ErrNotLive
	// when no node holds a broadcast of the room.
	Describe(ctx context.Context, room, title, description string) error
	// Stats returns the hub counters of this node.
	Stats() hub.Stats
	// Viewers returns the viewers on this node.
	Viewers() int
	// Close makes Start fail with hub.ErrClosed; the broadcasts still live
	// go on until their owners end them. It then releases what the
	// implementation holds once they have. It is idempotent.
	Close() error
}

// Origin is a broadcast as its publisher's handler sees it: where the
// stream goes. Its methods follow those of [hub.Broadcast], and
// *hub.Broadcast implements it apart from Handovers.
type Origin interface {
	// Room returns the broadcast's room.
	Room() string
	// ID returns the broadcast id.
	ID() string
	// SetInit sets the stream's MIME type and init segment (see
	// hub.Broadcast.SetInit).
	SetInit(mime string, init []byte)
	// Write appends the next bytes of the stream with the offsets of the
	// join points they hold (see hub.Broadcast.Write).
	Write(p []byte, syncs []int64)
	// SetDescription sets the broadcast's title and description, which
	// Info reports on every node.
	SetDescription(title, description string)
	// SetLatency sets the broadcast's latency mode ("low" or empty; see
	// hub.Info.Latency), which Info reports on every node.
	SetLatency(latency string)
	// SetPublisherLost tells every viewer that the publisher dropped
	// (reconnecting) or is back (resumed).
	SetPublisherLost(lost bool)
	// Info returns a snapshot; its Viewers counts every node's viewers.
	Info() hub.Info
	// Viewers returns the broadcast's viewers on every node.
	Viewers() int
	// ViewersChanged receives a value whenever Viewers may have changed.
	ViewersChanged() <-chan struct{}
	// End ends the broadcast everywhere, naming its recording's URL (may
	// be empty), and frees the room.
	End(recording string)
	// EndBecause is End with the reason the site ended the broadcast,
	// which every viewer's end event carries.
	EndBecause(recording, reason string)
	// GOP returns the stream offset and chunks of the broadcast's GOP
	// cache on this node (see hub.Broadcast.GOP).
	GOP() (start int64, chunks [][]byte, ok bool)
	// Handovers receives the requests of other nodes to take the
	// broadcast over; nil when nothing can (a single process).
	Handovers() <-chan *HandoverRequest
	// Fenced is closed when this node no longer owns the broadcast (a
	// takeover completed, or the registry gave the room to another node
	// while this one was cut off): the publisher must stop writing at
	// once, and not End it. Nil when that cannot happen.
	Fenced() <-chan struct{}
}

// State is what a broadcast's new origin needs to carry on where the old
// one stopped.
type State struct {
	Room    string
	ID      string
	Started time.Time
	// MIMEType and Init are the stream's header; Init is empty if the
	// header was not complete yet, and then Head holds every byte so far.
	MIMEType string
	Init     []byte
	// Offset is how many bytes of the stream the old origin took: the
	// publisher resends from there.
	Offset int64
	// HeadOffset is the stream offset of Head's first byte: the start of
	// the Cluster under way at Offset (or 0 before the header is
	// complete). A parser fed Init then Head stands where the old one
	// stood.
	HeadOffset int64
	Head       []byte
	// Last is the timecode of the latest Cluster.
	Last time.Duration
	// Recording says what became of the recording: RecordingShared
	// (left open for the new origin to append to), RecordingSealed (the
	// old origin sealed its part), or RecordingNone (nothing recorded, or
	// recording had failed).
	Recording RecordingState
	// Claimed is the MIME type the publisher announced, for the logs.
	Claimed string
	// Token is the resume token, which the broadcast keeps.
	Token string
	// Title and Description are the broadcast's (see
	// Origin.SetDescription).
	Title       string
	Description string
	// Chunks is the state of an upload of encoded chunks (liveplugin's,
	// opaque here): its tracks, its muxer's state and the offset the
	// publisher counts, which is not Offset. Nil for a media upload.
	Chunks []byte `json:",omitempty"`
}

// RecordingState says what became of a recording at a handover.
type RecordingState uint8

// The states of a recording at a handover.
const (
	RecordingNone RecordingState = iota
	RecordingShared
	RecordingSealed
)

// HandoverRequest asks a broadcast's publisher to hand it over to another
// node.
type HandoverRequest struct {
	// Token is the resume token the other node received; the publisher
	// refuses the request unless it matches.
	Token string
	// Shared says whether the other node sees this node's recording file.
	Shared bool
	// Reply answers the request exactly once: with the publisher's state
	// once it has stopped writing (and, when Shared, flushed and closed
	// the recording without sealing it), or with an error when it
	// refuses. After a nil-error Reply the publisher must neither write
	// nor End the broadcast; the implementation then owns the room's
	// fate. Reply returns an error when the handover could not complete;
	// the publisher then ends the broadcast as if its publisher were lost
	// (sealing what it recorded).
	Reply func(*State, error) error
}

// Handover is a broadcast moved to this node by Takeover.
type Handover struct {
	State  State
	Origin Origin // on this node; it continues the previous one's stream
}

// Provider builds the Rooms of one node: liveplugin.Config.Cluster holds
// one. Register calls Rooms once, after the node's hub exists and before it
// serves a request, and closes the Rooms when the plugin closes.
type Provider interface {
	// Rooms attaches the node to the rooms it shares. It returns once the
	// node knows which rooms are live (recovery at start relies on it),
	// or fails.
	Rooms(n Node) (Rooms, error)
}

// Node is what a Provider gets of the plugin on one node.
type Node struct {
	// Hub is the node's hub: local publishers' broadcasts and the relays
	// of remote ones live in it, and local viewers subscribe to it.
	Hub *hub.Hub
	// Log is the plugin's logger.
	Log *slog.Logger
	// Events encodes the subscribe protocol's text events (the hub's own
	// Config.Events).
	Events hub.Encoder
	// RecordingURL returns the playback URL of broadcast id of room, for
	// the end event a node sends its viewers when the broadcast's origin
	// vanished.
	RecordingURL func(room, id string) string
	// Stop ends room's broadcast whose publisher this node holds, for
	// reason; it returns hub.ErrNotLive when this node holds none. It
	// must not block.
	Stop func(room, reason string) error
	// Describe sets the title and description of room's broadcast whose
	// publisher this node holds; it returns hub.ErrNotLive when this node
	// holds none. It must not block.
	Describe func(room, title, description string) error
	// Orphaned is called, on one node only, with a broadcast whose origin
	// vanished (its node died or lost the registry) after its viewers were
	// told it ended: the plugin seals what it recorded, if it sees the
	// recording. May be nil.
	Orphaned func(room, id string)
}
