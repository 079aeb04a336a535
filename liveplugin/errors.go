package liveplugin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/hub"
	"github.com/amlive/amlive/liveplugin/internal/mp4"
	"github.com/amlive/amlive/liveplugin/internal/record"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// Errors an app meets. ValidRoom and the widget methods return
// ErrInvalidRoom and ErrReservedRoom; Config.Authorize returns
// ErrSignInRequired or ErrForbidden. The plugin's HTTP handlers return an
// *echo.HTTPError whose Internal error is one of these (errors.Is sees
// through it), so an app's HTTPErrorHandler can tell them apart; on a
// WebSocket they become the close codes of protocol.go.
var (
	// ErrInvalidRoom is a room id outside ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$
	// (HTTP 400).
	ErrInvalidRoom = errors.New("liveplugin: invalid room id")
	// ErrReservedRoom is a room id that names one of the plugin's own
	// routes, such as "assets" or "rooms" (HTTP 404).
	ErrReservedRoom = errors.New("liveplugin: reserved room id")
	// ErrNotLive is a room with no live broadcast (HTTP 404 from
	// GET /:id/meta, WebSocket close 4404).
	ErrNotLive = errors.New("liveplugin: room is not live")
	// ErrRecordingNotFound is a recording that does not exist (HTTP 404).
	ErrRecordingNotFound = errors.New("liveplugin: recording not found")
	// ErrSignInRequired, returned by Config.Authorize, asks the user to
	// sign in (HTTP 401, WebSocket close 4401).
	ErrSignInRequired = errors.New("liveplugin: sign-in required")
	// ErrForbidden, returned by Config.Authorize, refuses the action
	// (HTTP 403, WebSocket close 4403). Any error other than
	// ErrSignInRequired has the same effect.
	ErrForbidden = errors.New("liveplugin: not allowed")
	// ErrNoAuthorize is the refusal of the default Authorize: publishing
	// and managing need a Config.Authorize that allows them. It matches
	// ErrForbidden.
	ErrNoAuthorize = fmt.Errorf("%w: publishing is disabled until the site sets Config.Authorize", ErrForbidden)
	// ErrClosed is a request that arrived after Plugin.Close (HTTP 503,
	// WebSocket close 1001).
	ErrClosed = errors.New("liveplugin: shutting down")
)

// Errors only a WebSocket peer meets, as a close code and reason.
var (
	// errRoomLive is a second publisher in a room that is live.
	errRoomLive = errors.New("liveplugin: room is already live")
	// errNotMedia is an upload that is not a WebM or MP4 stream browsers
	// can play, or in a container Config.Containers leaves out.
	errNotMedia = errors.New("liveplugin: not a playable WebM or MP4 stream")
	// errMessageTooLarge is an upload message over Config.MaxMessageBytes.
	errMessageTooLarge = errors.New("liveplugin: message too large")
	// errNoResume is an upload that asks to resume a broadcast that has
	// ended, or that it may not resume.
	errNoResume = errors.New("liveplugin: no broadcast to resume")
)

// Reasons a connection ends that stay inside the plugin.
var (
	// errEnd is the publisher saying {"type":"end"}.
	errEnd = errors.New("liveplugin: publisher ended the broadcast")
	// errEnded is a viewer's broadcast having ended.
	errEnded = errors.New("liveplugin: broadcast ended")
	// errBadMessage is a text message that is not one of ours.
	errBadMessage = errors.New("liveplugin: unsupported message")
	// errLost is a publisher that did not resume within ResumeGrace.
	errLost = errors.New("liveplugin: publisher lost and did not resume within ResumeGrace")
	// errStopped wraps the reason the server stopped an upload by itself
	// (errIdle, errTooLong, ErrClosed), once watch has closed it.
	errStopped = errors.New("liveplugin: stopped by the server")
	// errIdle is a publisher silent for IdleTimeout.
	errIdle = errors.New("liveplugin: no data from the publisher within IdleTimeout")
	// errFenced is a broadcast whose room the cluster gave to another
	// node while this one was cut off from it.
	errFenced = errors.New("liveplugin: the cluster gave the room to another node")
	// errTooLong is a broadcast that reached MaxBroadcast.
	errTooLong = errors.New("liveplugin: broadcast reached MaxBroadcast")
	// errEndedBySite is a broadcast that Plugin.End stopped; see
	// endedBySiteError.
	errEndedBySite = errors.New("liveplugin: broadcast ended by the site")
)

