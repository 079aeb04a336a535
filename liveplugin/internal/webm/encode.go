package webm

// Element IDs the seal step writes, besides those the reader knows. The
// seal encodes with the module's one EBML writer, internal/ebml.
const (
	idDuration = 0x4489

	idSeek         = 0x4DBB
	idSeekID       = 0x53AB
	idSeekPosition = 0x53AC

	idCuePoint            = 0xBB
	idCueTime             = 0xB3
	idCueTrackPositions   = 0xB7
	idCueTrack            = 0xF7
	idCueClusterPosition  = 0xF1
	idCueRelativePosition = 0xF0
)
