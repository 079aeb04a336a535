package liveplugin

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPickContainer checks how an upload's container is chosen from its
// first bytes and its ?mime=: the bytes decide, a claim they contradict
// is refused, and so is a container Config.Containers leaves out.
func TestPickContainer(t *testing.T) {
	webmHead := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01}
	mp4Head := []byte("\x00\x00\x00\x24ftypiso5")
	both := []container{containerWebM, containerMP4}
	type want struct {
		c        container
		err      error // errors.Is; nil: none
		mismatch bool  // a *containerMismatchError
		refused  bool  // a *containerRefusedError
	}
	tests := []struct {
		name    string
		give    []byte
		claimed string
		allowed []container
		want    want
	}{
		{name: "webm, no claim", give: webmHead, allowed: both, want: want{c: containerWebM}},
		{name: "webm, magic alone", give: webmHead[:4], allowed: both, want: want{c: containerWebM}},
		{name: "webm, claimed", give: webmHead, claimed: `video/webm;codecs="vp8,opus"`, allowed: both, want: want{c: containerWebM}},
		{name: "webm, claimed audio", give: webmHead, claimed: "audio/webm", allowed: both, want: want{c: containerWebM}},
		{name: "webm, claimed matroska", give: webmHead, claimed: "video/x-matroska;codecs=avc1", allowed: both, want: want{c: containerWebM}},
		{name: "mp4, no claim", give: mp4Head, allowed: both, want: want{c: containerMP4}},
		{name: "mp4, claimed in capitals", give: mp4Head, claimed: ` Video/MP4; codecs="avc1.42C01F,opus"`, allowed: both, want: want{c: containerMP4}},
		{name: "mp4, claimed audio", give: mp4Head, claimed: "audio/mp4", allowed: both, want: want{c: containerMP4}},
		{name: "mp4, a claim that says nothing", give: mp4Head, claimed: "application/octet-stream", allowed: both, want: want{c: containerMP4}},
		{name: "too short", give: mp4Head[:7], allowed: both, want: want{}},
		{name: "webm magic begun", give: webmHead[:2], allowed: both, want: want{}},
		{name: "nothing yet", give: nil, claimed: "video/mp4", allowed: both, want: want{}},
		{name: "mp4 claimed, webm sent", give: webmHead, claimed: "video/mp4", allowed: both, want: want{err: errNotMedia, mismatch: true}},
		{name: "webm claimed, mp4 sent", give: mp4Head, claimed: "video/webm;codecs=h264", allowed: both, want: want{err: errNotMedia, mismatch: true}},
		{name: "neither, no claim", give: []byte("hello, world"), allowed: both, want: want{err: errNotMedia}},
		{name: "neither, claimed webm", give: []byte("hello, world"), claimed: "video/webm", allowed: both, want: want{c: containerWebM}},
		{name: "neither, claimed mp4", give: []byte("hello, world"), claimed: "video/mp4", allowed: both, want: want{c: containerMP4}},
		{name: "mp4 where only webm is accepted", give: mp4Head, allowed: []container{containerWebM}, want: want{err: errNotMedia, refused: true}},
		{name: "webm where only mp4 is accepted", give: webmHead, allowed: []container{containerMP4}, want: want{err: errNotMedia, refused: true}},
		{name: "claimed mp4 garbage where only webm is accepted", give: []byte("hello, world"), claimed: "video/mp4", allowed: []container{containerWebM},
			want: want{err: errNotMedia, refused: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pickContainer(tc.give, tc.claimed, tc.allowed)
			_, mismatch := errors.AsType[*containerMismatchError](err)
			_, refused := errors.AsType[*containerRefusedError](err)
			if c != tc.want.c || !errors.Is(err, tc.want.err) || (err != nil) != (tc.want.err != nil) || mismatch != tc.want.mismatch || refused != tc.want.refused {
				t.Errorf("pickContainer(%q, %q) = %q, %v; want %+v", tc.give, tc.claimed, c, err, tc.want)
			}
		})
	}
}

