package liveplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Bounds of the viewers' reports (see viewerReport). A report breaking any
// of them is dropped and counted by reason; it never closes the viewer,
// unless the viewer floods the socket with messages.
const (
	// maxReportBytes is the largest report taken.
	maxReportBytes = 1 << 10
	// maxViewerMessage is the library's read limit on the subscribe
	// socket: a bigger message closes the connection with 1009. Messages
	// between maxReportBytes and it are read, dropped and counted.
	maxViewerMessage = 64 << 10
	// maxReportDelay is the highest delay behind the live edge taken, in
	// seconds.
	maxReportDelay = 600
	// maxReportCount bounds the stalls, skips and media errors of one
	// report.
	maxReportCount = 1000
	// maxReportFrames bounds the frames of one report: 240 frames a second
	// for the longest interval (maxReportStall).
	maxReportFrames = 240 * maxReportStall
	// maxReportStall bounds the stalled seconds of one report: reports
	// come every few seconds, so a minute is already absurd.
	maxReportStall = 60
	// maxCodecLen bounds the codec string.
	maxCodecLen = 100
)

// Pace of the reports, per viewer: defaultReportEvery between reports
// (the player sends one every 5 s), and at most floodBurst messages at
// once, floodRate a second over time, before the viewer is closed with
// 1008 for flooding.
const (
	defaultReportEvery = 2 * time.Second
	floodRate          = 2
	floodBurst         = 20
	// defaultAudienceEvery is how often a publisher's audience event may
	// be sent.
	defaultAudienceEvery = 2 * time.Second
)

// Reasons a report is rejected, the label values of
// amlive_viewer_reports_rejected_total.
const (
	rejectSize      = "size"      // over maxReportBytes
	rejectMalformed = "malformed" // not JSON, not a report, a binary message or unknown fields
	rejectRange     = "range"     // a value outside its bounds
	rejectRate      = "rate"      // sooner than the report interval after the last one
)

// rejectReasons are the reasons, in the order of RejectedReports.
var rejectReasons = []string{rejectSize, rejectMalformed, rejectRange, rejectRate}

// codecPattern is what a codec string may hold: a MIME type with its
// codecs parameter, such as video/webm;codecs="vp8,opus".
var codecPattern = regexp.MustCompile(`^[A-Za-z0-9.,+_/ ;="-]*$`)

// errReport is why parseReport refused a report; its reason is one of the
// reject constants.
type errReport struct{ reason string }

func (e *errReport) Error() string { return "liveplugin: viewer report rejected: " + e.reason }

// parseReport decodes and validates one report of a viewer. It returns
// an *errReport naming the reason of a rejection.
func parseReport(data []byte) (viewerReport, error) {
	var r viewerReport
	if len(data) > maxReportBytes {
		return r, &errReport{rejectSize}
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return viewerReport{}, &errReport{rejectMalformed}
	}
	if _, err := d.Token(); err != io.EOF {
		return viewerReport{}, &errReport{rejectMalformed} // trailing data
	}
	if r.Type != typeReport {
		return viewerReport{}, &errReport{rejectMalformed}
	}
	if !r.valid() {
		return viewerReport{}, &errReport{rejectRange}
	}
	return r, nil
}

// valid reports whether every value of r is within its bounds.
func (r viewerReport) valid() bool {
	in := func(v, hi float64) bool { return !math.IsNaN(v) && v >= 0 && v <= hi }
	return in(r.Delay, maxReportDelay) &&
		r.Stalls >= 0 && r.Stalls <= maxReportCount &&
		in(r.StallSeconds, maxReportStall) &&
		(r.Stalls > 0 || r.StallSeconds == 0) &&
		r.Frames >= 0 && r.Frames <= maxReportFrames &&
		r.Dropped >= 0 && r.Dropped <= r.Frames &&
		r.Skips >= 0 && r.Skips <= maxReportCount &&
		r.Errors >= 0 && r.Errors <= maxReportCount &&
		len(r.Codec) <= maxCodecLen && codecPattern.MatchString(r.Codec)
}

