package liveplugin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/record"
)

// Thumbnails: the broadcaster's page sends a JPEG still of its preview now
// and then ({"type":"thumbnail","data":"<base64>"} on the upload socket);
// the server checks it, decodes it, encodes it anew and stores it beside
// the recording (record.Store.WriteThumbnail), where GET
// /:id/thumbnail.jpg serves the live broadcast's latest and, with
// ?b=<broadcast>, a recording's. A thumbnail the server refuses gets an
// error event; the broadcast goes on.

// The defaults of the thumbnail Config fields.
const (
	defaultMaxThumbnailBytes = 256 << 10
	defaultThumbnailInterval = 5 * time.Second
)

// The bounds of a thumbnail's image, checked from its header before it is
// decoded, so that a small file claiming a huge image costs nothing.
const (
	maxThumbnailSide = 1920
	minThumbnailSide = 16
	// maxThumbnailScans bounds the scans of a (progressive) JPEG: each one
	// makes the decoder go over the whole image again, so a small file of
	// thousands of scans would cost seconds of CPU. Browsers' canvas
	// encoders write one (baseline) and progressive encoders about ten.
	maxThumbnailScans = 16
	// thumbnailQuality is the JPEG quality of the thumbnails the server
	// encodes.
	thumbnailQuality = 80
)

// The thumbnail routes' Cache-Control: a live broadcast's thumbnail
// changes every few seconds; a recording's never does, but a recording
// may be deleted (moderation), so a browser keeps it an hour at most.
const (
	liveThumbnailCache      = "no-cache"
	recordingThumbnailCache = "private, max-age=3600"
)

// thumbnailEvent is the publisher's thumbnail: a JPEG, base64-encoded
// (standard alphabet, padded), of at most Config.MaxThumbnailBytes.
type thumbnailEvent struct {
	Type string `json:"type"` // "thumbnail"
	Data string `json:"data"`
}

// thumbnailError is a thumbnail the server refused; its text is the
// sentence the publisher's page shows.
type thumbnailError struct{ msg string }

func (e *thumbnailError) Error() string { return e.msg }

func thumbnailErrorf(format string, a ...any) error {
	return &thumbnailError{msg: fmt.Sprintf(format, a...)}
}

// maxThumbnailMessage returns the most bytes of the JSON text message that
// carries a thumbnail of max bytes: the base64 of max, and the rest.
func maxThumbnailMessage(max int) int64 {
	return int64(base64.StdEncoding.EncodedLen(max)) + 64
}

// maxThumbnailFitting returns the largest thumbnail a message of at most
// maxMessage bytes carries (see maxThumbnailMessage).
func maxThumbnailFitting(maxMessage int64) int {
	return int(min(max(maxMessage-64, 0)/4*3, 1<<30))
}

// decodeThumbnail checks the base64 data of a thumbnail and returns the
// JPEG the server made of it: a JPEG of at most max bytes, of 16×16 to
// 1920×1920 pixels and at most maxThumbnailScans scans, decoded in full
// and encoded anew (quality thumbnailQuality), so that the bytes served
// are the server's own: no metadata (EXIF, comments), nothing after the
// image, nothing a browser could take for another type. It refuses any
// other input with a *thumbnailError.
func decodeThumbnail(data string, max int) ([]byte, error) {
	if len(data) > base64.StdEncoding.EncodedLen(max) {
		return nil, thumbnailErrorf("Thumbnail refused: it is larger than %s.", formatLimit(max))
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, thumbnailErrorf("Thumbnail refused: its data is not valid base64.")
	}
	if len(raw) > max {
		return nil, thumbnailErrorf("Thumbnail refused: it is larger than %s.", formatLimit(max))
	}
	return reencodeThumbnail(raw)
}

// reencodeThumbnail is decodeThumbnail past the base64 and the size.
func reencodeThumbnail(raw []byte) ([]byte, error) {
	if len(raw) < 3 || raw[0] != 0xff || raw[1] != 0xd8 || raw[2] != 0xff {
		return nil, thumbnailErrorf("Thumbnail refused: it is not a JPEG image.")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, thumbnailErrorf("Thumbnail refused: it is not a valid JPEG image.")
	}
	if cfg.Width > maxThumbnailSide || cfg.Height > maxThumbnailSide {
		return nil, thumbnailErrorf("Thumbnail refused: %d×%d pixels is larger than %d×%d.", cfg.Width, cfg.Height, maxThumbnailSide, maxThumbnailSide)
	}
	if cfg.Width < minThumbnailSide || cfg.Height < minThumbnailSide {
		return nil, thumbnailErrorf("Thumbnail refused: %d×%d pixels is smaller than %d×%d.", cfg.Width, cfg.Height, minThumbnailSide, minThumbnailSide)
	}
	if n, err := jpegScans(raw); err != nil {
		return nil, thumbnailErrorf("Thumbnail refused: it is not a valid JPEG image.")
	} else if n > maxThumbnailScans {
		return nil, thumbnailErrorf("Thumbnail refused: its %d scans are more than %d.", n, maxThumbnailScans)
	}
	img, err := jpeg.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, thumbnailErrorf("Thumbnail refused: it is not a valid JPEG image.")
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: thumbnailQuality}); err != nil {
		return nil, fmt.Errorf("liveplugin: encode thumbnail: %w", err)
	}
	return out.Bytes(), nil
}

