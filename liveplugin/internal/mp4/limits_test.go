package mp4

import (
	"cmp"
	"errors"
	"fmt"
	"testing"
	"unsafe"
)

// readerFootprint returns the bytes r holds: its init segment and moof
// buffers, and its tracks with their strings.
func readerFootprint(r *Reader) int {
	n := cap(r.init) + cap(r.frag) + cap(r.tracks)*int(unsafe.Sizeof(trackState{})) + len(r.trackIdx)*16
	for _, t := range r.tracks {
		n += len(t.Handler) + len(t.Entry) + len(t.Codec)
	}
	return n
}

// maxFootprint is what a Reader with limits lim may hold, however long
// the stream and whatever it holds: the init segment's buffer (MaxInitBytes
// plus a box header, at most twice that while it grows), the moof buffer
// (MaxFragmentHeaderBytes) and MaxTracks tracks, twice (the slice grows by
// doubling), with strings of at most 64 bytes each. Nothing grows per
// fragment or per sample.
func maxFootprint(lim Limits) int {
	r := NewReader(lim)
	return 2*(int(r.maxInit())+16) + int(r.maxFragment()) + 2*r.maxTracks()*(int(unsafe.Sizeof(trackState{}))+3*64+16)
}

// checkFootprint fails unless r holds at most maxFootprint of its limits.
func checkFootprint(tb testing.TB, r *Reader) {
	tb.Helper()
	if got, max := readerFootprint(r), maxFootprint(r.lim); got > max {
		tb.Fatalf("reader holds %d bytes; want at most %d", got, max)
	}
	if len(r.tracks) > r.maxTracks() || len(r.frag) > int(r.maxFragment()) || (r.initDone && len(r.init) > int(r.maxInit())) {
		tb.Fatalf("reader holds %d tracks, a %d-byte moof, a %d-byte init segment; want at most %d, %d, %d",
			len(r.tracks), len(r.frag), len(r.init), r.maxTracks(), r.maxFragment(), r.maxInit())
	}
}

// manyTracks returns an init segment with n Opus tracks numbered from 1.
func manyTracks(n int) []byte {
	var tracks []trackSpec
	for i := range n {
		t := opusTrack
		t.id = uint32(i + 1)
		tracks = append(tracks, t)
	}
	return cat(ftyp(), moov(tracks...))
}

// checkLimitErr fails unless err is a SyntaxError wrapping ErrLimit at off
// with the reason.
func checkLimitErr(tb testing.TB, err error, off int64, reason string) {
	tb.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, ErrLimit) || se.Reason != reason || se.Offset != off {
		tb.Fatalf("Feed error = %v; want a SyntaxError wrapping ErrLimit at %d: %s", err, off, reason)
	}
}

func TestMaxTracks(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		lim     Limits
		wantErr bool
	}{
		{name: "8 tracks", n: 8},
		{name: "9 tracks", n: 9, wantErr: true},
		{name: "1,000 tracks", n: 1000, wantErr: true},
		{name: "3 tracks, MaxTracks 2", n: 3, lim: Limits{MaxTracks: 2}, wantErr: true},
		{name: "100 tracks allowed", n: 100, lim: Limits{MaxTracks: 100}},
		{name: "1,000 tracks allowed", n: 1000, lim: Limits{MaxTracks: 1000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := cat(manyTracks(tc.n), frag(1, trafSpec{track: uint32(tc.n), runs: []runSpec{{durations: []uint32{960}, sizes: []uint32{1}}}}))
			res, r := feedPieces(t, tc.lim, [][]byte{s})
			if !tc.wantErr {
				if res.err != nil || len(r.Tracks()) != tc.n {
					t.Fatalf("Feed: %v, %d tracks; want nil, %d", res.err, len(r.Tracks()), tc.n)
				}
				return
			}
			max := cmp.Or(tc.lim.MaxTracks, DefaultMaxTracks)
			off := int64(len(ftyp()) + 8 + 108 + max*len(trak(opusTrack)))
			checkLimitErr(t, res.err, off, fmt.Sprintf("more than %d tracks", max))
			if len(r.tracks) != 0 {
				t.Errorf("reader kept %d tracks after the error", len(r.tracks))
			}
		})
	}
}

func TestMaxInitBytes(t *testing.T) {
	head := testParts()[0]
	tests := []struct {
		name    string
		lim     Limits
		give    []byte
		wantErr string // "" for none
		wantAt  int64
	}{
		{name: "at the limit", lim: Limits{MaxInitBytes: len(head)}, give: testStream()},
		{name: "one byte over", lim: Limits{MaxInitBytes: len(head) - 1}, give: testStream(),
			wantErr: fmt.Sprintf("init segment exceeds %d bytes", len(head)-1), wantAt: int64(len(ftyp()))},
		{name: "moov declares 60 MiB", give: cat(ftyp(), u32(60<<20), []byte("moov")),
			wantErr: "init segment exceeds 1048576 bytes", wantAt: int64(len(ftyp()))},
		{name: "free after moov counts", lim: Limits{MaxInitBytes: len(head) + 8}, give: cat(head, box("free", []byte{1}), testParts()[1]),
			wantErr: fmt.Sprintf("init segment exceeds %d bytes", len(head)+8), wantAt: int64(len(head))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, r := feedPieces(t, tc.lim, [][]byte{tc.give})
			if tc.wantErr == "" {
				if res.err != nil {
					t.Fatal(res.err)
				}
				return
			}
			checkLimitErr(t, res.err, tc.wantAt, tc.wantErr)
			// The error comes at the box header: the box was not kept.
			if cap(r.init) > 64<<10 {
				t.Errorf("reader holds %d bytes of init segment after the error", cap(r.init))
			}
		})
	}
}

