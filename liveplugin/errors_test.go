package liveplugin

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/hub"
	"github.com/amlive/amlive/liveplugin/internal/mp4"
	"github.com/amlive/amlive/liveplugin/internal/record"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// TestErrorClasses checks what the plugin does with each error it meets:
// the close code and reason a peer gets (closeStatus), whether an upload
// ending with it may resume, the level its end is logged at, and whether
// finish sends a close frame itself.
func TestErrorClasses(t *testing.T) {
	type want struct {
		code      websocket.StatusCode // closeStatus
		reason    string
		resumable bool
		level     slog.Level
		closes    bool // finish sends the close code
	}
	codec := &webm.CodecError{Codec: "V_MPEG4/ISO/AVC", Track: 1, Kind: "video"}
	syntax := &webm.SyntaxError{Offset: 12, Reason: "cluster before tracks", Err: webm.ErrMalformed}
	tests := []struct {
		name string
		give error
		want want
	}{
		{name: "sign-in required", give: ErrSignInRequired,
			want: want{code: StatusSignInRequired, reason: "sign in to continue", level: slog.LevelWarn, closes: true}},
		{name: "sign-in from an app's 401", give: authError(echo.NewHTTPError(http.StatusUnauthorized)),
			want: want{code: StatusSignInRequired, reason: "sign in to continue", level: slog.LevelWarn, closes: true}},
		{name: "default Authorize", give: ErrNoAuthorize,
			want: want{code: StatusForbidden, reason: "publishing is disabled on this site", level: slog.LevelWarn, closes: true}},
		{name: "forbidden", give: authError(errors.New("no")),
			want: want{code: StatusForbidden, reason: "not allowed in this room", level: slog.LevelWarn, closes: true}},
		{name: "invalid room", give: ErrInvalidRoom,
			want: want{code: StatusNotLive, reason: "no such live room", level: slog.LevelInfo, closes: true}},
		{name: "reserved room", give: ErrReservedRoom,
			want: want{code: StatusNotLive, reason: "no such live room", level: slog.LevelInfo, closes: true}},
		{name: "not live, from the hub", give: hub.ErrNotLive,
			want: want{code: StatusNotLive, reason: "no such live room", level: slog.LevelInfo, closes: true}},
		{name: "nothing to resume", give: errNoResume,
			want: want{code: StatusNotLive, reason: "the broadcast to resume has ended", level: slog.LevelInfo, closes: true}},
		{name: "room live, from the hub", give: hub.ErrRoomLive,
			want: want{code: StatusRoomLive, reason: "this room is already live", level: slog.LevelInfo, closes: true}},
		{name: "publisher ended", give: errEnd,
			want: want{code: websocket.StatusNormalClosure, reason: "broadcast ended", level: slog.LevelInfo, closes: true}},
		{name: "viewer's broadcast ended", give: errEnded,
			want: want{code: websocket.StatusNormalClosure, reason: "broadcast ended", level: slog.LevelInfo, closes: true}},
		{name: "stopped idle", give: fmt.Errorf("%w: %w", errStopped, errIdle),
			want: want{code: websocket.StatusInternalError, reason: "internal error", level: slog.LevelInfo}},
		{name: "stopped on shutdown", give: fmt.Errorf("%w: %w", errStopped, ErrClosed),
			want: want{code: websocket.StatusInternalError, reason: "internal error", level: slog.LevelInfo}},
		{name: "ended by the site", give: &endedBySiteError{reason: "spam"},
			want: want{code: StatusEndedBySite, reason: "spam", level: slog.LevelInfo, closes: true}},
		{name: "ended by the site, no reason", give: &endedBySiteError{},
			want: want{code: StatusEndedBySite, reason: "ended by the site", level: slog.LevelInfo, closes: true}},
		{name: "stopped by the site", give: fmt.Errorf("%w: %w", errStopped, &endedBySiteError{reason: "spam"}),
			want: want{code: websocket.StatusInternalError, reason: "internal error", level: slog.LevelInfo}},
		{name: "publisher lost", give: errLost,
			want: want{code: websocket.StatusInternalError, reason: "internal error", level: slog.LevelInfo}},
		{name: "page closed", give: fmt.Errorf("read: %w", websocket.CloseError{Code: websocket.StatusNormalClosure}),
			want: want{code: websocket.StatusInternalError, reason: "internal error", level: slog.LevelInfo}},
		{name: "page went away", give: websocket.CloseError{Code: websocket.StatusGoingAway},
			want: want{code: websocket.StatusInternalError, reason: "internal error", level: slog.LevelInfo}},
		{name: "peer closed otherwise", give: websocket.CloseError{Code: websocket.StatusProtocolError},
			want: want{code: websocket.StatusInternalError, reason: "internal error", resumable: true, level: slog.LevelInfo}},
		{name: "message too large", give: &tooLargeError{max: 32768},
			want: want{code: StatusTooLarge, reason: "message too large: over 32768 bytes", level: slog.LevelWarn, closes: true}},
		{name: "message too large, bare", give: errMessageTooLarge,
			want: want{code: StatusTooLarge, reason: "message too large", level: slog.LevelWarn, closes: true}},
		{name: "codec", give: codec,
			want: want{code: StatusUnsupportedData, reason: "codec not playable in browsers: V_MPEG4/ISO/AVC (video track 1)", level: slog.LevelWarn, closes: true}},
		{name: "codec id the client made up", give: &webm.CodecError{Codec: "V_\x00\xff8", Track: 2, Kind: "video"},
			want: want{code: StatusUnsupportedData, reason: "codec not playable in browsers: V_??8 (video track 2)", level: slog.LevelWarn, closes: true}},
		{name: "no codec id", give: &webm.CodecError{Track: 3, Kind: "audio"},
			want: want{code: StatusUnsupportedData, reason: "codec not playable in browsers: audio track 3 has no codec id", level: slog.LevelWarn, closes: true}},
		{name: "no media track", give: &webm.CodecError{},
			want: want{code: StatusUnsupportedData, reason: "codec not playable in browsers: no audio or video track", level: slog.LevelWarn, closes: true}},
		{name: "syntax", give: syntax,
			want: want{code: StatusUnsupportedData, reason: "not a valid WebM stream: cluster before tracks", level: slog.LevelWarn, closes: true}},
		{name: "syntax, long reason", give: &webm.SyntaxError{Reason: strings.Repeat("é", 100), Err: webm.ErrLimit},
			want: want{code: StatusUnsupportedData, reason: truncate("not a valid WebM stream: " + strings.Repeat("é", 100)), level: slog.LevelWarn, closes: true}},
		{name: "not WebM", give: webm.ErrNotWebM,
			want: want{code: StatusUnsupportedData, reason: "not a WebM or MP4 stream", level: slog.LevelWarn, closes: true}},
		{name: "MP4 codec", give: &mp4.CodecError{Codec: "mp4v", Track: 1, Kind: "video"},
			want: want{code: StatusUnsupportedData, reason: "codec not playable in browsers: mp4v (video track 1)", level: slog.LevelWarn, closes: true}},
		{name: "MP4 codec the client made up", give: &mp4.CodecError{Codec: "\x00\xffv1", Track: 2, Kind: "video"},
			want: want{code: StatusUnsupportedData, reason: "codec not playable in browsers: ??v1 (video track 2)", level: slog.LevelWarn, closes: true}},
		{name: "MP4 without media", give: fmt.Errorf("playable: %w", &mp4.CodecError{}),
			want: want{code: StatusUnsupportedData, reason: "codec not playable in browsers: no audio or video track", level: slog.LevelWarn, closes: true}},
		{name: "MP4 syntax", give: &mp4.SyntaxError{Offset: 1222, Reason: "moof before moov", Err: mp4.ErrMalformed},
			want: want{code: StatusUnsupportedData, reason: "not a valid MP4 stream: moof before moov (at byte 1222)", level: slog.LevelWarn, closes: true}},
		{name: "MP4 syntax, long reason", give: &mp4.SyntaxError{Offset: 8, Reason: strings.Repeat("é", 100), Err: mp4.ErrLimit},
			want: want{code: StatusUnsupportedData, reason: truncate("not a valid MP4 stream: " + strings.Repeat("é", 100)), level: slog.LevelWarn, closes: true}},
		{name: "not MP4", give: mp4.ErrNotMP4,
			want: want{code: StatusUnsupportedData, reason: "not a WebM or MP4 stream", level: slog.LevelWarn, closes: true}},
		{name: "neither container", give: errNotMedia,
			want: want{code: StatusUnsupportedData, reason: "not a WebM or MP4 stream", level: slog.LevelWarn, closes: true}},
		{name: "claim the bytes contradict", give: &containerMismatchError{claimed: "video/webm", found: containerMP4},
			want: want{code: StatusUnsupportedData, reason: "the upload says video/webm but the stream is MP4", level: slog.LevelWarn, closes: true}},
		{name: "claim with control bytes", give: &containerMismatchError{claimed: "video/\x00mp4", found: containerWebM},
			want: want{code: StatusUnsupportedData, reason: "the upload says video/?mp4 but the stream is WebM", level: slog.LevelWarn, closes: true}},
		{name: "container the site refuses", give: &containerRefusedError{found: containerMP4, allowed: []container{containerWebM}},
			want: want{code: StatusUnsupportedData, reason: "this site accepts WebM streams, not MP4", level: slog.LevelWarn, closes: true}},
		{name: "unsupported message", give: errBadMessage,
			want: want{code: websocket.StatusUnsupportedData, reason: "unsupported message", level: slog.LevelWarn, closes: true}},
		{name: "limit", give: &limitError{Name: "MaxBitrate", Max: 100000},
			want: want{code: StatusLimit, reason: "limit reached: MaxBitrate (100000)", level: slog.LevelWarn, closes: true}},
		{name: "limit, from the hub", give: &hub.LimitError{Name: "MaxRooms", Max: 1},
			want: want{code: StatusLimit, reason: "limit reached: MaxRooms (1)", level: slog.LevelWarn, closes: true}},
		{name: "broadcast too long", give: errTooLong,
			want: want{code: StatusLimit, reason: "limit reached: MaxBroadcast (the longest broadcast allowed)", level: slog.LevelInfo, closes: true}},
		{name: "idle", give: errIdle,
			want: want{code: websocket.StatusPolicyViolation, reason: "no data from the broadcaster for too long: broadcast ended", level: slog.LevelInfo, closes: true}},
		{name: "shutting down", give: ErrClosed,
			want: want{code: websocket.StatusGoingAway, reason: "server is shutting down", level: slog.LevelInfo, closes: true}},
		{name: "viewer too slow", give: hub.ErrTooSlow,
			want: want{code: websocket.StatusPolicyViolation, reason: "too slow: fell behind the live stream", level: slog.LevelWarn, closes: true}},
		{name: "network failure", give: io.ErrUnexpectedEOF,
			want: want{code: websocket.StatusInternalError, reason: "internal error", resumable: true, level: slog.LevelInfo}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, reason := closeStatus(tc.give)
			c := classify(tc.give)
			got := want{code: code, reason: reason, resumable: resumable(tc.give), level: c.level, closes: c.code != 0}
			if got != tc.want {
				t.Errorf("classify(%v) = %+v; want %+v", tc.give, got, tc.want)
			}
			if len(reason) == 0 || len(reason) > 123 {
				t.Errorf("closeStatus(%v) reason has %d bytes; want 1 to 123", tc.give, len(reason))
			}
		})
	}
}

