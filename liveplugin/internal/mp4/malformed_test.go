package mp4

import (
	"bytes"
	"errors"
	"testing"
)

func TestMalformed(t *testing.T) {
	head := cat(ftyp(), moov(opusTrack, avcTrack))
	nf := int64(len(ftyp()))
	nh := int64(len(head))
	audio := trafSpec{track: 1, tfdt: 0, runs: []runSpec{{durations: []uint32{960}, sizes: []uint32{3}}}}
	mvex := box("mvex", trex(trackSpec{id: 1}))
	mvhd := fbox("mvhd", 0, 0, make([]byte, 96))
	tkhd := fbox("tkhd", 0, 3, u32(0), u32(0), u32(1), u32(0), u32(0), make([]byte, 60))
	mdhd := func(ts uint32) []byte { return fbox("mdhd", 0, 0, u32(0), u32(0), u32(ts), u32(0), u16(0), u16(0)) }
	hdlr := fbox("hdlr", 0, 0, u32(0), []byte("soun"), make([]byte, 12), []byte{0})
	// traf returns a moof holding a traf with the given children, and an
	// mdat.
	traf := func(children ...[]byte) []byte {
		return cat(box("moof", fbox("mfhd", 0, 0, u32(1)), box("traf", children...)), box("mdat", make([]byte, 16)))
	}
	tfhd := func(id uint32) []byte { return fbox("tfhd", 0, 0x020000, u32(id)) }
	tfdt := fbox("tfdt", 1, 0, u64(0))
	// moofTraf is the offset of the traf box in a moof made by traf.
	moofTraf := nh + 8 + 16
	tests := []struct {
		name       string
		give       []byte
		wantErr    error
		wantOffset int64
		wantAt     string // else, the offset is that of the first box of this type
		wantReason string
	}{
		{name: "webm", give: []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01"), wantErr: ErrNotMP4, wantReason: "no ftyp box"},
		{name: "no ftyp first", give: cat(head[nf:]), wantErr: ErrNotMP4, wantReason: "no ftyp box"},
		{name: "short ftyp", give: box("ftyp", []byte("isom")), wantErr: ErrNotMP4, wantReason: "ftyp box of 12 bytes"},
		{name: "size smaller than the header", give: cat(ftyp(), u32(4), []byte("free")),
			wantErr: ErrMalformed, wantOffset: nf, wantReason: "box free of size 4, smaller than its header"},
		{name: "largesize smaller than the header", give: cat(ftyp(), u32(1), []byte("free"), u64(12)),
			wantErr: ErrMalformed, wantOffset: nf, wantReason: "box free of size 12, smaller than its header"},
		{name: "size 0 before mdat", give: cat(ftyp(), u32(0), []byte("free")),
			wantErr: ErrMalformed, wantOffset: nf, wantReason: "box free of size 0 (to the end of the stream)"},
		{name: "size 0 mdat before the first moof", give: cat(head, u32(0), []byte("mdat")),
			wantErr: ErrMalformed, wantOffset: nh, wantReason: "box mdat of size 0 (to the end of the stream)"},
		{name: "moof before moov", give: cat(ftyp(), frag(1, audio)),
			wantErr: ErrMalformed, wantOffset: nf, wantReason: "moof before moov"},
		{name: "mdat before moov", give: cat(ftyp(), box("mdat", []byte{1})),
			wantErr: ErrMalformed, wantOffset: nf, wantReason: "mdat before moov"},
		{name: "other box before moov", give: cat(ftyp(), box("sidx", make([]byte, 8)), head[nf:]),
			wantErr: ErrMalformed, wantOffset: nf, wantReason: "box sidx before moov"},
		{name: "second ftyp", give: cat(ftyp(), ftyp()),
			wantErr: ErrMalformed, wantOffset: nf, wantReason: "second ftyp box"},
		{name: "second moov", give: cat(head, moov(opusTrack)),
			wantErr: ErrMalformed, wantOffset: nh, wantReason: "second moov box"},
		{name: "mdat before the first moof", give: cat(head, box("mdat", []byte{1})),
			wantErr: ErrMalformed, wantOffset: nh, wantReason: "mdat before the first moof"},
		{name: "moov without mvex", give: cat(ftyp(), box("moov", mvhd)),
			wantErr: ErrNotMP4, wantOffset: nf, wantReason: "moov without mvex: not a fragmented stream"},
		{name: "child larger than its parent", give: cat(ftyp(), box("moov", mvhd, u32(100), []byte("trak"), make([]byte, 8), mvex)),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108, wantReason: "box trak of 100 bytes is larger than its parent"},
		{name: "child header crosses its parent's end", give: cat(ftyp(), box("moov", mvhd, mvex, []byte{0, 0, 0})),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108 + int64(len(mvex)), wantReason: "box header crosses the end of its parent"},
		{name: "child of size 0", give: cat(ftyp(), box("moov", mvhd, u32(0), []byte("free"), mvex)),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108, wantReason: "box free of size 0 inside a parent"},
		{name: "trak without tkhd", give: cat(ftyp(), box("moov", mvhd, box("trak", box("mdia", mdhd(1000), hdlr)), mvex)),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108, wantReason: "trak without tkhd"},
		{name: "truncated tkhd", give: cat(ftyp(), box("moov", mvhd, box("trak", fbox("tkhd", 0, 0, u32(0))), mvex)),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108 + 8, wantReason: "truncated tkhd box"},
		{name: "track without mdhd", give: cat(ftyp(), box("moov", mvhd, box("trak", tkhd, box("mdia", hdlr)), mvex)),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108, wantReason: "track 1 without mdhd"},
		{name: "timescale 0", give: cat(ftyp(), box("moov", mvhd, box("trak", tkhd, box("mdia", mdhd(0), hdlr)), mvex)),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108, wantReason: "track 1 has timescale 0"},
		{name: "duplicate track", give: cat(ftyp(), moov(opusTrack, opusTrack)),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108 + int64(len(trak(opusTrack))), wantReason: "duplicate track 1"},
		{name: "trex for unknown track", give: cat(ftyp(), box("moov", mvhd, trak(opusTrack), box("mvex", trex(trackSpec{id: 7})))),
			wantErr: ErrMalformed, wantOffset: nf + 8 + 108 + int64(len(trak(opusTrack))) + 8, wantReason: "trex for unknown track 7"},
		{name: "avcC truncated", give: cat(ftyp(), moov(trackSpec{id: 1, handler: "vide", timescale: 1000,
			entry: videoEntry("avc1", 640, 360, box("avcC", []byte{1, 0x42}))})),
			wantErr: ErrMalformed, wantAt: "avcC", wantReason: "truncated avcC box"},
		{name: "avcC version", give: cat(ftyp(), moov(trackSpec{id: 1, handler: "vide", timescale: 1000,
			entry: videoEntry("avc1", 640, 360, box("avcC", []byte{0, 0x42, 0xc0, 0x1f}))})),
			wantErr: ErrMalformed, wantAt: "avcC", wantReason: "avcC version 0"},
		{name: "avc1 without avcC", give: cat(ftyp(), moov(trackSpec{id: 1, handler: "vide", timescale: 1000, entry: videoEntry("avc1", 640, 360)})),
			wantErr: ErrMalformed, wantAt: "avc1", wantReason: "avc1 sample entry without avcC"},
		{name: "truncated visual sample entry", give: cat(ftyp(), moov(trackSpec{id: 1, handler: "vide", timescale: 1000, entry: box("avc1", make([]byte, 20))})),
			wantErr: ErrMalformed, wantAt: "avc1", wantReason: "truncated avc1 box"},
		{name: "invalid esds", give: cat(ftyp(), moov(trackSpec{id: 1, handler: "soun", timescale: 1000,
			entry: audioEntry("mp4a", 2, 44100, fbox("esds", 0, 0, []byte{0x03, 0x80}))})),
			wantErr: ErrMalformed, wantAt: "esds", wantReason: "invalid esds box"},
		{name: "dOps truncated", give: cat(ftyp(), moov(trackSpec{id: 1, handler: "soun", timescale: 48000,
			entry: audioEntry("Opus", 2, 48000, box("dOps", []byte{0, 2}))})),
			wantErr: ErrMalformed, wantAt: "dOps", wantReason: "truncated dOps box"},
		{name: "traf for unknown track", give: cat(head, traf(tfhd(9), tfdt)),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8, wantReason: "traf for unknown track 9"},
		{name: "traf without tfhd", give: cat(head, traf(tfdt)),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8, wantReason: "tfdt before tfhd"},
		{name: "empty traf", give: cat(head, traf()),
			wantErr: ErrMalformed, wantOffset: moofTraf, wantReason: "traf without tfhd"},
		{name: "trun before tfhd", give: cat(head, traf(fbox("trun", 0, 0, u32(0)))),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8, wantReason: "trun before tfhd"},
		{name: "second tfhd", give: cat(head, traf(tfhd(1), tfhd(1))),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8 + 16, wantReason: "second tfhd in a traf"},
		{name: "tfdt after trun", give: cat(head, traf(tfhd(1), fbox("trun", 0, 0, u32(0)), tfdt)),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8 + 16 + 16, wantReason: "tfdt after trun"},
		{name: "truncated tfhd", give: cat(head, traf(fbox("tfhd", 0, 0x20, u32(1)))),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8, wantReason: "truncated tfhd box"},
		{name: "truncated tfdt", give: cat(head, traf(tfhd(1), fbox("tfdt", 1, 0, u32(0)))),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8 + 16, wantReason: "truncated tfdt box"},
		{name: "trun sample_count huge", give: cat(head, traf(tfhd(1), fbox("trun", 0, 0x200, u32(0xffffffff)))),
			wantErr: ErrLimit, wantOffset: moofTraf + 8 + 16, wantReason: "trun of 4294967295 samples exceeds 65536"},
		{name: "trun truncated", give: cat(head, traf(tfhd(1), fbox("trun", 0, 0x300, u32(100), make([]byte, 16)))),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8 + 16, wantReason: "trun of 100 samples is truncated"},
		{name: "trun data inside its moof", give: cat(head, traf(tfhd(1), fbox("trun", 0, 0x201, u32(1), u32(0), u32(4)))),
			wantErr: ErrMalformed, wantOffset: moofTraf + 8 + 16, wantReason: "trun data at offset 932, not after its moof"},
		{name: "box over MaxBoxBytes", give: cat(head, u32(1), []byte("mdat"), u64(1<<40)),
			wantErr: ErrLimit, wantOffset: nh, wantReason: "box mdat of 1099511627776 bytes exceeds 67108864"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantAt != "" {
				tc.wantOffset = int64(bytes.Index(tc.give, []byte(tc.wantAt)) - 4)
			}
			got, _ := feedPieces(t, Limits{}, [][]byte{tc.give})
			var se *SyntaxError
			if !errors.As(got.err, &se) || !errors.Is(got.err, tc.wantErr) {
				t.Fatalf("Feed error = %v; want a SyntaxError wrapping %v", got.err, tc.wantErr)
			}
			if se.Reason != tc.wantReason || se.Offset != tc.wantOffset {
				t.Errorf("Feed error at %d: %q; want at %d: %q", se.Offset, se.Reason, tc.wantOffset, tc.wantReason)
			}
			// Byte by byte, the same error.
			one, _ := feedPieces(t, Limits{}, splitEvery(tc.give, 1))
			checkSameResult(t, "byte by byte", one, got)
		})
	}
}

