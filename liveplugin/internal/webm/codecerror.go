package webm

import "fmt"

// CodecError is the error [Reader.Playable] returns for a track that Media
// Source Extensions in Chromium cannot play, or for a stream with no audio
// or video track (Kind empty). It matches ErrUnsupportedCodec with
// errors.Is.
type CodecError struct {
	Codec string // the Matroska CodecID, e.g. "V_MPEG4/ISO/AVC"; "" when the track has none
	Track uint64 // the TrackNumber
	Kind  string // "video" or "audio"; "" when the stream has no such track
}

// Error returns the error as "webm: codec not supported: V_MPEG4/ISO/AVC
// (video track 1)".
func (e *CodecError) Error() string {
	return ErrUnsupportedCodec.Error() + ": " + e.Detail()
}

// Detail describes the track at fault without the package prefix, e.g.
// "V_MPEG4/ISO/AVC (video track 1)", "video track 1 has no codec id" or
// "no audio or video track".
func (e *CodecError) Detail() string {
	switch {
	case e.Kind == "":
		return "no audio or video track"
	case e.Codec == "":
		return fmt.Sprintf("%s track %d has no codec id", e.Kind, e.Track)
	}
	return fmt.Sprintf("%s (%s track %d)", e.Codec, e.Kind, e.Track)
}

// Is reports whether target is ErrUnsupportedCodec.
func (e *CodecError) Is(target error) bool { return target == ErrUnsupportedCodec }
