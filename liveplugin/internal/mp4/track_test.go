package mp4

import (
	"errors"
	"testing"
)

// hvcC encodes an HEVCDecoderConfigurationRecord header with no arrays.
func hvcC(profileByte byte, compat uint32, constraints [6]byte, level byte) []byte {
	return box("hvcC", []byte{1, profileByte}, u32(compat), constraints[:], []byte{level},
		[]byte{0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0})
}

// vpcC encodes a VPCodecConfigurationRecord (version 1).
func vpcC(profile, level, depth byte) []byte {
	return fbox("vpcC", 1, 0, []byte{profile, level, depth<<4 | 1<<1, 1, 1, 1}, u16(0))
}

// av1C encodes an AV1CodecConfigurationRecord.
func av1C(profile, level byte, tier, high, twelve bool) []byte {
	b2 := byte(0)
	for i, f := range []bool{tier, high, twelve} {
		if f {
			b2 |= 0x80 >> i
		}
	}
	return box("av1C", []byte{0x81, profile<<5 | level, b2 | 0x0c, 0})
}

// oneTrack returns a stream with a single track of the given handler and
// sample entry, and one fragment, so that KindInit comes.
func oneTrack(handler string, entry []byte) []byte {
	t := trackSpec{id: 1, handler: handler, timescale: 1000, entry: entry}
	return cat(ftyp(), moov(t), frag(1, trafSpec{track: 1, runs: []runSpec{{sizes: []uint32{1}}}}))
}

func TestCodecStrings(t *testing.T) {
	tests := []struct {
		name      string
		handler   string
		give      []byte // sample entry
		wantCodec string
		wantMIME  string
		wantErr   *CodecError // from Playable; nil: playable
	}{
		{name: "avc1 constrained baseline", handler: "vide", give: videoEntry("avc1", 640, 360, avcC(0x42, 0xC0, 0x1F)),
			wantCodec: "avc1.42C01F", wantMIME: `video/mp4; codecs="avc1.42C01F"`},
		{name: "avc1 main", handler: "vide", give: videoEntry("avc1", 1280, 720, avcC(0x4D, 0x40, 0x1F)),
			wantCodec: "avc1.4D401F", wantMIME: `video/mp4; codecs="avc1.4D401F"`},
		{name: "avc1 high", handler: "vide", give: videoEntry("avc1", 1920, 1080, avcC(0x64, 0x00, 0x28)),
			wantCodec: "avc1.640028", wantMIME: `video/mp4; codecs="avc1.640028"`},
		{name: "avc3 keeps its fourcc", handler: "vide", give: videoEntry("avc3", 640, 360, avcC(0x42, 0xE0, 0x1E)),
			wantCodec: "avc3.42E01E", wantMIME: `video/mp4; codecs="avc3.42E01E"`},
		{name: "hvc1 main", handler: "vide", give: videoEntry("hvc1", 1920, 1080, hvcC(0x01, 0x60000000, [6]byte{0xB0}, 93)),
			wantCodec: "hvc1.1.6.L93.B0", wantMIME: `video/mp4; codecs="hvc1.1.6.L93.B0"`},
		{name: "hev1 main 10 high tier", handler: "vide", give: videoEntry("hev1", 3840, 2160, hvcC(0x22, 0x20000000, [6]byte{0xB0, 0, 0, 0, 0, 0}, 153)),
			wantCodec: "hev1.2.4.H153.B0", wantMIME: `video/mp4; codecs="hev1.2.4.H153.B0"`},
		{name: "hvc1 profile space and constraints", handler: "vide", give: videoEntry("hvc1", 640, 360, hvcC(0x41, 0x60000000, [6]byte{0x90, 0, 0x12}, 120)),
			wantCodec: "hvc1.A1.6.L120.90.0.12", wantMIME: `video/mp4; codecs="hvc1.A1.6.L120.90.0.12"`},
		{name: "vp09", handler: "vide", give: videoEntry("vp09", 640, 360, vpcC(0, 10, 8)),
			wantCodec: "vp09.00.10.08", wantMIME: `video/mp4; codecs="vp09.00.10.08"`},
		{name: "vp09 profile 2", handler: "vide", give: videoEntry("vp09", 640, 360, vpcC(2, 41, 10)),
			wantCodec: "vp09.02.41.10", wantMIME: `video/mp4; codecs="vp09.02.41.10"`},
		{name: "av01 main 8 bits", handler: "vide", give: videoEntry("av01", 640, 360, av1C(0, 4, false, false, false)),
			wantCodec: "av01.0.04M.08", wantMIME: `video/mp4; codecs="av01.0.04M.08"`},
		{name: "av01 high tier 10 bits", handler: "vide", give: videoEntry("av01", 640, 360, av1C(0, 13, true, true, false)),
			wantCodec: "av01.0.13H.10", wantMIME: `video/mp4; codecs="av01.0.13H.10"`},
		{name: "av01 professional 12 bits", handler: "vide", give: videoEntry("av01", 640, 360, av1C(2, 8, false, true, true)),
			wantCodec: "av01.2.08M.12", wantMIME: `video/mp4; codecs="av01.2.08M.12"`},
		{name: "mp4a AAC LC", handler: "soun", give: audioEntry("mp4a", 2, 44100, esds(0x40, []byte{0x12, 0x10})),
			wantCodec: "mp4a.40.2", wantMIME: `audio/mp4; codecs="mp4a.40.2"`},
		{name: "mp4a HE-AAC", handler: "soun", give: audioEntry("mp4a", 2, 44100, esds(0x40, []byte{0x2b, 0x92, 0x08, 0x00})),
			wantCodec: "mp4a.40.5", wantMIME: `audio/mp4; codecs="mp4a.40.5"`},
		{name: "mp4a escaped object type 42 (USAC)", handler: "soun", give: audioEntry("mp4a", 2, 48000, esds(0x40, []byte{0xf9, 0x40})),
			wantCodec: "mp4a.40.42", wantMIME: `audio/mp4; codecs="mp4a.40.42"`,
			wantErr: &CodecError{Codec: "mp4a.40.42", Track: 1, Kind: "audio"}},
		{name: "mp4a AAC main: not playable", handler: "soun", give: audioEntry("mp4a", 2, 48000, esds(0x40, []byte{0x0a, 0x10})),
			wantCodec: "mp4a.40.1", wantMIME: `audio/mp4; codecs="mp4a.40.1"`,
			wantErr: &CodecError{Codec: "mp4a.40.1", Track: 1, Kind: "audio"}},
		{name: "mp4a MP3", handler: "soun", give: audioEntry("mp4a", 2, 48000, esds(0x6B, nil)),
			wantCodec: "mp4a.6B", wantMIME: `audio/mp4; codecs="mp4a.6B"`,
			wantErr: &CodecError{Codec: "mp4a.6B", Track: 1, Kind: "audio"}},
		{name: "opus", handler: "soun", give: audioEntry("Opus", 2, 48000, dOps(2)),
			wantCodec: "opus", wantMIME: `audio/mp4; codecs="opus"`},
		{name: "unknown video", handler: "vide", give: videoEntry("mp4v", 640, 360),
			wantMIME: `video/mp4`, wantErr: &CodecError{Codec: "mp4v", Track: 1, Kind: "video"}},
		{name: "unknown audio", handler: "soun", give: audioEntry("ac-3", 2, 48000),
			wantMIME: `audio/mp4`, wantErr: &CodecError{Codec: "ac-3", Track: 1, Kind: "audio"}},
		{name: "video without a sample entry", handler: "vide",
			wantMIME: `video/mp4`, wantErr: &CodecError{Track: 1, Kind: "video"}},
		{name: "no audio or video", handler: "meta", give: box("mett", make([]byte, 8)),
			wantMIME: `video/mp4`, wantErr: &CodecError{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(Limits{})
			evs, err := r.Feed(nil, oneTrack(tc.handler, tc.give))
			if err != nil || len(evs) == 0 || evs[0].Kind != KindInit {
				t.Fatalf("Feed = %v, %v; want init, nil", evs, err)
			}
			tr := r.Tracks()[0]
			if tr.Codec != tc.wantCodec {
				t.Errorf("Codec = %q; want %q", tr.Codec, tc.wantCodec)
			}
			if got := r.MIMEType(); got != tc.wantMIME {
				t.Errorf("MIMEType() = %s; want %s", got, tc.wantMIME)
			}
			err = r.Playable()
			if tc.wantErr == nil {
				if err != nil {
					t.Errorf("Playable() = %v; want nil", err)
				}
				return
			}
			var ce *CodecError
			if !errors.As(err, &ce) || *ce != *tc.wantErr || !errors.Is(err, ErrUnsupportedCodec) {
				t.Errorf("Playable() = %#v; want %#v", err, tc.wantErr)
			}
		})
	}
}

