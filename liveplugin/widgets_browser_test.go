package liveplugin_test

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/amlive/amlive/internal/chrometest"
)

// widgetMounts is how many times TestBrowserWidgetsDestroy mounts and
// unmounts the widgets.
const widgetMounts = 20

// widgetsPage is a single-page app that mounts the plugin's widgets into
// #mount from the <template> and unmounts them again. Its first script
// counts what the page holds (see leakCounterJS) before the plugin's
// scripts load.
var widgetsPage = template.Must(template.New("widgets").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Widgets</title>
<script src="/spa/leaks.js"></script>
{{.Head}}
</head><body>
<template id="widgets">{{.Player}}{{.Broadcaster}}</template>
<div id="mount"></div>
</body></html>`))

// leakCounterJS wraps what a widget can start and leave behind: WebSockets,
// timeouts, intervals, animation frames, listeners on window and document,
// object URLs, camera tracks and AudioContexts (the microphone level
// meter's). window.__leaks() counts the live ones;
// __mount and __unmount mount and unmount the widgets.
const leakCounterJS = `(() => {
  'use strict';
  const sockets = new Set(), timeouts = new Set(), intervals = new Set(), frames = new Set(), urls = new Set(), tracks = new Set(), audio = new Set();
  const listeners = []; // {target, type, fn, capture, actual}

  if (window.AudioContext) {
    const NativeAudioContext = window.AudioContext;
    window.AudioContext = class extends NativeAudioContext {
      constructor(...args) {
        super(...args);
        audio.add(this);
      }
    };
  }

  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      sockets.add(this);
    }
  };

  const st = window.setTimeout, ct = window.clearTimeout, si = window.setInterval, ci = window.clearInterval;
  window.setTimeout = function (fn, ms, ...args) {
    const id = st.call(window, () => {
      timeouts.delete(id);
      fn(...args);
    }, ms);
    timeouts.add(id);
    return id;
  };
  window.clearTimeout = function (id) {
    timeouts.delete(id);
    intervals.delete(id);
    return ct.call(window, id);
  };
  window.setInterval = function (fn, ms, ...args) {
    const id = si.call(window, fn, ms, ...args);
    intervals.add(id);
    return id;
  };
  window.clearInterval = function (id) {
    timeouts.delete(id);
    intervals.delete(id);
    return ci.call(window, id);
  };
  const raf = window.requestAnimationFrame, caf = window.cancelAnimationFrame;
  window.requestAnimationFrame = function (fn) {
    const id = raf.call(window, (t) => {
      frames.delete(id);
      fn(t);
    });
    frames.add(id);
    return id;
  };
  window.cancelAnimationFrame = function (id) {
    frames.delete(id);
    return caf.call(window, id);
  };

  for (const target of [window, document]) {
    const add = target.addEventListener, remove = target.removeEventListener;
    const find = (type, fn, capture) => listeners.findIndex((l) => l.target === target && l.type === type && l.fn === fn && l.capture === capture);
    target.addEventListener = function (type, fn, opts) {
      const capture = typeof opts === 'boolean' ? opts : Boolean(opts && opts.capture);
      if (!fn || find(type, fn, capture) >= 0) return add.call(this, type, fn, opts);
      const l = { target, type, fn, capture, actual: fn };
      if (opts && typeof opts === 'object' && opts.once) {
        l.actual = function (ev) {
          const i = listeners.indexOf(l);
          if (i >= 0) listeners.splice(i, 1);
          return typeof fn === 'function' ? fn.call(this, ev) : fn.handleEvent(ev);
        };
      }
      listeners.push(l);
      return add.call(this, type, l.actual, opts);
    };
    target.removeEventListener = function (type, fn, opts) {
      const capture = typeof opts === 'boolean' ? opts : Boolean(opts && opts.capture);
      const i = find(type, fn, capture);
      if (i < 0) return remove.call(this, type, fn, opts);
      const l = listeners.splice(i, 1)[0];
      return remove.call(this, type, l.actual, opts);
    };
  }

  const create = URL.createObjectURL, revoke = URL.revokeObjectURL;
  URL.createObjectURL = (obj) => {
    const u = create(obj);
    urls.add(u);
    return u;
  };
  URL.revokeObjectURL = (u) => {
    urls.delete(u);
    return revoke(u);
  };

  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const gum = md.getUserMedia.bind(md);
    md.getUserMedia = async (c) => {
      const stream = await gum(c);
      for (const t of stream.getTracks()) tracks.add(t);
      return stream;
    };
  }

  window.__leaks = () => ({
    sockets: [...sockets].filter((ws) => ws.readyState !== NativeWebSocket.CLOSED).length,
    socketsOpened: sockets.size,
    timeouts: timeouts.size,
    intervals: intervals.size,
    frames: frames.size,
    listeners: listeners.length,
    listenerTypes: listeners.map((l) => (l.target === window ? 'window:' : 'document:') + l.type),
    objectURLs: urls.size,
    tracks: [...tracks].filter((t) => t.readyState === 'live').length,
    tracksOpened: tracks.size,
    audioContexts: [...audio].filter((c) => c.state !== 'closed').length,
    audioContextsOpened: audio.size,
  });
  window.__mount = () => {
    const root = document.getElementById('mount');
    root.innerHTML = document.getElementById('widgets').innerHTML;
    window.amlive.init(root);
    window.__t0 = undefined;
    return Boolean(root.querySelector('[data-amlive-player]').amlivePlayer && root.querySelector('[data-amlive-broadcaster]').amliveBroadcaster);
  };
  window.__unmount = () => {
    const root = document.getElementById('mount');
    window.amlive.destroy(root);
    root.replaceChildren();
    return true;
  };
})();
`

// jsMountedPlays is true once the mounted player is live and its
// currentTime has advanced by 0.2 s since it was first seen playing.
const jsMountedPlays = `(() => {
  const el = document.querySelector('#mount [data-amlive-player]'), p = el && el.amlivePlayer, v = el && el.querySelector('video');
  if (!p) return false;
  if (v.error) throw new Error('video error ' + v.error.code + ': ' + v.error.message);
  if (p.state === 'error') throw new Error('player error: ' + el.querySelector('[data-amlive-status]').textContent);
  if (p.state !== 'live' || v.paused) return false;
  if (window.__t0 === undefined) window.__t0 = v.currentTime;
  return v.currentTime > window.__t0 + 0.2;
})()`

// leaks is what window.__leaks() counts.
type leaks struct {
	Sockets       int      `json:"sockets"`
	SocketsOpened int      `json:"socketsOpened"`
	Timeouts      int      `json:"timeouts"`
	Intervals     int      `json:"intervals"`
	Frames        int      `json:"frames"`
	Listeners     int      `json:"listeners"`
	ListenerTypes []string `json:"listenerTypes"`
	ObjectURLs    int      `json:"objectURLs"`
	Tracks        int      `json:"tracks"`
	TracksOpened  int      `json:"tracksOpened"`
	// AudioContexts is how many are not closed; AudioContextsOpened, made.
	AudioContexts       int `json:"audioContexts"`
	AudioContextsOpened int `json:"audioContextsOpened"`
}

// TestBrowserWidgetsDestroy mounts a player and a broadcaster widget into a
// single-page app's page, lets the player play a live broadcast, and
// destroys and removes them, widgetMounts times; on some mounts the
// broadcaster goes live in a second room first. Then a PlayerEngine alone,
// with a bare video element and callbacks, plays and is closed. Afterwards
// the page holds no WebSocket, timer, interval, animation frame, window or
// document listener, object URL or camera track more than before the first
// mount, the server counts no viewer, and the second room is offline again.
func TestBrowserWidgetsDestroy(t *testing.T) {
	const studio = "bob" // the mounted broadcaster's room
	srv := newBrowserServer(t, browserAllowAll)
	head, err := srv.p.HeadHTML()
	if err != nil {
		t.Fatal(err)
	}
	player, err := srv.p.PlayerHTML(browserRoom)
	if err != nil {
		t.Fatal(err)
	}
	broadcaster, err := srv.p.BroadcasterHTML(studio)
	if err != nil {
		t.Fatal(err)
	}
	srv.e.GET("/spa", func(c echo.Context) error {
		var buf strings.Builder
		if err := widgetsPage.Execute(&buf, map[string]template.HTML{"Head": head, "Player": player, "Broadcaster": broadcaster}); err != nil {
			return err
		}
		return c.HTML(http.StatusOK, buf.String())
	})
	srv.e.GET("/spa/leaks.js", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", []byte(leakCounterJS))
	})
	b := chrometest.New(t)
	openBroadcaster(t, b, srv) // the live broadcast in browserRoom

	tab := b.NewTab(t, "single-page app")
	tab.Diagnose = `window.__leaks ? window.__leaks() : location.href`
	tab.Navigate(srv.url + "/spa")
	tab.WaitFor(`Boolean(window.amlive && window.amlive.destroy && document.readyState === 'complete')`, browserLiveTimeout)
	before := chrometest.Eval[leaks](tab, `window.__leaks()`)
	t.Logf("before the first mount: %+v", before)

	for i := range widgetMounts {
		if !chrometest.Eval[bool](tab, `window.__mount()`) {
			t.Fatalf("mount %d: amlive.init made no widgets", i)
		}
		tab.WaitFor(jsMountedPlays, browserLiveTimeout)
		if i%10 == 0 {
			// The broadcaster too holds a camera, a recorder and a socket.
			chrometest.Eval[bool](tab, `(document.querySelector('#mount [data-amlive-broadcaster]').amliveBroadcaster.start(), true)`)
			tab.WaitFor(strings.ReplaceAll(chrometest.BroadcasterIs("live"), "document.querySelector('[data-amlive-broadcaster]')", "document.querySelector('#mount [data-amlive-broadcaster]')"), browserLiveTimeout)
			// The room is live once the recorder's first chunk brought the
			// stream's header.
			chrometest.Until(t, browserLiveTimeout, fmt.Sprintf("mount %d: room %s live after the broadcaster", i, studio), func() bool {
				_, ok := srv.p.Status(studio)
				return ok
			})
		}
		chrometest.Eval[bool](tab, `window.__unmount()`)
	}

	// The engine alone, as a page with its own markup uses it: a video
	// element and callbacks.
	chrometest.Eval[bool](tab, `(() => {
  const video = document.createElement('video');
  video.muted = true;
  document.getElementById('mount').append(video);
  window.__states = [];
  window.__engine = new amlive.PlayerEngine(video, {
    url: (path, ws) => {
      const u = new URL('/live/`+browserRoom+`/' + path, location.href);
      if (ws) u.protocol = 'ws:';
      return u;
    },
    isHidden: () => document.hidden,
    onState: (state) => window.__states.push(state),
  });
  window.__engine.start(true);
  window.__t0 = undefined;
  return true;
})()`)
	tab.WaitFor(`(() => {
  const e = window.__engine, v = e.video;
  if (e.state === 'error') throw new Error('engine error: ' + e.lastError);
  if (e.state !== 'live' || v.paused) return false;
  if (window.__t0 === undefined) window.__t0 = v.currentTime;
  return v.currentTime > window.__t0 + 0.2;
})()`, browserLiveTimeout)
	if got := chrometest.Eval[[]string](tab, `(window.__engine.close(), document.getElementById('mount').replaceChildren(), window.__states)`); !slices.Equal(got, []string{"connecting", "live"}) {
		t.Errorf("the engine's onState calls: %q; want connecting, live", got)
	}

	// The sockets close with a round trip to the server; the rest at once.
	tab.WaitFor(fmt.Sprintf(`(() => {
  const l = window.__leaks();
  return l.sockets === 0 && l.timeouts === %d && l.intervals === %d && l.frames === %d && l.listeners === %d && l.objectURLs === 0 && l.tracks === 0 && l.audioContexts === 0;
})()`, before.Timeouts, before.Intervals, before.Frames, before.Listeners), 20*time.Second)
	after := chrometest.Eval[leaks](tab, `window.__leaks()`)
	t.Logf("after %d mounts: %+v", widgetMounts, after)
	if after.SocketsOpened < widgetMounts {
		t.Errorf("%d WebSockets opened in %d mounts; want at least one each (is the counter wired?)", after.SocketsOpened, widgetMounts)
	}
	if after.TracksOpened == 0 {
		t.Errorf("no camera track was opened; want the broadcaster's")
	}
	if after.AudioContextsOpened == 0 {
		t.Errorf("no AudioContext was made; want the broadcaster's level meter's")
	}
	chrometest.Until(t, 20*time.Second, fmt.Sprintf("room %s to count no viewers", browserRoom), func() bool {
		st, ok := srv.p.Status(browserRoom)
		return ok && st.Viewers == 0
	})
	chrometest.Until(t, 20*time.Second, fmt.Sprintf("room %s to be offline", studio), func() bool {
		_, ok := srv.p.Status(studio)
		return !ok
	})
	chrometest.CheckNoPageErrors(t, tab)
}
