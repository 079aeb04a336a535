// amlive player: plays a live room with Media Source Extensions, fed by the
// WebSocket {base}/{room}/subscribe, and the room's recording when it is offline.
//
// Markup (the "amlive-player" partial):
//   <div data-amlive-player data-base="/live" data-room="alice" data-live="true">
//     <video playsinline controls></video>
//     <span data-amlive-viewers></span>  <button data-amlive-unmute hidden>
//     <p data-amlive-status role="status"></p>  <button data-amlive-golive hidden>
//     <button data-amlive-rewind="start" hidden>  <button data-amlive-rewind="30" hidden>
//     <button data-amlive-tolive hidden>
//   </div>
// Optional attributes: data-autoplay ("true" by default), data-latency-ms (300).
// The buttons are optional; each shows only when it applies.
//
// Each element gets el.amlivePlayer = {state, mode, broadcast, mime, viewers,
// lastError, stats: {appended, bytes, skips, reconnects, stalls}, connect(), rewind(back),
// on(event, fn)}; the state is mirrored in el.dataset.state (and the mode in
// el.dataset.mode) and announced with the DOM events amlive:state and amlive:viewers.
//
// Modes: 'live' (MediaSource fed by the WebSocket), 'recording' (a finished
// recording), 'timeshift' (state 'timeshift': the live broadcast's growing
// recording, rewound; [data-amlive-tolive] or connect() returns to live) and
// 'none'. A growing recording has no duration and Chromium takes its length
// from the first response, so the player reloads it where it stopped until it
// catches up with the recording's end (then it goes back to live).
(() => {
  'use strict';

  const amlive = (window.amlive = window.amlive || {});

  const SELECTOR = '[data-amlive-player]';
  const TICK_MS = 250; // live-edge catch-up and housekeeping
  const POLL_MS = 5000; // status polling while offline or playing a recording
  const PLAY_TIMEOUT_MS = 3000; // video.play() can hang when there is no data at currentTime
  const JUMP_LAG_S = 2; // further behind the target latency than this: jump to it
  const LAG_SMOOTHING = 0.3; // weight of a tick's lag in the smoothed lag
  const BACKOFF_STEP_S = 0.2; // each stall adds this to the target latency…
  const MAX_BACKOFF_S = 2; // …up to this much…
  const CALM_MS = 30000; // …and each this long without a stall takes a step back
  const STALL_MS = 2000; // playing, data ahead, but currentTime stuck this long: nudge
  const KEEP_BEHIND_S = 30; // eviction keeps this much behind currentTime…
  const EVICT_AT_S = 60; // …once more than this has piled up
  const HAVE_FUTURE_DATA = 3; // HTMLMediaElement.readyState
  const NO_RETRY = new Set([4401, 4403, 4413, 4415]);

  const CLOSE_MESSAGES = {
    1000: 'The broadcast has ended.',
    1001: 'The server is restarting.',
    1006: 'The connection to the server was lost.',
    1008: 'The server disconnected this player (policy), for example because the connection was too slow.',
    1009: 'The server sent a message that was too large.',
    1011: 'The server hit an internal error.',
    4401: 'Please sign in to watch this room.',
    4403: 'You are not allowed to watch this room.',
    4404: 'This room is not live right now.',
    4409: 'The room is busy.',
    4413: 'A message was too large.',
    4415: 'This stream’s format is not supported.',
    4429: 'This room has reached a limit (for example its number of viewers).',
  };

  const MEDIA_ERRORS = { 1: 'aborted', 2: 'network error', 3: 'decode error', 4: 'source not supported' };

  function closeMessage(code, reason) {
    const sentence = CLOSE_MESSAGES[code] || `The connection closed unexpectedly (code ${code}).`;
    return reason ? `${sentence} (Server: ${reason})` : sentence;
  }

  // endpoint builds {base}/{room}/{path} against the page; base may be a path
  // ("/live") or an absolute http(s) URL. ws=true gives the ws:/wss: form.
  function endpoint(base, room, path, ws) {
    const prefix = (base || '').replace(/\/+$/, '');
    const u = new URL(`${prefix}/${encodeURIComponent(room)}/${path}`, document.baseURI);
    if (ws) u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u;
  }

  function intAttr(el, name, def) {
    const v = parseInt(el.getAttribute(name) || '', 10);
    return Number.isFinite(v) && v > 0 ? v : def;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // mediaSourceClass prefers MediaSource; Safari on iPhone only has ManagedMediaSource.
  function mediaSourceClass() {
    return window.MediaSource || window.ManagedMediaSource || null;
  }

  class Player {
    constructor(el) {
      this.el = el;
      this.state = '';
      this.mode = 'none';
      this.broadcast = '';
      this.mime = '';
      this.startedAt = '';
      this.viewers = 0;
      this.lastError = '';
      this.stats = { appended: 0, bytes: 0, skips: 0, reconnects: 0, stalls: 0 };
      this.publisherLost = false;

      this._video = el.querySelector('video');
      this._statusEl = el.querySelector('[data-amlive-status]');
      this._viewersEl = el.querySelector('[data-amlive-viewers]');
      this._unmuteBtn = el.querySelector('[data-amlive-unmute]');
      this._goliveBtn = el.querySelector('[data-amlive-golive]');
      this._rewindBtns = [...el.querySelectorAll('[data-amlive-rewind]')];
      this._toliveBtn = el.querySelector('[data-amlive-tolive]');
      this._shift = null; // the time-shifted broadcast: {broadcast, url, reloadedAt}
      this._latency = intAttr(el, 'data-latency-ms', 300) / 1000;
      this._backoff = 0; // added to _latency after stalls, in seconds
      this._calmMs = 0;
      this._autoplay = el.getAttribute('data-autoplay') !== 'false';
      this._listeners = {};
      this._conn = null; // the current subscription: socket, MediaSource, SourceBuffer, queue
      this._attempt = 0; // reconnect backoff step
      this._retryTimer = 0;
      this._pollTimer = 0;
      this._noLive = false; // the live stream cannot play here: offer recordings only

      const v = this._video;
      v.addEventListener('error', () => this._onVideoError());
      v.addEventListener('volumechange', () => {
        if (!v.muted) this._showUnmute(false);
      });
      if (this._unmuteBtn) {
        this._unmuteBtn.addEventListener('click', () => {
          v.muted = false;
          this._showUnmute(false);
          if (v.paused) this._play();
        });
      }
      if (this._goliveBtn) {
        this._goliveBtn.addEventListener('click', () => this.connect());
      }
      for (const btn of this._rewindBtns) {
        btn.addEventListener('click', () => {
          const back = parseFloat(btn.getAttribute('data-amlive-rewind'));
          this.rewind(Number.isFinite(back) ? back : undefined);
        });
      }
      if (this._toliveBtn) this._toliveBtn.addEventListener('click', () => this.connect());
      v.addEventListener('ended', () => this._onEnded());
      document.addEventListener('visibilitychange', () => {
        if (document.hidden) return;
        // Background tabs fall behind (timers are throttled): back to live.
        if (this.mode === 'live') this._jumpToLive();
        if (this._pollTimer) this._poll();
      });
      // Leaving the page: say goodbye to the server; if the page comes back
      // from the back/forward cache, subscribe again.
      window.addEventListener('pagehide', () => {
        this._resumeLive = Boolean(this._conn);
        this._closeConn();
        this._stopPolling();
        clearTimeout(this._retryTimer);
      });
      window.addEventListener('pageshow', (ev) => {
        if (!ev.persisted) return;
        if (this._resumeLive) this.connect();
        else this._refresh();
      });
      setInterval(() => this._tick(), TICK_MS);

      if (el.getAttribute('data-live') === 'true') this.connect();
      else this._refresh();
    }

    // on registers fn for 'state' ({state, previous, mode, message}) or
    // 'viewers' ({count}); it returns a function that unregisters it.
    on(event, fn) {
      (this._listeners[event] = this._listeners[event] || []).push(fn);
      return () => {
        this._listeners[event] = (this._listeners[event] || []).filter((f) => f !== fn);
      };
    }

    _emit(event, detail) {
      for (const fn of this._listeners[event] || []) {
        try {
          fn(detail);
        } catch (e) {
          console.error(e);
        }
      }
      this.el.dispatchEvent(new CustomEvent(`amlive:${event}`, { detail, bubbles: true }));
    }

    _status(text) {
      if (this._statusEl) this._statusEl.textContent = text;
    }

    _setState(state, message) {
      const prev = this.state;
      this.state = state;
      this.el.dataset.state = state;
      this.el.dataset.mode = this.mode;
      const rewindable = this.mode === 'live' && state === 'live' && Boolean(this.broadcast);
      for (const btn of this._rewindBtns) btn.hidden = !rewindable;
      if (this._toliveBtn) this._toliveBtn.hidden = this.mode !== 'timeshift';
      if (message !== undefined) this._status(message);
      if (prev !== state) this._emit('state', { state, previous: prev, mode: this.mode, message: message || '' });
    }

    _setViewers(n) {
      this.viewers = n;
      if (this._viewersEl) this._viewersEl.textContent = `${n} watching`;
      this._emit('viewers', { count: n });
    }

    // _publisherLost shows that the broadcaster's connection dropped (the
    // server waits for it to resume) or came back. It is mirrored in
    // el.dataset.publisher ('reconnecting' or absent) and announced with the
    // DOM event amlive:publisher ({reconnecting}).
    _publisherLost(lost) {
      if (this.publisherLost === lost) return;
      this.publisherLost = lost;
      if (lost) this.el.dataset.publisher = 'reconnecting';
      else delete this.el.dataset.publisher;
      if (this.state === 'live' || this.state === 'connecting') {
        this._status(lost ? 'The broadcaster’s connection dropped — waiting for it to come back…' : 'Live');
      }
      this._emit('publisher', { reconnecting: lost });
    }

    _showUnmute(show) {
      if (this._unmuteBtn) this._unmuteBtn.hidden = !show;
    }

    _showGoLive(show) {
      if (this._goliveBtn) this._goliveBtn.hidden = !show;
    }

    _url(path, ws) {
      return endpoint(this.el.getAttribute('data-base'), this.el.getAttribute('data-room'), path, ws);
    }

    // ---- live: WebSocket + MediaSource -------------------------------------

    // connect (re)subscribes to the live stream with a fresh MediaSource.
    connect() {
      this._stopPolling();
      clearTimeout(this._retryTimer);
      this._showGoLive(false);
      this._closeConn();
      this._noLive = false;
      this._shift = null;
      if (this.mode === 'timeshift') this.mode = 'none';

      const c = { ws: null, ms: null, sb: null, url: '', pending: [], started: false, removing: false, needAbort: false };
      this._conn = c;
      this._setState('connecting', 'Connecting…');

      const ws = new WebSocket(this._url('subscribe', true).href);
      ws.binaryType = 'arraybuffer';
      c.ws = ws;
      ws.onmessage = (ev) => {
        if (this._conn !== c) return;
        if (typeof ev.data === 'string') this._onText(c, ev.data);
        else this._onMedia(c, ev.data);
      };
      ws.onclose = (ev) => {
        if (this._conn !== c) return;
        c.ws = null;
        this._onClose(c, ev);
      };
      ws.onerror = () => {}; // a close event with the code always follows
    }

    _onText(c, text) {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (e) {
        return;
      }
      switch (msg.type) {
        case 'hello':
          this.broadcast = msg.broadcast || '';
          this.mime = msg.mime || '';
          this.startedAt = msg.startedAt || '';
          if (!c.ms && !this._openMediaSource(c, this.mime)) this._unsupported(this.mime);
          break;
        case 'viewers':
          this._setViewers(Number(msg.count) || 0);
          break;
        case 'skip':
          this._skip(c);
          break;
        case 'reconnecting':
        case 'resumed':
          this._publisherLost(msg.type === 'reconnecting');
          break;
        case 'end':
          this._onEnd(c, msg);
          break;
        case 'error':
          this.lastError = msg.message || 'The server reported an error.';
          this._status(this.lastError);
          break;
      }
    }

    // _openMediaSource attaches a new MediaSource to the video; the SourceBuffer
    // is added on sourceopen. Media arriving before then waits in c.pending.
    _openMediaSource(c, mime) {
      const MS = mediaSourceClass();
      if (!MS || !mime || !MS.isTypeSupported(mime)) return false;
      const v = this._video;
      // ManagedMediaSource only opens with remote playback (AirPlay) disabled.
      if (MS !== window.MediaSource) v.disableRemotePlayback = true;
      const ms = new MS();
      c.ms = ms;
      c.url = URL.createObjectURL(ms);
      ms.addEventListener(
        'sourceopen',
        () => {
          if (this._conn !== c) return;
          URL.revokeObjectURL(c.url);
          try {
            // The mode stays 'segments': the Clusters' own timecodes place the
            // media, so a late joiner's buffer starts at its first Cluster's
            // time, not at 0 (see _startPlayback).
            c.sb = ms.addSourceBuffer(mime);
          } catch (e) {
            this._unsupported(mime);
            return;
          }
          c.sb.addEventListener('updateend', () => this._onUpdateEnd(c));
          this._appendNext(c);
        },
        { once: true },
      );
      v.playbackRate = 1;
      v.src = c.url;
      return true;
    }

    _onMedia(c, buf) {
      if (!c.ms) return; // media before hello: not part of the protocol
      c.pending.push(buf);
      this._appendNext(c);
    }

    // _appendNext appends the next queued message, one at a time: a
    // SourceBuffer accepts no new append (or remove) while updating, and
    // updateend calls back here.
    _appendNext(c) {
      const sb = c.sb;
      if (!sb || c.ms.readyState !== 'open' || sb.updating || c.removing) return;
      if (c.needAbort) {
        c.needAbort = false;
        sb.abort();
      }
      if (!c.pending.length) return;
      const buf = c.pending[0];
      try {
        sb.appendBuffer(buf);
      } catch (e) {
        if (e.name === 'QuotaExceededError') {
          // The buffer is full: free more of the past, then retry the same
          // message (on updateend, or shortly if nothing can be freed yet).
          if (!this._evict(c, 10)) setTimeout(() => this._conn === c && this._appendNext(c), 1000);
          return;
        }
        // InvalidStateError: the SourceBuffer was dropped after a decode error;
        // the video's error event reports and reconnects.
        console.warn('amlive: appendBuffer failed', e);
        return;
      }
      c.pending.shift();
      this.stats.appended++;
      this.stats.bytes += buf.byteLength;
    }

    _onUpdateEnd(c) {
      if (this._conn !== c) return;
      c.removing = false;
      // Start once the join burst (the GOP up to now) is in, so that the
      // first seek lands near the live edge rather than inside the burst.
      if (!c.started && this._video.buffered.length > 0 && !c.pending.length) this._startPlayback(c);
      this._appendNext(c);
    }

    // _skip: the server dropped data because this viewer fell behind; the next
    // binary message is the init segment again, then media from a keyframe
    // Cluster. The queue holds superseded bytes: drop it. abort() resets the
    // SourceBuffer's parser, which may be in the middle of an element (the
    // server cut the stream anywhere); that partial element is discarded, so the
    // init segment parses from a clean state. abort() must not be called while
    // a remove() runs: then it waits for that remove's updateend.
    _skip(c) {
      this.stats.skips++;
      c.pending = [];
      if (!c.sb || c.ms.readyState !== 'open') return;
      if (c.removing) {
        c.needAbort = true;
        return;
      }
      try {
        c.sb.abort(); // while an append runs, this cancels it and fires updateend
      } catch (e) {
        c.needAbort = true;
      }
    }

    // _startPlayback runs once the first media is buffered. In 'segments' mode
    // the buffer starts where the join Cluster's timecode says (e.g. 734.2 s),
    // while currentTime is 0: without a seek the video would wait forever.
    _startPlayback(c) {
      c.started = true;
      this._attempt = 0;
      this.mode = 'live';
      this._jumpToLive();
      this._setState('live', this._autoplay ? 'Live' : 'Live — press play to watch');
      if (this.publisherLost) this._status('The broadcaster’s connection dropped — waiting for it to come back…');
      if (this._autoplay) this._play();
    }

    // _jumpToLive seeks to the live edge minus the target latency, but never
    // before the start of the newest buffered range.
    _jumpToLive() {
      const v = this._video;
      const b = v.buffered;
      if (!b.length) return;
      const start = b.start(b.length - 1);
      const end = b.end(b.length - 1);
      v.currentTime = Math.max(start, end - this._target());
      v.playbackRate = 1;
      const c = this._conn;
      if (c) {
        c.lag = undefined; // the smoothed lag of _followEdge
        c.lastT = v.currentTime;
        c.moved = false; // waiting for the seek is no stall
      }
    }

    // _tick keeps a live player near the edge, out of gaps and unstuck, and
    // trims old buffer.
    _tick() {
      const c = this._conn;
      if (!c || !c.started || !c.sb || this.mode !== 'live') return;
      const v = this._video;
      const b = v.buffered;
      if (!b.length) return;
      if (v.seeking) {
        // A seek that never completes (its target lost to eviction or a
        // decoder hiccup) would freeze the player: retarget the live edge.
        c.seekMs = (c.seekMs || 0) + TICK_MS;
        if (c.seekMs >= STALL_MS) {
          c.seekMs = 0;
          this._jumpToLive();
        }
        return;
      }
      c.seekMs = 0;
      const t = v.currentTime;
      const end = b.end(b.length - 1);
      const stuck = !v.paused && t === c.lastT;
      if (t !== c.lastT) c.moved = true; // played since the last seek
      c.lastT = t;

      // Gaps: a skip leaves one, and so can a recorder that dropped frames.
      // The media element does not cross them by itself: when currentTime is
      // outside every range, or stuck near the end of one, with data ahead,
      // jump to the start of the next range.
      let rangeEnd = -1;
      let ahead = -1;
      for (let i = 0; i < b.length; i++) {
        if (t >= b.start(i) && t < b.end(i)) rangeEnd = b.end(i);
        else if (ahead < 0 && b.start(i) > t) ahead = b.start(i);
      }
      if (ahead >= 0 && (rangeEnd < 0 || (stuck && rangeEnd - t < 0.3))) {
        v.currentTime = ahead;
        c.stallMs = 0;
        return;
      }

      if (v.paused) {
        v.playbackRate = 1;
        c.stallMs = 0;
      } else {
        const lag = end - t;
        if (lag > this._target() + JUMP_LAG_S) {
          this._jumpToLive();
        } else {
          this._followEdge(c, lag);
        }

        // Waiting after playing: each stall raises the target latency a
        // step (a viewer whose network or CPU cannot keep up ends up
        // further behind), and calm spells lower it again. After a stall
        // Chromium waits for more buffer than before (its preroll doubles
        // each time: 0.4 s, 0.8 s, 1.6 s…) and that wait stays as latency;
        // a seek resets it, so once the data is there, go to the live edge.
        const waiting = stuck && c.moved && v.readyState < HAVE_FUTURE_DATA;
        if (waiting && !c.waiting) {
          this.stats.stalls++;
          this._backoff = Math.min(MAX_BACKOFF_S, this._backoff + BACKOFF_STEP_S);
          this._calmMs = 0;
        } else if (!waiting && this._backoff > 0 && (this._calmMs += TICK_MS) >= CALM_MS) {
          this._backoff = Math.max(0, this._backoff - BACKOFF_STEP_S);
          this._calmMs = 0;
        }
        c.waiting = waiting;
        if (waiting && lag >= this._target() + 0.1) {
          this._jumpToLive();
          c.stallMs = 0;
        } else if (stuck && lag > 0.3) {
          c.stallMs = (c.stallMs || 0) + TICK_MS;
          if (c.stallMs >= STALL_MS) {
            c.stallMs = 0;
            v.currentTime = Math.min(t + 0.1, end);
          }
        } else {
          c.stallMs = 0;
        }
      }

      this._evict(c, KEEP_BEHIND_S, EVICT_AT_S);
    }

    // _target is how far behind the newest buffered media the playhead
    // should be, in seconds.
    _target() {
      return this._latency + this._backoff;
    }

    // _followEdge steers the playback rate so that the playhead stays about
    // the target latency behind the newest buffered media. The lag is a
    // sawtooth (it grows by a chunk's length at each append), so it is
    // smoothed first. Behind: play faster, the more the further behind;
    // ahead (the buffer running thin): a little slower, rather than stall.
    _followEdge(c, lag) {
      const v = this._video;
      c.lag = c.lag === undefined ? lag : c.lag + LAG_SMOOTHING * (lag - c.lag);
      const target = this._target();
      const over = c.lag - target;
      const was = v.playbackRate;
      let rate = 1;
      // The bands overlap a little around 1: no flapping at a threshold.
      if (over > 0.5) rate = 1.2;
      else if (over > 0.2) rate = 1.1;
      else if (over > 0.1 || (over > 0.02 && was > 1)) rate = 1.05;
      else if (over < -target / 2 || (over < -0.05 && was < 1)) rate = 0.95;
      if (was !== rate) v.playbackRate = rate;
    }

    // _evict removes media more than keep seconds behind currentTime, once the
    // buffer reaches back more than threshold seconds. It reports whether a
    // remove() started (its updateend resumes appending).
    _evict(c, keep, threshold) {
      const sb = c.sb;
      if (!sb || sb.updating || c.removing || c.ms.readyState !== 'open' || !sb.buffered.length) return false;
      const t = this._video.currentTime;
      if (sb.buffered.start(0) >= t - (threshold || keep)) return false;
      c.removing = true;
      sb.remove(0, t - keep);
      return true;
    }

    async _play() {
      const v = this._video;
      const attempt = () => {
        let p;
        try {
          p = v.play();
        } catch (e) {
          return Promise.resolve(e);
        }
        if (!p || !p.then) return Promise.resolve('ok');
        return Promise.race([p.then(() => 'ok', (e) => e), sleep(PLAY_TIMEOUT_MS).then(() => 'timeout')]);
      };
      let r = await attempt();
      if (r && r.name === 'NotAllowedError') {
        // The autoplay policy refuses sound without a user gesture: play muted
        // and offer to unmute.
        v.muted = true;
        r = await attempt();
        if (r === 'ok' || r === 'timeout') this._showUnmute(true);
        else if (r && r.name === 'NotAllowedError') this._status('Press play to watch.');
      }
      return r;
    }

    _onEnd(c, msg) {
      const url = msg.recording;
      this._closeConn(); // endOfStream, detach; the server closes the socket with 1000
      if (url) {
        this._playRecording(url, 'The broadcast has ended — playing the recording.', 'ended', true);
      } else {
        this._detachVideo();
        this.mode = 'none';
        this._setState('ended', 'The broadcast has ended.');
      }
      this._startPolling();
    }

    _onClose(c, ev) {
      const code = ev.code;
      if (code === 4404 || code === 1000) {
        // Offline (or ended without an end event): the status decides what to show.
        this._closeConn();
        this._refresh();
        return;
      }
      const msg = closeMessage(code, ev.reason);
      this.lastError = msg;
      if (NO_RETRY.has(code)) {
        this._closeConn();
        this._detachVideo();
        this.mode = 'none';
        this._setState('error', msg);
        return;
      }
      this._retry(msg);
    }

    // _retry reconnects after 1–2 s, doubling up to 10 s. The last frame stays
    // on screen meanwhile; connect() builds a new MediaSource.
    _retry(msg) {
      const delay = Math.min(10000, 1000 * 2 ** Math.min(this._attempt, 4) + Math.random() * 1000);
      this._attempt++;
      this._setState('error', `${msg} Reconnecting in ${Math.round(delay / 1000)} s…`);
      clearTimeout(this._retryTimer);
      this._retryTimer = setTimeout(() => {
        this.stats.reconnects++;
        this.connect();
      }, delay);
    }

    // _unsupported: this browser cannot play the live stream; offer recordings.
    _unsupported(mime) {
      this._closeConn();
      this._detachVideo();
      this._noLive = true;
      this.lastError = `Your browser cannot play this stream (${mime || 'unknown format'}).`;
      this.mode = 'none';
      this._setState('error', this.lastError);
      this._refresh();
    }

    // _closeConn ends the current subscription: closes the socket and the
    // MediaSource. The video keeps its element; callers set or clear its src.
    _closeConn() {
      const c = this._conn;
      if (!c) return;
      this._conn = null;
      this._publisherLost(false);
      if (c.ws) {
        c.ws.onmessage = null;
        c.ws.onclose = null;
        if (c.ws.readyState <= WebSocket.OPEN) c.ws.close(1000);
      }
      if (c.ms && c.ms.readyState === 'open') {
        try {
          // endOfStream() throws while a SourceBuffer is updating.
          if (!c.sb || !c.sb.updating) c.ms.endOfStream();
        } catch (e) {
          /* closing anyway */
        }
      }
      if (c.url) URL.revokeObjectURL(c.url);
    }

    _detachVideo() {
      const v = this._video;
      if (!v.getAttribute('src')) return;
      v.removeAttribute('src'); // unlike src = '', this raises no error event
      v.load();
    }

    _onVideoError() {
      const e = this._video.error;
      if (!e) return;
      const what = MEDIA_ERRORS[e.code] || 'error';
      const msg = `The video could not be played (MediaError ${e.code}, ${what}${e.message ? `: ${e.message}` : ''}).`;
      this.lastError = msg;
      if (this.mode === 'live' || this.state === 'connecting') {
        this._closeConn();
        this._retry(msg);
      } else {
        this._setState('error', msg);
      }
    }

    // ---- offline: status, recordings, polling -------------------------------

    async _fetchStatus() {
      const res = await fetch(this._url('status', false).href, { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return res.json();
    }

    // _refresh asks the server for the room's status and shows live, the
    // latest recording or "offline" accordingly.
    async _refresh() {
      let st;
      try {
        st = await this._fetchStatus();
      } catch (e) {
        if (this._conn) return;
        const msg = `Could not get this room’s status (${e.message || e}). Retrying…`;
        if (this.mode === 'recording') this._status(msg);
        else this._setState('offline', msg);
        this._startPolling();
        return;
      }
      if (this._conn) return; // connected meanwhile
      if (st.live && !this._noLive) {
        this._setViewers(Number(st.viewers) || 0);
        this.connect();
        return;
      }
      const recs = Array.isArray(st.recordings) ? st.recordings : [];
      const latest = recs.find((r) => !r.live) || null;
      const prefix = this._noLive ? `${this.lastError} ` : '';
      if (latest) {
        this._playRecording(latest.url, `${prefix}${st.live ? 'Playing the latest recording.' : 'This room is offline — playing the latest recording.'}`, 'recording', this._autoplay);
      } else {
        this._detachVideo();
        this.mode = 'none';
        this._setState(this._noLive ? 'error' : 'offline', this._noLive ? this.lastError : 'This room is offline. The video starts when it goes live.');
      }
      if (!this._noLive) this._startPolling();
    }

    _playRecording(url, message, state, autoplay) {
      this._closeConn();
      const v = this._video;
      this._shift = null;
      this.mode = 'recording';
      v.playbackRate = 1;
      try {
        v.src = new URL(url, this._url('', false)).href;
      } catch (e) {
        v.src = url;
      }
      this._setState(state, message);
      if (autoplay) this._play();
    }

    // ---- time shift: the live broadcast's growing recording -----------------

    // rewind leaves the live stream for the broadcast's recording, which the
    // server is still writing: back seconds before the live position, or from
    // the start when back is not a positive number. connect() returns to live.
    rewind(back) {
      const id = this.broadcast;
      if (this.mode !== 'live' || !id) return;
      const target = back > 0 ? Math.max(0, this._video.currentTime - back) : 0;
      this._closeConn();
      this._shift = { broadcast: id, url: this._url(`playback?b=${encodeURIComponent(id)}`, false), reloadedAt: -1 };
      this.mode = 'timeshift';
      this._loadShift(target);
      this._setState('timeshift', target > 0 ? `Rewound ${Math.round(back)} s — you are behind live.` : 'Watching from the start — you are behind live.');
      this._startPolling();
    }

    // _loadShift (re)loads the growing recording and plays it from t. Each
    // request gets the file as far as it is on disk; Chromium plays it with an
    // infinite duration and can seek in it (it scans the Clusters).
    _loadShift(t) {
      const v = this._video;
      const u = new URL(this._shift.url);
      u.searchParams.set('at', String(Date.now())); // a new response, with the file's new length
      v.playbackRate = 1;
      v.src = u.href;
      if (t > 0) {
        v.addEventListener(
          'loadedmetadata',
          () => {
            if (this._shift) v.currentTime = t;
          },
          { once: true },
        );
      }
      this._play();
    }

    // _onEnded: a time-shifted recording ends where the file ended when it was
    // requested. Reload it there while the recording has more; once it has
    // caught up (no progress since the last reload), go back to live.
    async _onEnded() {
      const s = this._shift;
      if (!s) return;
      const pos = this._video.currentTime;
      let st;
      try {
        st = await this._fetchStatus();
      } catch (e) {
        return;
      }
      if (this._shift !== s) return;
      const live = st.live && st.broadcast === s.broadcast;
      const rec = (st.recordings || []).find((r) => r.id === s.broadcast);
      const more = live || (rec && !rec.live && rec.durationMs / 1000 > pos + 0.5);
      if (more && pos > s.reloadedAt + 0.5) {
        s.reloadedAt = pos;
        this._loadShift(pos);
      } else if (live) {
        this.connect();
      } else {
        this._shift = null;
      }
    }

    _startPolling() {
      if (this._pollTimer) return;
      this._pollTimer = setTimeout(() => this._poll(), POLL_MS);
    }

    _stopPolling() {
      clearTimeout(this._pollTimer);
      this._pollTimer = 0;
    }

    // _poll checks the status every POLL_MS while the page is visible: an
    // offline room connects by itself when it goes live; a viewer watching a
    // recording gets the "Live now — watch" button instead of an interruption.
    async _poll() {
      clearTimeout(this._pollTimer);
      this._pollTimer = setTimeout(() => this._poll(), POLL_MS);
      if (document.hidden || this._conn) return;
      let st;
      try {
        st = await this._fetchStatus();
      } catch (e) {
        return; // try again next time
      }
      if (!this._pollTimer || this._conn) return;
      if (this.mode === 'timeshift') {
        if (!st.live || st.broadcast !== this._shift.broadcast) {
          // Ended meanwhile: keep playing; the recording is no longer growing.
          this.mode = 'recording';
          this._setState('ended', 'The broadcast has ended — playing its recording.');
          this._showGoLive(Boolean(st.live));
        }
        return;
      }
      if (this.mode === 'recording') {
        this._showGoLive(Boolean(st.live));
        return;
      }
      if (st.live || (st.recordings && st.recordings.length)) {
        this._stopPolling();
        this._refresh();
      }
    }
  }

  function initPlayers(root) {
    const r = root || document;
    const els = [];
    if (r.matches && r.matches(SELECTOR)) els.push(r);
    if (r.querySelectorAll) els.push(...r.querySelectorAll(SELECTOR));
    for (const el of els) {
      if (!el.amlivePlayer && el.querySelector('video')) el.amlivePlayer = new Player(el);
    }
  }

  // amlive.init(root) initialises every amlive widget under root (default:
  // document) whose script is loaded; safe to call again for new markup.
  amlive.initPlayers = initPlayers;
  amlive.init = function init(root) {
    if (amlive.initPlayers) amlive.initPlayers(root);
    if (amlive.initBroadcasters) amlive.initBroadcasters(root);
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', () => initPlayers(document));
  } else {
    initPlayers(document);
  }
})();
