package mp4

// opusSamples returns the duration of an Opus packet in 48 kHz samples
// from its first bytes (RFC 6716 section 3.1): the TOC byte's config gives
// the frame size, its code the number of frames (for code 3, the frame
// count byte that follows). It returns 0 when b is too short or the packet
// is invalid (no frames, or more than 120 ms).
func opusSamples(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	toc := b[0]
	config := toc >> 3
	var frame int
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = [4]int{480, 960, 1920, 2880}[config%4]
	case config < 16: // Hybrid: 10, 20 ms
		frame = [2]int{480, 960}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = [4]int{120, 240, 480, 960}[config%4]
	}
	var frames int
	switch toc & 3 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	case 3:
		if len(b) < 2 {
			return 0
		}
		frames = int(b[1] & 0x3f)
	}
	if n := frames * frame; n > 0 && n <= 5760 {
		return n
	}
	return 0
}
