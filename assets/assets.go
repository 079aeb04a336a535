// Package assets holds the browser side of amlive: protocol.js (the wire
// protocol's close codes and events, generated from the Go side), core.js
// (the helpers the widgets share: endpoints, the close-code sentences, the
// widget registry with amlive.init and amlive.destroy), broadcaster.js
// (camera to WebSocket upload), capture-worklet.js (the AudioWorklet through
// which broadcaster.js reads the microphone for a low-latency upload where
// there is no MediaStreamTrackProcessor), webcodecs.js (the player's low-latency
// mode: WebCodecs decoders, a canvas and Web Audio), player.js (WebSocket
// to Media Source Extensions playback), status.js (the rooms' live state, one stream per
// page that the widgets and the page's elements share) and live.css. The plugin serves them under
// {base}/assets/; pages load the scripts in that order (the head partial
// does).
//
// The scripts are plain ES2020 without dependencies or a build step. Each
// widget script initialises the elements marked data-amlive-broadcaster or
// data-amlive-player on DOMContentLoaded; window.amlive.init(root)
// initialises markup inserted later and window.amlive.destroy(root)
// releases it before it is removed.
package assets

import "embed"

// FS holds protocol.js, core.js, broadcaster.js, capture-worklet.js, webcodecs.js, player.js, status.js and
// live.css at
// its root. It is read-only and safe for concurrent use.
//
//go:embed *.js *.css
var FS embed.FS
