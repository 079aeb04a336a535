package liveplugin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/hub"
	"github.com/amlive/amlive/liveplugin/internal/record"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// Errors the plugin returns, and that Config.Authorize may return.
var (
	// ErrInvalidRoom is a room id outside ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.
	ErrInvalidRoom = errors.New("liveplugin: invalid room id")
	// ErrReservedRoom is a room id that names one of the plugin's own
	// routes, such as "assets" or "rooms".
	ErrReservedRoom = errors.New("liveplugin: reserved room id")
	// ErrNotLive is a room with no live broadcast.
	ErrNotLive = errors.New("liveplugin: room is not live")
	// ErrRoomLive is a second publisher in a room that is live.
	ErrRoomLive = errors.New("liveplugin: room is already live")
	// ErrRecordingNotFound is a recording that does not exist.
	ErrRecordingNotFound = errors.New("liveplugin: recording not found")
	// ErrSignInRequired, returned by Config.Authorize, asks the user to
	// sign in (HTTP 401, WebSocket close 4401).
	ErrSignInRequired = errors.New("liveplugin: sign-in required")
	// ErrForbidden, returned by Config.Authorize, refuses the action
	// (HTTP 403, WebSocket close 4403). Any error other than
	// ErrSignInRequired has the same effect.
	ErrForbidden = errors.New("liveplugin: not allowed")
	// ErrNoAuthorize is the refusal of the default Authorize: publishing
	// and managing need a Config.Authorize that allows them.
	ErrNoAuthorize = fmt.Errorf("%w: publishing is disabled until the site sets Config.Authorize", ErrForbidden)
	// ErrNotWebM is an upload that is not a WebM stream browsers can play.
	ErrNotWebM = errors.New("liveplugin: not a playable WebM stream")
	// ErrMessageTooLarge is an upload message over Config.MaxMessageBytes.
	ErrMessageTooLarge = errors.New("liveplugin: message too large")
	// ErrNoResume is an upload that asks to resume a broadcast that has
	// ended, or that it may not resume (WebSocket close 4404).
	ErrNoResume = errors.New("liveplugin: no broadcast to resume")
	// ErrClosed is a request that arrived after Plugin.Close.
	ErrClosed = errors.New("liveplugin: shutting down")
)

// LimitError reports that a configured limit was reached.
type LimitError struct {
	Name string // the Config field, e.g. "MaxViewers"
	Max  int64
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("liveplugin: limit %s reached (%d)", e.Name, e.Max)
}

// Close codes sent on an upgraded WebSocket, besides the standard ones.
const (
	StatusSignInRequired  websocket.StatusCode = 4401
	StatusForbidden       websocket.StatusCode = 4403
	StatusNotLive         websocket.StatusCode = 4404
	StatusRoomLive        websocket.StatusCode = 4409
	StatusTooLarge        websocket.StatusCode = 4413
	StatusUnsupportedData websocket.StatusCode = 4415
	StatusLimit           websocket.StatusCode = 4429
)

// translate turns errors of the internal packages into the plugin's.
func translate(err error) error {
	var hl *hub.LimitError
	switch {
	case errors.As(err, &hl):
		return &LimitError{Name: hl.Name, Max: int64(hl.Max)}
	case errors.Is(err, hub.ErrRoomLive):
		return ErrRoomLive
	case errors.Is(err, hub.ErrNotLive):
		return ErrNotLive
	case errors.Is(err, hub.ErrClosed):
		return ErrClosed
	case errors.Is(err, record.ErrNotFound), errors.Is(err, record.ErrInvalidName):
		return ErrRecordingNotFound
	case errors.Is(err, webm.ErrNotWebM), errors.Is(err, webm.ErrUnsupportedCodec):
		return fmt.Errorf("%w: %w", ErrNotWebM, err)
	}
	return err
}

