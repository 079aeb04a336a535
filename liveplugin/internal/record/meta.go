package record

import (
	"errors"
	"time"
)

var (
	// ErrNotFound reports that a recording does not exist.
	ErrNotFound = errors.New("record: recording not found")
	// ErrExists reports that [Store.Create] was given an id that is already
	// recorded (or being recorded) in the room.
	ErrExists = errors.New("record: recording already exists")
	// ErrInvalidName reports a room or broadcast id that fails [ValidName].
	ErrInvalidName = errors.New("record: invalid name")
	// ErrBusy reports that a recording is still being written (or deleted),
	// so it cannot be deleted or sealed yet.
	ErrBusy = errors.New("record: recording in progress")
	// ErrClosed reports use of a [Writer] after [Writer.Finish].
	ErrClosed = errors.New("record: writer closed")
	// ErrRecovering reports that a recording waits for or undergoes
	// recovery (see [Store.BeginRecover]), so it is not served yet. The
	// errors that wrap it also wrap ErrBusy.
	ErrRecovering = errors.New("record: recording being recovered")
)

// Meta is a recording's JSON sidecar (<id>.json next to <id>.webm or
// <id>.mp4). It is a
// plain value: copies are independent and safe to share.
type Meta struct {
	// Room is the room the recording belongs to.
	Room string `json:"room"`
	// Broadcast is the broadcast id, which names the recording's files.
	Broadcast string `json:"broadcast"`
	// MIMEType is the media type the publisher declared, with codecs. It
	// names the container of the media file: see [Meta.Ext].
	MIMEType string `json:"mimeType"`
	// Title and Description are the broadcast's title and description,
	// as last set (see [Writer.SetDescription]); empty when none was.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Start is when the broadcast started.
	Start time.Time `json:"start"`
	// End is when the broadcast ended; zero while recording, and for a
	// recording whose Writer never finished (the process died).
	End time.Time `json:"end,omitzero"`
	// Bytes is the size of the media file. While recording it counts the
	// bytes accepted so far, some of which may still be buffered.
	Bytes int64 `json:"bytes"`
	// Duration is the media duration: the one the caller passed to Finish,
	// if any, until the recording is sealed, then the sealed file's
	// (nanoseconds in JSON).
	Duration time.Duration `json:"duration,omitzero"`
	// Sealed reports that the file was made seekable (WebM: known sizes,
	// Duration, Cues; MP4: durations in the moov, sidx, mfra) by
	// Store.Seal or Store.Recover; Duration and Bytes are then those of
	// the sealed file.
	Sealed bool `json:"sealed"`
	// Keyframes is the number of Clusters (WebM) or fragments (MP4) that
	// begin with a video keyframe, where playback can start, of a sealed
	// recording. A WebM file's Cues hold a seek point for those at least
	// webm.DefaultCueInterval apart; an MP4 file's sidx indexes every
	// fragment and its mfra every keyframe fragment.
	Keyframes int `json:"keyframes,omitempty"`
	// Failed says why recording stopped early (a disk error), if it did.
	// The media file then holds the bytes written before the failure.
	Failed string `json:"failed,omitempty"`
	// CutShort reports that recovery (Store.Recover, Recovery.Run) found
	// the media file ending inside an element or box, or holding garbage
	// after its last good one: the recording stopped in the middle of a
	// write, because the process died or a disk error stopped it. It is
	// derived from the file, so it survives a failure whose own Meta
	// (Failed) never reached the sidecar.
	CutShort bool `json:"cutShort,omitempty"`
	// Recovering reports that the recording waits for or undergoes
	// recovery (see [Store.BeginRecover]): it is listed but not served
	// until it is sealed. It is never written to the sidecar.
	Recovering bool `json:"-"`
}

// Ext returns the extension of the recording's media file, from its
// MIMEType: ".mp4" for video/mp4 and audio/mp4, ".webm" for any other
// (WebM, and the recordings made before MP4 was recorded). Ext is safe for
// concurrent use.
func (m Meta) Ext() string { return mediaExt(m.MIMEType) }

// Live reports whether the recording has no End: it is still being written,
// or its Writer never finished because the process stopped. Live is safe for
// concurrent use.
func (m Meta) Live() bool { return m.End.IsZero() }

// maxNameLen is the longest room or broadcast id ValidName accepts.
const maxNameLen = 64

// ValidName reports whether s is a legal room or broadcast id: 1 to 64 ASCII
// letters, digits, '_', '.' or '-', starting with a letter or digit and never
// containing "..". Such a name is a single path element that cannot escape
// its directory, is never hidden (no leading dot) and never collides with
// the Store's temporary files. The plugin applies the same rule to room ids,
// minus '.' (^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$), so every room id is valid
// here. ValidName is safe for concurrent use.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i == 0:
			return false
		case c == '_' || c == '-':
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}
