package webm

import (
	"errors"
	"fmt"
)

// Errors reported by the package. Feed returns them wrapped in a
// [*SyntaxError]; test with errors.Is.
var (
	// ErrNotWebM means the stream does not start with an EBML header, its
	// DocType is neither "webm" nor "matroska", or no Segment follows.
	ErrNotWebM = errors.New("webm: not a WebM stream")
	// ErrMalformed means the stream breaks the EBML or WebM structure: a bad
	// variable-size integer, an element larger than its parent, a Cluster
	// before Tracks, a block for an unknown track, and so on.
	ErrMalformed = errors.New("webm: malformed stream")
	// ErrLimit means the stream exceeded Limits.MaxInitBytes,
	// Limits.MaxElementBytes or Limits.MaxTracks.
	ErrLimit = errors.New("webm: limit exceeded")
	// ErrUnsupportedCodec is wrapped by [Reader.Playable] when Media Source
	// Extensions in Chromium cannot play a track of the stream in WebM.
	ErrUnsupportedCodec = errors.New("webm: codec not supported")
)

// SyntaxError is the error returned by [Reader.Feed]. It says where the
// stream went wrong and why; Err is one of ErrNotWebM, ErrMalformed or
// ErrLimit, so errors.Is works through [SyntaxError.Unwrap].
type SyntaxError struct {
	Offset int64  // absolute offset of the element (or byte) at fault
	Reason string // lowercase description, e.g. "cluster before tracks"
	Err    error  // ErrNotWebM, ErrMalformed or ErrLimit
}

// Error returns the error as "webm: offset 1234: cluster before tracks".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("webm: offset %d: %s", e.Offset, e.Reason)
}

// Unwrap returns e.Err.
func (e *SyntaxError) Unwrap() error { return e.Err }