// Audience summarises the latest report of each viewer of a room that
// sent one, on this node: with a Cluster, each node summarises the viewers
// it serves, and a broadcaster sees those of the node it uploads to.
type Audience struct {
	// Viewers is the number of viewers whose latest report counts: those
	// connected that sent a valid report.
	Viewers int `json:"viewers"`
	// MedianDelay and P90Delay are the median and 90th percentile of the
	// viewers' delay behind the live edge, in seconds.
	MedianDelay float64 `json:"medianDelay"`
	P90Delay    float64 `json:"p90Delay"`
	// Stalling is the number of viewers that stalled in their latest
	// report.
	Stalling int `json:"stalling"`
	// DroppedFrames is the share of frames dropped, over the latest
	// report of each viewer: 0 to 1.
	DroppedFrames float64 `json:"droppedFrames"`
}

// reportMetrics are the reports' Prometheus metrics. The plugin creates
// them and registers them nowhere: an app (or the plugin's metrics) adds
// the collector to its registry.
type reportMetrics struct {
	delay    prometheus.Histogram
	stalls   prometheus.Counter
	stallS   prometheus.Counter
	frames   prometheus.Counter
	dropped  prometheus.Counter
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
}

func newReportMetrics() *reportMetrics {
	m := &reportMetrics{
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "amlive_viewer_delay_seconds",
			Help:    "Viewers' reported delay behind the live edge, one observation per accepted report.",
			Buckets: []float64{0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30},
		}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amlive_viewer_stalls_total",
			Help: "Stalls viewers reported.",
		}),
		stallS: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amlive_viewer_stall_seconds_total",
			Help: "Time viewers reported stalled.",
		}),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amlive_viewer_frames_total",
			Help: "Video frames viewers reported (getVideoPlaybackQuality totalVideoFrames).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amlive_viewer_dropped_frames_total",
			Help: "Video frames viewers reported dropped.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amlive_viewer_reports_total",
			Help: "Viewer reports accepted.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "amlive_viewer_reports_rejected_total",
			Help: "Viewer reports dropped, by reason: size, malformed, range or rate.",
		}, []string{"reason"}),
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r) // every reason shows, at 0
	}
	return m
}

func (m *reportMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.delay, m.stalls, m.stallS, m.frames, m.dropped, m.accepted, m.rejected}
}

// Describe implements prometheus.Collector.
func (m *reportMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *reportMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// reports holds the latest report of each viewer, by room, and the
// counts of reports. It is safe for concurrent use.
type reports struct {
	metrics *reportMetrics
	// every is the least time between two reports of a viewer; audience
	// the least between two audience events of a publisher (as
	// time.Duration; the tests shorten them).
	every, audience atomic.Int64

	accepted atomic.Int64
	rejected [4]atomic.Int64 // by rejectReasons' index
	flooded  atomic.Int64    // viewers closed for flooding

	mu    sync.Mutex
	rooms map[string]map[*reportViewer]viewerReport
}

func newReports() *reports {
	rs := &reports{
		metrics: newReportMetrics(),
		rooms:   make(map[string]map[*reportViewer]viewerReport),
	}
	rs.every.Store(int64(defaultReportEvery))
	rs.audience.Store(int64(defaultAudienceEvery))
	return rs
}

// audienceEvery is the least time between two audience events.
func (rs *reports) audienceEvery() time.Duration { return time.Duration(rs.audience.Load()) }

// reportViewer is one viewer's connection, as the reports know it.
type reportViewer struct {
	room  string
	pace  *rate.Limiter // reports
	flood *rate.Limiter // messages
}

func (rs *reports) join(room string) *reportViewer {
	return &reportViewer{
		room:  room,
		pace:  rate.NewLimiter(rate.Every(time.Duration(rs.every.Load())), 1),
		flood: rate.NewLimiter(floodRate, floodBurst),
	}
}

// leave forgets v's latest report.
func (rs *reports) leave(v *reportViewer) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	m := rs.rooms[v.room]
	delete(m, v)
	if len(m) == 0 {
		delete(rs.rooms, v.room)
	}
}

