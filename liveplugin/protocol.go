package liveplugin

import (
	"encoding/json"
	"time"

	"github.com/coder/websocket"
)

// This file is the one definition of the wire protocol of the plugin's two
// WebSockets: the events each side sends, and the close codes with what
// they mean to a viewer and to a publisher. The browser side reads the same
// table from assets/protocol.js, which go generate writes from it:
//
//go:generate go test -count=1 -run TestProtocolJS . -args -update

// Events of GET /:id/upload. The server sends ready once per connection,
// then ack and viewers as they change, and error when the recording fails
// or a thumbnail or a meta message is refused; the publisher sends end
// to end the broadcast, thumbnail now and then, and meta to set its title
// and description, which the server answers with meta as applied.
const (
	typeReady   = "ready"
	typeAck     = "ack"
	typeViewers = "viewers"
	typeError   = "error"
	typeEnd     = "end"
	// typeThumbnail is the publisher's still of its preview (see
	// thumbnailEvent), a text message because binary ones are media.
	typeThumbnail = "thumbnail"
	// typeAudience is the summary of the viewers' reports (see Audience),
	// at most every few seconds while it changes.
	typeAudience = "audience"
	// typeMeta is a broadcast's title and description (see metaEvent).
	typeMeta = "meta"
)

// Events the server sends on GET /:id/subscribe, besides viewers and end.
const (
	typeHello        = "hello"
	typeSkip         = "skip"
	typeReconnecting = "reconnecting"
	typeResumed      = "resumed"
	// typeReport is a viewer's experience report (see viewerReport), the
	// one message a viewer sends.
	typeReport = "report"
)

// uploadEvents and subscribeEvents list the event types of each socket by
// direction, for protocol.js.
var (
	uploadServerEvents    = []string{typeReady, typeAck, typeViewers, typeAudience, typeMeta, typeError}
	uploadClientEvents    = []string{typeEnd, typeThumbnail, typeMeta}
	subscribeServerEvents = []string{typeHello, typeViewers, typeSkip, typeReconnecting, typeResumed, typeEnd}
	subscribeClientEvents = []string{typeReport}
)

// readyEvent starts each upload connection: the broadcast, the token that
// resumes it within resumeWithinMs, the offset the publisher sends from (0
// on the first connection), and the largest thumbnail the server takes
// (Config.MaxThumbnailBytes) and how often (Config.ThumbnailInterval).
type readyEvent struct {
	Type                string `json:"type"`
	Broadcast           string `json:"broadcast"`
	Resume              string `json:"resume"`
	ResumeWithinMs      int64  `json:"resumeWithinMs"`
	Offset              int64  `json:"offset"`
	MaxThumbnailBytes   int    `json:"maxThumbnailBytes"`
	ThumbnailIntervalMs int64  `json:"thumbnailIntervalMs"`
}

// ackEvent says the server holds the stream's first Offset bytes.
type ackEvent struct {
	Type   string `json:"type"`
	Offset int64  `json:"offset"`
}

// viewersEvent is the broadcast's viewer count, on both sockets.
type viewersEvent struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// errorEvent tells the publisher of a failure that does not end the
// broadcast, in a sentence for the user.
type errorEvent struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// clientEvent is what a publisher sends in a text message: {"type":"end"}.
type clientEvent struct {
	Type string `json:"type"`
}

// metaEvent is a broadcast's title and description: from the publisher,
// what it asks for (at most maxMetaBytes, no other fields; see
// cleanDescription for the limits); from the server, what was applied,
// after trimming and Config.Describe, which viewers see.
type metaEvent struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

func newMeta(d Description) metaEvent {
	return metaEvent{Type: typeMeta, Title: d.Title, Description: d.Description}
}

// audienceEvent tells the publisher how its viewers (on this node) watch.
type audienceEvent struct {
	Type string `json:"type"`
	Audience
}

func newAudience(a Audience) audienceEvent { return audienceEvent{Type: typeAudience, Audience: a} }

