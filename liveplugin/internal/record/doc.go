// Package record stores live broadcasts on disk.
//
// A [Store] keeps one directory per room under its root; each broadcast is
// two files in that directory: the media bytes in <id>.webm and a JSON
// sidecar with its [Meta] in <id>.json. Sidecars are replaced atomically
// (temporary file, fsync, rename), so a reader sees either the old or the
// new version, never a torn one.
//
//	<dir>/<room>/<id>.webm
//	<dir>/<room>/<id>.json
//
// A publisher records with the [Writer] that [Store.Create] returns:
// [Writer.Write] appends, [Writer.Finish] ends the recording and
// [Writer.Abort] throws it away. A failing disk stops the recording but is
// never fatal to the caller's live stream. With [Options.SyncInterval] the
// bytes reach the disk as they arrive.
//
// A finished recording is made seekable by [Store.Seal], which rewrites it
// in place, atomically, as a muxer finishing the file would have written
// it (known sizes, Duration, Cues). [Store.Recover] seals the recordings a
// crash left unfinished, and [Store.Prune] deletes the ones a [Retention]
// does not keep.
//
// The package knows nothing of HTTP or of rooms' live state: it sees bytes,
// files and time. It starts no goroutines.
//
//	s, err := record.Open("recordings")
//	if err != nil { ... }
//	w, err := s.Create("alice", "20260201T120000Z", "video/webm", time.Now())
//	if err != nil { ... }
//	// for each chunk: w.Write(chunk); a write error stops the recording only
//	m, err := w.Finish(time.Now(), duration)
//	m, err = s.Seal(m.Room, m.Broadcast)
package record