func TestTrackFields(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		give    []byte
		want    Track
	}{
		{name: "video", handler: "vide", give: videoEntry("avc1", 1280, 720, avcC(0x42, 0xC0, 0x1F)),
			want: Track{ID: 1, Type: Video, Handler: "vide", Entry: "avc1", Codec: "avc1.42C01F", Timescale: 1000, Width: 1280, Height: 720}},
		{name: "aac", handler: "soun", give: audioEntry("mp4a", 2, 44100, esds(0x40, []byte{0x12, 0x10})),
			want: Track{ID: 1, Type: Audio, Handler: "soun", Entry: "mp4a", Codec: "mp4a.40.2", Timescale: 1000, SampleRate: 44100, Channels: 2}},
		{name: "opus channels from dOps", handler: "soun", give: audioEntry("Opus", 2, 48000, dOps(1)),
			want: Track{ID: 1, Type: Audio, Handler: "soun", Entry: "Opus", Codec: "opus", Timescale: 1000, SampleRate: 48000, Channels: 1}},
		{name: "other", handler: "text", give: box("tx3g", make([]byte, 8)),
			want: Track{ID: 1, Type: Other, Handler: "text", Entry: "tx3g", Timescale: 1000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(Limits{})
			if _, err := r.Feed(nil, oneTrack(tc.handler, tc.give)); err != nil {
				t.Fatal(err)
			}
			if got := r.Tracks(); len(got) != 1 || got[0] != tc.want {
				t.Errorf("Tracks() = %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestTrackTypeString(t *testing.T) {
	tests := []struct {
		give TrackType
		want string
	}{{Video, "video"}, {Audio, "audio"}, {Other, "other"}, {TrackType(9), "other"}}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.give.String(); got != tc.want {
				t.Errorf("String() = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestCodecErrorDetail(t *testing.T) {
	tests := []struct {
		name string
		give CodecError
		want string
	}{
		{name: "codec", give: CodecError{Codec: "mp4v", Track: 1, Kind: "video"}, want: "mp4v (video track 1)"},
		{name: "no entry", give: CodecError{Track: 2, Kind: "audio"}, want: "audio track 2 has no sample entry"},
		{name: "no track", give: CodecError{}, want: "no audio or video track"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.give.Detail(); got != tc.want {
				t.Errorf("Detail() = %q; want %q", got, tc.want)
			}
			if got := tc.give.Error(); got != "mp4: codec not supported: "+tc.want {
				t.Errorf("Error() = %q", got)
			}
		})
	}
}