// take handles one message of v: a report to validate, count and keep.
// It reports the reason of a rejection, or "".
func (rs *reports) take(v *reportViewer, typ websocket.MessageType, data []byte) string {
	r, err := parseReport(data)
	if typ != websocket.MessageText && err == nil {
		err = &errReport{rejectMalformed}
	}
	if err == nil && !v.pace.Allow() {
		err = &errReport{rejectRate}
	}
	if e, ok := errors.AsType[*errReport](err); ok {
		rs.rejected[slices.Index(rejectReasons, e.reason)].Add(1)
		rs.metrics.rejected.WithLabelValues(e.reason).Inc()
		return e.reason
	}
	rs.accepted.Add(1)
	m := rs.metrics
	m.accepted.Inc()
	m.delay.Observe(r.Delay)
	m.stalls.Add(float64(r.Stalls))
	m.stallS.Add(r.StallSeconds)
	m.frames.Add(float64(r.Frames))
	m.dropped.Add(float64(r.Dropped))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	room := rs.rooms[v.room]
	if room == nil {
		room = make(map[*reportViewer]viewerReport)
		rs.rooms[v.room] = room
	}
	room[v] = r
	return ""
}

// summary returns the audience of room, or nil when none of its viewers
// sent a report.
func (rs *reports) summary(room string) *Audience {
	rs.mu.Lock()
	delays := make([]float64, 0, len(rs.rooms[room]))
	var a Audience
	var frames, dropped int64
	for _, r := range rs.rooms[room] {
		delays = append(delays, r.Delay)
		if r.Stalls > 0 {
			a.Stalling++
		}
		frames += r.Frames
		dropped += r.Dropped
	}
	rs.mu.Unlock()
	if len(delays) == 0 {
		return nil
	}
	slices.Sort(delays)
	a.Viewers = len(delays)
	a.MedianDelay = quantile(delays, 0.5)
	a.P90Delay = quantile(delays, 0.9)
	if frames > 0 {
		a.DroppedFrames = float64(dropped) / float64(frames)
	}
	return &a
}

// quantile returns the q-quantile of the sorted, non-empty xs, by linear
// interpolation between the closest ranks.
func quantile(xs []float64, q float64) float64 {
	pos := q * float64(len(xs)-1)
	lo := int(pos)
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[lo] + (pos-float64(lo))*(xs[lo+1]-xs[lo])
}

// reportCollector returns the Prometheus collector of the viewers'
// reports: amlive_viewer_delay_seconds, amlive_viewer_stalls_total,
// amlive_viewer_stall_seconds_total, amlive_viewer_frames_total,
// amlive_viewer_dropped_frames_total, amlive_viewer_reports_total and
// amlive_viewer_reports_rejected_total{reason}. It is registered nowhere.
func (p *Plugin) reportCollector() prometheus.Collector { return p.reports.metrics }

// readReports reads v's messages on conn until the connection fails or
// closes: it answers pings and reads the close, as conn.CloseRead would,
// and takes each message as a report. A viewer that sends more than the
// flood limit is closed with 1008.
func (p *Plugin) readReports(ctx context.Context, conn *websocket.Conn, v *reportViewer) {
	conn.SetReadLimit(maxViewerMessage)
	var buf []byte // reused between messages, grown by the first report
	for {
		typ, r, err := conn.Reader(ctx)
		if err != nil {
			return
		}
		data, err := readAppend(buf[:0], r, maxReportBytes+1)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil { // an oversize report's rest
			return
		}
		buf = data[:0]
		if !v.flood.Allow() {
			p.reports.flooded.Add(1)
			p.log.Warn("viewer closed", "reason", "too many messages", "room", v.room)
			_ = conn.Close(websocket.StatusPolicyViolation, "too many messages")
			return
		}
		if reason := p.reports.take(v, typ, data); reason != "" {
			p.log.Debug("viewer report rejected", "room", v.room, "reason", reason)
		}
	}
}

// readAppend appends at most n bytes of r to buf.
func readAppend(buf []byte, r io.Reader, n int64) ([]byte, error) {
	w := bytes.NewBuffer(buf)
	_, err := w.ReadFrom(io.LimitReader(r, n))
	return w.Bytes(), err
}
