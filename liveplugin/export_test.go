package liveplugin

import (
	"unsafe"

	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// EndMessage is the text message a publisher sends to end its broadcast,
// encoded from protocol.go, for the tests of package liveplugin_test.
var EndMessage = encodeEvent(newEndRequest())

// HeldMax returns the most ingest state one publisher held between two
// messages since Register.
func (p *Plugin) HeldMax() int64 { return p.heldMax.Load() }

// MaxHeld is the bound on HeldMax for a plugin with cfg: the events of one
// piece of a message (an element takes at least 4 bytes; 16 more for
// elements begun in the piece before), two join points,
// and the chunks before the header (at most MaxInitBytes, plus the message
// that completes it).
func MaxHeld(cfg Config) int64 {
	cfg = cfg.withDefaults()
	return (feedPiece/4+16)*int64(unsafe.Sizeof(webm.Event{})) + 2*8 + int64(cfg.MaxInitBytes) + cfg.MaxMessageBytes
}
