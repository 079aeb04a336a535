package liveplugin

import (
	"time"

	"github.com/amlive/amlive/liveplugin/internal/record"
)

// Recording describes one recorded broadcast.
type Recording struct {
	ID         string        `json:"id"`
	Room       string        `json:"room"`
	MIMEType   string        `json:"mimeType"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end,omitzero"`
	Duration   time.Duration `json:"-"`
	DurationMs int64         `json:"durationMs"`
	Bytes      int64         `json:"bytes"`
	Live       bool          `json:"live"`             // still being recorded
	Seekable   bool          `json:"seekable"`         // sealed with Cues and a duration
	Failed     bool          `json:"failed,omitempty"` // recording stopped early; the file holds what was written
	URL        string        `json:"url"`              // playback URL
}

// Recordings returns room's recordings, newest first.
func (p *Plugin) Recordings(room string) ([]Recording, error) {
	if err := ValidRoom(room); err != nil {
		return nil, err
	}
	metas, err := p.store.List(room)
	if err != nil {
		return nil, err
	}
	out := make([]Recording, 0, len(metas))
	for _, m := range metas {
		out = append(out, p.recording(m))
	}
	return out, nil
}

func (p *Plugin) recording(m record.Meta) Recording {
	return Recording{
		ID:         m.Broadcast,
		Room:       m.Room,
		MIMEType:   m.MIMEType,
		Start:      m.Start,
		End:        m.End,
		Duration:   m.Duration,
		DurationMs: m.Duration.Milliseconds(),
		Bytes:      m.Bytes,
		Live:       m.Live(),
		Seekable:   m.Sealed,
		Failed:     m.Failed != "",
		URL:        p.playbackURL(m.Room, m.Broadcast),
	}
}

// recoverRecordings seals the recordings a crash or kill left unfinished
// in Dir, logging each.
func (p *Plugin) recoverRecordings() {
	metas, err := p.store.Recover()
	for _, m := range metas {
		if m.Sealed {
			p.log.Info("recording recovered", "room", m.Room, "broadcast", m.Broadcast, "bytes", m.Bytes, "duration", m.Duration)
		} else {
			p.log.Warn("recording not recoverable", "room", m.Room, "broadcast", m.Broadcast, "reason", m.Failed)
		}
	}
	if err != nil {
		p.log.Error("recordings not recovered", "err", err)
	}
}

// pruneRecordings deletes the recordings that KeepRecordings,
// MaxRecordingBytes and MaxRecordingAge do not keep, logging each.
func (p *Plugin) pruneRecordings() {
	gone, err := p.store.Prune(record.Retention{
		KeepPerRoom: p.cfg.KeepRecordings,
		MaxBytes:    p.cfg.MaxRecordingBytes,
		MaxAge:      p.cfg.MaxRecordingAge,
	}, time.Now())
	for _, m := range gone {
		p.log.Info("recording deleted", "room", m.Room, "broadcast", m.Broadcast, "reason", "retention")
	}
	if err != nil {
		p.log.Error("recordings not pruned", "err", err)
	}
}
