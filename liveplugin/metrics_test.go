package liveplugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/time/rate"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// countingViewer is a viewer that counts the messages and bytes it
// receives and notes the text events' types, until its connection closes.
type countingViewer struct {
	conn *websocket.Conn
	done chan struct{}

	// Written by read; read them once done is closed.
	messages, bytes int64
	code            websocket.StatusCode
	// types are the text events' types so far, for has.
	types atomic.Value // []string
}

func newCountingViewer(t *testing.T, url string, opts *websocket.DialOptions) *countingViewer {
	t.Helper()
	ctx := testContext(t, 10*time.Second)
	conn, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial viewer: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	v := &countingViewer{conn: conn, done: make(chan struct{})}
	v.types.Store([]string(nil))
	go v.read() // exits when the connection closes
	t.Cleanup(func() {
		conn.CloseNow()
		<-v.done
	})
	return v
}

func (v *countingViewer) read() {
	defer close(v.done)
	for {
		typ, data, err := v.conn.Read(context.Background())
		if err != nil {
			v.code = websocket.CloseStatus(err)
			return
		}
		v.messages++
		v.bytes += int64(len(data))
		if typ == websocket.MessageText {
			var e struct{ Type string }
			_ = json.Unmarshal(data, &e)
			old := v.types.Load().([]string)
			v.types.Store(append(old[:len(old):len(old)], e.Type))
		}
	}
}

// has reports whether the viewer received an event of type typ.
func (v *countingViewer) has(typ string) bool {
	for _, s := range v.types.Load().([]string) {
		if s == typ {
			return true
		}
	}
	return false
}

// gathered is one scrape of a registry: name, then labels as
// "k=v,k=v", then the value (a histogram's sample count).
type gathered map[string]map[string]float64

func gather(t *testing.T, reg prometheus.Gatherer) gathered {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	g := gathered{}
	for _, mf := range mfs {
		series := map[string]float64{}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			series[strings.Join(labels, ",")] = value(mf.GetType(), m)
		}
		g[mf.GetName()] = series
	}
	return g
}

