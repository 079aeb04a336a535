package liveplugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/amlive/amlive/internal/fixture"
	"github.com/amlive/amlive/liveplugin"
)

// report is a viewer's experience report as the player sends it.
type report struct {
	Type         string  `json:"type"`
	Delay        float64 `json:"delay"`
	Stalls       int     `json:"stalls"`
	StallSeconds float64 `json:"stallSeconds"`
	Frames       int64   `json:"frames"`
	Dropped      int64   `json:"dropped"`
	Skips        int     `json:"skips"`
	Errors       int     `json:"errors"`
	Codec        string  `json:"codec"`
}

func (r report) json() []byte {
	r.Type = "report"
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return b
}

// goodReport is a plausible report.
var goodReport = report{Delay: 0.6, Frames: 150, Dropped: 1, Codec: `video/webm;codecs="vp8,opus"`}

// waitReports waits until the plugin has handled n reports, accepted or
// rejected, and returns the counts.
func waitReports(t *testing.T, ctx context.Context, p *liveplugin.Plugin, n int64) (int64, map[string]int64) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		acc, rej, _ := p.ReportCounts()
		sum := acc
		for _, v := range rej {
			sum += v
		}
		if sum >= n {
			return acc, rej
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("the plugin handled %d reports; want %d", sum, n)
		}
	}
}

// TestViewerReportValidation sends each viewer one message: only valid
// reports count, every other one is counted as rejected by its reason,
// and no viewer is closed for it: each receives the end of the broadcast.
func TestViewerReportValidation(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	pub, _ := publish(t, ctx, s, "alice")
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0])

	long := goodReport
	long.Codec = strings.Repeat("a", 2000)
	tests := []struct {
		name string
		typ  websocket.MessageType
		give []byte
		want string // "" for accepted, else the reject reason
	}{
		{name: "valid", give: goodReport.json()},
		{name: "valid zero", give: report{}.json()},
		{name: "valid stalls", give: report{Delay: 2, Stalls: 2, StallSeconds: 1.5, Frames: 100, Dropped: 100}.json()},
		{name: "not JSON", give: []byte(`{"type":"report",`), want: "malformed"},
		{name: "not an object", give: []byte(`[1,2]`), want: "malformed"},
		{name: "other type", give: []byte(`{"type":"end"}`), want: "malformed"},
		{name: "no type", give: []byte(`{"delay":1}`), want: "malformed"},
		{name: "unknown field", give: []byte(`{"type":"report","delay":1,"admin":true}`), want: "malformed"},
		{name: "string delay", give: []byte(`{"type":"report","delay":"1"}`), want: "malformed"},
		{name: "trailing data", give: []byte(`{"type":"report"}{"type":"report"}`), want: "malformed"},
		{name: "binary", typ: websocket.MessageBinary, give: goodReport.json(), want: "malformed"},
		{name: "oversize", give: long.json(), want: "size"},
		{name: "oversize garbage", give: []byte(strings.Repeat("x", 10000)), want: "size"},
		{name: "absurd delay", give: report{Delay: 1e9}.json(), want: "range"},
		{name: "negative delay", give: report{Delay: -1}.json(), want: "range"},
		{name: "negative frames", give: report{Frames: -5}.json(), want: "range"},
		{name: "frames absurd", give: report{Frames: 1 << 40}.json(), want: "range"},
		{name: "dropped over frames", give: report{Frames: 10, Dropped: 11}.json(), want: "range"},
		{name: "stall time without stalls", give: report{StallSeconds: 3}.json(), want: "range"},
		{name: "stall time absurd", give: report{Stalls: 1, StallSeconds: 3600}.json(), want: "range"},
		{name: "skips absurd", give: report{Skips: 1 << 30}.json(), want: "range"},
		{name: "errors negative", give: report{Errors: -1}.json(), want: "range"},
		{name: "codec markup", give: report{Codec: "<script>alert(1)</script>"}.json(), want: "range"},
		{name: "float frames", give: []byte(`{"type":"report","frames":1.5}`), want: "malformed"},
	}
	var viewers []*client
	outer := t // the viewers stay connected to the end
	wantRejected := map[string]int64{}
	var wantAccepted int64
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := mustDial(outer, ctx, s.ws("/live/alice/subscribe"))
			viewers = append(viewers, v)
			typ := tc.typ
			if typ == 0 {
				typ = websocket.MessageText
			}
			if err := v.conn.Write(ctx, typ, tc.give); err != nil {
				t.Fatalf("write: %v", err)
			}
			if tc.want == "" {
				wantAccepted++
			} else {
				wantRejected[tc.want]++
			}
			acc, rej := waitReports(t, ctx, s.p, int64(i+1))
			if acc != wantAccepted {
				t.Errorf("accepted = %d; want %d", acc, wantAccepted)
			}
			for _, r := range []string{"size", "malformed", "range", "rate"} {
				if rej[r] != wantRejected[r] {
					t.Errorf("rejected %s = %d; want %d", r, rej[r], wantRejected[r])
				}
			}
		})
	}
	b, ok := s.p.Status("alice")
	if !ok || b.Audience == nil {
		t.Fatalf("Status(alice) = %+v, %t; want an audience", b, ok)
	}
	if b.Audience.Viewers != int(wantAccepted) {
		t.Errorf("audience viewers = %d; want %d (those with a valid report)", b.Audience.Viewers, wantAccepted)
	}
	pub.send(t, ctx, websocket.MessageText, liveplugin.EndMessage)
	for i, v := range viewers {
		if code, reason := v.closed(t, ctx); code != websocket.StatusNormalClosure {
			t.Errorf("viewer %d (%s) closed with %d %q; want 1000 at the end", i, tests[i].name, code, reason)
		}
	}
}

