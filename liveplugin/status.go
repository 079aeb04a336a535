package liveplugin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/liveplugin/internal/views"
)

// The status feed: GET /rooms/events, a Server-Sent Events stream of the
// live rooms that every widget of a page shares (assets/status.js). Each
// node computes the changes once for all its subscribers, from the same
// listing as GET /rooms, when a broadcast goes live or ends on this node
// and every StatusInterval (which catches other nodes' rooms, the viewer
// counts and new thumbnails). A live room whose publisher drops or returns,
// or whose title or description changes, is sent again as a live event.
// Subscribers get the changes through bounded buffers: one
// that falls statusBuffer messages behind is dropped, and its browser
// reconnects and starts again from a snapshot.

// The defaults of the status feed's Config fields.
const (
	defaultMaxStatusSubscribers = 10000
	defaultStatusInterval       = 2 * time.Second
)

// statusBuffer is how many messages may wait for one subscriber.
const statusBuffer = 64

// statusRetryMs is the reconnection delay the stream asks browsers for.
const statusRetryMs = 2000

// maxStatusRooms bounds the rooms a subscriber asks recordings of (?room=).
const maxStatusRooms = 8

// maxStatusRecordings bounds the recordings of each room in a snapshot.
const maxStatusRecordings = 20

// statusLive is a live room in the feed: its BroadcastInfo and the text
// the pages show for its start.
type statusLive struct {
	BroadcastInfo
	// SinceText is Started as the pages show it ("2 Jan 2006 15:04 UTC").
	SinceText string `json:"sinceText"`
}

// statusRecording is a recording in the feed, with the text the pages
// show for it, so that every page formats it the same way.
type statusRecording struct {
	Recording
	StartText    string `json:"startText"`    // formatTime
	DurationText string `json:"durationText"` // amliveDuration
	SizeText     string `json:"sizeText"`     // amliveBytes
}

// statusSnapshot is the first event of a stream.
type statusSnapshot struct {
	Rooms []statusLive `json:"rooms"`
	// Recordings holds, for each room asked with ?room=, its newest
	// recordings, newest first.
	Recordings map[string][]statusRecording `json:"recordings"`
}

// statusViewers is a "viewers" event.
type statusViewers struct {
	Room      string `json:"room"`
	Broadcast string `json:"broadcast"`
	Viewers   int    `json:"viewers"`
}

// statusEnded is an "ended" event.
type statusEnded struct {
	Room      string `json:"room"`
	Broadcast string `json:"broadcast"`
	// Recording is the broadcast's finished recording, when this node
	// sees it; nil otherwise.
	Recording *statusRecording `json:"recording"`
}

// statusMsg is one event of the stream for room, encoded once for all.
type statusMsg struct {
	room  string
	frame []byte // "event: …\ndata: …\n\n"
}

// statusSub is one stream.
type statusSub struct {
	ch      chan statusMsg // in: the feed's messages
	dropped chan struct{}  // closed when the feed dropped the subscriber
}

// roomState is what the feed remembers of a live room, to tell changes.
type roomState struct {
	id           string
	viewers      int
	reconnecting bool
	thumbnail    string // its URL, which changes with the image
	title, desc  string
}

// statusFeed computes the rooms' changes and fans them out. refreshMu
// serialises the refreshes, which list the rooms and read the recordings
// of those that ended (disk); mu guards the subscribers only, so that no
// lock a stream's handler takes is held across that I/O.
type statusFeed struct {
	p        *Plugin
	interval time.Duration
	max      int

	refreshMu sync.Mutex
	last      map[string]roomState // nil while nobody subscribes

	mu     sync.Mutex
	subs   map[*statusSub]struct{}
	closed bool

	kickc chan struct{} // in: refresh now; capacity 1
	done  chan struct{} // closed by close
	wg    sync.WaitGroup
	// handlers counts the streams being served, for close.
	handlers sync.WaitGroup
}

