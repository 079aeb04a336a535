package natscluster

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCollector: a broadcast on node a relayed by node b, one of whose
// media messages is lost on the way: a's collector counts one origin,
// b's one relay and one missing message, and both count NATS traffic. A
// Cluster not yet given to a plugin reports its connection only.
func TestCollector(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	st := loadStream(t, "vp8-opus-250ms-kf2s")
	ns := startServer(t, nil)
	lose, at := st.chunkToLose()
	var ca, cb *Cluster
	a := newNode(t, ns.ClientURL(), testOpts("a"), func(c *Cluster) {
		ca = c
		c.drop = func(_ string, _ uint64, k kind, off int64) bool { return k == kindMedia && off == lose }
	})
	b := newNode(t, ns.ClientURL(), testOpts("b"), func(c *Cluster) { cb = c })
	regA, regB := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	if err := regA.Register(ca.Collector()); err != nil {
		t.Fatal(err)
	}
	if err := regB.Register(cb.Collector()); err != nil {
		t.Fatal(err)
	}

	o, err := a.r.Start(ctx, "gap", "b1", "tok", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	remote := subscribe(t, ctx, b, "gap")
	st.write(o, 0, at)
	eventually(t, ctx, "remote viewer plays", func() error {
		if _, media, _, _ := remote.snapshot(); len(media) == 0 || len(media[0]) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	st.write(o, at, len(st.fx.Chunks))
	eventually(t, ctx, "remote viewer skips", func() error {
		for _, e := range func() []string { e, _, _, _ := remote.snapshot(); return e }() {
			if e == "skip" {
				return nil
			}
		}
		return errors.New("not yet")
	})

	for _, tc := range []struct {
		name string
		reg  prometheus.Gatherer
		want map[string]float64
	}{
		{"a", regA, map[string]float64{"amlive_cluster_origins": 1, "amlive_cluster_relays": 0, "amlive_cluster_gap_messages_total": 0, "amlive_cluster_connected": 1}},
		{"b", regB, map[string]float64{"amlive_cluster_origins": 0, "amlive_cluster_relays": 1, "amlive_cluster_gap_messages_total": 1, "amlive_cluster_connected": 1}},
	} {
		mfs, err := tc.reg.Gather()
		if err != nil {
			t.Fatalf("node %s: Gather: %v", tc.name, err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			m := mf.GetMetric()[0]
			got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		for name, want := range tc.want {
			if got[name] != want {
				t.Errorf("node %s: %s = %v; want %v", tc.name, name, got[name], want)
			}
		}
		for _, name := range []string{"amlive_nats_sent_bytes_total", "amlive_nats_received_bytes_total", "amlive_nats_sent_messages_total", "amlive_nats_received_messages_total"} {
			if got[name] <= 0 {
				t.Errorf("node %s: %s = %v; want NATS traffic counted", tc.name, name, got[name])
			}
		}
	}
	o.End("")
	remote.wait(t, ctx)

	unused, err := New(connect(t, ns.ClientURL()), testOpts("c"))
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(unused.Collector()); n != 6 {
		t.Errorf("a Cluster before Rooms reports %d metrics; want the connection's 6", n)
	}
}