// errJPEGSyntax is a JPEG whose marker segments jpegScans cannot follow.
var errJPEGSyntax = errors.New("liveplugin: malformed JPEG")

// jpegScans counts the scans (SOS segments) of the JPEG b, up to its EOI
// or its end, following the marker segments and skipping each scan's
// entropy-coded data. It costs one pass over b and allocates nothing.
func jpegScans(b []byte) (int, error) {
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xd8 {
		return 0, errJPEGSyntax
	}
	scans := 0
	i := 2
	for i < len(b) {
		if b[i] != 0xff {
			return scans, errJPEGSyntax
		}
		for i < len(b) && b[i] == 0xff { // fill bytes
			i++
		}
		if i >= len(b) {
			break
		}
		m := b[i]
		i++
		switch {
		case m == 0xd9: // EOI
			return scans, nil
		case m == 0x01 || (m >= 0xd0 && m <= 0xd7): // TEM, RSTn: no length
			continue
		case m == 0x00 || m == 0xd8:
			return scans, errJPEGSyntax
		}
		if i+2 > len(b) {
			break
		}
		n := int(b[i])<<8 | int(b[i+1])
		if n < 2 || i+n > len(b) {
			return scans, errJPEGSyntax
		}
		i += n
		if m != 0xda { // SOS
			continue
		}
		scans++
		if scans > maxThumbnailScans {
			return scans, nil
		}
		// The entropy-coded data runs to the next marker that is not a
		// stuffed 0xFF00 or a restart marker.
		for i < len(b) {
			if b[i] != 0xff || i+1 == len(b) {
				i++
				continue
			}
			switch next := b[i+1]; {
			case next == 0x00 || (next >= 0xd0 && next <= 0xd7):
				i += 2 // a stuffed 0xFF, a restart marker
				continue
			case next == 0xff:
				i++ // a fill byte before a marker
				continue
			}
			break // the next marker starts at i
		}
	}
	return scans, nil // cut short: the decoder says whether that is an image
}

// formatLimit formats a size limit in bytes, KiB or MiB, as the error
// sentences say it.
func formatLimit(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// thumbnail handles a publisher's thumbnail message: it never ends the
// broadcast. It takes one every ThumbnailInterval at most, and only once
// the broadcast is live; a refused one gets an error event. The checks
// that cost nothing run here, on the read loop; the decode, re-encode and
// write (up to about 100 ms for a large still) run on the connection's
// thumbnail worker (see thumbnails), so that the media behind the message
// is not held up.
func (pub *publisher) thumbnail(conn *websocket.Conn, data []byte) error {
	pub.carried = false // not media: no activity for IdleTimeout
	if err := pub.admitThumbnail(); err != nil {
		pub.thumbnailDone(conn, err)
		return nil
	}
	// The worker takes thumbnails in order, one at a time: this waits only
	// while it is still on the last one, which a ThumbnailInterval of
	// seconds makes rare.
	pub.thumbc <- data
	return nil
}

// admitThumbnail decides on the read loop whether a thumbnail is taken in.
func (pub *publisher) admitThumbnail() error {
	if !pub.live {
		return thumbnailErrorf("Thumbnail ignored: send it once your stream has started.")
	}
	now := time.Now()
	if every := pub.p.cfg.ThumbnailInterval; !pub.thumbAt.IsZero() && now.Sub(pub.thumbAt) < every {
		return thumbnailErrorf("Thumbnail ignored: the server takes one every %v at most.", every)
	}
	pub.thumbAt = now // every attempt counts, refused or not: each costs a decode
	return nil
}

// thumbnails is a connection's thumbnail worker: it stores the thumbnails
// thumbnail admitted until done is closed, and then the one it may still
// have been handed.
func (pub *publisher) thumbnails(conn *websocket.Conn, in <-chan []byte, done <-chan struct{}) {
	for {
		select {
		case data := <-in:
			pub.thumbnailDone(conn, pub.storeThumbnail(data))
		case <-done:
			select {
			case data := <-in:
				pub.thumbnailDone(conn, pub.storeThumbnail(data))
			default:
			}
			return
		}
	}
}

// thumbnailDone announces a stored thumbnail, or tells the publisher on
// conn why it was refused.
func (pub *publisher) thumbnailDone(conn *websocket.Conn, err error) {
	p := pub.p
	if err == nil {
		p.feed.kick()
		return
	}
	var te *thumbnailError
	if errors.As(err, &te) {
		pub.log.Debug("thumbnail refused", "reason", te.msg)
	} else {
		pub.log.Warn("thumbnail not saved", "err", err)
		te = &thumbnailError{"Thumbnail not saved on the server; your broadcast goes on."}
	}
	_ = send(p.pubCtx, conn, p.cfg.WriteTimeout, newError(te.msg))
}

// storeThumbnail decodes, re-encodes and stores an admitted thumbnail
// message.
func (pub *publisher) storeThumbnail(data []byte) error {
	p := pub.p
	var e thumbnailEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return thumbnailErrorf("Thumbnail refused: the message is not valid JSON.")
	}
	img, err := decodeThumbnail(e.Data, p.cfg.MaxThumbnailBytes)
	if err != nil {
		return err
	}
	return p.store.WriteThumbnail(pub.b.Room(), pub.b.ID(), img)
}

