package media

import "testing"

func TestKindString(t *testing.T) {
	tests := []struct {
		name string
		give Kind
		want string
	}{
		{name: "init", give: KindInit, want: "init"},
		{name: "fragment", give: KindFragment, want: "fragment"},
		{name: "sync", give: KindSync, want: "sync"},
		{name: "sample", give: KindSample, want: "sample"},
		{name: "unknown", give: Kind(0), want: "Kind(0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.give.String(); got != tc.want {
				t.Errorf("String() = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestTrackTypeString(t *testing.T) {
	tests := []struct {
		name string
		give TrackType
		want string
	}{
		{name: "video", give: Video, want: "video"},
		{name: "audio", give: Audio, want: "audio"},
		{name: "other", give: Other, want: "other"},
		{name: "unknown", give: TrackType(9), want: "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.give.String(); got != tc.want {
				t.Errorf("String() = %q; want %q", got, tc.want)
			}
		})
	}
}
