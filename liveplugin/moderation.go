package liveplugin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// MaxEndReason bounds, in bytes, the reason Plugin.End and POST /:id/end
// take: a longer one is cut at a character boundary (End) or refused with
// 400 (the route).
const MaxEndReason = 100

// End stops room's live broadcast for reason, a sentence for its viewers
// and its broadcaster (control characters are replaced, and it is cut to
// MaxEndReason bytes). The recording is kept and sealed, viewers receive
// the end event with the reason, and the publisher's socket closes with
// StatusEndedBySite, after which its resume token is refused. In a
// Cluster it reaches the node that holds the publisher. It returns once
// the publisher was told, before the broadcast has finished ending (watch
// Events.Ended for that), and ErrNotLive when the room is not live (or
// ErrInvalidRoom).
func (p *Plugin) End(ctx context.Context, room, reason string) error {
	if err := ValidRoom(room); err != nil {
		return err
	}
	if p.isClosing() {
		return ErrClosed
	}
	return translate(p.rooms.Stop(ctx, room, cleanReason(reason)))
}

// cleanReason makes reason fit for an end event and a close reason.
func cleanReason(reason string) string {
	reason = truncate(strings.TrimSpace(reason))
	if len(reason) <= MaxEndReason {
		return reason
	}
	cut := MaxEndReason
	for cut > 0 && (reason[cut]&0xC0) == 0x80 {
		cut--
	}
	return reason[:cut]
}

// localPublisher returns room's publisher on this node, or nil when there
// is none or its broadcast has ended.
func (p *Plugin) localPublisher(room string) *publisher {
	p.sessions.mu.Lock()
	pub := p.sessions.m[room]
	p.sessions.mu.Unlock()
	if pub == nil {
		return nil
	}
	select {
	case <-pub.ended:
		return nil
	default:
		return pub
	}
}

// stopLocal tells room's publisher on this node, if any, to end the
// broadcast for reason: the cluster's Node.Stop.
func (p *Plugin) stopLocal(room, reason string) error {
	pub := p.localPublisher(room)
	if pub == nil {
		return hub.ErrNotLive
	}
	select {
	case pub.stop <- reason:
	default: // already being stopped
	}
	return nil
}

// endRoute is POST /:id/end: Plugin.End for a user whom Authorize allows
// Manage. The reason is the form or JSON field "reason". Like DELETE
// /:id/recordings/:b it must come from the site's own pages: a request
// whose Origin is another host (and not in OriginPatterns), or that a
// browser marks cross-site (Sec-Fetch-Site), is refused with 403.
func (p *Plugin) endRoute(c echo.Context) error {
	room, err := p.room(c, Manage)
	if err != nil {
		return toHTTPError(err)
	}
	if !p.sameOrigin(c.Request()) {
		return toHTTPError(errors.Join(ErrForbidden, errors.New("cross-origin request")))
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, 4<<10)
	var body struct {
		Reason string `json:"reason" form:"reason"`
	}
	if err := c.Bind(&body); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "invalid body")
	}
	if len(body.Reason) > MaxEndReason {
		return echo.NewHTTPError(http.StatusBadRequest, "reason too long")
	}
	if err := p.End(c.Request().Context(), room, body.Reason); err != nil {
		return toHTTPError(err)
	}
	p.log.Info("broadcast ended by the site", "room", room, "reason", body.Reason, "remote", p.clientIP(c))
	return c.NoContent(http.StatusNoContent)
}

// sameOrigin reports whether r may come from the site's own pages: no
// Origin header (not a browser's cross-site request) or one whose host is
// r's or matches OriginPatterns, and no Sec-Fetch-Site of "cross-site".
func (p *Plugin) sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, pat := range p.cfg.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}
