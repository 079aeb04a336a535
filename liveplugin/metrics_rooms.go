package liveplugin

import (
	"cmp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amlive/amlive/liveplugin/internal/hub"
)

// roomMetrics is the opt-in per-room set (Config.MetricsPerRoom): read
// from the live rooms when Prometheus scrapes, so it costs nothing on the
// media path and forgets a room as soon as its broadcast ends. It reports
// at most max rooms, those with the most viewers; the rest are summed
// under room="_other" (no room id begins with '_'), so the number of series stays bounded whatever the
// rooms.
// otherRooms is the room label of the rooms past Config.MetricsPerRoom.
const otherRooms = "_other"

type roomMetrics struct {
	p                       *Plugin
	max                     int
	viewers, bytes, started *prometheus.Desc
}

func newRoomMetrics(p *Plugin, max int) *roomMetrics {
	return &roomMetrics{
		p:   p,
		max: max,
		viewers: prometheus.NewDesc("amlive_room_viewers",
			"Viewers of a live room (on every node of a cluster); rooms past Config.MetricsPerRoom are summed as room=\"_other\".",
			[]string{"room"}, nil),
		bytes: prometheus.NewDesc("amlive_room_received_bytes",
			"Bytes of a live room's current broadcast received so far; rooms past Config.MetricsPerRoom are summed as room=\"_other\".",
			[]string{"room"}, nil),
		started: prometheus.NewDesc("amlive_room_started_timestamp_seconds",
			"When a live room's current broadcast started, in Unix seconds (not reported for room=\"_other\").",
			[]string{"room"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *roomMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.viewers
	ch <- m.bytes
	ch <- m.started
}

// Collect implements prometheus.Collector.
func (m *roomMetrics) Collect(ch chan<- prometheus.Metric) {
	live := m.p.rooms.Live()
	slices.SortStableFunc(live, func(a, b hub.Info) int { return cmp.Compare(b.Viewers, a.Viewers) })
	var otherViewers, otherBytes float64
	for i, in := range live {
		if i >= m.max {
			otherViewers += float64(in.Viewers)
			otherBytes += float64(in.Bytes)
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.viewers, prometheus.GaugeValue, float64(in.Viewers), in.Room)
		ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.GaugeValue, float64(in.Bytes), in.Room)
		ch <- prometheus.MustNewConstMetric(m.started, prometheus.GaugeValue, float64(in.Started.UnixNano())/1e9, in.Room)
	}
	if len(live) > m.max {
		ch <- prometheus.MustNewConstMetric(m.viewers, prometheus.GaugeValue, otherViewers, otherRooms)
		ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.GaugeValue, otherBytes, otherRooms)
	}
}
