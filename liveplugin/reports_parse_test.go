package liveplugin

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// FuzzViewerReport checks that parseReport never panics, that what it
// accepts is within every bound and survives a round trip, and that what
// it rejects carries one of the known reasons.
func FuzzViewerReport(f *testing.F) {
	for _, s := range []string{
		`{"type":"report","delay":0.6,"stalls":1,"stallSeconds":0.4,"frames":150,"dropped":2,"skips":0,"errors":0,"codec":"video/webm;codecs=\"vp8,opus\""}`,
		`{"type":"report"}`,
		`{"type":"report","delay":1e308}`,
		`{"type":"report","delay":-0}`,
		`{"type":"report","frames":9223372036854775807,"dropped":9223372036854775807}`,
		`{"type":"report","codec":"\u003cscript\u003e"}`,
		`{"type":"end"}`,
		`[]`, `null`, `{`, `{"type":"report"} `, `{"type":"report","Delay":1}`,
		strings.Repeat(" ", 2000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseReport(data)
		if err != nil {
			e, ok := errors.AsType[*errReport](err)
			if !ok || !slices.Contains(rejectReasons, e.reason) || e.reason == rejectRate {
				t.Fatalf("parseReport(%q) error %v; want an *errReport with a reason of the parser", data, err)
			}
			if len(data) > maxReportBytes && e.reason != rejectSize {
				t.Fatalf("parseReport of %d bytes rejected for %s; want size", len(data), e.reason)
			}
			return
		}
		if len(data) > maxReportBytes {
			t.Fatalf("parseReport accepted %d bytes", len(data))
		}
		if r.Type != typeReport || !r.valid() || r.Delay < 0 || r.Delay > maxReportDelay || math.IsNaN(r.Delay) ||
			r.Frames < 0 || r.Dropped < 0 || r.Dropped > r.Frames || r.Frames > maxReportFrames ||
			r.StallSeconds < 0 || r.StallSeconds > maxReportStall || len(r.Codec) > maxCodecLen ||
			strings.ContainsAny(r.Codec, "<>&'\\\x00") {
			t.Fatalf("parseReport(%q) accepted %+v, out of bounds", data, r)
		}
		again, err := parseReport(encodeEvent(r))
		if err != nil || again != r {
			t.Fatalf("round trip of %+v = %+v, %v", r, again, err)
		}
	})
}

func TestQuantile(t *testing.T) {
	tests := []struct {
		name string
		give []float64
		q    float64
		want float64
	}{
		{name: "one", give: []float64{3}, q: 0.5, want: 3},
		{name: "one p90", give: []float64{3}, q: 0.9, want: 3},
		{name: "odd median", give: []float64{1, 2, 10}, q: 0.5, want: 2},
		{name: "even median", give: []float64{1, 2, 3, 4}, q: 0.5, want: 2.5},
		{name: "p90 of ten", give: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, q: 0.9, want: 9.1},
		{name: "max", give: []float64{1, 2}, q: 1, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := quantile(tc.give, tc.q); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("quantile(%v, %v) = %v; want %v", tc.give, tc.q, got, tc.want)
			}
		})
	}
}

// TestAudienceEventJSON checks the audience event's fields, which the
// broadcaster page reads.
func TestAudienceEventJSON(t *testing.T) {
	got := string(encodeEvent(newAudience(Audience{Viewers: 14, MedianDelay: 0.6, P90Delay: 1.2, Stalling: 1, DroppedFrames: 0.01})))
	want := `{"type":"audience","viewers":14,"medianDelay":0.6,"p90Delay":1.2,"stalling":1,"droppedFrames":0.01}`
	if got != want {
		t.Errorf("audience event = %s; want %s", got, want)
	}
	var r viewerReport
	if err := json.Unmarshal([]byte(`{"type":"report","delay":1}`), &r); err != nil || r.Delay != 1 {
		t.Errorf("report decode = %+v, %v", r, err)
	}
}

// BenchmarkParseReport measures the validation of one plausible report,
// what each viewer costs the server every few seconds.
func BenchmarkParseReport(b *testing.B) {
	data := []byte(`{"type":"report","delay":0.612,"stalls":1,"stallSeconds":0.4,"frames":150,"dropped":2,"skips":0,"errors":0,"codec":"video/webm; codecs=\"vp8,opus\""}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseReport(data); err != nil {
			b.Fatal(err)
		}
	}
}
