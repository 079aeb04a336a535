package liveplugin

// Base returns the URL path the plugin's routes are mounted under, such as
// "/live" (empty when mounted at the root).
func (p *Plugin) Base() string { return p.base }

// WatchURL returns the path of room's watch page.
func (p *Plugin) WatchURL(room string) string { return p.base + "/" + room }

// playbackURL returns the path that plays recording id of room.
func (p *Plugin) playbackURL(room, id string) string {
	return p.base + "/" + room + "/playback?b=" + id
}