// TestViewerReportRate checks that a viewer's report sooner than the
// report interval after its last one is rejected, and one that floods the
// socket is closed with 1008.
func TestViewerReportRate(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	s.p.SetReportPace(time.Hour, time.Hour)
	pub, _ := publish(t, ctx, s, "alice")
	pub.send(t, ctx, websocket.MessageBinary, fx.Chunks[0]) // the header: listed as live
	v := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 1)
	v.send(t, ctx, websocket.MessageText, goodReport.json())
	v.send(t, ctx, websocket.MessageText, goodReport.json())
	acc, rej := waitReports(t, ctx, s.p, 2)
	if acc != 1 || rej["rate"] != 1 {
		t.Errorf("accepted %d, rejected for rate %d; want 1 and 1", acc, rej["rate"])
	}

	flood := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
	pub.viewers(t, ctx, 2)
	for range 5 * liveplugin.FloodBurst {
		if err := flood.conn.Write(ctx, websocket.MessageText, goodReport.json()); err != nil {
			break // closed for flooding
		}
	}
	if code, _ := flood.closed(t, ctx); code != websocket.StatusPolicyViolation {
		t.Errorf("flooding viewer closed with %d; want 1008", code)
	}
	if _, _, flooded := s.p.ReportCounts(); flooded != 1 {
		t.Errorf("flooded = %d; want 1", flooded)
	}
	// The flood counted one accepted report at most, never the rest.
	if acc, _ := waitReports(t, ctx, s.p, 2); acc > 2 {
		t.Errorf("accepted = %d after the flood; want at most 2", acc)
	}
	pub.viewers(t, ctx, 1)
	if b, _ := s.p.Status("alice"); b.Audience == nil || b.Audience.Viewers != 1 {
		t.Errorf("audience = %+v; want the one viewer left", b.Audience)
	}
}

// audienceClient is a publisher's connection with a reader of its own
// that keeps the audience events it receives.
type audienceClient struct {
	conn *websocket.Conn
	ch   chan liveplugin.Audience
}

// dialAudience dials room's upload and waits for its ready event.
func dialAudience(t *testing.T, ctx context.Context, s *testServer, room string) *audienceClient {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, s.ws("/live/"+room+"/upload?mime=video/webm"), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &audienceClient{conn: conn, ch: make(chan liveplugin.Audience, 64)}
	done, ready := make(chan struct{}), make(chan struct{})
	go func() { // exits when the connection closes
		defer close(done)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var e struct {
				Type string `json:"type"`
				liveplugin.Audience
			}
			if json.Unmarshal(data, &e) == nil && e.Type == "ready" {
				close(ready)
			}
			if e.Type == "audience" {
				select {
				case a.ch <- e.Audience:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		conn.CloseNow()
		<-done
	})
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("timed out waiting for ready")
	}
	return a
}

// wait returns the first audience event for which ok holds.
func (a *audienceClient) wait(t *testing.T, ctx context.Context, ok func(liveplugin.Audience) bool) liveplugin.Audience {
	t.Helper()
	for {
		select {
		case got := <-a.ch:
			if ok(got) {
				return got
			}
		case <-ctx.Done():
			t.Fatal("timed out waiting for an audience event")
		}
	}
}