func TestAccepted(t *testing.T) {
	s := testStream()
	head := testParts()[0]
	nh := len(head)
	tests := []struct {
		name       string
		give       []byte
		wantFrags  int
		wantOffset int
	}{
		{name: "free, skip and uuid before moov", give: cat(ftyp(), box("free"), box("skip", []byte{1}), box("uuid", make([]byte, 16)), s[len(ftyp()):]), wantFrags: 3},
		{name: "free after moov is part of the init segment", give: cat(head, box("free", []byte{1, 2}), s[nh:]), wantFrags: 3},
		{name: "boxes between fragments", give: cat(head, testParts()[1], box("styp", []byte("msdh")), box("sidx", make([]byte, 20)),
			box("emsg", make([]byte, 9)), box("prft", make([]byte, 16)), box("abcd"), box("free"), testParts()[2]), wantFrags: 2},
		{name: "largesize mdat", give: cat(head, testParts()[1][:len(testParts()[1])-8-77], largeBox("mdat", make([]byte, 77)), testParts()[2]), wantFrags: 2},
		{name: "size 0 mdat runs to the end", give: cat(head, testParts()[1][:len(testParts()[1])-8-77], u32(0), []byte("mdat"), make([]byte, 77), testParts()[2]), wantFrags: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, r := feedPieces(t, Limits{}, [][]byte{tc.give})
			if got.err != nil {
				t.Fatal(got.err)
			}
			if got.offset != int64(len(tc.give)) {
				t.Errorf("Offset() = %d; want %d", got.offset, len(tc.give))
			}
			frags := 0
			for _, ev := range got.events {
				if ev.Kind == KindFragment {
					frags++
				}
				if ev.Kind == KindInit && ev.Offset != int64(len(r.Init())) {
					t.Errorf("init event %v; Init() has %d bytes", ev, len(r.Init()))
				}
			}
			if frags != tc.wantFrags {
				t.Errorf("%d fragments; want %d", frags, tc.wantFrags)
			}
			checkSameResult(t, "byte by byte", func() feedResult { r, _ := feedPieces(t, Limits{}, splitEvery(tc.give, 1)); return r }(), got)
		})
	}
}
