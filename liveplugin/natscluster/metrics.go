package natscluster

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns a Prometheus collector of the cluster's side of this
// node: the NATS connection's traffic and reconnects (from nats.Conn's
// Stats), whether it is connected, the broadcasts this node originates
// and relays, and the messages its relays found missing (each gap makes
// the relay's viewers skip to the next keyframe). The app registers it on
// the registry that holds the plugin's metrics (liveplugin.Config.Metrics);
// the plugin does not, so that liveplugin needs no NATS. Until the plugin
// registers with the cluster only the connection's metrics are reported.
// Two Clusters on one registry collide: wrap the registerer with
// prometheus.WrapRegistererWith to tell them apart. The collector is safe
// for concurrent use; it reads the cluster's state at each scrape and
// holds nothing after.
func (c *Cluster) Collector() prometheus.Collector { return collector{c} }

// The metrics' descriptions.
var (
	natsBytesIn = prometheus.NewDesc("amlive_nats_received_bytes_total",
		"Bytes the node received from NATS.", nil, nil)
	natsBytesOut = prometheus.NewDesc("amlive_nats_sent_bytes_total",
		"Bytes the node sent to NATS.", nil, nil)
	natsMsgsIn = prometheus.NewDesc("amlive_nats_received_messages_total",
		"Messages the node received from NATS.", nil, nil)
	natsMsgsOut = prometheus.NewDesc("amlive_nats_sent_messages_total",
		"Messages the node sent to NATS.", nil, nil)
	natsReconnects = prometheus.NewDesc("amlive_nats_reconnects_total",
		"Times the node's NATS connection reconnected.", nil, nil)
	clusterConnected = prometheus.NewDesc("amlive_cluster_connected",
		"1 while the node's NATS connection is up, else 0.", nil, nil)
	clusterOrigins = prometheus.NewDesc("amlive_cluster_origins",
		"Broadcasts whose publisher is on this node.", nil, nil)
	clusterRelays = prometheus.NewDesc("amlive_cluster_relays",
		"Broadcasts of other nodes this node relays to its viewers.", nil, nil)
	clusterGaps = prometheus.NewDesc("amlive_cluster_gap_messages_total",
		"Stream messages this node's relays found missing (lost by NATS or a slow consumer).", nil, nil)
)

// collector is Cluster.Collector's.
type collector struct{ c *Cluster }

// Describe implements prometheus.Collector.
func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{natsBytesIn, natsBytesOut, natsMsgsIn, natsMsgsOut, natsReconnects,
		clusterConnected, clusterOrigins, clusterRelays, clusterGaps} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (k collector) Collect(ch chan<- prometheus.Metric) {
	s := k.c.nc.Stats()
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(natsBytesIn, float64(s.InBytes))
	counter(natsBytesOut, float64(s.OutBytes))
	counter(natsMsgsIn, float64(s.InMsgs))
	counter(natsMsgsOut, float64(s.OutMsgs))
	counter(natsReconnects, float64(s.Reconnects))
	up := 0.0
	if k.c.nc.IsConnected() {
		up = 1
	}
	gauge(clusterConnected, up)
	r := k.c.node.Load()
	if r == nil {
		return
	}
	r.mu.Lock()
	origins, relays := len(r.origins), len(r.relays)
	r.mu.Unlock()
	gauge(clusterOrigins, float64(origins))
	gauge(clusterRelays, float64(relays))
	counter(clusterGaps, float64(r.gaps.Load()))
}