// TestDescribeMIME checks the container and codecs the status JSON gives
// for a MIME type.
func TestDescribeMIME(t *testing.T) {
	tests := []struct {
		name          string
		give          string
		wantContainer string
		wantCodecs    []string
	}{
		{name: "webm", give: `video/webm; codecs="vp8,opus"`, wantContainer: "webm", wantCodecs: []string{"vp8", "opus"}},
		{name: "mp4", give: `video/mp4; codecs="avc1.42C01F,opus"`, wantContainer: "mp4", wantCodecs: []string{"avc1.42C01F", "opus"}},
		{name: "spaces", give: `audio/mp4;codecs=" mp4a.40.2 , opus "`, wantContainer: "mp4", wantCodecs: []string{"mp4a.40.2", "opus"}},
		{name: "no codecs", give: "video/webm", wantContainer: "webm"},
		{name: "other", give: "video/ogg", wantContainer: ""},
		{name: "empty", give: ""},
		{name: "unparsable", give: `video/mp4; codecs="avc1`, wantContainer: "mp4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, codecs := describeMIME(tc.give)
			if c != tc.wantContainer || !slices.Equal(codecs, tc.wantCodecs) {
				t.Errorf("describeMIME(%q) = %q, %q; want %q, %q", tc.give, c, codecs, tc.wantContainer, tc.wantCodecs)
			}
		})
	}
}

// TestParseContainers checks Config.Containers.
func TestParseContainers(t *testing.T) {
	tests := []struct {
		name    string
		give    []string
		want    []container
		wantErr bool
	}{
		{name: "default", give: nil, want: []container{containerWebM, containerMP4}},
		{name: "webm only", give: []string{"webm"}, want: []container{containerWebM}},
		{name: "mp4 only, spelt loosely", give: []string{" MP4 "}, want: []container{containerMP4}},
		{name: "duplicates", give: []string{"mp4", "webm", "mp4"}, want: []container{containerMP4, containerWebM}},
		{name: "unknown", give: []string{"webm", "ogg"}, want: []container{containerWebM}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseContainers(tc.give)
			if !slices.Equal(got, tc.want) || (err != nil) != tc.wantErr {
				t.Errorf("parseContainers(%q) = %q, %v; want %q, error %v", tc.give, got, err, tc.want, tc.wantErr)
			}
		})
	}
	if err := (Config{Containers: []string{"flv"}}).withDefaults().validate(); err == nil {
		t.Error("validate accepted Containers [flv]")
	}
}

// TestMoofCuts feeds moofCuts a stream of boxes split into messages at
// every kind of place (inside headers, a 64-bit size among them) and cut
// into small pieces: no piece may end inside a moof, and the pieces must
// cover the stream.
func TestMoofCuts(t *testing.T) {
	box := func(typ string, size int) []byte {
		b := make([]byte, size)
		binary.BigEndian.PutUint32(b, uint32(size))
		copy(b[4:], typ)
		return b
	}
	large := func(typ string, size int) []byte {
		b := make([]byte, size)
		binary.BigEndian.PutUint32(b, 1)
		copy(b[4:], typ)
		binary.BigEndian.PutUint64(b[8:], uint64(size))
		return b
	}
	var moofs [][2]int64
	var stream []byte
	for _, b := range [][]byte{box("ftyp", 24), box("moov", 700), box("moof", 300), box("mdat", 5000),
		large("moof", 900), box("mdat", 40), box("free", 9), box("moof", 1200), large("mdat", 3000), box("moof", 64), box("mdat", 8)} {
		if string(b[4:8]) == "moof" {
			moofs = append(moofs, [2]int64{int64(len(stream)), int64(len(stream) + len(b))})
		}
		stream = append(stream, b...)
	}
	inside := func(off int64) bool {
		for _, m := range moofs {
			if off > m[0] && off < m[1] {
				return true
			}
		}
		return false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		piece := 1 + rng.IntN(400)
		var m moofCuts
		var base int64
		for rest := stream; len(rest) > 0; {
			msg := rest[:min(len(rest), 1+rng.IntN(3000))]
			rest = rest[len(msg):]
			for p := msg; len(p) > 0; {
				n := m.cut(p, base, min(len(p), piece))
				if n <= 0 || n > len(p) {
					t.Fatalf("round %d: cut(%d bytes at %d) = %d", round, len(p), base, n)
				}
				base += int64(n)
				p = p[n:]
				if len(p) > 0 && inside(base) {
					t.Fatalf("round %d (pieces of %d): a piece ends at %d, inside a moof %v", round, piece, base, moofs)
				}
			}
		}
		if base != int64(len(stream)) {
			t.Fatalf("round %d: pieces cover %d bytes; want %d", round, base, len(stream))
		}
	}
	// A malformed size stops the tracking, and cuts stay where asked.
	var m moofCuts
	bad := slices.Concat(box("ftyp", 24), []byte{0, 0, 0, 3, 'm', 'o', 'o', 'f'}, make([]byte, 100))
	if n := m.cut(bad, 0, 40); n != 40 || !m.lost {
		t.Errorf("cut over a 3-byte box = %d, lost %v; want 40, true", n, m.lost)
	}
}
