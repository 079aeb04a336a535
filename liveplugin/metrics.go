package liveplugin

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics: Config.Metrics. The plugin never touches the global
// registry; the metrics hold no room ids, so that their number does not
// grow with the rooms.

// metrics holds the plugin's collectors. A nil *metrics (Config.Metrics
// is nil) counts nothing: every method is safe to call on it, so call
// sites are one line. The counters are atomic: nothing here takes a lock.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	publishers  prometheus.Gauge
	viewerJoins prometheus.Counter
	bytesIn     prometheus.Counter
	bytesOut    prometheus.Counter
	messagesIn  prometheus.Counter
	messagesOut prometheus.Counter
	closes      *prometheus.CounterVec // by code
	limits      *prometheus.CounterVec // by limit
	resumes     prometheus.Counter
	joinTime    prometheus.Histogram
	ackLag      prometheus.Histogram
	recBytes    prometheus.Counter
	recFailures prometheus.Counter
	sealTime    prometheus.Histogram
	sealFails   prometheus.Counter
	deletions   prometheus.Counter
}

// metricLimits are the values of the limit label: the Config fields whose
// limit refuses a connection or ends a broadcast. Any other is "other".
var metricLimits = []string{
	"MaxRooms", "MaxViewers", "MaxTotalViewers", "ViewerUpgrades", "PublisherUpgrades",
	"MaxBitrate", "MaxBroadcastBytes", "MaxBroadcast",
}

// newMetrics creates the plugin's metrics and registers them on reg; it
// returns nil, nil when reg is nil. On failure it registers nothing.
func newMetrics(p *Plugin, reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{reg: reg}
	add := func(c prometheus.Collector) prometheus.Collector {
		m.collectors = append(m.collectors, c)
		return c
	}
	counter := func(name, help string) prometheus.Counter {
		return add(prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})).(prometheus.Counter)
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		return add(prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})).(prometheus.Histogram)
	}
	gaugeFunc := func(name, help string, f func() float64) {
		add(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counterFunc := func(name, help string, f func() float64) {
		add(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}

	add(p.reportCollector()) // the viewers' experience reports (reports.go)
	if n := p.cfg.MetricsPerRoom; n > 0 {
		add(newRoomMetrics(p, n))
	}
	gaugeFunc("amlive_live_rooms", "Rooms live now (on every node of a cluster).",
		func() float64 { return float64(len(p.rooms.Live())) })
	gaugeFunc("amlive_viewers", "Viewers connected to this node now.",
		func() float64 { return float64(p.rooms.Viewers()) })
	gaugeFunc("amlive_viewer_queued_bytes", "Media queued for this node's viewers and not yet written to them.",
		func() float64 { return float64(p.rooms.Stats().QueuedBytes) })
	counterFunc("amlive_viewer_skips_total", "Times a viewer fell more than ViewerQueueBytes behind and skipped to the next keyframe.",
		func() float64 { return float64(p.rooms.Stats().Skips) })
	counterFunc("amlive_viewer_slow_drops_total", "Viewers closed with 1008 because they kept falling behind.",
		func() float64 { return float64(p.rooms.Stats().SlowDrops) })
	counterFunc("amlive_dead_peers_total", "Publishers and viewers cut off because they did not answer a ping.",
		func() float64 { return float64(p.deadPeers.Load()) })
	m.publishers = add(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "amlive_publishers", Help: "Upload connections to this node now."})).(prometheus.Gauge)
	m.viewerJoins = counter("amlive_viewer_joins_total", "Viewers who joined a live room on this node.")
	m.bytesIn = counter("amlive_received_bytes_total", "Media bytes received from publishers.")
	m.bytesOut = counter("amlive_sent_bytes_total", "Bytes written to viewers' WebSockets (media and events).")
	m.messagesIn = counter("amlive_received_messages_total", "WebSocket messages received from publishers.")
	m.messagesOut = counter("amlive_sent_messages_total", "WebSocket messages written to viewers.")
	m.closes = add(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "amlive_websocket_closes_total",
		Help: "WebSocket close frames the server sent, by close code.",
	}, []string{"code"})).(*prometheus.CounterVec)
	for _, c := range closeCodes {
		if c.sent {
			m.closes.WithLabelValues(strconv.Itoa(int(c.code)))
		}
	}
	m.limits = add(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "amlive_limit_hits_total",
		Help: "Connections refused and broadcasts ended because a configured limit was reached, by Config field.",
	}, []string{"limit"})).(*prometheus.CounterVec)
	for _, l := range metricLimits {
		m.limits.WithLabelValues(l)
	}
	m.resumes = counter("amlive_resumes_total", "Broadcasts resumed by a new upload connection after theirs dropped.")
	m.joinTime = histogram("amlive_viewer_join_seconds",
		"Time from a viewer's subscription being accepted to its first media (the init segment) written.",
		[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})
	m.ackLag = histogram("amlive_upload_ack_lag_seconds",
		"Time from an upload message's arrival to the acknowledgement that covers it being written.",
		[]float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10})
	m.recBytes = counter("amlive_recording_written_bytes_total", "Bytes written to recordings.")
	m.recFailures = counter("amlive_recording_failures_total", "Recordings stopped early by a write error (the broadcast stays live).")
	m.sealTime = histogram("amlive_recording_seal_seconds", "Time to seal a finished recording into a seekable file.",
		[]float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60})
	m.sealFails = counter("amlive_recording_seal_failures_total", "Recordings that could not be finished or sealed.")
	m.deletions = counter("amlive_recording_retention_deletions_total",
		"Recordings deleted by KeepRecordings, MaxRecordingBytes or MaxRecordingAge.")
	if f := freeBytes(p.cfg.Dir); f != nil {
		gaugeFunc("amlive_recordings_free_bytes", "Bytes free to unprivileged users on the file system of Dir.", f)
	}

	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, r := range m.collectors[:i] {
				reg.Unregister(r)
			}
			return nil, fmt.Errorf("liveplugin: metrics: %w", err)
		}
	}
	return m, nil
}

