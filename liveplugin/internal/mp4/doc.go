// Package mp4 reads a live fragmented MP4 (ISO BMFF) stream incrementally,
// as a MediaRecorder uploads it, and seals a finished one into a file that
// seeks in every browser. It is the second container behind the
// [media.Reader] seam, beside package webm, with the same guarantees.
//
// The stream is an init segment (ftyp, then moov with one trak per track
// and mvex), then fragments: a moof (mfhd, one traf per track with tfhd,
// tfdt and trun) followed by its mdat. A fragment is a join point when the
// first sample of its video track is a sync sample.
//
// A [Reader] is fed arbitrary pieces of the stream with [Reader.Feed]; the
// pieces may begin or end anywhere, even inside a box header, and the
// events are the same however the stream is split. The reader keeps a copy
// of the init segment (bounded by [Limits.MaxInitBytes]), its tracks (at
// most [Limits.MaxTracks]) and the moof being read (at most
// [Limits.MaxFragmentHeaderBytes], in a buffer it reuses); it never buffers
// an mdat, only counts its bytes, and keeps nothing per fragment once it
// has reported it, so its memory stays constant however long the stream
// runs.
//
//	r := mp4.NewReader(mp4.Limits{})
//	var events []mp4.Event
//	for chunk := range chunks {
//		var err error
//		if events, err = r.Feed(events[:0], chunk); err != nil {
//			return err // errors.Is(err, mp4.ErrNotMP4), ErrMalformed or ErrLimit
//		}
//		for _, ev := range events {
//			switch ev.Kind {
//			case mp4.KindInit: // r.Init(), r.MIMEType(), r.Playable()
//			case mp4.KindSync: // ev.Offset is a moof that starts with a video sync sample
//			}
//		}
//	}
//
// # Repairs
//
// Chromium's MP4 recorder writes, at the end of every fragment, an Opus
// sample whose duration is too short (1008 ticks at 48 kHz for a 60 ms
// packet of 2880): each fragment's audio then ends 39 ms before the next
// one's tfdt. Media Source reads a gap of more than twice the last frame's
// duration as a discontinuity, and when the next fragment's video keyframe
// comes before its first sound, drops the fragment's other video frames:
// the picture freezes for a fragment while the sound plays on. Feed
// repairs it in place, in the bytes it is given, keeping every length: in
// a trun of an audio track that declares per-sample durations, the last
// duration becomes, for Opus, the one its packet's TOC byte gives (RFC
// 6716) when that byte is in the same Feed call, and otherwise the one
// most of the run's other samples have (else the one just before it); it
// only ever grows. Chromium stamps packets by their capture time, so on a
// busy machine a run's durations differ: the repair does not ask them to
// be equal. Feed decides as soon as the field's four
// bytes have arrived, before the moof is complete; a field that a call
// boundary cuts in two cannot be rewritten (its first bytes belong to an
// earlier call) and is left as it is. [Reader.MissedRepairs] counts those,
// [Reader.Repairs] the fields rewritten.
//
// The package is small and written by hand: the well-kept Go MP4 libraries
// (mp4ff, go-mp4) could not be used as dependencies. Its reader knows
// nothing of HTTP or files: it sees bytes.
package mp4
