package liveplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// A broadcast's title and description: the publisher sets them with a meta
// message on its upload socket (see protocol.go), before it goes live or
// during the broadcast, and the app with Plugin.Describe; Config.Describe
// may rewrite or refuse the publisher's. They are shown on the pages, kept
// in the recording's sidecar, and carried by BroadcastInfo and Recording.

// Description is a broadcast's title and description. Both are plain
// text: the pages escape them (html/template), and an app that shows them
// elsewhere must too.
type Description struct {
	// Title is at most MaxTitleRunes characters, on one line.
	Title string `json:"title"`
	// Description is at most MaxDescriptionRunes characters; it may hold
	// newlines.
	Description string `json:"description"`
}

// The limits of a Description, in characters (runes) after surrounding
// white space is trimmed.
const (
	MaxTitleRunes       = 120
	MaxDescriptionRunes = 1000
)

// maxMetaBytes bounds a meta message: the longest title and description,
// every character escaped in JSON (\uXXXX), fit in it.
const maxMetaBytes = 16 << 10

// metaRate and metaBurst bound the meta messages of one broadcast: a
// token bucket of metaBurst, refilled at metaRate a second. One beyond it
// is refused with an error event; the broadcast goes on.
const (
	metaRate  = 2
	metaBurst = 4
)

// ErrInvalidDescription is a title or description over its limit, with
// control characters (other than newlines in the description) or explicit
// bidirectional formatting characters, or not valid UTF-8. Plugin.Describe returns it, wrapped with the reason.
var ErrInvalidDescription = errors.New("liveplugin: invalid title or description")

// descriptionError is a refused Description: its text is a sentence for
// the publisher. It matches ErrInvalidDescription.
type descriptionError struct{ text string }

func (e *descriptionError) Error() string {
	return fmt.Sprintf("%v: %s", ErrInvalidDescription, e.text)
}

func (e *descriptionError) Is(target error) bool { return target == ErrInvalidDescription }

// The sentences of the error events a refused meta message gets.
const (
	metaMalformedText = "The server did not understand the title message."
	metaRateText      = "Too many title changes at once: wait a moment and try again."
	metaRefusedText   = "The site did not accept this title or description."
)

// cleanDescription trims d and checks it against the limits: valid UTF-8,
// no control characters (the description may hold newlines; CRLF becomes
// LF), no explicit bidirectional formatting characters, at most
// MaxTitleRunes and MaxDescriptionRunes characters.
func cleanDescription(d Description) (Description, error) {
	if !utf8.ValidString(d.Title) || !utf8.ValidString(d.Description) {
		return Description{}, &descriptionError{"The title or description is not valid text (UTF-8)."}
	}
	d.Title = strings.TrimSpace(d.Title)
	d.Description = strings.TrimSpace(strings.ReplaceAll(d.Description, "\r\n", "\n"))
	if strings.ContainsFunc(d.Title, unicode.IsControl) {
		return Description{}, &descriptionError{"The title may not hold line breaks, tabs or other control characters."}
	}
	if strings.ContainsFunc(d.Description, func(r rune) bool { return r != '\n' && unicode.IsControl(r) }) {
		return Description{}, &descriptionError{"The description may not hold tabs or control characters other than line breaks."}
	}
	if strings.ContainsFunc(d.Title, isBidiFormat) || strings.ContainsFunc(d.Description, isBidiFormat) {
		return Description{}, &descriptionError{"The title and description may not hold bidirectional embedding, override or isolate characters (U+202A to U+202E, U+2066 to U+2069)."}
	}
	if n := utf8.RuneCountInString(d.Title); n > MaxTitleRunes {
		return Description{}, &descriptionError{fmt.Sprintf("The title is too long: %d characters, at most %d.", n, MaxTitleRunes)}
	}
	if n := utf8.RuneCountInString(d.Description); n > MaxDescriptionRunes {
		return Description{}, &descriptionError{fmt.Sprintf("The description is too long: %d characters, at most %d.", n, MaxDescriptionRunes)}
	}
	return d, nil
}