// newStatusFeed starts the feed's goroutine, which exits on close.
func newStatusFeed(p *Plugin, interval time.Duration, max int) *statusFeed {
	f := &statusFeed{
		p: p, interval: interval, max: max,
		subs:  make(map[*statusSub]struct{}),
		kickc: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	f.wg.Go(f.run)
	return f
}

// kick asks for a refresh soon; it never blocks. Safe on a nil feed.
func (f *statusFeed) kick() {
	if f == nil {
		return
	}
	select {
	case f.kickc <- struct{}{}:
	default:
	}
}

func (f *statusFeed) run() {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-f.kickc:
		case <-t.C:
		case <-f.done:
			return
		}
		f.refresh()
	}
}

// close refreshes one last time (the broadcasts Close ended), ends every
// stream and waits for their handlers and the feed's goroutine.
func (f *statusFeed) close() {
	f.refreshMu.Lock()
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		f.refreshMu.Unlock()
		return
	}
	f.refreshHeld()
	f.mu.Lock()
	f.closed = true
	close(f.done)
	f.mu.Unlock()
	f.refreshMu.Unlock() // the goroutine may wait for it to refresh
	f.wg.Wait()
	f.handlers.Wait()
}

// refresh compares the live rooms with the last listing and sends the
// changes. With no subscriber it only forgets the listing.
func (f *statusFeed) refresh() {
	f.refreshMu.Lock()
	defer f.refreshMu.Unlock()
	f.refreshHeld()
}

// refreshHeld is refresh with refreshMu held.
func (f *statusFeed) refreshHeld() {
	f.mu.Lock()
	none := len(f.subs) == 0
	f.mu.Unlock()
	if none {
		f.last = nil
		return
	}
	msgs := f.changes(f.p.Live())
	f.mu.Lock()
	f.sendLocked(msgs)
	f.mu.Unlock()
}

// changes returns the events from the last listing to live, which becomes
// the last listing. refreshMu must be held.
func (f *statusFeed) changes(live []BroadcastInfo) []statusMsg {
	now := make(map[string]roomState, len(live))
	var msgs []statusMsg
	for _, b := range live {
		st := roomState{id: b.ID, viewers: b.Viewers, reconnecting: b.Reconnecting, thumbnail: b.Thumbnail, title: b.Title, desc: b.Description}
		now[b.Room] = st
		if f.last == nil {
			continue // nobody to tell: the listing starts here
		}
		old, ok := f.last[b.Room]
		switch {
		case ok && old.id != b.ID:
			msgs = append(msgs, f.endedMsg(b.Room, old.id), liveMsg(b))
		case !ok || old.reconnecting != st.reconnecting || old.thumbnail != st.thumbnail || old.title != st.title || old.desc != st.desc:
			msgs = append(msgs, liveMsg(b))
		case old.viewers != st.viewers:
			msgs = append(msgs, sseFrame(b.Room, "viewers", statusViewers{Room: b.Room, Broadcast: b.ID, Viewers: b.Viewers}))
		}
	}
	for room, old := range f.last {
		if _, ok := now[room]; !ok {
			msgs = append(msgs, f.endedMsg(room, old.id))
		}
	}
	f.last = now
	return msgs
}

// sendLocked gives msgs to every subscriber without waiting: one whose
// buffer is full is dropped.
func (f *statusFeed) sendLocked(msgs []statusMsg) {
	for _, m := range msgs {
		for s := range f.subs {
			select {
			case s.ch <- m:
			default: // too far behind: its browser reconnects for a snapshot
				delete(f.subs, s)
				close(s.dropped)
			}
		}
	}
}

func liveMsg(b BroadcastInfo) statusMsg {
	return sseFrame(b.Room, "live", statusLive{BroadcastInfo: b, SinceText: views.FormatTime(b.Started)})
}

func (f *statusFeed) endedMsg(room, id string) statusMsg {
	e := statusEnded{Room: room, Broadcast: id}
	if recs, err := f.p.Recordings(room); err == nil {
		for _, r := range recs {
			if r.ID == id && !r.Live {
				sr := statusRec(r)
				e.Recording = &sr
			}
		}
	}
	return sseFrame(room, "ended", e)
}

