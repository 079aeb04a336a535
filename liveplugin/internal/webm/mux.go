package webm

import (
	"math"

	"github.com/amlive/amlive/internal/ebml"
)

// Element IDs the muxer writes, besides those the reader knows.
const (
	idEBMLVersion        = 0x4286
	idEBMLReadVersion    = 0x42F7
	idEBMLMaxIDLength    = 0x42F2
	idEBMLMaxSizeLength  = 0x42F3
	idDocTypeVersion     = 0x4287
	idDocTypeReadVersion = 0x4285
	idMuxingApp          = 0x4D80
	idWritingApp         = 0x5741
	idTrackUID           = 0x73C5
	idFlagLacing         = 0x9C
	idCodecDelay         = 0x56AA
	idSeekPreRoll        = 0x56BB
)

// MuxTrack describes a track for [NewMuxer].
type MuxTrack struct {
	Number       uint64    // TrackNumber, 1 to 126 (the muxer writes one-byte block track numbers)
	Type         TrackType // Video or Audio
	CodecID      string    // e.g. "V_VP8", "V_VP9", "V_AV1", "A_OPUS"
	CodecPrivate []byte    // nil for none
	Width        uint64    // PixelWidth, video only
	Height       uint64    // PixelHeight, video only
	SampleRate   float64   // SamplingFrequency, audio only
	Channels     uint64    // Channels, audio only
	// CodecDelay and SeekPreRoll are in nanoseconds, written when
	// non-zero (Opus).
	CodecDelay, SeekPreRoll uint64
}

// MuxAudioCluster is how long a Cluster of a stream without video runs
// before the muxer starts another, in milliseconds.
const MuxAudioCluster = 5000

// Muxer writes a live WebM stream of encoded frames, as a browser's
// MediaRecorder does: the EBML header, a Segment of unknown size, Info
// (TimecodeScale 1 ms) and Tracks, then Clusters of unknown size holding
// SimpleBlocks. A Cluster starts at each keyframe of the video track, when
// a block's timecode would not fit the Cluster's 16-bit relative one, and
// every [MuxAudioCluster] ms in a stream without video. Each call returns
// the bytes of one frame (with the Cluster header that starts before it),
// so a caller passes every frame on as soon as it is muxed.
//
// A Muxer holds a few integers besides its tracks; its zero value is not
// usable. It is not safe for concurrent use.
type Muxer struct {
	tracks   []MuxTrack
	video    uint64 // the video track's number, 0 without one
	cluster  int64  // the current Cluster's timecode, in ms
	open     bool   // a Cluster has been started
	last     int64  // the latest block's timecode, in ms
	wroteHdr bool
}

// MuxerState is what a [Muxer] holds besides its tracks: enough for
// another muxer of the same tracks to go on with the same stream (a
// broadcast handed over to another node).
type MuxerState struct {
	Cluster     int64 `json:"cluster"`     // the current Cluster's timecode, in ms
	Open        bool  `json:"open"`        // a Cluster has been started
	Last        int64 `json:"last"`        // the latest block's timecode, in ms
	WroteHeader bool  `json:"wroteHeader"` // the stream header was written
}

// State returns the muxer's state.
func (m *Muxer) State() MuxerState {
	return MuxerState{Cluster: m.cluster, Open: m.open, Last: m.last, WroteHeader: m.wroteHdr}
}

// Restore sets the muxer's state to st, which [Muxer.State] of a muxer of
// the same tracks returned: its next frames go on with that stream.
func (m *Muxer) Restore(st MuxerState) {
	m.cluster, m.open, m.last, m.wroteHdr = st.Cluster, st.Open, st.Last, st.WroteHeader
}

// NewMuxer returns a muxer of tracks, whose numbers must be distinct and
// within 1 to 126.
func NewMuxer(tracks []MuxTrack) *Muxer {
	m := &Muxer{tracks: tracks}
	for _, t := range tracks {
		if t.Number < 1 || t.Number > 126 {
			panic("webm: muxer track number out of range")
		}
		if t.Type == Video && m.video == 0 {
			m.video = t.Number
		}
	}
	return m
}

