package liveplugin

import (
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amlive/amlive/liveplugin/internal/media"
)

// EndMessage is the text message a publisher sends to end its broadcast,
// encoded from protocol.go, for the tests of package liveplugin_test.
var EndMessage = encodeEvent(newEndRequest())

// HeldMax returns the most ingest state one publisher held between two
// messages since Register.
func (p *Plugin) HeldMax() int64 { return p.heldMax.Load() }

// MaxHeld is the bound on HeldMax for a plugin with cfg: the events of one
// piece of a message, two join points, and the chunks before the header
// (at most MaxInitBytes, plus the message that completes it). In WebM an
// element takes at least 4 bytes, and 16 more events come for elements
// begun in the piece before. In MP4 the events come from the moofs that
// end in the piece, at least 8 bytes an event: an MP4 piece holds at most
// feedPiece bytes and the rest of a moof, and a moof begun before may end
// in it.
func MaxHeld(cfg Config) int64 {
	cfg = cfg.withDefaults()
	events := max(feedPiece/4+16, (feedPiece+2*maxMoofBytes)/8)
	return int64(events)*int64(unsafe.Sizeof(media.Event{})) + 2*8 + int64(cfg.MaxInitBytes) + cfg.MaxMessageBytes
}

// ReportCounts returns the viewers' reports accepted since Register and
// those rejected, by reason, and the viewers closed for flooding.
func (p *Plugin) ReportCounts() (accepted int64, rejected map[string]int64, flooded int64) {
	rejected = make(map[string]int64)
	for i, r := range rejectReasons {
		rejected[r] = p.reports.rejected[i].Load()
	}
	return p.reports.accepted.Load(), rejected, p.reports.flooded.Load()
}

// SetReportPace sets the least time between two reports of a viewer (for
// viewers joining from now on) and between two audience events (for
// uploads connecting from now on).
func (p *Plugin) SetReportPace(every, audience time.Duration) {
	p.reports.every.Store(int64(every))
	p.reports.audience.Store(int64(audience))
}

// ReportCollector is the Prometheus collector of the viewers' reports.
func (p *Plugin) ReportCollector() prometheus.Collector { return p.reportCollector() }

// FloodBurst is how many messages a viewer may send at once before it is
// closed for flooding.
const FloodBurst = floodBurst

// FeedPiece is how much of a message the publisher feeds its reader at a
// time.
const FeedPiece = feedPiece

// The sentences of the error events a refused meta message gets.
const (
	MetaMalformedText = metaMalformedText
	MetaRateText      = metaRateText
	MetaRefusedText   = metaRefusedText
	MetaBurst         = metaBurst
)
