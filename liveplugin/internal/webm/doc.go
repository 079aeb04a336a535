// Package webm reads a live WebM stream incrementally, as a MediaRecorder
// uploads it, and reports what a live relay needs to know about it: where the
// init segment ends, where each Cluster starts and at which timecode, which
// Clusters are join points (their first video block is a keyframe) and,
// on request, every block.
//
// A [Reader] is fed arbitrary pieces of the stream with [Reader.Feed]; the
// pieces may begin or end anywhere, even inside an element ID, and the events
// are the same however the stream is split. The reader keeps a copy of the
// init segment (bounded by [Limits.MaxInitBytes]), its tracks (at most
// [Limits.MaxTracks]) and a few bytes of state; it never buffers media
// payloads and keeps nothing per Cluster or per block, so its memory stays
// constant however long the stream runs and however many Clusters it holds.
//
//	r := webm.NewReader(webm.Limits{})
//	var events []webm.Event
//	for chunk := range chunks {
//		var err error
//		if events, err = r.Feed(events[:0], chunk); err != nil {
//			return err // errors.Is(err, webm.ErrNotWebM), ErrMalformed or ErrLimit
//		}
//		for _, ev := range events {
//			switch ev.Kind {
//			case webm.KindInit: // r.Init(), r.MIMEType(), r.Playable()
//			case webm.KindSync: // ev.Offset is a keyframe Cluster
//			}
//		}
//	}
//
// A relay that hands the init segment on calls [Reader.Settle] first, so
// that it describes the stream as it is (Chromium declares alpha for camera
// video that has none, which WebKit cannot play), and [Reader.Patch] on its
// copies of the stream's first bytes. The rewrite keeps every length, so
// offsets stay those of the upload.
//
// The package knows nothing of HTTP or files: it sees bytes.
package webm