// unregister removes the metrics from their registerer.
func (m *metrics) unregister() {
	if m == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

func (m *metrics) viewerJoined() {
	if m != nil {
		m.viewerJoins.Inc()
	}
}

// firstMedia observes the join time of a viewer accepted at since.
func (m *metrics) firstMedia(since time.Time) {
	if m != nil {
		m.joinTime.Observe(time.Since(since).Seconds())
	}
}

// sent counts a message of n bytes written to a viewer.
func (m *metrics) sent(n int) {
	if m != nil {
		m.messagesOut.Inc()
		m.bytesOut.Add(float64(n))
	}
}

// received counts a message from a publisher.
func (m *metrics) received() {
	if m != nil {
		m.messagesIn.Inc()
	}
}

// media counts n bytes of media from a publisher.
func (m *metrics) media(n int) {
	if m != nil {
		m.bytesIn.Add(float64(n))
	}
}

// publisherConnected counts an upload connection until the returned
// function is called.
func (m *metrics) publisherConnected() (disconnected func()) {
	if m == nil {
		return func() {}
	}
	m.publishers.Inc()
	return m.publishers.Dec
}

// closed counts a close frame with code sent because of err, and the
// limit err reports, if any.
func (m *metrics) closed(code int, err error) {
	if m == nil {
		return
	}
	m.closes.WithLabelValues(strconv.Itoa(code)).Inc()
	var le *limitError
	switch {
	case errors.As(translate(err), &le):
		m.limitHit(le.Name)
	case errors.Is(err, errTooLong):
		m.limitHit("MaxBroadcast")
	}
}

func (m *metrics) limitHit(name string) {
	for _, l := range metricLimits {
		if l == name {
			m.limits.WithLabelValues(name).Inc()
			return
		}
	}
	m.limits.WithLabelValues("other").Inc()
}

func (m *metrics) resumed() {
	if m != nil {
		m.resumes.Inc()
	}
}

// acked observes the lag of an acknowledgement covering a message that
// arrived at unix nanos since.
func (m *metrics) acked(since int64) {
	if m != nil && since != 0 {
		m.ackLag.Observe(time.Since(time.Unix(0, since)).Seconds())
	}
}

func (m *metrics) recorded(n int) {
	if m != nil {
		m.recBytes.Add(float64(n))
	}
}

func (m *metrics) recordingFailed() {
	if m != nil {
		m.recFailures.Inc()
	}
}

// sealed observes a seal that started at since, and counts it as failed
// if ok is false.
func (m *metrics) sealed(since time.Time, ok bool) {
	if m == nil {
		return
	}
	m.sealTime.Observe(time.Since(since).Seconds())
	if !ok {
		m.sealFails.Inc()
	}
}

func (m *metrics) deleted(n int) {
	if m != nil {
		m.deletions.Add(float64(n))
	}
}
