package liveplugin

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// Encoded chunks: an upload with ?mime=application/x-amlive-chunks sends
// the frames a browser's WebCodecs encoders produce, one per binary
// message, after a text message that describes the tracks. The server
// muxes them into the same live WebM stream a MediaRecorder uploads (see
// webm.Muxer) and feeds that to media, one frame at a time, so that each
// frame reaches the viewers and the recording as soon as it arrives, and
// everything downstream (the hub, recording, sealing, limits) sees a WebM
// upload.
//
// The protocol:
//
//	text   {"type":"tracks","video":{"codec":"vp8","width":1280,"height":720},
//	        "audio":{"codec":"opus","sampleRate":48000,"numberOfChannels":2}}
//	binary track(1) flags(1) timestamp(8) duration(4) payload…
//
// Either track may be left out, not both. video.codec is "vp8", a
// "vp09.PP.LL.DD…" or an "av01.P.LLT.DD…" codec string; audio.codec is
// "opus". description, optional, is the encoder's decoderConfig
// description in base64: the CodecPrivate of the track (an OpusHead for
// Opus, built from sampleRate and numberOfChannels when absent; an
// AV1CodecConfigurationRecord for AV1, built from the codec string when
// absent). In a chunk, track is 1 (video) or 2 (audio); flags bit 0 marks
// a keyframe (the other bits are 0); timestamp is the frame's presentation
// time in microseconds, big-endian signed; duration is its duration in
// microseconds, big-endian unsigned, at most 10 s (0 for unknown).
//
// A chunk's offset is counted in the bytes of the binary messages as sent
// (the text message does not count): ack and ready's offset are always at
// a chunk's end, so a resuming publisher resends whole chunks from there,
// and the muxer, which the publisher keeps, goes on with the same stream.
// A resumed connection need not send the tracks message again; when it
// does, it must be the same.

// latencyLow is the latency mode (BroadcastInfo.Latency) of a broadcast
// uploaded as encoded chunks.
const latencyLow = "low"

// chunkMIME is the ?mime= of an upload of encoded chunks.
const chunkMIME = "application/x-amlive-chunks"

// Chunk track numbers, on the wire and in the muxed stream.
const (
	chunkVideo = 1
	chunkAudio = 2
)

// chunkHeaderLen is the length of an encoded chunk's header.
const chunkHeaderLen = 14

// Bounds of the encoded-chunk protocol.
const (
	// maxChunkDuration bounds a chunk's duration, in microseconds.
	maxChunkDuration = 10_000_000
	// maxChunkTimestamp bounds the magnitude of a timestamp, in
	// microseconds: JavaScript's safe integers, which WebCodecs uses.
	maxChunkTimestamp = 1<<53 - 1
	// maxReorder is how far back a track's timestamp may go: such a chunk
	// is muxed at the track's latest time. Further back closes the upload.
	maxReorder = 500_000
	// maxJump is how far ahead of its track's latest a timestamp may jump.
	maxJump = 30_000_000
	// maxDescriptionBytes bounds a track's description.
	maxDescriptionBytes = 64 << 10
	// maxVideoSide bounds a video's width and height.
	maxVideoSide = 16384
)

// chunkError is an encoded-chunk upload that breaks the protocol: it
// closes with StatusUnsupportedData and reason.
type chunkError struct{ reason string }

func (e *chunkError) Error() string { return "liveplugin: encoded chunks: " + e.reason }

// Is makes a chunkError an errNotMedia.
func (e *chunkError) Is(target error) bool { return target == errNotMedia }

func chunkErrorf(format string, args ...any) error {
	return &chunkError{reason: fmt.Sprintf(format, args...)}
}

// tracksMessage is the text message of type "tracks".
type tracksMessage struct {
	Type  string       `json:"type"`
	Video *videoConfig `json:"video,omitempty"`
	Audio *audioConfig `json:"audio,omitempty"`
}

