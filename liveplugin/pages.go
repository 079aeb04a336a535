package liveplugin

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/record"
	"github.com/amlive/amlive/liveplugin/internal/views"
)

// room validates the :id of the request and checks that the plugin is
// open and that a may be done there.
func (p *Plugin) room(c echo.Context, a Action) (string, error) {
	if p.isClosing() {
		return "", ErrClosed
	}
	room := c.Param("id")
	if err := ValidRoom(room); err != nil {
		return "", err
	}
	if err := p.cfg.Authorize(c, room, a); err != nil {
		return "", authError(err)
	}
	return room, nil
}

// authError keeps an app's *echo.HTTPError and ErrSignInRequired as they
// are and turns any other refusal into ErrForbidden.
func authError(err error) error {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		if he.Code == http.StatusUnauthorized {
			return errors.Join(ErrSignInRequired, err)
		}
		return errors.Join(ErrForbidden, err)
	case errors.Is(err, ErrSignInRequired), errors.Is(err, ErrForbidden):
		return err
	}
	return errors.Join(ErrForbidden, err)
}

// setPageHeaders sets the security headers of the plugin's HTML pages:
// policy is their Content-Security-Policy. Pages other than the embed page
// may not be framed by other sites.
func setPageHeaders(h http.Header, framable bool, policy string) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", policy)
	if !framable {
		h.Set("X-Frame-Options", "SAMEORIGIN")
	}
	h.Set("Cache-Control", "no-store")
}

