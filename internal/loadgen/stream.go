// Package loadgen makes synthetic live WebM streams for load tests and
// benchmarks, and finds in the bytes a viewer receives when each part of
// them was sent.
//
// A [Stream] is what a MediaRecorder would upload: an EBML header, a Segment
// of unknown size, Info, Tracks with a VP8 video track and an Opus audio
// track, then Clusters of unknown size, one starting at every video
// keyframe, holding SimpleBlocks. The frame payloads are not media: each
// begins with a [Marker] (a magic number, a sequence number, the block's
// offset in the stream and the time it was generated) and is padded with
// zeros. A [Scanner] finds the markers in any byte stream, however it is
// split into messages, so a viewer can measure delivery latency and loss on
// whatever bytes it receives.
//
// The package sees bytes only; it knows nothing of WebSockets.
package loadgen

import (
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/amlive/amlive/internal/ebml"
)

// Defaults of [Options].
const (
	DefaultBitrate   = 2_500_000
	DefaultKeyframe  = 2 * time.Second
	DefaultFrameRate = 30
)

const (
	audioFrame   = 20 * time.Millisecond // one Opus frame
	audioBytes   = 160                   // 64 kbit/s of Opus
	keyframeGain = 4                     // a keyframe is this many delta frames
	maxKeyframe  = 30 * time.Second      // a Cluster's relative timecodes are int16 ms
	minPayload   = MarkerLen + 8         // room for the marker and a cut after it
	videoTrack   = 1
	audioTrack   = 2
)

// MIMEType is the type of every Stream, as a MediaRecorder would claim it.
const MIMEType = `video/webm;codecs="vp8,opus"`

// Options shape a Stream. A zero field takes its default.
type Options struct {
	// Bitrate is the stream's rate in bits per second, audio and container
	// included (approximately: the container's overhead is estimated).
	// Optional. Defaults to 2.5 Mbit/s.
	Bitrate int64
	// Keyframe is the interval between video keyframes, each of which
	// starts a Cluster. Optional. Defaults to 2 s; at most 30 s.
	Keyframe time.Duration
	// FrameRate is the video's frames per second. Optional. Defaults to 30.
	FrameRate int
}

func (o Options) withDefaults() Options {
	if o.Bitrate <= 0 {
		o.Bitrate = DefaultBitrate
	}
	if o.Keyframe <= 0 {
		o.Keyframe = DefaultKeyframe
	}
	o.Keyframe = min(o.Keyframe, maxKeyframe)
	if o.FrameRate <= 0 {
		o.FrameRate = DefaultFrameRate
	}
	return o
}

// Stream generates one synthetic broadcast. It is not safe for concurrent
// use.
type Stream struct {
	o         Options
	frame     time.Duration // video frame interval
	gopFrames int           // video frames per keyframe interval
	keyBytes  int           // payload of a keyframe
	deltaByte int           // payload of a delta frame

	off     int64         // bytes generated so far, init included
	seq     uint64        // markers generated so far
	video   int           // next video frame
	audio   int           // next audio frame
	cluster time.Duration // timecode of the open Cluster; -1 before the first
}

// NewStream returns a stream shaped by o. Its bytes start with Init.
func NewStream(o Options) *Stream {
	o = o.withDefaults()
	s := &Stream{o: o, cluster: -1}
	s.frame = time.Second / time.Duration(o.FrameRate)
	s.gopFrames = max(1, int(math.Round(o.Keyframe.Seconds()*float64(o.FrameRate))))
	// Bytes per keyframe interval left for video, after audio and about
	// 8 bytes of framing per block and 20 per Cluster.
	gop := float64(o.Bitrate) / 8 * float64(s.gopFrames) / float64(o.FrameRate)
	audioPerGOP := float64(s.gopFrames) * float64(s.frame) / float64(audioFrame)
	gop -= audioPerGOP*(audioBytes+8) + float64(s.gopFrames)*8 + 20
	s.deltaByte = max(minPayload, int(gop/float64(s.gopFrames-1+keyframeGain)))
	s.keyBytes = keyframeGain * s.deltaByte
	return s
}

// Offset returns the number of bytes generated so far, Init included: the
// stream offset of the next byte.
func (s *Stream) Offset() int64 { return s.off }

// Markers returns the number of markers generated so far; the next one has
// this sequence number.
func (s *Stream) Markers() uint64 { return s.seq }

