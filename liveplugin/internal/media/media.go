// Package media is the container-neutral seam between the plugin and the
// containers it reads: WebM (package webm) and fragmented MP4 (package mp4).
//
// Above this seam a live stream is an init segment, then media fragments
// (a WebM Cluster, an MP4 moof+mdat pair), some of which are join points:
// fragments whose first video sample is a keyframe (sync sample), where a
// viewer may start. The hub, the recorder and the handlers know only that;
// a [Reader] for each container finds it in the bytes a MediaRecorder
// uploads.
package media

import (
	"fmt"
	"time"
)

// Kind is the kind of an [Event].
type Kind uint8

// Event kinds.
const (
	// KindInit reports that the init segment is complete; Offset is its
	// length. Init, MIMEType and Playable are valid from this event on. It
	// comes once, when the first fragment's header has been read.
	KindInit Kind = iota + 1
	// KindFragment reports a fragment starting at Offset (the absolute
	// offset of its first byte: a WebM Cluster's ID, an MP4 moof's size
	// field), with its Timecode (the fragment's earliest decode time).
	KindFragment
	// KindSync reports that the fragment starting at Offset is a join
	// point: its first video sample is a keyframe. Timecode is the
	// fragment's. In a stream without a video track every fragment is a
	// join point.
	KindSync
	// KindSample reports media in the current fragment: a WebM block (one
	// event per block), or an MP4 track run (one event per run, Keyframe
	// set when its first sample is a sync sample). The webm reader reports
	// it only when asked (its Blocks field), the mp4 reader always.
	KindSample
)

// String returns "init", "fragment", "sync" or "sample".
func (k Kind) String() string {
	switch k {
	case KindInit:
		return "init"
	case KindFragment:
		return "fragment"
	case KindSync:
		return "sync"
	case KindSample:
		return "sample"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// TrackType says what a track carries.
type TrackType uint8

// Track types.
const (
	// Other is a track that is neither video nor audio (MP4 hint, text or
	// metadata; Matroska subtitles, buttons, ...).
	Other TrackType = iota
	// Video is a video track.
	Video
	// Audio is an audio track.
	Audio
)

// String returns "video", "audio" or "other".
func (t TrackType) String() string {
	switch t {
	case Video:
		return "video"
	case Audio:
		return "audio"
	default:
		return "other"
	}
}

// Event is something a [Reader] found in the stream.
type Event struct {
	Kind     Kind
	Offset   int64         // absolute offset in the stream; for KindInit, the init segment's length
	Timecode time.Duration // absolute presentation or decode time
	Track    uint64        // KindSample only
	Keyframe bool          // KindSample only
	Size     int64         // KindSample: size of what it reports in the stream (a block element, a run's sample data); 0 otherwise
}

// Reader reads a live stream incrementally. Every implementation keeps
// these promises:
//
//   - Feed takes arbitrary pieces of the stream (they may begin or end
//     anywhere, even inside a box or element header) and reports the same
//     events however the stream is split.
//   - Its memory is bounded by its limits, whatever the stream holds: it
//     never buffers media payloads and keeps nothing per fragment or
//     sample once it has reported it.
//   - Every size the stream declares is bounded before it is trusted.
//   - Errors are typed: Feed's match the container's ErrMalformed or
//     ErrLimit (or its not-this-container error) with errors.Is, and carry
//     the offset at fault; Playable's match ErrUnsupportedCodec.
//   - Lengths never change: what Feed, Settle and Patch rewrite they
//     rewrite in place, so every offset in the stream stays the same.
type Reader interface {
	// Feed reads p, the next bytes of the stream, appends what it found
	// to dst and returns it. Feed may rewrite bytes of p in place (never
	// bytes of earlier calls) to repair the stream, so the caller must
	// pass bytes it owns and pass them on only after Feed returns. After
	// an error every call returns it again.
	Feed(dst []Event, p []byte) ([]Event, error)
	// Offset returns the number of bytes consumed so far.
	Offset() int64
	// Init returns the init segment once KindInit came, nil before. The
	// reader owns the bytes.
	Init() []byte
	// Settle makes the init segment describe the stream as it is, once,
	// and reports whether it changed anything; see Patch.
	Settle() bool
	// Patch applies to p, the stream's bytes from offset off, the
	// rewrites Settle made to the init segment.
	Patch(off int64, p []byte)
	// MIMEType returns the stream's MIME type with the full codecs
	// parameter Media Source Extensions want, e.g.
	// `video/webm; codecs="vp8,opus"` or `video/mp4; codecs="avc1.42C01F,opus"`;
	// "" before KindInit.
	MIMEType() string
	// Playable returns nil when browsers' Media Source Extensions can play
	// the stream's tracks in its container, or an error matching the
	// container's ErrUnsupportedCodec naming the first track they cannot.
	Playable() error
}