func TestMaxFragmentHeaderBytes(t *testing.T) {
	parts := testParts()
	moofLen := int(be32(parts[1]))
	tests := []struct {
		name    string
		lim     Limits
		give    []byte
		wantErr string
	}{
		{name: "at the limit", lim: Limits{MaxFragmentHeaderBytes: moofLen}, give: testStream()},
		{name: "one byte over", lim: Limits{MaxFragmentHeaderBytes: moofLen - 1}, give: testStream(),
			wantErr: fmt.Sprintf("moof of %d bytes exceeds %d", moofLen, moofLen-1)},
		{name: "moof declares 60 MiB", give: cat(parts[0], u32(60<<20), []byte("moof")),
			wantErr: "moof of 62914560 bytes exceeds 1048576"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, r := feedPieces(t, tc.lim, [][]byte{tc.give})
			if tc.wantErr == "" {
				if res.err != nil {
					t.Fatal(res.err)
				}
				return
			}
			checkLimitErr(t, res.err, int64(len(parts[0])), tc.wantErr)
			if cap(r.frag) != 0 {
				t.Errorf("reader took a %d-byte moof buffer before the error", cap(r.frag))
			}
		})
	}
}

func TestMaxBoxBytes(t *testing.T) {
	head := testParts()[0]
	f := frag(1, trafSpec{track: 1, runs: []runSpec{{durations: []uint32{960}, sizes: []uint32{2000}}}})
	mdat := len(f) - int(be32(f)) // the mdat's size, more than the moov's
	tests := []struct {
		name    string
		lim     Limits
		wantErr string
	}{
		{name: "at the limit", lim: Limits{MaxBoxBytes: int64(mdat)}},
		{name: "one byte under", lim: Limits{MaxBoxBytes: int64(mdat - 1)}, wantErr: fmt.Sprintf("box mdat of %d bytes exceeds %d", mdat, mdat-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := cat(head, f)
			res, _ := feedPieces(t, tc.lim, [][]byte{s})
			if tc.wantErr == "" {
				if res.err != nil {
					t.Fatal(res.err)
				}
				return
			}
			checkLimitErr(t, res.err, int64(len(s)-mdat), tc.wantErr)
		})
	}
}

func TestMaxSamples(t *testing.T) {
	run := func(n int) []byte {
		sizes := make([]uint32, n)
		durs := make([]uint32, n)
		for i := range sizes {
			sizes[i], durs[i] = 1, 960
		}
		return cat(ftyp(), moov(opusTrack), frag(1, trafSpec{track: 1, runs: []runSpec{{durations: durs, sizes: sizes}}}))
	}
	tests := []struct {
		name    string
		lim     Limits
		n       int
		wantErr string
	}{
		{name: "default", n: DefaultMaxSamples},
		{name: "over the default", n: DefaultMaxSamples + 1, wantErr: "trun of 65537 samples exceeds 65536"},
		{name: "MaxSamples 10", lim: Limits{MaxSamples: 10}, n: 10},
		{name: "over MaxSamples 10", lim: Limits{MaxSamples: 10}, n: 11, wantErr: "trun of 11 samples exceeds 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim := tc.lim
			lim.MaxFragmentHeaderBytes = 1 << 22
			s := run(tc.n)
			res, _ := feedPieces(t, lim, [][]byte{s})
			if tc.wantErr == "" {
				if res.err != nil {
					t.Fatal(res.err)
				}
				return
			}
			off := int64(len(ftyp()) + len(moov(opusTrack)) + 8 + 16 + 8 + 16 + 20)
			checkLimitErr(t, res.err, off, tc.wantErr)
		})
	}
}

// TestConstantMemory feeds 20,000 fragments: the reader holds no more
// after them than after the first, and Feed allocates nothing per
// fragment once the init segment is read.
func TestConstantMemory(t *testing.T) {
	parts := testParts()
	r := NewReader(Limits{})
	evs := make([]Event, 0, 64)
	evs, err := r.Feed(evs, parts[0])
	if err != nil {
		t.Fatal(err)
	}
	frags := [][]byte{parts[1], parts[2], parts[3]}
	if evs, err = r.Feed(evs[:0], parts[1]); err != nil {
		t.Fatal(err)
	}
	first := readerFootprint(r)
	var pieces [][]byte
	for _, f := range frags {
		pieces = append(pieces, splitEvery(f, 100)...)
	}
	allocs := testing.AllocsPerRun(200, func() {
		for range 33 {
			for _, p := range pieces {
				if evs, err = r.Feed(evs[:0], p); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per 100 fragments; want 0", allocs)
	}
	if got := readerFootprint(r); got != first {
		t.Errorf("reader holds %d bytes after 20,000 fragments, %d after the first", got, first)
	}
	checkFootprint(t, r)
}

// TestTakeover primes a reader the way a publisher does after a takeover:
// the init segment, then bytes that start at a later moof. The reader sees
// them as one stream: the events are those of the later fragments, at
// offsets shifted by the bytes skipped.
func TestTakeover(t *testing.T) {
	parts := testParts()
	full, _ := feedPieces(t, Limits{}, [][]byte{testStream()})
	skipped := int64(len(parts[1]))
	primed, _ := feedPieces(t, Limits{}, [][]byte{parts[0], cat(parts[2], parts[3])})
	if primed.err != nil {
		t.Fatal(primed.err)
	}
	var want []Event
	for _, ev := range full.events {
		switch {
		case ev.Kind == KindInit:
			want = append(want, ev)
		case ev.Offset >= int64(len(parts[0]))+skipped:
			ev.Offset -= skipped
			want = append(want, ev)
		}
	}
	checkSameResult(t, "primed", primed, feedResult{events: want, offset: full.offset - skipped})
}
