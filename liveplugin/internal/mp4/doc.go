// Package mp4 reads a live fragmented MP4 (ISO BMFF) stream incrementally,
// as a MediaRecorder uploads it, and seals a finished one into a file that
// seeks in every browser. It is the second container behind the
// [media.Reader] seam, beside package webm, with the same guarantees.
//
// The stream is an init segment (ftyp, then moov with one trak per track
// and mvex), then fragments: a moof (mfhd, one traf per track with tfhd,
// tfdt and trun) followed by its mdat. A fragment is a join point when the
// first sample of its video track is a sync sample.
package mp4
