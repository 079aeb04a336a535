package liveplugin

// Stats is a snapshot of the plugin's counters, for monitoring: what is
// live, and how often viewers and publishers were cut off.
type Stats struct {
	// Rooms is the number of rooms live now (on every node of a Cluster).
	Rooms int `json:"rooms"`
	// Viewers is the number of viewers of live rooms now, on this node.
	Viewers int `json:"viewers"`
	// QueuedBytes is the media queued for viewers and not yet written to
	// their connections, summed over viewers. Each viewer's queue holds at
	// most ViewerQueueBytes beyond the burst it joined with (the init
	// segment and the group of pictures since the last keyframe). Viewers
	// share the chunks of a broadcast, so the memory this stands for is at
	// most that of the longest queue of each room.
	QueuedBytes int64 `json:"queuedBytes"`
	// Skips counts, since Register, the times a viewer fell more than
	// ViewerQueueBytes behind and skipped ahead to the next keyframe.
	Skips int64 `json:"skips"`
	// SlowDrops counts, since Register, the viewers closed with 1008
	// because they kept falling behind.
	SlowDrops int64 `json:"slowDrops"`
	// DeadPeers counts, since Register, the publishers and viewers
	// disconnected because they did not answer a ping (see PingInterval).
	DeadPeers int64 `json:"deadPeers"`
}

// Stats returns the plugin's counters. It is safe for concurrent use.
func (p *Plugin) Stats() Stats {
	hs := p.rooms.Stats()
	return Stats{
		Rooms:       len(p.rooms.Live()),
		Viewers:     p.rooms.Viewers(),
		QueuedBytes: hs.QueuedBytes,
		Skips:       hs.Skips,
		SlowDrops:   hs.SlowDrops,
		DeadPeers:   p.deadPeers.Load(),
	}
}
