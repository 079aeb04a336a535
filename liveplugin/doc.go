// Package liveplugin gives an Echo application live-streaming rooms.
//
// One call mounts everything under a group:
//
//	e := echo.New()
//	p, err := liveplugin.Register(e.Group("/live"), liveplugin.Config{
//		Dir: "recordings",
//		Authorize: func(c echo.Context, room string, a liveplugin.Action) error {
//			if a == liveplugin.View || currentUser(c) == room {
//				return nil
//			}
//			return liveplugin.ErrForbidden
//		},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer p.Close(context.Background())
//
// A user who may publish in a room opens /live/<room>/broadcast and presses
// "Go live": the browser records camera and microphone with MediaRecorder
// (WebM, or fragmented MP4 where the browser records only that, as Safari
// does) and uploads the chunks over a WebSocket. The plugin parses the
// stream as it arrives, fans it out from memory to every viewer of
// /live/<room> (each joins at a keyframe, so late joiners decode from their
// first frame) and records it to Config.Dir. When the broadcast ends,
// viewers switch to the recording.
//
// An app places the player or the "Go live" widget in its own pages with
// the template functions of Plugin.FuncMap, and restyles the plugin's pages
// with Config.Views.
package liveplugin
