package liveplugin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"mime"
	"slices"
	"strings"

	"github.com/amlive/amlive/liveplugin/internal/media"
	"github.com/amlive/amlive/liveplugin/internal/mp4"
	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// Containers: an upload is WebM or fragmented MP4, each read by its own
// media.Reader. Nothing above this file knows which: the publisher, the
// hub and the handlers see an init segment, fragments and join points.

// container names a stream's container format, as Config.Containers and
// the status JSON spell it.
type container string

// The containers the plugin reads.
const (
	containerWebM container = "webm"
	containerMP4  container = "mp4"
)

// containers are every container the plugin reads: Config.Containers'
// default.
var containers = []container{containerWebM, containerMP4}

// label is the container's name in sentences: "WebM", "MP4".
func (c container) label() string {
	switch c {
	case containerWebM:
		return "WebM"
	case containerMP4:
		return "MP4"
	}
	return string(c)
}

// mimeContainers maps the media types a MediaRecorder (or a site) may
// claim in ?mime= to their containers.
var mimeContainers = map[string]container{
	"video/webm":       containerWebM,
	"audio/webm":       containerWebM,
	"video/x-matroska": containerWebM,
	"audio/x-matroska": containerWebM,
	"video/mp4":        containerMP4,
	"audio/mp4":        containerMP4,
}

