// Package hub keeps the live broadcasts of every room in memory and fans their
// bytes out to subscribers.
//
// A publisher starts a [Broadcast] with [Hub.Start], hands it the stream's
// init segment with [Broadcast.SetInit] and then every chunk it receives with
// [Broadcast.Write], together with the offsets of the join points (Clusters
// that begin with a video keyframe) that the caller's parser found. The hub
// keeps the bytes since the newest join point (the GOP cache), so that a
// [Subscriber] joining at any moment receives a hello event, the init
// segment, then media starting exactly at a join point, and can decode from
// its first frame.
//
// Chunks are shared, immutable buffers: the hub never copies media per
// subscriber. Each subscriber has a bounded queue; a subscriber whose queue
// overflows skips ahead to the next join point (it receives a skip event and
// the init segment again), and one that keeps overflowing is dropped with
// [ErrTooSlow]. The publisher never waits for a subscriber.
//
// The package knows nothing of HTTP, WebSockets, files, JSON or the WebM
// format: it sees byte chunks and offsets, and its text events are the bytes
// that [Config.Events] encodes, once per event.
package hub