// TestToHTTPError checks the HTTP side of the same table.
func TestToHTTPError(t *testing.T) {
	tests := []struct {
		name     string
		give     error
		wantCode int
		wantMsg  string
	}{
		{name: "invalid room", give: ErrInvalidRoom, wantCode: http.StatusBadRequest, wantMsg: "invalid room id"},
		{name: "reserved room", give: ErrReservedRoom, wantCode: http.StatusNotFound, wantMsg: "no such live room"},
		{name: "not live", give: hub.ErrNotLive, wantCode: http.StatusNotFound, wantMsg: "no such live room"},
		{name: "recording not found", give: record.ErrNotFound, wantCode: http.StatusNotFound, wantMsg: "recording not found"},
		{name: "recording busy", give: fmt.Errorf("delete: %w", record.ErrBusy), wantCode: http.StatusConflict, wantMsg: "recording in progress"},
		{name: "recording being recovered", give: fmt.Errorf("open: %w", fmt.Errorf("%w (%w)", record.ErrRecovering, record.ErrBusy)),
			wantCode: http.StatusServiceUnavailable, wantMsg: "recording is being recovered after a restart; try again shortly"},
		{name: "sign-in", give: ErrSignInRequired, wantCode: http.StatusUnauthorized, wantMsg: "sign-in required"},
		{name: "default Authorize", give: ErrNoAuthorize, wantCode: http.StatusForbidden, wantMsg: "publishing is disabled on this site"},
		{name: "forbidden", give: authError(errors.New("no")), wantCode: http.StatusForbidden, wantMsg: "not allowed"},
		{name: "room live", give: errRoomLive, wantCode: http.StatusConflict, wantMsg: "room is already live"},
		{name: "limit", give: &hub.LimitError{Name: "MaxViewers", Max: 3}, wantCode: http.StatusTooManyRequests, wantMsg: "limit reached: MaxViewers (3)"},
		{name: "shutting down", give: ErrClosed, wantCode: http.StatusServiceUnavailable, wantMsg: "server is shutting down"},
		{name: "app's own error", give: authError(echo.NewHTTPError(http.StatusTeapot, "tea")), wantCode: http.StatusTeapot, wantMsg: "tea"},
		{name: "internal", give: errors.New("disk on fire"), wantCode: http.StatusInternalServerError, wantMsg: "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			he := toHTTPError(tc.give)
			if he.Code != tc.wantCode || he.Message != tc.wantMsg {
				t.Errorf("toHTTPError(%v) = %d %v; want %d %q", tc.give, he.Code, he.Message, tc.wantCode, tc.wantMsg)
			}
		})
	}
}
