package mp4

import "time"

// SealInfo describes the file [Seal] wrote.
type SealInfo struct {
	// Size is the number of bytes written.
	Size int64
	// Duration is the duration written in the moov (mvhd, and mehd): the
	// latest end of any track's last sample.
	Duration time.Duration
	// LastSample is the latest sample decode time of any track.
	LastSample time.Duration
	// Fragments is the number of moof+mdat fragments written.
	Fragments int
	// Keyframes is the number of fragments whose first video sample is a
	// sync sample (in a stream without video, every fragment): the
	// fragments a player may start from.
	Keyframes int
	// Index is the number of references in the index (sidx) written.
	Index int
	// Samples is the number of samples written, all tracks.
	Samples int
	// Partial reports that src ended inside a box (a crash while it was
	// written): what followed the last complete fragment was left out.
	Partial bool
	// Fault is the error, a [*SyntaxError], that stopped the reading of src
	// early when it holds a malformed box after its first fragment (a
	// crash may leave garbage at the end of a file). Everything from that
	// box on was left out. It is nil when src parsed to its end.
	Fault error
}
