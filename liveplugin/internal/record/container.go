package record

import (
	"encoding/binary"
	"errors"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/mp4"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// The media files' extensions, one per container.
const (
	webmExt = ".webm"
	mp4Ext  = ".mp4"
)

// mediaExts returns the extensions of the media files, WebM first.
func mediaExts() []string { return []string{webmExt, mp4Ext} }

// mediaExt returns the extension of the media file of a recording of MIME
// type mimeType: ".mp4" for video/mp4 and audio/mp4, ".webm" for any
// other, as for the recordings made before MP4 was recorded.
func mediaExt(mimeType string) string {
	t, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		t, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(mimeType)), ";")
	}
	switch strings.TrimSpace(t) {
	case "video/mp4", "audio/mp4":
		return mp4Ext
	}
	return webmExt
}

// mediaName returns the broadcast id whose media file name is, and whether
// it is one: a valid id, then ".webm" or ".mp4".
func mediaName(name string) (string, bool) {
	for _, ext := range mediaExts() {
		if id, ok := strings.CutSuffix(name, ext); ok && ValidName(id) {
			return id, true
		}
	}
	return "", false
}

// sealInfo is what sealing a media file found, whatever its container.
type sealInfo struct {
	Size      int64
	Duration  time.Duration
	Last      time.Duration // the latest block (WebM) or sample (MP4) time
	Keyframes int           // the Clusters or fragments a player may start from
	Index     int           // the seek points written: CuePoints or sidx references
	Partial   bool          // the file ended inside an element or box
	Fault     error         // garbage stopped the reading early
}

// sealMedia seals the media file src, size bytes long, found at path,
// into dst, with webm.Seal or mp4.Seal: the container its first bytes
// name (an EBML header, or an ftyp box), else the one its extension
// names.
func sealMedia(dst io.Writer, src io.ReaderAt, size int64, path string) (sealInfo, error) {
	var head [8]byte
	n, err := src.ReadAt(head[:min(int64(len(head)), size)], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return sealInfo{}, err
	}
	isMP4 := strings.HasSuffix(path, mp4Ext)
	switch {
	case n >= 8 && string(head[4:8]) == "ftyp":
		isMP4 = true
	case n >= 4 && binary.BigEndian.Uint32(head[:]) == 0x1A45DFA3: // EBML
		isMP4 = false
	}
	if isMP4 {
		info, err := mp4.Seal(dst, src, size)
		return sealInfo{Size: info.Size, Duration: info.Duration, Last: info.LastSample, Keyframes: info.Keyframes,
			Index: info.Index, Partial: info.Partial, Fault: info.Fault}, err
	}
	info, err := webm.Seal(dst, src, size)
	return sealInfo{Size: info.Size, Duration: info.Duration, Last: info.LastBlock, Keyframes: info.Keyframes,
		Index: info.Cues, Partial: info.Partial, Fault: info.Fault}, err
}

// unsealable reports whether err says a media file cannot be sealed: it
// holds no complete header and first Cluster or fragment, or exceeds a
// bound of the sealer.
func unsealable(err error) bool {
	for _, e := range []error{webm.ErrNotWebM, webm.ErrMalformed, webm.ErrLimit, mp4.ErrNotMP4, mp4.ErrMalformed, mp4.ErrLimit} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