// endedBySiteError is a broadcast that Plugin.End stopped, with the
// site's reason; it matches errEndedBySite.
type endedBySiteError struct{ reason string }

func (e *endedBySiteError) Error() string {
	return fmt.Sprintf("%v: %q", errEndedBySite, e.reason)
}

func (e *endedBySiteError) Is(target error) bool { return target == errEndedBySite }

// tooLargeError is an upload message over MaxMessageBytes; it matches
// errMessageTooLarge.
type tooLargeError struct{ max int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%v: over %d bytes", errMessageTooLarge, e.max)
}

func (e *tooLargeError) Is(target error) bool { return target == errMessageTooLarge }

// limitError reports that a configured limit was reached.
type limitError struct {
	Name string // the Config field, e.g. "MaxViewers"
	Max  int64
}

func (e *limitError) Error() string {
	return fmt.Sprintf("liveplugin: limit %s reached (%d)", e.Name, e.Max)
}

// translate turns errors of the internal packages into the plugin's.
func translate(err error) error {
	var hl *hub.LimitError
	switch {
	case errors.As(err, &hl):
		return &limitError{Name: hl.Name, Max: int64(hl.Max)}
	case errors.Is(err, hub.ErrRoomLive):
		return errRoomLive
	case errors.Is(err, hub.ErrNotLive):
		return ErrNotLive
	case errors.Is(err, hub.ErrClosed):
		return ErrClosed
	case errors.Is(err, cluster.ErrNoTakeover):
		return errNoResume
	case errors.Is(err, record.ErrNotFound), errors.Is(err, record.ErrInvalidName):
		return ErrRecordingNotFound
	case errors.Is(err, webm.ErrNotWebM), errors.Is(err, webm.ErrUnsupportedCodec),
		errors.Is(err, mp4.ErrNotMP4), errors.Is(err, mp4.ErrUnsupportedCodec):
		return fmt.Errorf("%w: %w", errNotMedia, err)
	}
	return err
}

// errorClass says what the plugin does with one kind of error: the close
// code and reason a WebSocket peer gets, whether an upload that stopped
// with it may resume, how it is logged when it ends an upload, and the
// HTTP status a handler answers with.
type errorClass struct {
	name  string
	match func(err error) bool
	// code is the close code; 0 when the server sends none because the
	// peer closed, the connection is gone, or watch already closed it
	// (closeStatus then gives 1011).
	code websocket.StatusCode
	// reason computes the close reason; nil takes the code's reason from
	// closeCodes.
	reason    func(err error) string
	resumable bool
	level     slog.Level
	logMsg    string // the log message when it ends an upload
	logReason string // the "reason" attribute; empty logs the error instead
	status    int    // HTTP status; 0 is 500
	text      func(err error) string
}

// is returns a matcher for errors.Is against any of targets.
func is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

// as returns a matcher for errors.As to T.
func as[T error]() func(error) bool {
	return func(err error) bool {
		var t T
		return errors.As(err, &t)
	}
}

func fixed(s string) func(error) string { return func(error) string { return s } }

// peerClosed matches the peer's close frame with one of codes, or, with
// none, any other code.
func peerClosed(normal bool) func(error) bool {
	return func(err error) bool {
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			return false
		}
		isNormal := ce.Code == websocket.StatusNormalClosure || ce.Code == websocket.StatusGoingAway
		return isNormal == normal
	}
}

func limitText(err error) string {
	var le *limitError
	errors.As(err, &le)
	return truncate(fmt.Sprintf("limit reached: %s (%d)", le.Name, le.Max))
}