// videoConfig is the video track of a tracks message, as a VideoEncoder's
// config and decoderConfig give it.
type videoConfig struct {
	Codec       string `json:"codec"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Description []byte `json:"description,omitempty"`
}

// audioConfig is the audio track of a tracks message.
type audioConfig struct {
	Codec            string `json:"codec"`
	SampleRate       int    `json:"sampleRate"`
	NumberOfChannels int    `json:"numberOfChannels"`
	Description      []byte `json:"description,omitempty"`
}

var (
	vp9Codec = regexp.MustCompile(`^vp09\.\d\d\.\d\d\.\d\d(\.\d\d)*$`)
	av1Codec = regexp.MustCompile(`^av01\.([0-2])\.(\d\d)([MH])\.(08|10|12)(\.\d+)*$`)
)

// parseTracks reads a tracks message and returns the muxer's tracks. Its
// errors are chunkErrors that say what is wrong.
func parseTracks(data []byte) ([]webm.MuxTrack, error) {
	var m tracksMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Type != typeTracks || dec.More() {
		return nil, chunkErrorf("the tracks message is not valid")
	}
	if m.Video == nil && m.Audio == nil {
		return nil, chunkErrorf("the tracks message names no track")
	}
	var out []webm.MuxTrack
	if v := m.Video; v != nil {
		t, err := videoTrack(v)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if a := m.Audio; a != nil {
		t, err := audioTrack(a)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func videoTrack(v *videoConfig) (webm.MuxTrack, error) {
	t := webm.MuxTrack{Number: chunkVideo, Type: webm.Video, CodecPrivate: v.Description}
	if v.Width < 1 || v.Height < 1 || v.Width > maxVideoSide || v.Height > maxVideoSide {
		return t, chunkErrorf("video size %dx%d out of range", v.Width, v.Height)
	}
	t.Width, t.Height = uint64(v.Width), uint64(v.Height)
	if len(v.Description) > maxDescriptionBytes {
		return t, chunkErrorf("video description over %d bytes", maxDescriptionBytes)
	}
	switch {
	case v.Codec == "vp8":
		t.CodecID = "V_VP8"
	case vp9Codec.MatchString(v.Codec):
		t.CodecID = "V_VP9"
	case av1Codec.MatchString(v.Codec):
		t.CodecID = "V_AV1"
		if d := v.Description; len(d) < 4 || d[0] != 0x81 {
			t.CodecPrivate = av1Config(v.Codec)
		}
	default:
		return t, chunkErrorf("video codec %q not accepted (vp8, vp09.…, av01.…)", truncate(v.Codec))
	}
	return t, nil
}

// av1Config builds the AV1CodecConfigurationRecord a codec string
// "av01.P.LLT.DD" describes (4:2:0 for profile 0, 4:4:4 for 1, 4:2:2
// for 2).
func av1Config(codec string) []byte {
	m := av1Codec.FindStringSubmatch(codec)
	profile, _ := strconv.Atoi(m[1])
	level, _ := strconv.Atoi(m[2])
	depth, _ := strconv.Atoi(m[4])
	b2 := byte(0)
	if m[3] == "H" {
		b2 |= 0x80
	}
	if depth > 8 {
		b2 |= 0x40
	}
	if depth == 12 {
		b2 |= 0x20
	}
	switch profile {
	case 0:
		b2 |= 0x0C // subsampling x and y
	case 2:
		b2 |= 0x08 // subsampling x
	}
	return []byte{0x81, byte(profile)<<5 | byte(level&0x1F), b2, 0}
}

// opusPreSkip is the pre-skip of a built OpusHead: libopus's look-ahead
// at 48 kHz.
const opusPreSkip = 312

var opusRates = []int{8000, 12000, 16000, 24000, 48000}

func audioTrack(a *audioConfig) (webm.MuxTrack, error) {
	t := webm.MuxTrack{Number: chunkAudio, Type: webm.Audio, CodecID: "A_OPUS", SampleRate: 48000,
		SeekPreRoll: 80_000_000}
	if a.Codec != "opus" {
		return t, chunkErrorf("audio codec %q not accepted (opus)", truncate(a.Codec))
	}
	if !slices.Contains(opusRates, a.SampleRate) {
		return t, chunkErrorf("Opus sample rate %d not accepted", a.SampleRate)
	}
	d := a.Description
	switch {
	case len(d) == 0:
		if a.NumberOfChannels < 1 || a.NumberOfChannels > 2 {
			return t, chunkErrorf("%d audio channels need a description (an OpusHead)", a.NumberOfChannels)
		}
		d = opusHead(a.NumberOfChannels, a.SampleRate)
	case len(d) < 19 || len(d) > 1024 || string(d[:8]) != "OpusHead" || d[8] != 1:
		return t, chunkErrorf("the audio description is not an OpusHead")
	case int(d[9]) != a.NumberOfChannels || d[9] == 0:
		return t, chunkErrorf("the OpusHead has %d channels, the track %d", d[9], a.NumberOfChannels)
	}
	t.CodecPrivate = d
	t.Channels = uint64(d[9])
	t.CodecDelay = uint64(binary.LittleEndian.Uint16(d[10:12])) * 1_000_000_000 / 48000
	return t, nil
}

// opusHead builds the OpusHead of a mono or stereo stream (channel
// mapping family 0).
func opusHead(channels, rate int) []byte {
	b := []byte("OpusHead")
	b = append(b, 1, byte(channels))
	b = binary.LittleEndian.AppendUint16(b, opusPreSkip)
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint16(b, 0) // output gain
	return append(b, 0)                        // mapping family
}

// chunkHeader is the fixed header of an encoded chunk.
type chunkHeader struct {
	track     uint8
	key       bool
	timestamp int64  // µs
	duration  uint32 // µs
}

// parseChunk splits an encoded chunk into its header and payload, and
// checks the header's bounds.
func parseChunk(data []byte) (chunkHeader, []byte, error) {
	var h chunkHeader
	if len(data) <= chunkHeaderLen {
		return h, nil, chunkErrorf("a chunk of %d bytes has no payload", len(data))
	}
	h.track = data[0]
	flags := data[1]
	h.key = flags&1 != 0
	h.timestamp = int64(binary.BigEndian.Uint64(data[2:10]))
	h.duration = binary.BigEndian.Uint32(data[10:14])
	switch {
	case h.track != chunkVideo && h.track != chunkAudio:
		return h, nil, chunkErrorf("unknown track %d", h.track)
	case flags&^1 != 0:
		return h, nil, chunkErrorf("unknown chunk flags %#x", flags)
	case h.timestamp > maxChunkTimestamp || h.timestamp < -maxChunkTimestamp:
		return h, nil, chunkErrorf("timestamp %d out of range", h.timestamp)
	case h.duration > maxChunkDuration:
		return h, nil, chunkErrorf("duration %d µs out of range", h.duration)
	}
	return h, data[chunkHeaderLen:], nil
}

// chunkIngest is the state of an encoded-chunk upload, which outlives its
// connections.
type chunkIngest struct {
	tracks  []byte // the tracks message, nil before it came
	mux     *webm.Muxer
	has     [3]bool // by chunk track number
	started bool    // the stream's first frame was muxed
	origin  int64   // its timestamp, µs: the stream's time 0
	last    [3]int64
	// wire is the stream's offset as the publisher counts it: the bytes of
	// the binary messages read.
	wire int64
}

// onTracks handles a tracks message.
func (pub *publisher) onTracks(data []byte) error {
	ci := pub.chunks
	if ci == nil {
		return errBadMessage
	}
	if ci.tracks != nil {
		if !bytes.Equal(ci.tracks, data) {
			return chunkErrorf("the tracks changed during the broadcast")
		}
		return nil
	}
	if !slices.Contains(pub.p.containers, containerWebM) {
		return &containerRefusedError{found: containerWebM, allowed: pub.p.containers}
	}
	return ci.setTracks(bytes.Clone(data))
}

// setTracks takes the tracks message data (kept, not copied) and makes
// the muxer of its tracks.
func (ci *chunkIngest) setTracks(data []byte) error {
	tracks, err := parseTracks(data)
	if err != nil {
		return err
	}
	ci.tracks = data
	ci.mux = webm.NewMuxer(tracks)
	for _, t := range tracks {
		ci.has[t.Number] = true
	}
	return nil
}

// useChunks makes pub an upload of encoded chunks, in state ci: the room
// says it is low latency (see BroadcastInfo.Latency).
func (pub *publisher) useChunks(ci *chunkIngest) {
	pub.chunks = ci
	pub.b.SetLatency(latencyLow)
}

// chunk handles a binary message of an encoded-chunk upload: it muxes the
// frame and feeds it to media.
func (pub *publisher) chunk(data []byte) error {
	ci := pub.chunks
	if ci.mux == nil {
		return chunkErrorf("a chunk came before the tracks message")
	}
	h, payload, err := parseChunk(data)
	if err != nil {
		return err
	}
	if !ci.has[h.track] {
		return chunkErrorf("a chunk of track %d, which the tracks message did not name", h.track)
	}
	if !ci.started {
		if h.track == chunkAudio && ci.has[chunkVideo] {
			// Before the first video frame: the stream starts at it.
			ci.wire += int64(len(data))
			pub.ack()
			return nil
		}
		if h.track == chunkVideo && !h.key {
			return chunkErrorf("the first video chunk is not a keyframe")
		}
		ci.started, ci.origin = true, h.timestamp
	}
	t := h.timestamp - ci.origin
	last := ci.last[h.track]
	switch {
	case t < last-maxReorder:
		return chunkErrorf("track %d went back in time by %d ms", h.track, (last-t)/1000)
	case t > last+maxJump:
		return chunkErrorf("track %d jumped ahead by %d s", h.track, (t-last)/1_000_000)
	case t < last:
		t = last
	}
	ci.last[h.track] = t
	key := h.key || h.track == chunkAudio
	// media hands the bytes to the hub, which keeps them: a buffer each.
	b := ci.mux.Frame(make([]byte, 0, len(payload)+64), uint64(h.track), t/1000, key, payload)
	ci.wire += int64(len(data))
	return pub.media(b)
}

// offset is the stream offset the publisher counts: the bytes of media
// received, or of encoded chunks.
func (pub *publisher) offset() int64 {
	if pub.chunks != nil {
		return pub.chunks.wire
	}
	return pub.total
}

// chunkState is a chunkIngest as a handover carries it to another node
// (cluster.State.Chunks), in JSON.
type chunkState struct {
	Tracks  []byte          `json:"tracks,omitempty"` // the tracks message, nil before it came
	Started bool            `json:"started"`
	Origin  int64           `json:"origin"`
	Last    [3]int64        `json:"last"`
	Wire    int64           `json:"wire"`
	Mux     webm.MuxerState `json:"mux"`
}

// marshal returns the upload's state for a handover.
func (ci *chunkIngest) marshal() []byte {
	st := chunkState{Tracks: ci.tracks, Started: ci.started, Origin: ci.origin, Last: ci.last, Wire: ci.wire}
	if ci.mux != nil {
		st.Mux = ci.mux.State()
	}
	data, _ := json.Marshal(st)
	return data
}

// restoreChunks rebuilds, on the node a broadcast was handed over to, the
// state of its encoded-chunk upload that marshal gave on the old one.
func restoreChunks(data []byte) (*chunkIngest, error) {
	var st chunkState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("liveplugin: handover of encoded chunks: %w", err)
	}
	ci := &chunkIngest{started: st.Started, origin: st.Origin, last: st.Last, wire: st.Wire}
	if st.Tracks != nil {
		if err := ci.setTracks(st.Tracks); err != nil {
			return nil, fmt.Errorf("liveplugin: handover of encoded chunks: %w", err)
		}
		ci.mux.Restore(st.Mux)
	}
	return ci, nil
}
