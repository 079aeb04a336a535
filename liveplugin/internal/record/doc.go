// Package record stores live broadcasts on disk.
//
// A [Store] keeps one directory per room under its root; each broadcast is
// two files in that directory: the media bytes in <id>.webm, or <id>.mp4
// for a fragmented MP4 broadcast (MIME type video/mp4 or audio/mp4), and a
// JSON sidecar with its [Meta] in <id>.json. Sidecars are replaced atomically
// (temporary file, fsync, rename), so a reader sees either the old or the
// new version, never a torn one.
//
//	<dir>/<room>/<id>.webm   (or <id>.mp4)
//	<dir>/<room>/<id>.json
//	<dir>/<room>/<id>.jpg    (optional: its thumbnail, see [Store.WriteThumbnail])
//
// A publisher records with the [Writer] that [Store.Create] returns:
// [Writer.Write] appends and [Writer.Finish] ends the recording. A failing disk stops the recording but is
// never fatal to the caller's live stream. With [Options.SyncInterval] the
// bytes reach the disk as they arrive.
//
// A finished recording is made seekable by [Store.Seal], which rewrites it
// in place, atomically, as a muxer finishing the file would have written
// it (WebM: known sizes, Duration, Cues; MP4: durations, sidx, mfra).
// [Store.Recover] seals the recordings a crash left unfinished; [Store.BeginRecover] finds and reserves them
// quickly, so that the caller can seal them in the background with
// [Recovery.Run] while the Store serves the others. [Store.Prune] deletes
// the recordings a [Retention] does not keep and the stray files crashes
// leave behind, and counts every file of the Store towards
// [Retention.MaxBytes].
//
// Disk: a Seal writes a sealed copy next to the original before replacing
// it, so sealing a recording needs as much free space again as the
// recording for a while; peak use is the recordings plus one copy per
// recording being sealed at once. A sidecar that cannot be written is kept
// in memory, reported by List and Stat, and written by the next Seal,
// Prune or BeginRecover.
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