// viewerReport is what a viewer's player sends on its subscribe socket, a
// text message of at most maxReportBytes every few seconds (the server
// takes one every reports.every at most), about the time since its last
// report. parseReport checks every bound; unknown fields are refused.
type viewerReport struct {
	Type string `json:"type"` // "report"
	// Delay is how far the playhead is behind the newest media received,
	// in seconds: 0 to 600.
	Delay float64 `json:"delay"`
	// Stalls is the number of stalls (waiting for data after playing) and
	// StallSeconds their total duration, in seconds (0 to 60).
	Stalls       int     `json:"stalls"`
	StallSeconds float64 `json:"stallSeconds"`
	// Frames and Dropped are the deltas of getVideoPlaybackQuality()'s
	// totalVideoFrames and droppedVideoFrames; Dropped <= Frames.
	Frames  int64 `json:"frames"`
	Dropped int64 `json:"dropped"`
	// Skips are the server's skip events, Errors the media errors.
	Skips  int `json:"skips"`
	Errors int `json:"errors"`
	// Codec is the MIME type played, e.g. video/webm;codecs="vp8,opus".
	Codec string `json:"codec"`
}

// helloEvent starts a viewer's stream: the init segment follows.
type helloEvent struct {
	Type      string    `json:"type"`
	Mime      string    `json:"mime,omitempty"`
	Broadcast string    `json:"broadcast,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
}

// stateEvent is an event without data: skip, reconnecting or resumed.
type stateEvent struct {
	Type string `json:"type"`
}

// endEvent ends a viewer's stream, naming the recording's URL (omitted
// when nothing was recorded) and, when the site ended the broadcast
// (Plugin.End), its reason.
type endEvent struct {
	Type      string `json:"type"`
	Broadcast string `json:"broadcast,omitempty"`
	Recording string `json:"recording,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Constructors of the events, so that each carries its type.
func newReady(broadcast, token string, within time.Duration, offset int64, maxThumb int, thumbEvery time.Duration) readyEvent {
	return readyEvent{Type: typeReady, Broadcast: broadcast, Resume: token, ResumeWithinMs: within.Milliseconds(), Offset: offset,
		MaxThumbnailBytes: maxThumb, ThumbnailIntervalMs: thumbEvery.Milliseconds()}
}
func newAck(offset int64) ackEvent       { return ackEvent{Type: typeAck, Offset: offset} }
func newViewers(n int) viewersEvent      { return viewersEvent{Type: typeViewers, Count: n} }
func newError(message string) errorEvent { return errorEvent{Type: typeError, Message: message} }
func newEndRequest() clientEvent         { return clientEvent{Type: typeEnd} }
func newState(typ string) stateEvent     { return stateEvent{Type: typ} }
func newEnd(broadcast, rec, reason string) endEvent {
	return endEvent{Type: typeEnd, Broadcast: broadcast, Recording: rec, Reason: reason}
}

// encodeEvent returns the JSON of an event. The events hold plain values,
// so encoding cannot fail.
func encodeEvent(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic("liveplugin: encode event: " + err.Error())
	}
	return data
}

// viewerEvents encodes the subscribe socket's events for the hub, which
// calls it once per event.
type viewerEvents struct{}

func (viewerEvents) Hello(mime, broadcast string, started time.Time) []byte {
	return encodeEvent(helloEvent{Type: typeHello, Mime: mime, Broadcast: broadcast, StartedAt: started})
}
func (viewerEvents) Viewers(n int) []byte { return encodeEvent(newViewers(n)) }
func (viewerEvents) Skip() []byte         { return encodeEvent(newState(typeSkip)) }
func (viewerEvents) Reconnecting() []byte { return encodeEvent(newState(typeReconnecting)) }
func (viewerEvents) Resumed() []byte      { return encodeEvent(newState(typeResumed)) }
func (viewerEvents) End(broadcast, recording, reason string) []byte {
	return encodeEvent(newEnd(broadcast, recording, reason))
}

// Close codes sent on an upgraded WebSocket, besides the standard ones.
// What each means to a viewer and to a publisher is in closeCodes.
const (
	// StatusSignInRequired is Config.Authorize returning ErrSignInRequired.
	StatusSignInRequired websocket.StatusCode = 4401
	// StatusForbidden is Config.Authorize refusing.
	StatusForbidden websocket.StatusCode = 4403
	// StatusNotLive is a room that is not live, or a broadcast to resume
	// that has ended.
	StatusNotLive websocket.StatusCode = 4404
	// StatusRoomLive is a second publisher in a live room.
	StatusRoomLive websocket.StatusCode = 4409
	// StatusTooLarge is an upload message over Config.MaxMessageBytes.
	StatusTooLarge websocket.StatusCode = 4413
	// StatusUnsupportedData is an upload that is not WebM or MP4 browsers
	// can play.
	StatusUnsupportedData websocket.StatusCode = 4415
	// StatusLimit is a configured limit reached.
	StatusLimit websocket.StatusCode = 4429
	// StatusEndedBySite is a broadcast the site ended (Plugin.End): the
	// publisher may not resume it.
	StatusEndedBySite websocket.StatusCode = 4410
)