func (p *Plugin) render(c echo.Context, page string, data views.Page, framable bool) error {
	data.Nonce = newNonce()
	if f := p.cfg.ViewData; f != nil {
		data.App = f(c)
	}
	var buf bytes.Buffer
	if err := p.views.Render(&buf, page, data); err != nil {
		return echo.NewHTTPError(http.StatusInternalServerError, "internal error").SetInternal(err)
	}
	setPageHeaders(c.Response().Header(), framable, contentSecurityPolicy(data.Nonce, c.Request().Host, framable))
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

// page builds the data of room's pages.
func (p *Plugin) page(c echo.Context, room, title string) (views.Page, error) {
	d := views.Page{
		Title:    title,
		Base:     p.base,
		Room:     room,
		Assets:   p.assetURLs(),
		Capture:  p.captureView(),
		EmbedURL: c.Scheme() + "://" + c.Request().Host + p.EmbedURL(room),
	}
	if in, ok := p.rooms.Lookup(room); ok {
		d.Live, d.Latency = true, in.Latency
		if in.Title != "" && title == room {
			d.Title = in.Title + " · " + room // the watch and embed pages
		}
		d.Status = views.Status{Live: true, Broadcast: in.ID, MIMEType: in.MIMEType, StartedAt: in.Started, Viewers: in.Viewers,
			Title: in.Title, Description: in.Description}
		d.Poster = p.liveThumbnailURL(room, in.ID)
	}
	recs, err := p.Recordings(room)
	if err != nil {
		return d, err
	}
	for _, r := range recs {
		d.Recordings = append(d.Recordings, views.Recording{
			ID: r.ID, Start: r.Start, End: r.End, Duration: r.Duration, Bytes: r.Bytes, URL: r.URL, Live: r.Live,
			Thumbnail: r.Thumbnail,
			Title:     r.Title,
		})
		if !d.Live && d.Poster == "" && !r.Live {
			d.Poster = r.Thumbnail // the recording the player plays
		}
	}
	d.CanPublish = p.cfg.Authorize(c, room, Publish) == nil
	return d, nil
}

func (p *Plugin) watchPage(c echo.Context) error {
	return p.roomPage(c, View, views.PageWatch, "", false)
}

func (p *Plugin) embedPage(c echo.Context) error {
	return p.roomPage(c, View, views.PageEmbed, "", true)
}

func (p *Plugin) broadcastPage(c echo.Context) error {
	return p.roomPage(c, Publish, views.PageBroadcast, "Go live: ", false)
}

func (p *Plugin) roomPage(c echo.Context, a Action, page, prefix string, framable bool) error {
	room, err := p.room(c, a)
	if errors.Is(err, ErrSignInRequired) && p.cfg.SignInURL != "" {
		return c.Redirect(http.StatusSeeOther, p.cfg.SignInURL+"?next="+url.QueryEscape(c.Request().URL.RequestURI()))
	}
	if err != nil {
		return toHTTPError(err)
	}
	d, err := p.page(c, room, prefix+room)
	if err != nil {
		return toHTTPError(err)
	}
	return p.render(c, page, d, framable)
}

func (p *Plugin) roomsPage(c echo.Context) error {
	if p.isClosing() {
		return toHTTPError(ErrClosed)
	}
	d := views.Page{Title: "Live now", Base: p.base, Assets: p.assetURLs()}
	for _, b := range p.visibleLive(c) {
		d.Rooms = append(d.Rooms, views.RoomSummary{Room: b.Room, URL: b.URL, Viewers: b.Viewers, StartedAt: b.Started, Thumbnail: b.Thumbnail, Title: b.Title})
	}
	return p.render(c, views.PageRooms, d, false)
}

func (p *Plugin) roomsJSON(c echo.Context) error {
	if p.isClosing() {
		return toHTTPError(ErrClosed)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, p.visibleLive(c))
}

// visibleLive returns the live broadcasts the request may view.
func (p *Plugin) visibleLive(c echo.Context) []BroadcastInfo {
	live := p.Live()
	out := live[:0]
	for _, b := range live {
		if p.cfg.Authorize(c, b.Room, View) == nil {
			out = append(out, b)
		}
	}
	return out
}

// statusJSON is the body of GET /:id/status.
type statusJSON struct {
	Room      string    `json:"room"`
	Live      bool      `json:"live"`
	Broadcast string    `json:"broadcast,omitempty"`
	MIMEType  string    `json:"mimeType,omitempty"`
	Container string    `json:"container,omitempty"` // see BroadcastInfo.Container
	Codecs    []string  `json:"codecs,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	Viewers   int       `json:"viewers"`
	Audience  *Audience `json:"audience,omitempty"` // see BroadcastInfo.Audience
	// Title and Description are the live broadcast's (see Description).
	Title       string      `json:"title,omitempty"`
	Description string      `json:"description,omitempty"`
	Thumbnail   string      `json:"thumbnail,omitempty"` // see BroadcastInfo.Thumbnail
	Latency     string      `json:"latency,omitempty"`   // see BroadcastInfo.Latency
	Recordings  []Recording `json:"recordings"`
}

func (p *Plugin) status(c echo.Context) error {
	room, err := p.room(c, View)
	if err != nil {
		return toHTTPError(err)
	}
	s := statusJSON{Room: room}
	if in, ok := p.rooms.Lookup(room); ok {
		s.Live, s.Broadcast, s.MIMEType, s.StartedAt, s.Viewers = true, in.ID, in.MIMEType, in.Started, in.Viewers
		s.Container, s.Codecs = describeMIME(in.MIMEType)
		s.Audience = p.reports.summary(room)
		s.Thumbnail = p.liveThumbnailURL(room, in.ID)
		s.Title, s.Description, s.Latency = in.Title, in.Description, in.Latency
	}
	if s.Recordings, err = p.Recordings(room); err != nil {
		return toHTTPError(err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, s)
}

func (p *Plugin) recordings(c echo.Context) error {
	room, err := p.room(c, View)
	if err != nil {
		return toHTTPError(err)
	}
	recs, err := p.Recordings(room)
	if err != nil {
		return toHTTPError(err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, recs)
}

func (p *Plugin) deleteRecording(c echo.Context) error {
	room, err := p.room(c, Manage)
	if err != nil {
		return toHTTPError(err)
	}
	id := c.Param("b")
	if err := p.store.Delete(room, id); err != nil {
		return toHTTPError(err)
	}
	p.log.Info("recording deleted", "room", room, "broadcast", id)
	return c.NoContent(http.StatusNoContent)
}

// meta serves the init segment of the live broadcast, typed with its codecs.
func (p *Plugin) meta(c echo.Context) error {
	room, err := p.room(c, View)
	if err != nil {
		return toHTTPError(err)
	}
	mime, init, err := p.rooms.Init(c.Request().Context(), room)
	if err != nil {
		return toHTTPError(err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, mime, init)
}

// playback serves a recording, the latest by default, with Range support.
// A recording still being written is served as far as it is on disk.
func (p *Plugin) playback(c echo.Context) error {
	room, err := p.room(c, View)
	if err != nil {
		return toHTTPError(err)
	}
	id := c.QueryParam("b")
	if id == "" {
		m, err := p.store.Latest(room)
		if err != nil {
			return toHTTPError(err)
		}
		id = m.Broadcast
	} else if !record.ValidName(id) {
		return echo.NewHTTPError(http.StatusBadRequest, "invalid broadcast id")
	}
	f, m, err := p.store.OpenFile(room, id)
	if err != nil {
		if errors.Is(err, record.ErrRecovering) {
			c.Response().Header().Set("Retry-After", "5")
		}
		return toHTTPError(err)
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set("Content-Type", strings.TrimSpace(m.MIMEType))
	h.Set("X-Content-Type-Options", "nosniff")
	if m.Live() {
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Cache-Control", "private, max-age=60")
	}
	fi, err := f.Stat()
	if err != nil {
		return toHTTPError(err)
	}
	h.Set("ETag", fileETag(id, fi))
	if refuseRanges(c.Response(), c.Request(), fi.Size()) {
		return nil
	}
	modtime := m.End
	if m.Live() {
		modtime = time.Time{} // growing: no Last-Modified, no 304
	}
	http.ServeContent(c.Response(), c.Request(), id+m.Ext(), modtime, f)
	return nil
}