// TestAudienceSummary has five viewers report: Status, the status JSON
// and the publisher's audience event carry the summary they make, and a
// viewer that leaves drops out of it.
func TestAudienceSummary(t *testing.T) {
	fx := fixture.Load(t, "vp8-opus-250ms-kf2s")
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	s.p.SetReportPace(time.Millisecond, 20*time.Millisecond)
	pub := dialAudience(t, ctx, s, "alice")
	if err := pub.conn.Write(ctx, websocket.MessageBinary, fx.Chunks[0]); err != nil {
		t.Fatal(err)
	}
	gives := []report{
		{Delay: 0.2, Frames: 100},
		{Delay: 0.4, Frames: 100},
		{Delay: 0.6, Frames: 100, Dropped: 10, Stalls: 1, StallSeconds: 0.5},
		{Delay: 0.8, Frames: 100},
		{Delay: 3.0, Frames: 100, Dropped: 10, Stalls: 3, StallSeconds: 2},
	}
	var viewers []*client
	for _, r := range gives {
		v := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
		v.send(t, ctx, websocket.MessageText, r.json())
		viewers = append(viewers, v)
	}
	waitReports(t, ctx, s.p, int64(len(gives)))
	want := liveplugin.Audience{Viewers: 5, MedianDelay: 0.6, P90Delay: 0.8 + 0.6*2.2, Stalling: 2, DroppedFrames: 20.0 / 500}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	same := func(got liveplugin.Audience) bool {
		return got.Viewers == want.Viewers && got.Stalling == want.Stalling && near(got.MedianDelay, want.MedianDelay) &&
			near(got.P90Delay, want.P90Delay) && near(got.DroppedFrames, want.DroppedFrames)
	}
	b, ok := s.p.Status("alice")
	if !ok || b.Audience == nil || !same(*b.Audience) {
		t.Errorf("Status(alice).Audience = %+v; want %+v", b.Audience, want)
	}
	_, body := get(t, "GET", s.URL+"/live/alice/status", nil)
	var st struct {
		Audience *liveplugin.Audience `json:"audience"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Audience == nil || !same(*st.Audience) {
		t.Errorf("GET /live/alice/status audience = %+v (%v) in %s; want %+v", st.Audience, err, body, want)
	}
	pub.wait(t, ctx, same)

	viewers[4].conn.Close(websocket.StatusNormalClosure, "")
	got := pub.wait(t, ctx, func(a liveplugin.Audience) bool { return a.Viewers == 4 })
	if got.Stalling != 1 || !near(got.MedianDelay, 0.5) {
		t.Errorf("audience after a viewer left = %+v; want 4 viewers, 1 stalling, median 0.5", got)
	}
}

// TestReportMetrics checks the collector's values against the reports
// sent: the delay histogram counts the accepted ones, the rejected
// counter each reason.
func TestReportMetrics(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	s := newServer(t, liveplugin.Config{Authorize: allowAll})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.p.ReportCollector())
	pub, _ := publish(t, ctx, s, "alice")
	msgs := [][]byte{
		report{Delay: 0.5, Stalls: 2, StallSeconds: 1.25, Frames: 100, Dropped: 3}.json(),
		report{Delay: 1.5, Frames: 50}.json(),
		report{Delay: 700}.json(),
		[]byte(`nope`),
	}
	for _, m := range msgs {
		v := mustDial(t, ctx, s.ws("/live/alice/subscribe"))
		v.send(t, ctx, websocket.MessageText, m)
	}
	pub.viewers(t, ctx, len(msgs))
	waitReports(t, ctx, s.p, int64(len(msgs)))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += fmt.Sprintf("{%s=%s}", l.GetName(), l.GetValue())
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				got[name] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				got[name+"_count"] = float64(m.GetHistogram().GetSampleCount())
				got[name+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	want := map[string]float64{
		"amlive_viewer_delay_seconds_count":                      2,
		"amlive_viewer_delay_seconds_sum":                        2,
		"amlive_viewer_reports_total":                            2,
		"amlive_viewer_stalls_total":                             2,
		"amlive_viewer_stall_seconds_total":                      1.25,
		"amlive_viewer_frames_total":                             150,
		"amlive_viewer_dropped_frames_total":                     3,
		"amlive_viewer_reports_rejected_total{reason=range}":     1,
		"amlive_viewer_reports_rejected_total{reason=malformed}": 1,
		"amlive_viewer_reports_rejected_total{reason=size}":      0,
		"amlive_viewer_reports_rejected_total{reason=rate}":      0,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %v (present %t); want %v", k, g, ok, w)
		}
	}
}