// errorClasses classify errors, after translate, in order: the first that
// matches applies. An error none matches is a connection that failed: an
// upload may resume, and it gets 1011 and HTTP 500 where it is reported.
var errorClasses = []errorClass{
	// Refusals, before anything is read.
	{name: "sign-in required", match: is(ErrSignInRequired), code: StatusSignInRequired,
		level: slog.LevelWarn, logMsg: "publish refused", status: http.StatusUnauthorized, text: fixed("sign-in required")},
	{name: "publishing disabled", match: is(ErrNoAuthorize), code: StatusForbidden, reason: fixed("publishing is disabled on this site"),
		level: slog.LevelWarn, logMsg: "publish refused", status: http.StatusForbidden, text: fixed("publishing is disabled on this site")},
	{name: "forbidden", match: is(ErrForbidden), code: StatusForbidden,
		level: slog.LevelWarn, logMsg: "publish refused", status: http.StatusForbidden, text: fixed("not allowed")},
	{name: "invalid room", match: is(ErrInvalidRoom), code: StatusNotLive,
		level: slog.LevelInfo, logMsg: "publish refused", status: http.StatusBadRequest, text: fixed("invalid room id")},
	{name: "not live", match: is(ErrNotLive, ErrReservedRoom), code: StatusNotLive,
		level: slog.LevelInfo, logMsg: "publish refused", status: http.StatusNotFound, text: fixed("no such live room")},
	{name: "nothing to resume", match: is(errNoResume), code: StatusNotLive, reason: fixed("the broadcast to resume has ended"),
		level: slog.LevelInfo, logMsg: "resume refused"},
	{name: "room live", match: is(errRoomLive), code: StatusRoomLive,
		level: slog.LevelInfo, logMsg: "publish refused", status: http.StatusConflict, text: fixed("room is already live")},
	{name: "recording not found", match: is(ErrRecordingNotFound),
		level: slog.LevelInfo, status: http.StatusNotFound, text: fixed("recording not found")},
	{name: "recording being recovered", match: is(record.ErrRecovering),
		level: slog.LevelInfo, status: http.StatusServiceUnavailable, text: fixed("recording is being recovered after a restart; try again shortly")},
	{name: "recording busy", match: is(record.ErrBusy),
		level: slog.LevelInfo, status: http.StatusConflict, text: fixed("recording in progress")},

	// How an upload ends.
	{name: "publisher ended", match: is(errEnd), code: websocket.StatusNormalClosure,
		level: slog.LevelInfo, logMsg: "room ended", logReason: "publisher ended"},
	{name: "broadcast ended", match: is(errEnded), code: websocket.StatusNormalClosure,
		level: slog.LevelInfo, logMsg: "room ended"},
	{name: "stopped by the server", match: is(errStopped), // watch closed it with the reason
		level: slog.LevelInfo, logMsg: "room ended"},
	{name: "ended by the site", match: is(errEndedBySite), code: StatusEndedBySite,
		reason: func(err error) string {
			if e, ok := errors.AsType[*endedBySiteError](err); ok && e.reason != "" {
				return truncate(e.reason) // the page puts it after the code's sentence
			}
			return "ended by the site"
		},
		level: slog.LevelInfo, logMsg: "room ended", logReason: "ended by the site"},
	{name: "publisher lost", match: is(errLost),
		level: slog.LevelInfo, logMsg: "room ended"},
	{name: "fenced", match: is(errFenced), code: StatusRoomLive, reason: fixed("the room went live through another server"),
		level: slog.LevelWarn, logMsg: "room ended"},
	{name: "publisher closed", match: peerClosed(true),
		level: slog.LevelInfo, logMsg: "room ended", logReason: "publisher closed"},
	{name: "publisher closed abnormally", match: peerClosed(false), resumable: true,
		level: slog.LevelInfo, logMsg: "room ended", logReason: "publisher closed"},
	{name: "message too large", match: is(errMessageTooLarge), code: StatusTooLarge,
		reason: func(err error) string {
			var te *tooLargeError
			if errors.As(err, &te) {
				return fmt.Sprintf("message too large: over %d bytes", te.max)
			}
			return "message too large"
		},
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "codec", match: as[*webm.CodecError](), code: StatusUnsupportedData,
		reason: func(err error) string {
			var ce *webm.CodecError
			errors.As(err, &ce)
			return truncate("codec not playable in browsers: " + ce.Detail())
		},
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "MP4 codec", match: as[*mp4.CodecError](), code: StatusUnsupportedData,
		reason: func(err error) string {
			var ce *mp4.CodecError
			errors.As(err, &ce)
			return truncate("codec not playable in browsers: " + ce.Detail())
		},
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "invalid WebM", match: as[*webm.SyntaxError](), code: StatusUnsupportedData,
		reason: func(err error) string {
			var se *webm.SyntaxError
			errors.As(err, &se)
			return truncate("not a valid WebM stream: " + se.Reason)
		},
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "invalid MP4", match: as[*mp4.SyntaxError](), code: StatusUnsupportedData,
		reason: func(err error) string {
			var se *mp4.SyntaxError
			errors.As(err, &se)
			return truncate(fmt.Sprintf("not a valid MP4 stream: %s (at byte %d)", se.Reason, se.Offset))
		},
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "wrong container", match: as[*containerMismatchError](), code: StatusUnsupportedData,
		reason: func(err error) string {
			var ce *containerMismatchError
			errors.As(err, &ce)
			return truncate(fmt.Sprintf("the upload says %s but the stream is %s", ce.claimed, ce.found.label()))
		},
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "container refused", match: as[*containerRefusedError](), code: StatusUnsupportedData,
		reason: func(err error) string {
			var ce *containerRefusedError
			errors.As(err, &ce)
			return truncate(fmt.Sprintf("this site accepts %s streams, not %s", labels(ce.allowed), ce.found.label()))
		},
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "invalid encoded chunks", match: as[*chunkError](), code: StatusUnsupportedData,
		reason: func(err error) string {
			var ce *chunkError
			errors.As(err, &ce)
			return truncate("invalid encoded chunks: " + ce.reason)
		},
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "not WebM or MP4", match: is(errNotMedia, webm.ErrNotWebM, webm.ErrMalformed, webm.ErrLimit, webm.ErrUnsupportedCodec,
		mp4.ErrNotMP4, mp4.ErrMalformed, mp4.ErrLimit, mp4.ErrUnsupportedCodec), code: StatusUnsupportedData,
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "unsupported message", match: is(errBadMessage), code: websocket.StatusUnsupportedData,
		level: slog.LevelWarn, logMsg: "upload rejected"},
	{name: "limit", match: as[*limitError](), code: StatusLimit, reason: limitText,
		level: slog.LevelWarn, logMsg: "upload stopped", status: http.StatusTooManyRequests, text: limitText},
	{name: "broadcast too long", match: is(errTooLong), code: StatusLimit, reason: fixed("limit reached: MaxBroadcast (the longest broadcast allowed)"),
		level: slog.LevelInfo, logMsg: "room ended"},
	{name: "idle", match: is(errIdle), code: websocket.StatusPolicyViolation, reason: fixed("no data from the broadcaster for too long: broadcast ended"),
		level: slog.LevelInfo, logMsg: "room ended"},
	{name: "shutting down", match: is(ErrClosed), code: websocket.StatusGoingAway,
		level: slog.LevelInfo, logMsg: "room ended", status: http.StatusServiceUnavailable, text: fixed("server is shutting down")},
	{name: "viewer too slow", match: is(hub.ErrTooSlow), code: websocket.StatusPolicyViolation, reason: fixed("too slow: fell behind the live stream"),
		level: slog.LevelWarn, logMsg: "viewer dropped", logReason: "too slow"},
}

