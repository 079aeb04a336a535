package liveplugin

import (
	"time"

	"github.com/amlive/amlive/liveplugin/internal/cluster"
	"github.com/amlive/amlive/liveplugin/internal/record"
)

// Recording describes one recorded broadcast.
type Recording struct {
	ID       string `json:"id"`
	Room     string `json:"room"`
	MIMEType string `json:"mimeType"`
	// Container and Codecs are MIMEType's container ("webm" or "mp4")
	// and codecs, as in BroadcastInfo.
	Container  string        `json:"container,omitempty"`
	Codecs     []string      `json:"codecs,omitempty"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end,omitzero"`
	Duration   time.Duration `json:"-"`
	DurationMs int64         `json:"durationMs"`
	Bytes      int64         `json:"bytes"`
	Live       bool          `json:"live"`             // still being recorded
	Seekable   bool          `json:"seekable"`         // sealed with an index (WebM Cues, MP4 sidx and mfra) and a duration
	Failed     bool          `json:"failed,omitempty"` // recording stopped early; the file holds what was written
	// CutShort is a recording a crash or a failing disk ended inside an
	// element: recovery kept what was complete.
	CutShort bool `json:"cutShort,omitempty"`
	// Recovering is a recording a crash left open, which the plugin is
	// sealing in the background after a restart: it is not served (503)
	// until that is done.
	Recovering bool   `json:"recovering,omitempty"`
	URL        string `json:"url"` // playback URL
	// Thumbnail is the URL of the recording's thumbnail, the broadcast's
	// last (see BroadcastInfo.Thumbnail); empty when it has none.
	Thumbnail string `json:"thumbnail,omitempty"`
	// Title and Description are the broadcast's, as last set (see
	// Description); empty when none was.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
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
	container, codecs := describeMIME(m.MIMEType)
	return Recording{
		Container:   container,
		Codecs:      codecs,
		ID:          m.Broadcast,
		Room:        m.Room,
		MIMEType:    m.MIMEType,
		Start:       m.Start,
		End:         m.End,
		Duration:    m.Duration,
		DurationMs:  m.Duration.Milliseconds(),
		Bytes:       m.Bytes,
		Live:        m.Live() && !m.Recovering,
		Seekable:    m.Sealed,
		Failed:      m.Failed != "",
		CutShort:    m.CutShort,
		Recovering:  m.Recovering,
		URL:         p.playbackURL(m.Room, m.Broadcast),
		Thumbnail:   p.recordingThumbnailURL(m.Room, m.Broadcast),
		Title:       m.Title,
		Description: m.Description,
	}
}

// recoverRecordings seals the recordings a crash or kill left unfinished
// in Dir in the background, logging each; until one is sealed it is
// listed but not served. The goroutine runs as a publisher does, under
// pubCtx and counted in pubs, so Close stops it (between two reads of the
// file being sealed) and waits for it; what is left is recovered at the
// next start. It exits when every recording is done or Close cancels.
func (p *Plugin) recoverRecordings() {
	var o record.RecoverOptions
	if p.cfg.Cluster != nil {
		// Dir may be shared: another node may be writing or sealing.
		o.Live = func(room, id string) bool {
			in, ok := p.rooms.Lookup(room)
			return ok && in.ID == id
		}
		o.TempAge = sharedTempAge
	}
	done, ok := p.track(&p.pubs)
	if !ok {
		return // closing
	}
	rec, err := p.store.BeginRecoverWith(o)
	if err != nil {
		p.log.Error("recordings not recovered", "err", err)
	}
	go func() {
		defer done()
		metas, err := rec.Run(p.pubCtx)
		for _, m := range metas {
			if m.Sealed {
				p.log.Info("recording recovered", "room", m.Room, "broadcast", m.Broadcast, "bytes", m.Bytes, "duration", m.Duration)
			} else {
				p.log.Warn("recording not recoverable", "room", m.Room, "broadcast", m.Broadcast, "reason", m.Failed)
			}
		}
		switch {
		case err != nil && p.pubCtx.Err() != nil:
			p.log.Info("recordings recovery stopped by Close", "err", err)
		case err != nil:
			p.log.Error("recordings not recovered", "err", err)
		}
	}()
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
	p.metrics.deleted(len(gone))
	if err != nil {
		p.log.Error("recordings not pruned", "err", err)
	}
}

// sharedTempAge is how long a temporary file in a Dir that cluster nodes
// may share must go unmodified before recovery removes it: a seal under
// way on another node writes to its file all the time.
const sharedTempAge = 10 * time.Minute

// clusterNode is what the plugin hands its Cluster.
func (p *Plugin) clusterNode() cluster.Node {
	return cluster.Node{
		Hub:          p.hub,
		Log:          p.log,
		Events:       viewerEvents{},
		RecordingURL: p.playbackURL,
		Stop:         p.stopLocal,
		Describe:     p.describeLocal,
		Orphaned:     p.sealOrphan,
	}
}

// sealOrphan seals the recording of a broadcast whose origin node
// vanished, if this node sees it (the nodes share Dir): it runs recovery
// again, which seals every unfinished recording that is not live on any
// node.
func (p *Plugin) sealOrphan(room, id string) {
	p.log.Info("broadcast's node vanished; recovering its recording", "room", room, "broadcast", id)
	p.recoverRecordings()
}