// closeCode describes one close code of the protocol.
type closeCode struct {
	code websocket.StatusCode
	name string // PascalCase; the Go constant without "Status" for the plugin's own
	// reason is the close reason the server sends with it, when the error
	// gives none of its own (see errorClasses); empty for a code the
	// server never sends.
	reason    string
	viewer    string // a sentence for a viewer
	publisher string // a sentence for a publisher
	retry     bool   // whether a viewer should reconnect
	sent      bool   // whether the server (or its websocket library) sends it
}

// closeCodes are the close codes the plugin's pages explain, in order.
var closeCodes = []closeCode{
	{code: websocket.StatusNormalClosure, name: "Normal", reason: "broadcast ended", sent: true, retry: true,
		viewer:    "The broadcast has ended.",
		publisher: "The server ended your broadcast."},
	{code: websocket.StatusGoingAway, name: "GoingAway", reason: "server is shutting down", sent: true, retry: true,
		viewer:    "The server is restarting.",
		publisher: "The server is shutting down; your broadcast was stopped."},
	{code: websocket.StatusUnsupportedData, name: "UnsupportedMessage", reason: "unsupported message", sent: true, retry: true,
		viewer:    "The server did not understand a message from this player.",
		publisher: "The server did not understand a message from this page."},
	{code: websocket.StatusAbnormalClosure, name: "Abnormal", retry: true, // browsers report it; never sent
		viewer:    "The connection to the server was lost.",
		publisher: "The connection to the server was lost."},
	{code: websocket.StatusPolicyViolation, name: "PolicyViolation", reason: "policy violation", sent: true, retry: true,
		viewer:    "The server disconnected this player (policy), for example because the connection was too slow.",
		publisher: "The server stopped your broadcast (policy)."},
	{code: websocket.StatusMessageTooBig, name: "MessageTooBig", reason: "message too big", sent: true, retry: true,
		viewer:    "The server sent a message that was too large.",
		publisher: "A piece of your stream was too large for the server."},
	{code: websocket.StatusInternalError, name: "InternalError", reason: "internal error", sent: true, retry: true,
		viewer:    "The server hit an internal error.",
		publisher: "The server hit an internal error."},
	{code: StatusSignInRequired, name: "SignInRequired", reason: "sign in to continue", sent: true,
		viewer:    "Please sign in to watch this room.",
		publisher: "Please sign in to go live."},
	{code: StatusForbidden, name: "Forbidden", reason: "not allowed in this room", sent: true,
		viewer:    "You are not allowed to watch this room.",
		publisher: "You are not allowed to broadcast in this room."},
	{code: StatusNotLive, name: "NotLive", reason: "no such live room", sent: true, retry: true,
		viewer:    "This room is not live right now.",
		publisher: "This room does not exist."},
	{code: StatusRoomLive, name: "RoomLive", reason: "this room is already live", sent: true, retry: true,
		viewer:    "The room is busy.",
		publisher: "This room is already live — perhaps in another tab or on another device."},
	{code: StatusEndedBySite, name: "EndedBySite", reason: "ended by the site", sent: true,
		viewer:    "The site ended this broadcast.",
		publisher: "The site ended your broadcast."},
	{code: StatusTooLarge, name: "TooLarge", reason: "message too large", sent: true,
		viewer:    "A message was too large.",
		publisher: "A piece of your stream was too large for the server."},
	{code: StatusUnsupportedData, name: "UnsupportedData", reason: "not a WebM or MP4 stream", sent: true,
		viewer:    "This stream’s format is not supported.",
		publisher: "The server cannot accept this stream: it needs WebM or MP4 video."},
	{code: StatusLimit, name: "Limit", reason: "limit reached", sent: true, retry: true,
		viewer:    "This room has reached a limit (for example its number of viewers).",
		publisher: "A limit was reached (for example the longest allowed broadcast or the number of live rooms)."},
}

// lookupCloseCode returns the description of code.
func lookupCloseCode(code websocket.StatusCode) (closeCode, bool) {
	for _, c := range closeCodes {
		if c.code == code {
			return c, true
		}
	}
	return closeCode{}, false
}
