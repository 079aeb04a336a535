package mp4

import (
	"encoding/binary"
	"testing"
)

func TestRepair(t *testing.T) {
	aacTrack := trackSpec{id: 1, handler: "soun", timescale: 48000, entry: audioEntry("mp4a", 2, 48000, esds(0x40, []byte{0x11, 0x90}))}
	videoTrack := trackSpec{id: 1, handler: "vide", timescale: 48000, entry: avcTrack.entry}
	chromium := []uint32{2880, 2880, 1008}
	const (
		whole     = iota // the stream in one piece
		moofAlone        // the moof in one call, its mdat in the next
		fieldCut         // a call ends inside the last duration field
		fieldOff         // a call ends just past the last duration field
	)
	tests := []struct {
		name       string
		track      trackSpec
		durations  []uint32
		fill       []byte // each sample's first bytes
		split      int
		want       uint32 // the last duration after Feed
		wantRepair int
		wantMissed int
	}{
		{name: "chromium opus", track: opusTrack, durations: chromium, fill: opus60msOn, want: 2880, wantRepair: 1},
		{name: "opus TOC says 40 ms", track: opusTrack, durations: chromium, fill: []byte{0x10}, want: 1920, wantRepair: 1},
		{name: "opus TOC says 20 ms: as declared", track: opusTrack, durations: chromium, fill: []byte{0xf8}, want: 1008},
		{name: "opus TOC invalid: the run's duration", track: opusTrack, durations: chromium, fill: []byte{0xfb, 0x00}, want: 2880, wantRepair: 1},
		{name: "opus TOC in the next call: the run's duration", track: opusTrack, durations: chromium, fill: []byte{0x10}, split: moofAlone, want: 2880, wantRepair: 1},
		{name: "opus field cut by a call boundary", track: opusTrack, durations: chromium, fill: opus60msOn, split: fieldCut, want: 1008, wantMissed: 1},
		{name: "opus field before a call boundary in its moof", track: opusTrack, durations: chromium, fill: []byte{0x10}, split: fieldOff, want: 2880, wantRepair: 1},
		{name: "aac", track: aacTrack, durations: []uint32{1024, 1024, 1024, 500}, want: 1024, wantRepair: 1},
		{name: "video left alone", track: videoTrack, durations: []uint32{1000, 1000, 500}, want: 500},
		{name: "one sample: its TOC", track: opusTrack, durations: []uint32{1008}, fill: opus60msOn, want: 2880, wantRepair: 1},
		{name: "one sample, TOC in the next call", track: opusTrack, durations: []uint32{1008}, fill: opus60msOn, split: moofAlone, want: 1008},
		{name: "last longer", track: opusTrack, durations: []uint32{2880, 2880, 3000}, fill: opus60msOn, want: 3000},
		// Chromium stamps packets by their capture time: on a busy machine
		// some are longer, and the last one is still 1008.
		{name: "jittered durations: its TOC", track: opusTrack, durations: []uint32{2880, 3360, 2400, 1008}, fill: opus60msOn, want: 2880, wantRepair: 1},
		{name: "jittered durations, TOC in the next call: the most common", track: opusTrack, durations: []uint32{2880, 3360, 2880, 2880, 1008}, fill: opus60msOn, split: moofAlone, want: 2880, wantRepair: 1},
		{name: "no duration most common, TOC in the next call: the one before", track: opusTrack, durations: []uint32{2880, 1920, 1008}, fill: opus60msOn, split: moofAlone, want: 1920, wantRepair: 1},
		{name: "aac, jittered", track: aacTrack, durations: []uint32{1024, 1100, 1024, 1024, 500}, want: 1024, wantRepair: 1},
		{name: "two samples", track: opusTrack, durations: []uint32{2880, 1008}, fill: opus60msOn, want: 2880, wantRepair: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := cat(ftyp(), moov(tc.track))
			f := frag(1, trafSpec{track: 1, runs: []runSpec{{durations: tc.durations, sizes: []uint32{4, 4, 4, 4, 4}[:len(tc.durations)], fill: tc.fill}}})
			s := cat(head, f)
			field := opusRuns(t, s, 1)[0].fields[len(tc.durations)-1]
			var pieces [][]byte
			switch tc.split {
			case whole:
				pieces = [][]byte{s}
			case moofAlone:
				moofEnd := len(head) + int(binary.BigEndian.Uint32(f))
				pieces = [][]byte{s[:moofEnd], s[moofEnd:]}
			case fieldCut:
				pieces = [][]byte{s[:field+2], s[field+2:]}
			case fieldOff:
				pieces = [][]byte{s[:field+4], s[field+4:]}
			}
			res, r := feedPieces(t, Limits{}, pieces)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if got := binary.BigEndian.Uint32(res.out[field:]); got != tc.want {
				t.Errorf("last duration = %d; want %d", got, tc.want)
			}
			if r.Repairs() != tc.wantRepair || r.MissedRepairs() != tc.wantMissed {
				t.Errorf("Repairs() = %d, MissedRepairs() = %d; want %d, %d", r.Repairs(), r.MissedRepairs(), tc.wantRepair, tc.wantMissed)
			}
			for i := range s {
				if int64(i) >= field && int64(i) < field+4 {
					continue
				}
				if res.out[i] != s[i] {
					t.Fatalf("Feed changed byte %d, outside the duration field at %d", i, field)
				}
			}
		})
	}
}

func TestOpusSamples(t *testing.T) {
	tests := []struct {
		name string
		give []byte
		want int
	}{
		{name: "empty", give: nil, want: 0},
		{name: "silk 10 ms", give: []byte{0 << 3}, want: 480},
		{name: "silk 60 ms", give: []byte{3 << 3}, want: 2880},
		{name: "silk 40 ms, two frames", give: []byte{2<<3 | 1}, want: 3840},
		{name: "hybrid 20 ms", give: []byte{13 << 3}, want: 960},
		{name: "celt 2.5 ms", give: []byte{16 << 3}, want: 120},
		{name: "celt 20 ms, code 2", give: []byte{31<<3 | 2}, want: 1920},
		{name: "celt 20 ms, 3 frames", give: []byte{31<<3 | 3, 3}, want: 2880},
		{name: "code 3 without its count", give: []byte{31<<3 | 3}, want: 0},
		{name: "code 3, no frames", give: []byte{31<<3 | 3, 0x80}, want: 0},
		{name: "over 120 ms", give: []byte{3<<3 | 3, 3}, want: 0},
		{name: "120 ms", give: []byte{3<<3 | 3, 2}, want: 5760},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := opusSamples(tc.give); got != tc.want {
				t.Errorf("opusSamples(%x) = %d; want %d", tc.give, got, tc.want)
			}
		})
	}
}
