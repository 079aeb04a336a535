package liveplugin

import (
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
)

// maxRanges is the most byte ranges one playback request may ask for.
// Browsers' media elements ask for one; a request for thousands of tiny
// ranges would get a multipart response many times their size, so more
// than this is refused with 416 (RFC 9110, section 14.2, lets a server
// reject "many small ranges").
const maxRanges = 8

// rangeCount returns the number of ranges in a Range header's value.
func rangeCount(h string) int {
	if h == "" {
		return 0
	}
	return strings.Count(h, ",") + 1
}

// fileETag returns a strong validator for the recording file of broadcast
// id whose open file has info fi, derived from that file itself: its size and
// modification time. A live recording's ETag changes as it grows, and the
// sealed file (written anew and renamed into place) never shares one with
// the live file it replaced, so a client that resumes with If-Range after
// the seal gets the whole new file rather than bytes of another layout.
func fileETag(id string, fi fs.FileInfo) string {
	return fmt.Sprintf(`"%s.%s.%s"`, id, strconv.FormatInt(fi.Size(), 36), strconv.FormatInt(fi.ModTime().UnixNano(), 36))
}

// refuseRanges answers 416 to a request for more than maxRanges ranges of
// a file of size bytes. It reports whether it did.
func refuseRanges(w http.ResponseWriter, r *http.Request, size int64) bool {
	if rangeCount(r.Header.Get("Range")) <= maxRanges {
		return false
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
	http.Error(w, fmt.Sprintf("too many ranges: at most %d", maxRanges), http.StatusRequestedRangeNotSatisfiable)
	return true
}
