package mp4

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestSyncFlags(t *testing.T) {
	video := func(trexFlags uint32) trackSpec {
		v := avcTrack
		v.trexFlags = trexFlags
		return v
	}
	tests := []struct {
		name     string
		trex     uint32   // trex default_sample_flags
		tfhd     *uint32  // tfhd default_sample_flags
		first    *uint32  // trun first_sample_flags
		perFlags []uint32 // trun per-sample flags
		want     bool
	}{
		{name: "first sample flags sync over per-sample non-sync", first: ptr(syncFlags), perFlags: []uint32{nonSyncFlags, nonSyncFlags}, want: true},
		{name: "first sample flags non-sync over a sync default", first: ptr(nonSyncFlags), tfhd: ptr(syncFlags), want: false},
		{name: "per-sample flags sync over a non-sync default", perFlags: []uint32{syncFlags, nonSyncFlags}, tfhd: ptr(nonSyncFlags), want: true},
		{name: "per-sample flags non-sync", perFlags: []uint32{nonSyncFlags, syncFlags}, tfhd: ptr(syncFlags), want: false},
		{name: "tfhd default sync over a non-sync trex", tfhd: ptr(syncFlags), trex: nonSyncFlags, want: true},
		{name: "tfhd default non-sync over a sync trex", tfhd: ptr(nonSyncFlags), trex: syncFlags, want: false},
		{name: "trex default non-sync", trex: nonSyncFlags, want: false},
		{name: "trex default sync", trex: syncFlags, want: true},
		{name: "no flags anywhere: sync", want: true},
		{name: "depends on others only", first: ptr(0x01000000), want: false},
		{name: "non-sync bit only", first: ptr(0x00010000), want: false},
		{name: "depends on none", first: ptr(0x02000000), want: true},
		{name: "leading and redundancy bits: sync", first: ptr(0x0c0c0000 | 0x00300000), want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := cat(ftyp(), moov(opusTrack, video(tc.trex)), frag(1,
				trafSpec{track: 1, defFlags: ptr(syncFlags), runs: []runSpec{{durations: []uint32{960}, sizes: []uint32{3}}}},
				trafSpec{track: 2, defFlags: tc.tfhd, runs: []runSpec{{durations: []uint32{1000, 1000}, sizes: []uint32{5, 6}, first: tc.first, flags: tc.perFlags}}}))
			res, _ := feedPieces(t, Limits{}, [][]byte{s})
			if res.err != nil {
				t.Fatal(res.err)
			}
			sync, key := false, false
			for _, ev := range res.events {
				switch {
				case ev.Kind == KindSync:
					sync = true
				case ev.Kind == KindSample && ev.Track == 2:
					key = ev.Keyframe
				}
			}
			if sync != tc.want || key != tc.want {
				t.Errorf("sync %v, video run keyframe %v; want %v", sync, key, tc.want)
			}
		})
	}
}

// kinds returns the events as "kind offset@timecode" strings, samples with
// their track.
func kinds(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		s := fmt.Sprint(ev.Kind, " ", ev.Offset, "@", ev.Timecode)
		if ev.Kind == KindSample {
			s += fmt.Sprint(" track ", ev.Track, " ", ev.Size, " bytes")
		}
		out = append(out, s)
	}
	return out
}

func TestFragmentTimes(t *testing.T) {
	audio := func(tfdt uint64, noTfdt bool) trafSpec {
		return trafSpec{track: 1, tfdt: tfdt, noTfdt: noTfdt, runs: []runSpec{{durations: []uint32{960, 960}, sizes: []uint32{3, 3}}}}
	}
	video := func(tfdt uint64, noTfdt bool) trafSpec {
		return trafSpec{track: 2, tfdt: tfdt, noTfdt: noTfdt, runs: []runSpec{{sizes: []uint32{5, 5}}}}
	}
	v := avcTrack
	v.trexDur = 1000 // 50 ms at 20 kHz, from trex
	head := cat(ftyp(), moov(opusTrack, v))
	audioOnly := cat(ftyp(), moov(opusTrack))
	tests := []struct {
		name  string
		head  []byte
		frags [][]byte
		want  []time.Duration // each fragment's time
		sync  []bool
	}{
		{name: "video tfdt", head: head, frags: [][]byte{frag(1, audio(0, false), video(0, false)), frag(2, audio(48000, false), video(40000, false))},
			want: []time.Duration{0, 2 * time.Second}, sync: []bool{true, true}},
		{name: "no tfdt: where the previous fragment ended", head: head, frags: [][]byte{frag(1, audio(0, false), video(0, false)), frag(2, audio(0, true), video(0, true))},
			want: []time.Duration{0, 100 * time.Millisecond}, sync: []bool{true, true}},
		{name: "no video traf: the video track's next time", head: head, frags: [][]byte{frag(1, audio(0, false), video(20000, false)), frag(2, audio(48000, false))},
			want: []time.Duration{time.Second, 1100 * time.Millisecond}, sync: []bool{true, false}},
		{name: "audio only: the first traf, every fragment a join point", head: audioOnly, frags: [][]byte{frag(1, audio(4800, false)), frag(2, audio(9600, false))},
			want: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, sync: []bool{true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := feedPieces(t, Limits{}, [][]byte{cat(tc.head, cat(tc.frags...))})
			if res.err != nil {
				t.Fatal(res.err)
			}
			var got []time.Duration
			var sync []bool
			for _, ev := range res.events {
				switch ev.Kind {
				case KindFragment:
					got = append(got, ev.Timecode)
					sync = append(sync, false)
				case KindSync:
					sync[len(sync)-1] = true
				}
			}
			if !slices.Equal(got, tc.want) || !slices.Equal(sync, tc.sync) {
				t.Errorf("fragments at %v, sync %v; want %v, %v\n%v", got, sync, tc.want, tc.sync, kinds(res.events))
			}
		})
	}
}