// Header appends the stream header to dst: the EBML header, the Segment's
// header (unknown size), Info and Tracks.
func (m *Muxer) Header(dst []byte) []byte {
	dst = ebml.AppendMaster(dst, idEBML, func(b []byte) []byte {
		b = ebml.AppendUint(b, idEBMLVersion, 1)
		b = ebml.AppendUint(b, idEBMLReadVersion, 1)
		b = ebml.AppendUint(b, idEBMLMaxIDLength, 4)
		b = ebml.AppendUint(b, idEBMLMaxSizeLength, 8)
		b = ebml.AppendString(b, idDocType, "webm")
		b = ebml.AppendUint(b, idDocTypeVersion, 4)
		return ebml.AppendUint(b, idDocTypeReadVersion, 2)
	})
	dst = ebml.AppendUnknownHeader(dst, idSegment, 8)
	dst = ebml.AppendMaster(dst, idInfo, func(b []byte) []byte {
		b = ebml.AppendUint(b, idTimecodeScale, 1000000)
		b = ebml.AppendString(b, idMuxingApp, "amlive")
		return ebml.AppendString(b, idWritingApp, "amlive")
	})
	dst = ebml.AppendMaster(dst, idTracks, func(b []byte) []byte {
		for _, t := range m.tracks {
			b = ebml.AppendMaster(b, idTrackEntry, func(b []byte) []byte { return appendTrack(b, t) })
		}
		return b
	})
	m.wroteHdr = true
	return dst
}

func appendTrack(b []byte, t MuxTrack) []byte {
	b = ebml.AppendUint(b, idTrackNumber, t.Number)
	b = ebml.AppendUint(b, idTrackUID, t.Number)
	typ := uint64(1)
	if t.Type == Audio {
		typ = 2
	}
	b = ebml.AppendUint(b, idTrackType, typ)
	b = ebml.AppendUint(b, idFlagLacing, 0)
	b = ebml.AppendString(b, idCodecID, t.CodecID)
	if len(t.CodecPrivate) > 0 {
		b = ebml.AppendBytes(b, idCodecPrivate, t.CodecPrivate)
	}
	if t.CodecDelay > 0 {
		b = ebml.AppendUint(b, idCodecDelay, t.CodecDelay)
	}
	if t.SeekPreRoll > 0 {
		b = ebml.AppendUint(b, idSeekPreRoll, t.SeekPreRoll)
	}
	if t.Type == Video {
		return ebml.AppendMaster(b, idVideo, func(b []byte) []byte {
			b = ebml.AppendUint(b, idPixelWidth, t.Width)
			return ebml.AppendUint(b, idPixelHeight, t.Height)
		})
	}
	return ebml.AppendMaster(b, idAudio, func(b []byte) []byte {
		b = ebml.AppendFloat(b, idSamplingFrequency, t.SampleRate)
		return ebml.AppendUint(b, idChannels, t.Channels)
	})
}

// Starts reports whether a frame of track at ms, a keyframe when key,
// would start a Cluster.
func (m *Muxer) Starts(track uint64, ms int64, key bool) bool {
	if !m.open {
		return true
	}
	rel := ms - m.cluster
	switch {
	case rel > math.MaxInt16 || rel < math.MinInt16:
		return true
	case m.video != 0:
		return track == m.video && key
	}
	return rel >= MuxAudioCluster
}

// Frame appends to dst the SimpleBlock of one encoded frame of track
// (a number given to NewMuxer), at ms milliseconds from the stream's start,
// preceded by the header of a Cluster of unknown size when the frame starts
// one (see Starts), and by the stream header when Header was not called
// yet; a keyframe flag is set when key.
//
// Within a Cluster, block timecodes never decrease, whatever the track,
// and are never before the Cluster's, as Chromium's Media Source
// Extensions demand: a frame earlier than the block before it (another
// track's, whose encoder was quicker) starts a Cluster at its own time,
// rather than being held back to reorder or moved, which would break the
// timing a player's decoder relies on. The caller keeps each track's
// times non-decreasing. Negative times are muxed at 0.
func (m *Muxer) Frame(dst []byte, track uint64, ms int64, key bool, frame []byte) []byte {
	if !m.wroteHdr {
		dst = m.Header(dst)
	}
	ms = max(ms, 0)
	if m.Starts(track, ms, key) || ms < m.last {
		dst = ebml.AppendUnknownHeader(dst, idCluster, 8)
		dst = ebml.AppendUint(dst, idTimecode, uint64(ms))
		m.cluster, m.open = ms, true
	}
	m.last = ms
	rel := int16(ms - m.cluster)
	flags := byte(0)
	if key {
		flags = 0x80
	}
	dst = ebml.AppendHeader(dst, idSimpleBlock, int64(4+len(frame)))
	dst = append(dst, byte(0x80|track), byte(uint16(rel)>>8), byte(uint16(rel)), flags)
	return append(dst, frame...)
}
