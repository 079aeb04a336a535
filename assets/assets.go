// Package assets holds the browser side of amlive: broadcaster.js (camera to
// WebSocket upload), player.js (WebSocket to Media Source Extensions playback)
// and live.css. The plugin serves them under {base}/assets/.
//
// The scripts are plain ES2020 without dependencies or a build step. Each
// initialises the elements marked data-amlive-broadcaster or
// data-amlive-player on DOMContentLoaded, and window.amlive.init(root)
// initialises markup inserted later.
package assets

import "embed"

// FS holds broadcaster.js, player.js and live.css at its root. It is read-only
// and safe for concurrent use.
//
//go:embed *.js *.css
var FS embed.FS