func TestDataOffsets(t *testing.T) {
	head := cat(ftyp(), moov(opusTrack, avcTrack))
	nh := int64(len(head))
	tfdt := fbox("tfdt", 0, 0, u32(0))
	moofWith := func(trafs ...[]byte) []byte { return box("moof", fbox("mfhd", 0, 0, u32(1)), cat(trafs...)) }
	trun := func(flags uint32, off int32, sizes ...uint32) []byte {
		var b []byte
		if flags&1 != 0 {
			b = u32(uint32(off))
		}
		for _, s := range sizes {
			b = append(b, u32(s)...)
		}
		return fbox("trun", 0, flags|0x200, u32(uint32(len(sizes))), b)
	}
	// Explicit base data offset (absolute), no data offset in the trun.
	explicit := func(base uint64) []byte {
		return moofWith(box("traf", fbox("tfhd", 0, 0x01, u32(1), u64(base)), tfdt, trun(0, 0, 3, 4)))
	}
	m := explicit(0)
	m = explicit(uint64(nh) + uint64(len(m)) + 8)
	// No flags: the first traf's base is the moof, the next traf's the end
	// of the previous traf's data.
	chained := func(off int32) []byte {
		return moofWith(box("traf", fbox("tfhd", 0, 0, u32(1)), tfdt, trun(1, off, 3, 4)),
			box("traf", fbox("tfhd", 0, 0, u32(2)), tfdt, trun(0, 0, 10)))
	}
	c := chained(0)
	c = chained(int32(len(c) + 8))
	tests := []struct {
		name string
		give []byte
		want []string
	}{
		{name: "base data offset", give: cat(head, m, box("mdat", make([]byte, 7))), want: []string{
			fmt.Sprintf("sample %d@0s track 1 7 bytes", nh+int64(len(m))+8)}},
		{name: "chained trafs", give: cat(head, c, box("mdat", make([]byte, 17))), want: []string{
			fmt.Sprintf("sample %d@0s track 1 7 bytes", nh+int64(len(c))+8),
			fmt.Sprintf("sample %d@0s track 2 10 bytes", nh+int64(len(c))+8+7)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := feedPieces(t, Limits{}, [][]byte{tc.give})
			if res.err != nil {
				t.Fatal(res.err)
			}
			var got []string
			for _, s := range kinds(res.events) {
				if s[:6] == "sample" {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("runs %v; want %v", got, tc.want)
			}
		})
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		name      string
		give      uint64
		timescale uint32
		want      int64
	}{
		{name: "zero", give: 0, timescale: 48000, want: 0},
		{name: "one second", give: 48000, timescale: 48000, want: 1e9},
		{name: "fraction rounds down", give: 1, timescale: 3, want: 333333333},
		{name: "a year at 90 kHz", give: 90000 * 86400 * 365, timescale: 90000, want: 86400 * 365 * 1e9},
		{name: "saturates", give: 1 << 63, timescale: 1, want: 1<<63 - 1},
		{name: "just under the edge", give: 9223372036, timescale: 1, want: 9223372036e9},
		{name: "saturates at the edge", give: 9223372037, timescale: 1, want: 1<<63 - 1},
		{name: "saturates in the fraction", give: 9223372036*1000 + 999, timescale: 1000, want: 1<<63 - 1},
		{name: "timescale 0", give: 5, timescale: 0, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ticks(tc.give, tc.timescale); got != tc.want {
				t.Errorf("ticks(%d, %d) = %d; want %d", tc.give, tc.timescale, got, tc.want)
			}
		})
	}
}