// thumbnailVersion returns what changes whenever the thumbnail of
// broadcast id in room does, for the cache-busting ?v= of its URLs, or ""
// when there is none.
func (p *Plugin) thumbnailVersion(room, id string) string {
	fi, err := p.store.StatThumbnail(room, id)
	if err != nil {
		return ""
	}
	return thumbnailTag(fi)
}

func thumbnailTag(fi fs.FileInfo) string {
	return strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "." + strconv.FormatInt(fi.Size(), 36)
}

// liveThumbnailURL returns the URL of the thumbnail of room's live
// broadcast id, versioned, or "" when it has none.
func (p *Plugin) liveThumbnailURL(room, id string) string {
	v := p.thumbnailVersion(room, id)
	if v == "" {
		return ""
	}
	return p.base + "/" + room + "/thumbnail.jpg?v=" + v
}

// recordingThumbnailURL returns the URL of the thumbnail of recording id
// of room, versioned, or "" when it has none.
func (p *Plugin) recordingThumbnailURL(room, id string) string {
	v := p.thumbnailVersion(room, id)
	if v == "" {
		return ""
	}
	return p.base + "/" + room + "/thumbnail.jpg?b=" + id + "&v=" + v
}

// posterURL returns the thumbnail a player of room shows before it plays:
// the live broadcast's, else the latest recording's; "" when there is none.
func (p *Plugin) posterURL(room string) string {
	if in, ok := p.rooms.Lookup(room); ok {
		return p.liveThumbnailURL(room, in.ID)
	}
	m, err := p.store.Latest(room)
	if err != nil {
		return ""
	}
	return p.recordingThumbnailURL(room, m.Broadcast)
}

// serveThumbnail serves GET /:id/thumbnail.jpg: the latest thumbnail of
// the room's live broadcast, or with ?b= a recording's, with ETag and
// Range support. ?v= is the cache-busting version; any value serves the
// current image.
func (p *Plugin) serveThumbnail(c echo.Context) error {
	room, err := p.room(c, View)
	if err != nil {
		return toHTTPError(err)
	}
	id := c.QueryParam("b")
	in, live := p.rooms.Lookup(room)
	switch {
	case id == "" && !live:
		return toHTTPError(ErrNotLive)
	case id == "":
		id = in.ID
	case !record.ValidName(id):
		return echo.NewHTTPError(http.StatusBadRequest, "invalid broadcast id")
	default:
		live = live && in.ID == id
	}
	f, err := p.store.OpenThumbnail(room, id)
	if err != nil {
		if errors.Is(err, record.ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "no thumbnail").SetInternal(err)
		}
		return toHTTPError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return toHTTPError(err)
	}
	h := c.Response().Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", recordingThumbnailCache)
	if live {
		h.Set("Cache-Control", liveThumbnailCache)
	}
	h.Set("ETag", `"`+id+".jpg."+thumbnailTag(fi)+`"`)
	if refuseRanges(c.Response(), c.Request(), fi.Size()) {
		return nil
	}
	http.ServeContent(c.Response(), c.Request(), id+".jpg", fi.ModTime(), f)
	return nil
}