// toHTTPError maps an error to the HTTP error a handler returns. Internal
// errors become a plain 500 whose message says nothing of the cause.
func toHTTPError(err error) *echo.HTTPError {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he
	}
	err = translate(err)
	var le *LimitError
	code, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.Is(err, ErrInvalidRoom):
		code, msg = http.StatusBadRequest, "invalid room id"
	case errors.Is(err, ErrReservedRoom), errors.Is(err, ErrNotLive):
		code, msg = http.StatusNotFound, "no such live room"
	case errors.Is(err, ErrRecordingNotFound):
		code, msg = http.StatusNotFound, "recording not found"
	case errors.Is(err, ErrSignInRequired):
		code, msg = http.StatusUnauthorized, "sign-in required"
	case errors.Is(err, ErrNoAuthorize):
		code, msg = http.StatusForbidden, "publishing is disabled on this site"
	case errors.Is(err, ErrForbidden):
		code, msg = http.StatusForbidden, "not allowed"
	case errors.Is(err, ErrRoomLive):
		code, msg = http.StatusConflict, "room is already live"
	case errors.As(err, &le):
		code, msg = http.StatusTooManyRequests, fmt.Sprintf("limit reached: %s (%d)", le.Name, le.Max)
	case errors.Is(err, ErrClosed):
		code, msg = http.StatusServiceUnavailable, "server is shutting down"
	}
	return echo.NewHTTPError(code, msg).SetInternal(err)
}

// closeStatus maps an error to the close code and reason a WebSocket
// client receives. Reasons are short (a close frame holds 123 bytes) and
// say nothing of internals.
func closeStatus(err error) (websocket.StatusCode, string) {
	err = translate(err)
	var le *LimitError
	var se *webm.SyntaxError
	switch {
	case errors.Is(err, ErrSignInRequired):
		return StatusSignInRequired, "sign in to continue"
	case errors.Is(err, ErrNoAuthorize):
		return StatusForbidden, "publishing is disabled on this site"
	case errors.Is(err, ErrForbidden):
		return StatusForbidden, "not allowed in this room"
	case errors.Is(err, ErrNotLive), errors.Is(err, ErrReservedRoom), errors.Is(err, ErrInvalidRoom):
		return StatusNotLive, "no such live room"
	case errors.Is(err, ErrNoResume):
		return StatusNotLive, "the broadcast to resume has ended"
	case errors.Is(err, ErrRoomLive):
		return StatusRoomLive, "this room is already live"
	case errors.Is(err, ErrMessageTooLarge):
		return StatusTooLarge, err.Error()[len("liveplugin: "):]
	case errors.Is(err, webm.ErrUnsupportedCodec):
		return StatusUnsupportedData, truncate("codec not playable in browsers: " + codecReason(err))
	case errors.As(err, &se):
		return StatusUnsupportedData, truncate("not a valid WebM stream: " + se.Reason)
	case errors.Is(err, ErrNotWebM):
		return StatusUnsupportedData, "not a WebM stream"
	case errors.As(err, &le):
		return StatusLimit, truncate(fmt.Sprintf("limit reached: %s (%d)", le.Name, le.Max))
	case errors.Is(err, ErrClosed):
		return websocket.StatusGoingAway, "server is shutting down"
	case errors.Is(err, errIdle):
		return websocket.StatusPolicyViolation, "no data from the broadcaster for too long: broadcast ended"
	case errors.Is(err, errTooLong):
		return StatusLimit, "limit reached: MaxBroadcast (the longest broadcast allowed)"
	case errors.Is(err, hub.ErrTooSlow):
		return websocket.StatusPolicyViolation, "too slow: fell behind the live stream"
	}
	return websocket.StatusInternalError, "internal error"
}

// codecReason returns what the webm reader said of an unplayable codec,
// e.g. "V_MPEG4/ISO/AVC (video track 1)", without the error chain's
// package prefixes.
func codecReason(err error) string {
	msg := err.Error()
	prefix := webm.ErrUnsupportedCodec.Error() + ": "
	if i := strings.LastIndex(msg, prefix); i >= 0 {
		return msg[i+len(prefix):]
	}
	return "unknown"
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
