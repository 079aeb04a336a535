package liveplugin

// Base returns the URL path the plugin's routes are mounted under, such as
// "/live" (empty when mounted at the root).
func (p *Plugin) Base() string { return p.base }

// WatchURL returns the path of room's watch page, such as "/live/alice".
func (p *Plugin) WatchURL(room string) string { return p.base + "/" + room }

// EmbedURL returns the path of room's chromeless player, for an <iframe>
// on another site, such as "/live/alice/embed". Prefix it with the site's
// scheme and host for a snippet to paste elsewhere.
func (p *Plugin) EmbedURL(room string) string { return p.base + "/" + room + "/embed" }

// playbackURL returns the path that plays recording id of room.
func (p *Plugin) playbackURL(room, id string) string {
	return p.base + "/" + room + "/playback?b=" + id
}