// connectionLost is the class of an error no class matches.
var connectionLost = errorClass{name: "connection lost", resumable: true,
	level: slog.LevelInfo, logMsg: "room ended", logReason: "connection lost"}

// classify returns the class of err.
func classify(err error) errorClass {
	err = translate(err)
	for _, c := range errorClasses {
		if c.match(err) {
			return c
		}
	}
	return connectionLost
}

// closeStatus maps an error to the close code and reason a WebSocket
// client receives. Reasons are short (a close frame holds 123 bytes) and
// say nothing of internals.
func closeStatus(err error) (websocket.StatusCode, string) {
	c := classify(err)
	if c.code == 0 {
		return websocket.StatusInternalError, "internal error"
	}
	return c.code, c.closeReason(err)
}

// closeReason is the close reason c gives err.
func (c errorClass) closeReason(err error) string {
	if c.reason != nil {
		return c.reason(translate(err))
	}
	info, _ := lookupCloseCode(c.code)
	return info.reason
}

// resumable reports whether the error that ended a connection's read loop
// may be a network failure, as opposed to the publisher or the server
// ending the broadcast.
func resumable(err error) bool { return classify(err).resumable }

// toHTTPError maps an error to the HTTP error a handler returns. Internal
// errors become a plain 500 whose message says nothing of the cause.
func toHTTPError(err error) *echo.HTTPError {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he
	}
	err = translate(err)
	code, msg := http.StatusInternalServerError, "internal error"
	if c := classify(err); c.status != 0 {
		code, msg = c.status, c.text(err)
	}
	return echo.NewHTTPError(code, msg).SetInternal(err)
}

// truncate makes s fit for a close reason: valid UTF-8 (a browser fails a
// connection whose close reason is not), without control characters (the
// reason may quote the client's own bytes, such as a codec id), and within
// the 123 bytes a close frame allows, cut at a character boundary.
func truncate(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= 120 {
		return s
	}
	cut := 117
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
