package webm

import (
	"fmt"
	"strings"

	"github.com/amlive/amlive/liveplugin/internal/media"
)

// TrackType says what a [Track] carries: the container-neutral
// [media.TrackType].
type TrackType = media.TrackType

// Track types. Matroska types other than video and audio (subtitles,
// buttons, metadata, ...) are all Other.
const (
	// Other is a track that is neither video nor audio.
	Other = media.Other
	// Video is a video track (Matroska TrackType 1).
	Video = media.Video
	// Audio is an audio track (Matroska TrackType 2).
	Audio = media.Audio
)

// Track describes one TrackEntry of the stream's Tracks element.
type Track struct {
	Number       uint64    // TrackNumber, as blocks refer to it
	Type         TrackType // from TrackType, or guessed from the CodecID prefix when absent
	CodecID      string    // Matroska codec ID, e.g. "V_VP8", "A_OPUS"
	Codec        string    // MSE codec name, e.g. "vp8", "vp9", "av01.0.08M.08", "opus", "avc1.42C01F"; "" when unknown
	CodecPrivate []byte    // CodecPrivate, nil when absent; read-only
	Width        uint64    // PixelWidth, video only
	Height       uint64    // PixelHeight, video only
	SampleRate   float64   // SamplingFrequency in Hz, audio only
	Channels     uint64    // Channels, audio only
}

// playable reports whether Chromium's MSE plays the codec in WebM.
func playable(codecID string) bool {
	switch codecID {
	case "V_VP8", "V_VP9", "V_AV1", "A_OPUS", "A_VORBIS":
		return true
	}
	return false
}

// codecName returns the MSE codec name for a Matroska codec ID.
func codecName(codecID string, priv []byte) string {
	switch {
	case codecID == "V_VP8":
		return "vp8"
	case codecID == "V_VP9":
		return "vp9"
	case codecID == "V_AV1":
		return av1Codec(priv)
	case codecID == "A_OPUS":
		return "opus"
	case codecID == "A_VORBIS":
		return "vorbis"
	case codecID == "V_MPEG4/ISO/AVC":
		// AVCDecoderConfigurationRecord: version, profile, compatibility, level.
		if len(priv) >= 4 && priv[0] == 1 {
			return fmt.Sprintf("avc1.%02X%02X%02X", priv[1], priv[2], priv[3])
		}
		return "avc1"
	case codecID == "V_MPEGH/ISO/HEVC":
		return "hvc1"
	case strings.HasPrefix(codecID, "A_AAC"):
		return "mp4a.40.2"
	}
	return ""
}

// av1Codec builds "av01.P.LLT.DD" from an AV1CodecConfigurationRecord, or
// returns a common default (main profile, level 4.0, 8 bits) without one.
func av1Codec(priv []byte) string {
	// marker(1) version(7) | seq_profile(3) seq_level_idx_0(5) |
	// seq_tier_0(1) high_bitdepth(1) twelve_bit(1) monochrome(1) ...
	if len(priv) < 4 || priv[0] != 0x81 {
		return "av01.0.08M.08"
	}
	profile := priv[1] >> 5
	level := priv[1] & 0x1f
	tier := byte('M')
	if priv[2]&0x80 != 0 {
		tier = 'H'
	}
	depth := 8
	if priv[2]&0x40 != 0 {
		depth = 10
		if profile == 2 && priv[2]&0x20 != 0 {
			depth = 12
		}
	}
	return fmt.Sprintf("av01.%d.%02d%c.%02d", profile, level, tier, depth)
}
