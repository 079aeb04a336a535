package liveplugin

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

var roomPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// reserved are room ids that name the plugin's own routes.
var reserved = map[string]bool{"assets": true, "rooms": true, "api": true, "static": true}

// ValidRoom reports whether id may name a room: 1 to 64 letters, digits,
// '_' or '-', starting with a letter or digit, and not one of the names the
// plugin reserves for its own routes ("assets", "rooms", "api", "static",
// in any case). Room ids are case-sensitive otherwise. It returns
// ErrInvalidRoom or ErrReservedRoom.
func ValidRoom(id string) error {
	if !roomPattern.MatchString(id) {
		return ErrInvalidRoom
	}
	if reserved[strings.ToLower(id)] {
		return ErrReservedRoom
	}
	return nil
}

// Live returns the broadcasts live now, newest first.
func (p *Plugin) Live() []BroadcastInfo {
	live := p.rooms.Live()
	out := make([]BroadcastInfo, 0, len(live))
	for _, in := range live {
		out = append(out, p.broadcastInfo(in))
	}
	return out
}

func (p *Plugin) broadcastInfo(in hub.Info) BroadcastInfo {
	container, codecs := describeMIME(in.MIMEType)
	return BroadcastInfo{
		Container: container,
		Codecs:    codecs,
		Room:      in.Room,
		ID:        in.ID,
		MIMEType:  in.MIMEType,
		Started:   in.Started,
		Viewers:   in.Viewers,
		Bytes:     in.Bytes,
		URL:       p.WatchURL(in.Room),
		Thumbnail: p.liveThumbnailURL(in.Room, in.ID),

		Title:       in.Title,
		Description: in.Description,

		Reconnecting: in.PublisherLost,
		Audience:     p.reports.summary(in.Room),
		Latency:      in.Latency,
	}
}

// Status returns the live broadcast of room, or ok false when the room is
// not live.
func (p *Plugin) Status(room string) (b BroadcastInfo, ok bool) {
	in, ok := p.rooms.Lookup(room)
	if !ok {
		return BroadcastInfo{}, false
	}
	return p.broadcastInfo(in), true
}

// newBroadcastID returns a sortable, unique broadcast id such as
// "20261124T140512Z-3f2a9c".
func newBroadcastID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // never fails
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
