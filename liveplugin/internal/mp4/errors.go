package mp4

import (
	"errors"
	"fmt"
)

// Errors reported by the package. Feed returns them wrapped in a
// [*SyntaxError]; test with errors.Is.
var (
	// ErrNotMP4 means the stream does not start with an ftyp box followed
	// by a moov box.
	ErrNotMP4 = errors.New("mp4: not a fragmented MP4 stream")
	// ErrMalformed means the stream breaks the ISO BMFF structure: a box
	// larger than its parent, a moof before moov, a fragment of an unknown
	// track, and so on.
	ErrMalformed = errors.New("mp4: malformed stream")
	// ErrLimit means the stream exceeded one of the reader's [Limits].
	ErrLimit = errors.New("mp4: limit exceeded")
	// ErrUnsupportedCodec is wrapped by [Reader.Playable] when browsers
	// cannot play a track of the stream in MP4.
	ErrUnsupportedCodec = errors.New("mp4: codec not supported")
)

// SyntaxError is the error returned by [Reader.Feed]. It says where the
// stream went wrong and why; Err is one of ErrNotMP4, ErrMalformed or
// ErrLimit, so errors.Is works through [SyntaxError.Unwrap].
type SyntaxError struct {
	Offset int64  // absolute offset of the box (or byte) at fault
	Reason string // lowercase description, e.g. "moof before moov"
	Err    error  // ErrNotMP4, ErrMalformed or ErrLimit
}

// Error returns the error as "mp4: offset 1234: moof before moov".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("mp4: offset %d: %s", e.Offset, e.Reason)
}

// Unwrap returns e.Err.
func (e *SyntaxError) Unwrap() error { return e.Err }

// CodecError is the error [Reader.Playable] returns for a track browsers
// cannot play in MP4, or for a stream with no audio or video track (Kind
// empty). It matches ErrUnsupportedCodec with errors.Is.
type CodecError struct {
	Codec string // the track's codec string when known (e.g. "mp4a.40.1"), else its sample entry's four-character code (e.g. "mp4v"); "" when the track has none
	Track uint32 // the track_ID
	Kind  string // "video" or "audio"; "" when the stream has no such track
}

// Error returns the error as "mp4: codec not supported: mp4v (video track
// 1)".
func (e *CodecError) Error() string {
	return ErrUnsupportedCodec.Error() + ": " + e.Detail()
}

// Detail describes the track at fault without the package prefix, e.g.
// "mp4v (video track 1)", "video track 1 has no sample entry" or "no audio
// or video track".
func (e *CodecError) Detail() string {
	switch {
	case e.Kind == "":
		return "no audio or video track"
	case e.Codec == "":
		return fmt.Sprintf("%s track %d has no sample entry", e.Kind, e.Track)
	}
	return fmt.Sprintf("%s (%s track %d)", e.Codec, e.Kind, e.Track)
}

// Is reports whether target is ErrUnsupportedCodec.
func (e *CodecError) Is(target error) bool { return target == ErrUnsupportedCodec }