// Init appends the init segment to dst: the EBML header, the Segment's
// header (unknown size), Info and Tracks. It must be the stream's first
// bytes: call it once, before AppendUntil.
func (s *Stream) Init(dst []byte) []byte {
	n := len(dst)
	dst = ebml.AppendMaster(dst, 0x1A45DFA3, func(b []byte) []byte { // EBML
		b = ebml.AppendUint(b, 0x4286, 1)        // EBMLVersion
		b = ebml.AppendUint(b, 0x42F7, 1)        // EBMLReadVersion
		b = ebml.AppendUint(b, 0x42F2, 4)        // EBMLMaxIDLength
		b = ebml.AppendUint(b, 0x42F3, 8)        // EBMLMaxSizeLength
		b = ebml.AppendString(b, 0x4282, "webm") // DocType
		b = ebml.AppendUint(b, 0x4287, 4)        // DocTypeVersion
		return ebml.AppendUint(b, 0x4285, 2)
	})
	dst = ebml.AppendUnknownHeader(dst, 0x18538067, 8)               // Segment
	dst = ebml.AppendMaster(dst, 0x1549A966, func(b []byte) []byte { // Info
		b = ebml.AppendUint(b, 0x2AD7B1, uint64(time.Millisecond)) // TimecodeScale
		b = ebml.AppendString(b, 0x4D80, "amlive loadgen")         // MuxingApp
		return ebml.AppendString(b, 0x5741, "amlive loadgen")      // WritingApp
	})
	dst = ebml.AppendMaster(dst, 0x1654AE6B, func(b []byte) []byte { // Tracks
		b = ebml.AppendMaster(b, 0xAE, func(b []byte) []byte { // TrackEntry
			b = ebml.AppendUint(b, 0xD7, videoTrack)   // TrackNumber
			b = ebml.AppendUint(b, 0x73C5, videoTrack) // TrackUID
			b = ebml.AppendUint(b, 0x83, 1)            // TrackType: video
			b = ebml.AppendString(b, 0x86, "V_VP8")
			return ebml.AppendMaster(b, 0xE0, func(b []byte) []byte { // Video
				b = ebml.AppendUint(b, 0xB0, 1280) // PixelWidth
				return ebml.AppendUint(b, 0xBA, 720)
			})
		})
		return ebml.AppendMaster(b, 0xAE, func(b []byte) []byte {
			b = ebml.AppendUint(b, 0xD7, audioTrack)
			b = ebml.AppendUint(b, 0x73C5, audioTrack)
			b = ebml.AppendUint(b, 0x83, 2) // TrackType: audio
			b = ebml.AppendString(b, 0x86, "A_OPUS")
			b = ebml.AppendBytes(b, 0x63A2, opusHead())               // CodecPrivate
			return ebml.AppendMaster(b, 0xE1, func(b []byte) []byte { // Audio
				b = ebml.AppendFloat(b, 0xB5, 48000) // SamplingFrequency
				return ebml.AppendUint(b, 0x9F, 1)   // Channels
			})
		})
	})
	s.off += int64(len(dst) - n)
	return dst
}

// opusHead is the Opus identification header for one channel at 48 kHz.
func opusHead() []byte {
	b := []byte("OpusHead")
	b = append(b, 1, 1)                            // version, channels
	b = binary.LittleEndian.AppendUint16(b, 312)   // pre-skip
	b = binary.LittleEndian.AppendUint32(b, 48000) // input sample rate
	return append(b, 0, 0, 0)                      // gain, mapping family
}

// AppendUntil appends to dst the blocks of every frame whose time lies
// before elapsed (the time since the stream started), in time order, each
// stamped with sent, and returns the extended slice. A Cluster starts at
// each video keyframe.
func (s *Stream) AppendUntil(dst []byte, elapsed time.Duration, sent time.Time) []byte {
	for {
		vt := time.Duration(s.video) * s.frame
		at := time.Duration(s.audio) * audioFrame
		if vt >= elapsed && at >= elapsed {
			break
		}
		key := s.video%s.gopFrames == 0
		if at <= vt { // audio first on ties, as MediaRecorder writes it
			if s.cluster < 0 || key && at >= vt {
				dst = s.appendCluster(dst, at)
			}
			dst = s.appendBlock(dst, audioTrack, at, true, audioBytes, sent)
			s.audio++
			continue
		}
		if key {
			dst = s.appendCluster(dst, vt)
		}
		size := s.deltaByte
		if key {
			size = s.keyBytes
		}
		dst = s.appendBlock(dst, videoTrack, vt, key, size, sent)
		s.video++
	}
	return dst
}

// appendCluster starts a Cluster of unknown size at timecode t, unless
// one starts there already.
func (s *Stream) appendCluster(dst []byte, t time.Duration) []byte {
	if t == s.cluster {
		return dst
	}
	s.cluster = t
	start := len(dst)
	dst = ebml.AppendUnknownHeader(dst, 0x1F43B675, 8)
	dst = ebml.AppendUint(dst, 0xE7, uint64(t/time.Millisecond)) // Timecode
	s.off += int64(len(dst) - start)
	return dst
}

// appendBlock appends a SimpleBlock of track at time t whose payload of
// size bytes starts with a marker.
func (s *Stream) appendBlock(dst []byte, track byte, t time.Duration, key bool, size int, sent time.Time) []byte {
	start := len(dst)
	dst = ebml.AppendHeader(dst, 0xA3, int64(4+size))
	rel := int16((t - s.cluster) / time.Millisecond)
	flags := byte(0)
	if key {
		flags = 0x80
	}
	dst = append(dst, 0x80|track)
	dst = binary.BigEndian.AppendUint16(dst, uint16(rel))
	dst = append(dst, flags)
	m := Marker{Seq: s.seq, Offset: s.off + int64(len(dst)-start), Sent: sent.UnixNano()}
	dst = m.append(dst)
	dst = slices.Grow(dst, size-MarkerLen)
	pad := dst[len(dst) : len(dst)+size-MarkerLen]
	clear(pad)
	dst = dst[:len(dst)+len(pad)]
	s.seq++
	s.off += int64(len(dst) - start)
	return dst
}

// Generate returns d of a stream made with o, generated in ticks of tick
// (as a publisher sending every tick would), and the number of markers in
// it. The send times start at a fixed instant, so the bytes are the same
// on every call.
func Generate(o Options, d, tick time.Duration) ([]byte, uint64) {
	s := NewStream(o)
	b := s.Init(nil)
	t0 := time.Unix(1_700_000_000, 0)
	for el := tick; el <= d; el += tick {
		b = s.AppendUntil(b, el, t0.Add(el))
	}
	if int64(len(b)) != s.Offset() {
		panic("loadgen: Offset differs from the bytes generated")
	}
	return b, s.Markers()
}