// mediaType returns the lowercased media type of a MIME type, without its
// parameters: "video/mp4" for `video/mp4;codecs="avc1,opus"`.
func mediaType(mimeType string) string {
	t, _, _ := strings.Cut(mimeType, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// containerOfMIME returns the container a MIME type names, or "" when it
// names none of the plugin's (or is empty).
func containerOfMIME(mimeType string) container {
	return mimeContainers[mediaType(mimeType)]
}

// codecsOfMIME returns the codecs parameter of a MIME type as a list, e.g.
// ["avc1.42C01F", "opus"]; nil when it has none.
func codecsOfMIME(mimeType string) []string {
	_, params, err := mime.ParseMediaType(mimeType)
	if err != nil {
		return nil
	}
	var out []string
	for c := range strings.SplitSeq(params["codecs"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// describeMIME returns what the status JSON says of a stream with MIME
// type m: its container ("webm", "mp4"; "" when m names neither) and
// codecs.
func describeMIME(m string) (string, []string) {
	return string(containerOfMIME(m)), codecsOfMIME(m)
}

// ebmlMagic is the ID of the EBML header, the first four bytes of a WebM
// stream.
var ebmlMagic = []byte{0x1A, 0x45, 0xDF, 0xA3}

// sniffLen is how many bytes sniff needs at most to decide.
const sniffLen = 8

// sniff returns the container whose first bytes head holds: WebM when it
// starts with the EBML magic, MP4 when its first box is an ftyp. It
// returns "" with decided true when head is neither, and with decided
// false when head is too short to tell.
func sniff(head []byte) (c container, decided bool) {
	switch {
	case len(head) >= len(ebmlMagic) && bytes.Equal(head[:len(ebmlMagic)], ebmlMagic):
		return containerWebM, true
	case len(head) < sniffLen:
		return "", false
	case string(head[4:8]) == "ftyp":
		return containerMP4, true
	}
	return "", true
}

// containerMismatchError is an upload whose ?mime= claims one container
// and whose bytes are another's.
type containerMismatchError struct {
	claimed string    // the claimed media type, e.g. "video/mp4"
	found   container // what the bytes are
}

func (e *containerMismatchError) Error() string {
	return fmt.Sprintf("%v: the upload says %s but the stream is %s", errNotMedia, e.claimed, e.found.label())
}

func (e *containerMismatchError) Is(target error) bool { return target == errNotMedia }

// containerRefusedError is an upload in a container Config.Containers
// leaves out.
type containerRefusedError struct {
	found   container
	allowed []container
}

func (e *containerRefusedError) Error() string {
	return fmt.Sprintf("%v: this site accepts %s streams, not %s", errNotMedia, labels(e.allowed), e.found.label())
}

func (e *containerRefusedError) Is(target error) bool { return target == errNotMedia }

// labels returns "WebM", "WebM or MP4".
func labels(cs []container) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.label())
	}
	return strings.Join(s, " or ")
}

// pickContainer decides the container of an upload whose first bytes are
// head and whose ?mime= is claimed. It returns "" and no error while head
// is too short to tell. The bytes decide; a claim they contradict, bytes
// of neither container without a claim, and a container allowed leaves
// out are errors. Bytes of neither container with a claim go to the
// claimed container's reader, whose error says what is wrong.
func pickContainer(head []byte, claimed string, allowed []container) (container, error) {
	found, decided := sniff(head)
	if !decided {
		return "", nil
	}
	claim := containerOfMIME(claimed)
	switch {
	case found == "" && claim == "":
		return "", errNotMedia
	case found == "":
		found = claim
	case claim != "" && claim != found:
		return "", &containerMismatchError{claimed: mediaType(claimed), found: found}
	}
	if !slices.Contains(allowed, found) {
		return "", &containerRefusedError{found: found, allowed: allowed}
	}
	return found, nil
}

// newReader returns a reader of container c for a plugin with cfg. It
// reports every sample (a WebM block, an MP4 track run): IdleTimeout
// counts media, not messages.
func newReader(c container, cfg Config) media.Reader {
	if c == containerMP4 {
		return mp4.NewReader(mp4.Limits{MaxInitBytes: cfg.MaxInitBytes, MaxFragmentHeaderBytes: maxMoofBytes})
	}
	r := webm.NewReader(webm.Limits{MaxInitBytes: cfg.MaxInitBytes})
	r.Blocks = true
	return r
}

// faultOffset returns the stream offset of the element or box at fault in
// a reader's syntax error.
func faultOffset(err error) (int64, bool) {
	if se, ok := errors.AsType[*webm.SyntaxError](err); ok {
		return se.Offset, true
	}
	if se, ok := errors.AsType[*mp4.SyntaxError](err); ok {
		return se.Offset, true
	}
	return 0, false
}

// parseContainers checks Config.Containers and returns it as containers,
// every container when it is empty.
func parseContainers(names []string) ([]container, error) {
	if len(names) == 0 {
		return containers, nil
	}
	var out []container
	var errs []error
	for _, n := range names {
		c := container(strings.ToLower(strings.TrimSpace(n)))
		if !slices.Contains(containers, c) {
			errs = append(errs, fmt.Errorf("liveplugin: Containers: unknown container %q (want \"webm\" or \"mp4\")", n))
			continue
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}

// maxMoofBytes bounds an uploaded MP4's moof boxes (mp4's
// Limits.MaxFragmentHeaderBytes), which the reader holds whole and whose
// events come at once: a MediaRecorder's are a few KiB (16 bytes a video
// sample at most: 4096 samples, a minute of 60 fps video per fragment).
const maxMoofBytes = 64 << 10

// moofCuts follows the top-level boxes of an MP4 stream, so that media
// never ends a piece it feeds the reader inside a moof: the reader
// repairs a sample duration in the Feed call that brings its field (see
// mp4.Reader.Feed), which must hold the whole field, and a piece boundary
// inside a moof could cut one in two; also, a moof's events come in the
// piece that ends it, so pieces that hold whole moofs bound them. It
// holds no more than a box header.
type moofCuts struct {
	next    int64    // stream offset of the next top-level box
	hdr     [16]byte // the header bytes of that box read so far
	hn      int
	moofEnd int64 // end of the latest moof whose header was read
	lost    bool  // a header no reader accepts: the reader fails there
}

// cut returns where a piece of data, the stream's bytes from offset base,
// that would end at end should end: end, or the end of the moof it would
// split (within data). Calls follow the stream: data begins where the
// previous call's ended, end grows within data.
func (m *moofCuts) cut(data []byte, base int64, end int) int {
	abs := base + int64(end)
	m.scan(data, base, abs)
	if abs < m.moofEnd {
		return int(min(m.moofEnd-base, int64(len(data))))
	}
	return end
}

// scan reads, in data (the stream's bytes from offset base), the headers
// of the boxes that start before offset upTo.
func (m *moofCuts) scan(data []byte, base, upTo int64) {
	for !m.lost && m.next < upTo {
		i := m.next + int64(m.hn) - base // index in data of the header's next byte
		if i < 0 || i >= int64(len(data)) {
			return // the rest of the header comes later
		}
		need := 8
		for {
			if m.hn >= 8 && binary.BigEndian.Uint32(m.hdr[:4]) == 1 {
				need = 16 // a 64-bit size follows the type
			}
			if m.hn >= need {
				break
			}
			n := copy(m.hdr[m.hn:need], data[i:])
			m.hn += n
			i += int64(n)
			if m.hn < need {
				return
			}
		}
		size := uint64(binary.BigEndian.Uint32(m.hdr[:4]))
		if need == 16 {
			size = binary.BigEndian.Uint64(m.hdr[8:16])
		}
		if size < uint64(need) || size > math.MaxInt64-uint64(m.next) {
			m.lost = true // size 0 (to the end) or malformed: nothing follows
			return
		}
		if string(m.hdr[4:8]) == "moof" {
			m.moofEnd = m.next + int64(size)
		}
		m.next += int64(size)
		m.hn = 0
	}
}