func statusRec(r Recording) statusRecording {
	return statusRecording{Recording: r, StartText: views.FormatTime(r.Start),
		DurationText: views.FormatDuration(r.Duration), SizeText: views.FormatBytes(r.Bytes)}
}

// sseFrame encodes an event; v never fails to encode.
func sseFrame(room, event string, v any) statusMsg {
	data, _ := json.Marshal(v)
	b := make([]byte, 0, len(event)+len(data)+16)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	return statusMsg{room: room, frame: b}
}

// subscribe adds a subscriber and returns it with the live rooms now; it
// fails past MaxStatusSubscribers and once the feed is closed. The caller
// serves the stream, then calls unsubscribe and handlers.Done.
func (f *statusFeed) subscribe() (*statusSub, []BroadcastInfo, error) {
	f.refreshMu.Lock()
	defer f.refreshMu.Unlock()
	f.mu.Lock()
	closed, full := f.closed, len(f.subs) >= f.max
	f.mu.Unlock()
	if closed {
		return nil, nil, ErrClosed
	}
	if full {
		return nil, nil, &limitError{Name: "MaxStatusSubscribers", Max: int64(f.max)}
	}
	// One listing: the others' changes up to it, the newcomer's
	// snapshot, and what the next changes are computed against.
	live := f.p.Live()
	msgs := f.changes(live)
	s := &statusSub{ch: make(chan statusMsg, statusBuffer), dropped: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, nil, ErrClosed
	}
	f.sendLocked(msgs)
	f.subs[s] = struct{}{}
	f.handlers.Add(1)
	return s, live, nil
}

// unsubscribe removes s, if the feed has not dropped it already.
func (f *statusFeed) unsubscribe(s *statusSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
}

// subscribers returns the number of streams open now.
func (f *statusFeed) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// statusEvents serves GET /rooms/events.
func (p *Plugin) statusEvents(c echo.Context) error {
	if p.isClosing() {
		return toHTTPError(ErrClosed)
	}
	if err := p.upgrades.allow(p.clientIP(c), false); err != nil {
		return toHTTPError(err)
	}
	f := p.feed
	s, live, err := f.subscribe()
	if err != nil {
		return toHTTPError(err)
	}
	defer f.handlers.Done()
	defer f.unsubscribe(s)

	// What this request may see, asked of Authorize once per room.
	allowed := map[string]bool{}
	may := func(room string) bool {
		ok, seen := allowed[room]
		if !seen {
			ok = p.cfg.Authorize(c, room, View) == nil
			allowed[room] = ok
		}
		return ok
	}
	snap := statusSnapshot{Rooms: []statusLive{}, Recordings: map[string][]statusRecording{}}
	for _, b := range live {
		if may(b.Room) {
			snap.Rooms = append(snap.Rooms, statusLive{BroadcastInfo: b, SinceText: views.FormatTime(b.Started)})
		}
	}
	for i, room := range c.QueryParams()["room"] {
		if i == maxStatusRooms {
			break
		}
		if ValidRoom(room) != nil || !may(room) {
			continue
		}
		recs, err := p.Recordings(room)
		if err != nil {
			continue
		}
		out := make([]statusRecording, 0, min(len(recs), maxStatusRecordings))
		for _, r := range recs[:min(len(recs), maxStatusRecordings)] {
			out = append(out, statusRec(r))
		}
		snap.Recordings[room] = out
	}

	w := c.Response()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	first := append([]byte("retry: "+strconv.Itoa(statusRetryMs)+"\n\n"), sseFrame("", "snapshot", snap).frame...)
	if !write(first) {
		return nil
	}
	beat := time.NewTicker(p.cfg.PingInterval)
	defer beat.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case m := <-s.ch:
			if may(m.room) && !write(m.frame) {
				return nil
			}
		case <-beat.C:
			if !write([]byte(": ping\n\n")) {
				return nil
			}
		case <-s.dropped:
			return nil
		case <-f.done:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}