func value(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

// get returns the value of name with labels ("" for none), failing the
// test if the series is missing.
func (g gathered) get(t testing.TB, name, labels string) float64 {
	t.Helper()
	v, ok := g[name][labels]
	if !ok {
		t.Fatalf("no series %s{%s} in %v", name, labels, g[name])
	}
	return v
}

// TestMetricsOfABroadcast scripts a broadcast and checks the metrics
// against what happened: a publisher whose connection drops once and
// resumes; three viewers, of whom one leaves before the media and one is
// too slow and is dropped; a fourth refused by MaxViewers; then the end.
func TestMetricsOfABroadcast(t *testing.T) {
	const queue = 64 << 10
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	_, chunks := loopedStream(t, &fx, 4)
	ctx := testContext(t, 2*time.Minute)
	reg := prometheus.NewRegistry()
	s := newServerWith(t, liveplugin.Config{
		Authorize:        allowAll,
		Metrics:          reg,
		MaxViewers:       3,
		ViewerQueueBytes: queue,
		ResumeGrace:      10 * time.Second,
		WriteTimeout:     30 * time.Second, // the slow viewer goes for being slow, not for one stuck write
		PingInterval:     time.Hour,        // nor for a late pong
	}, func(hs *httptest.Server) { hs.Listener = sndbufListener{hs.Listener, 16 << 10} })
	proxy := newNetProxy(t, s.URL)
	pub, _ := newResumer(t, ctx, proxy.URL("/live/alice/upload"))

	url := s.ws("/live/alice/subscribe")
	a := newCountingViewer(t, url, nil)
	var fast atomic.Bool
	transport := smallWindowTransport(func(c net.Conn) net.Conn {
		return &throttledConn{Conn: c, lim: rate.NewLimiter(4<<10, 512), fast: &fast}
	})
	defer transport.CloseIdleConnections()
	slow := newCountingViewer(t, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	b := newCountingViewer(t, url, nil)
	pub.c.viewers(t, ctx, 3)

	refused := newCountingViewer(t, url, nil)
	<-refused.done
	if refused.code != liveplugin.StatusLimit {
		t.Errorf("fourth viewer closed with %d; want %d", refused.code, liveplugin.StatusLimit)
	}

	// b leaves before the stream's header: nothing was written to it
	// (viewers get nothing before hello).
	b.conn.CloseNow()
	<-b.done
	pub.c.viewers(t, ctx, 2)
	g := gather(t, reg)
	for _, c := range []struct {
		name string
		want float64
	}{{"amlive_viewers", 2}, {"amlive_publishers", 1}, {"amlive_live_rooms", 0}, {"amlive_viewer_joins_total", 3}} {
		if got := g.get(t, c.name, ""); got != c.want {
			t.Errorf("before the stream's header: %s = %v; want %v", c.name, got, c.want)
		}
	}

	// Publish at twice the real pace until the slow viewer is dropped and
	// a few chunks more went out; then the publisher's connection drops
	// mid-message and it resumes.
	var sent, messages int64
	after := -1
	tick := time.NewTicker(125 * time.Millisecond)
	defer tick.Stop()
	i := 0
	for ; i < len(chunks) && after != 0; i++ {
		pub.send(ctx, chunks[i])
		sent += int64(len(chunks[i]))
		messages++
		if after > 0 {
			after--
		} else if after < 0 && s.p.Stats().SlowDrops == 1 {
			after = 4
		}
		<-tick.C
	}
	if s.p.Stats().SlowDrops != 1 {
		t.Fatalf("Stats() = %+v after every chunk; want the slow viewer dropped", s.p.Stats())
	}
	fast.Store(true) // let it read what is left, the close frame last
	waitUntil(t, ctx, "the slow viewer gone", func() bool { return s.p.Stats().Viewers == 1 })
	g = gather(t, reg)
	for _, c := range []struct {
		name string
		want float64
	}{{"amlive_viewers", 1}, {"amlive_publishers", 1}, {"amlive_live_rooms", 1}} {
		if got := g.get(t, c.name, ""); got != c.want {
			t.Errorf("live: %s = %v; want %v", c.name, got, c.want)
		}
	}
	if i+3 > len(chunks) {
		t.Fatalf("%d chunks left for the resume; want 3", len(chunks)-i)
	}
	proxy.cutAfter(int64(len(chunks[i]) / 2))
	pub.send(ctx, chunks[i])
	sent += int64(len(chunks[i]))
	messages++
	waitUntil(t, ctx, "viewer a's reconnecting event", func() bool { return a.has("reconnecting") })
	pub.resume(ctx)
	for _, c := range chunks[i+1 : i+3] {
		pub.send(ctx, c)
		sent += int64(len(c))
		messages++
	}
	s.waitBytes(t, ctx, "alice", sent)
	pub.c.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	messages++
	if code, reason := pub.c.closed(t, ctx); code != websocket.StatusNormalClosure {
		t.Fatalf("publisher closed with %d %q; want 1000", code, reason)
	}
	for name, v := range map[string]*countingViewer{"a": a, "slow": slow} {
		select {
		case <-v.done:
		case <-ctx.Done():
			t.Fatalf("viewer %s was not closed", name)
		}
	}
	if a.code != websocket.StatusNormalClosure || slow.code != websocket.StatusPolicyViolation {
		t.Errorf("viewers closed with %d and %d; want 1000 and 1008", a.code, slow.code)
	}

	// The viewers' handlers return once their close handshake is done.
	waitUntil(t, ctx, "the viewers gone", func() bool { st := s.p.Stats(); return st.Viewers == 0 && st.QueuedBytes == 0 })
	st := s.p.Stats()
	g = gather(t, reg)
	tests := []struct {
		name   string
		labels string
		want   float64
	}{
		{"amlive_live_rooms", "", 0},
		{"amlive_viewers", "", 0},
		{"amlive_publishers", "", 0},
		{"amlive_viewer_joins_total", "", 3},
		{"amlive_received_bytes_total", "", float64(sent)},
		{"amlive_received_messages_total", "", float64(messages)},
		{"amlive_sent_messages_total", "", float64(a.messages + b.messages + slow.messages)},
		{"amlive_sent_bytes_total", "", float64(a.bytes + b.bytes + slow.bytes)},
		{"amlive_viewer_slow_drops_total", "", 1},
		{"amlive_viewer_skips_total", "", float64(st.Skips)},
		{"amlive_dead_peers_total", "", 0},
		{"amlive_viewer_queued_bytes", "", 0},
		// The publisher's end and a's; the slow viewer; the refused one.
		{"amlive_websocket_closes_total", "code=1000", 2},
		{"amlive_websocket_closes_total", "code=1008", 1},
		{"amlive_websocket_closes_total", "code=4429", 1},
		{"amlive_websocket_closes_total", "code=1001", 0},
		{"amlive_websocket_closes_total", "code=1011", 0},
		{"amlive_limit_hits_total", "limit=MaxViewers", 1},
		{"amlive_limit_hits_total", "limit=MaxRooms", 0},
		{"amlive_limit_hits_total", "limit=ViewerUpgrades", 0},
		{"amlive_resumes_total", "", 1},
		// a and the slow viewer got the init segment; b left before it.
		{"amlive_viewer_join_seconds", "", 2},
		{"amlive_recording_written_bytes_total", "", float64(sent)},
		{"amlive_recording_failures_total", "", 0},
		{"amlive_recording_seal_seconds", "", 1},
		{"amlive_recording_seal_failures_total", "", 0},
		{"amlive_recording_retention_deletions_total", "", 0},
	}
	for _, tc := range tests {
		if got := g.get(t, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s{%s} = %v; want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if st.Skips < 4 {
		t.Errorf("Stats().Skips = %d; want at least 4 (SlowSkips+1 overflows of the slow viewer)", st.Skips)
	}
	var closes float64
	for _, v := range g["amlive_websocket_closes_total"] {
		closes += v
	}
	if closes != 4 {
		t.Errorf("amlive_websocket_closes_total sums to %v over %v; want 4", closes, g["amlive_websocket_closes_total"])
	}
	if n := g.get(t, "amlive_upload_ack_lag_seconds", ""); n < 1 || n > float64(messages) {
		t.Errorf("amlive_upload_ack_lag_seconds counts %v acks; want 1 to %d", n, messages)
	}
	if free := g.get(t, "amlive_recordings_free_bytes", ""); free <= 0 {
		t.Errorf("amlive_recordings_free_bytes = %v; want > 0", free)
	}
}

// TestMetricsRetention: a recording deleted by KeepRecordings is counted.
func TestMetricsRetention(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	reg := prometheus.NewRegistry()
	s := newServer(t, liveplugin.Config{Authorize: allowAll, Metrics: reg, KeepRecordings: 1})
	record(t, ctx, s, "alice", fx.Chunks)
	record(t, ctx, s, "alice", fx.Chunks)
	g := gather(t, reg)
	if got := g.get(t, "amlive_recording_retention_deletions_total", ""); got != 1 {
		t.Errorf("amlive_recording_retention_deletions_total = %v; want 1", got)
	}
	if got := g.get(t, "amlive_recording_seal_seconds", ""); got != 2 {
		t.Errorf("amlive_recording_seal_seconds counts %v seals; want 2", got)
	}
}

// TestMetricsRegistration: the metrics go on Config.Metrics only; two
// plugins on one registry collide unless each has its own value of a
// label (prometheus.WrapRegistererWith); Close unregisters them.
func TestMetricsRegistration(t *testing.T) {
	amlive := func(g prometheus.Gatherer) int {
		mfs, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "amlive_") {
				n++
			}
		}
		return n
	}
	register := func(reg prometheus.Registerer) (*liveplugin.Plugin, error) {
		return liveplugin.Register(echo.New().Group("/live"), liveplugin.Config{Dir: t.TempDir(), Metrics: reg})
	}
	closePlugin := func(p *liveplugin.Plugin) {
		if err := p.Close(testContext(t, 10*time.Second)); err != nil {
			t.Errorf("Close: %v", err)
		}
	}

	none, err := register(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closePlugin(none)
	if n := amlive(prometheus.DefaultGatherer); n != 0 {
		t.Errorf("the default registry holds %d amlive metrics; want none", n)
	}

	reg := prometheus.NewRegistry()
	only, err := register(reg)
	if err != nil {
		t.Fatal(err)
	}
	if n := amlive(reg); n < 20 {
		t.Errorf("the registry holds %d amlive metrics; want them all", n)
	}
	var are prometheus.AlreadyRegisteredError
	if p, err := register(reg); !errors.As(err, &are) {
		t.Errorf("second Register on one registry: %v; want an AlreadyRegisteredError", err)
		if p != nil {
			closePlugin(p)
		}
	}
	closePlugin(only)
	if n := amlive(reg); n != 0 {
		t.Errorf("the registry holds %d amlive metrics after Close; want none", n)
	}
	again, err := register(reg)
	if err != nil {
		t.Fatalf("Register after the first plugin closed: %v", err)
	}
	closePlugin(again)

	// A registry remembers the label names of a metric even once it is
	// unregistered: a new one for the labelled plugins.
	reg = prometheus.NewRegistry()
	labelled := func(v string) prometheus.Registerer {
		return prometheus.WrapRegistererWith(prometheus.Labels{"plugin": v}, reg)
	}
	first, err := register(labelled("first"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := register(labelled("second"))
	if err != nil {
		t.Fatalf("Register with a registerer of its own label: %v", err)
	}
	if p, err := register(labelled("second")); err == nil {
		t.Error("Register with a label another plugin has: no error")
		closePlugin(p)
	}
	g := gather(t, reg)
	for _, v := range []string{"plugin=first", "plugin=second"} {
		if _, ok := g["amlive_viewers"][v]; !ok {
			t.Errorf("amlive_viewers = %v; want a series with %s", g["amlive_viewers"], v)
		}
	}
	closePlugin(second)
	closePlugin(first)
	if n := amlive(reg); n != 0 {
		t.Errorf("the registry holds %d amlive metrics after Close; want none", n)
	}
}

// TestMetricsIncludeViewerReports checks that Config.Metrics carries the
// metrics of the viewers' experience reports beside the plugin's own.
func TestMetricsIncludeViewerReports(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := liveplugin.Register(echo.New().Group("/live"), liveplugin.Config{Dir: t.TempDir(), Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(testContext(t, 10*time.Second)); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"amlive_viewer_reports_total": false, "amlive_viewer_reports_rejected_total": false, "amlive_viewer_joins_total": false}
	for _, mf := range mfs {
		if _, ok := want[mf.GetName()]; ok {
			want[mf.GetName()] = true
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("registry has no %s", name)
		}
	}
}

// TestMetricsPerRoom broadcasts in three rooms with MetricsPerRoom 2: the
// two rooms with the most viewers get their own series, the third is
// summed under room="_other", and a room's series go when it ends.
func TestMetricsPerRoom(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	reg := prometheus.NewRegistry()
	s := newServer(t, liveplugin.Config{Authorize: allowAll, Metrics: reg, MetricsPerRoom: 2})
	viewersOf := map[string]int{"a": 3, "b": 2, "c": 1}
	pubs := map[string]*client{}
	for room, n := range viewersOf {
		pub, _ := publish(t, ctx, s, room)
		pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])
		pubs[room] = pub
		for range n {
			v := mustDial(t, ctx, s.ws("/live/"+room+"/subscribe"))
			v.event(t, ctx, "hello")
		}
		pub.viewers(t, ctx, n)
	}
	byRoom := func() map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "amlive_room_viewers" {
				continue
			}
			for _, m := range mf.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
		return got
	}
	if got, want := byRoom(), map[string]float64{"a": 3, "b": 2, "_other": 1}; !maps.Equal(got, want) {
		t.Errorf("amlive_room_viewers = %v; want %v", got, want)
	}
	pubs["a"].send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	pubs["a"].closed(t, ctx)
	eventually(t, ctx, "room a gone from the metrics", func() bool {
		return maps.Equal(byRoom(), map[string]float64{"b": 2, "c": 1})
	})
}