// isBidiFormat reports whether r is one of Unicode's explicit directional
// formatting characters: embeddings, overrides, isolates and their pops.
// In a title they can reorder the text around them on every page that
// lists it (the pages also isolate each title with dir="auto"); the
// implicit marks (U+200E, U+200F, U+061C) that right-to-left text needs
// are allowed.
func isBidiFormat(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// parseMeta decodes a meta message: its fields, and no others, must be
// strings; the text must be valid UTF-8 (encoding/json would replace what
// is not).
func parseMeta(data []byte) (Description, error) {
	if len(data) > maxMetaBytes || !utf8.Valid(data) {
		return Description{}, errBadMessage
	}
	var m metaEvent
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Type != typeMeta || dec.More() {
		return Description{}, errBadMessage
	}
	return Description{Title: m.Title, Description: m.Description}, nil
}

// Describe sets the title and description of room's live broadcast, for
// its pages, the status stream and JSON, and its recording; they are
// checked as a publisher's are (ErrInvalidDescription), but
// Config.Describe is not called. The publisher's page is told the new
// values. In a Cluster it reaches the node that holds the publisher. It
// returns ErrNotLive when the room has no broadcast (one whose stream has
// not started yet counts as live here), or ErrInvalidRoom. It is safe for
// concurrent use.
func (p *Plugin) Describe(ctx context.Context, room string, d Description) error {
	if err := ValidRoom(room); err != nil {
		return err
	}
	if p.isClosing() {
		return ErrClosed
	}
	d, err := cleanDescription(d)
	if err != nil {
		return err
	}
	return translate(p.rooms.Describe(ctx, room, d.Title, d.Description))
}

// describeLocal sets the description of room's broadcast whose publisher
// is on this node: the cluster's Node.Describe.
func (p *Plugin) describeLocal(room, title, description string) error {
	pub := p.localPublisher(room)
	if pub == nil {
		return hub.ErrNotLive
	}
	pub.setDescription(Description{Title: title, Description: description})
	return nil
}

// pubMeta is the description of a publisher's broadcast.
type pubMeta struct {
	mu  sync.Mutex
	d   Description
	ver uint64 // counts the changes of d

	// saved is the version of d in the recording's sidecar; owned by
	// the publisher's goroutine.
	saved uint64
	// changed gets a token when d changes, for notify to tell the
	// publisher (capacity 1).
	changed chan struct{}
	// limit bounds the publisher's meta messages (metaRate, metaBurst).
	limit *rate.Limiter
}

func newPubMeta() *pubMeta {
	return &pubMeta{changed: make(chan struct{}, 1), limit: rate.NewLimiter(metaRate, metaBurst)}
}

// current returns the description and its version.
func (m *pubMeta) current() (Description, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.d, m.ver
}

// poke makes notify send the description.
func (m *pubMeta) poke() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// setDescription gives the broadcast d (checked already): viewers' pages
// see it at once, the publisher gets the meta event, and the recording's
// sidecar takes it with the next message (saveDescription). Safe for
// concurrent use.
func (pub *publisher) setDescription(d Description) {
	m := pub.meta
	m.mu.Lock()
	m.d = d
	m.ver++
	pub.b.SetDescription(d.Title, d.Description) // under m.mu: the hub gets them in order
	m.mu.Unlock()
	m.poke()
	pub.p.feed.kick()
}

// saveDescription writes the description to the recording's sidecar if
// it changed since. It runs on the publisher's goroutine, which owns the
// recording.
func (pub *publisher) saveDescription() {
	if pub.rec == nil || pub.recErr != nil {
		return
	}
	d, ver := pub.meta.current()
	if ver == pub.meta.saved {
		return
	}
	pub.meta.saved = ver
	if err := pub.rec.SetDescription(d.Title, d.Description); err != nil {
		pub.log.Warn("recording's title not saved", "err", err)
	}
}

// newRecording makes the description, if any, the new recording's.
func (pub *publisher) newRecording() {
	pub.meta.saved = 0
	pub.saveDescription()
}

// onMeta handles a meta message from the publisher: it is checked,
// passed to Config.Describe and applied; a refused one gets an error event
// and the broadcast goes on. It returns an error only when the connection
// failed.
func (pub *publisher) onMeta(ctx context.Context, conn *websocket.Conn, data []byte) error {
	d, err := pub.describeFromPublisher(data)
	if err == nil {
		pub.setDescription(d)
		pub.saveDescription()
		return nil
	}
	pub.log.Info("title refused", "err", err)
	return send(ctx, conn, pub.p.cfg.WriteTimeout, newError(refusalText(err)))
}

// describeFromPublisher decodes, checks and passes to Config.Describe a
// meta message.
func (pub *publisher) describeFromPublisher(data []byte) (Description, error) {
	if !pub.meta.limit.Allow() {
		return Description{}, errMetaRate
	}
	d, err := parseMeta(data)
	if err != nil {
		return Description{}, err
	}
	if d, err = cleanDescription(d); err != nil {
		return Description{}, err
	}
	hook := pub.p.cfg.Describe
	if hook == nil {
		return d, nil
	}
	out, err := hook(pub.c, pub.b.Room(), d)
	if err != nil {
		return Description{}, &hookError{err}
	}
	if out, err = cleanDescription(out); err != nil {
		pub.log.Warn("Config.Describe returned an invalid title", "err", err)
		return Description{}, &hookError{err}
	}
	return out, nil
}

// errMetaRate is a meta message beyond metaRate.
var errMetaRate = errors.New("liveplugin: too many meta messages")

// hookError is Config.Describe's refusal.
type hookError struct{ err error }

func (e *hookError) Error() string { return "liveplugin: Config.Describe: " + e.err.Error() }
func (e *hookError) Unwrap() error { return e.err }

// refusalText is the error event's sentence for a refused meta message.
// An *echo.HTTPError of Config.Describe gives its message, as it does when
// Config.Authorize returns one; any other error of the hook a fixed
// sentence, so that no internal detail reaches the page.
func refusalText(err error) string {
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		if msg, ok := he.Message.(string); ok && strings.TrimSpace(msg) != "" {
			return truncate(msg)
		}
		return metaRefusedText
	}
	if _, ok := errors.AsType[*hookError](err); ok {
		return metaRefusedText
	}
	if de, ok := errors.AsType[*descriptionError](err); ok {
		return de.text
	}
	if errors.Is(err, errMetaRate) {
		return metaRateText
	}
	return metaMalformedText
}
