// amlive player: plays a live room with Media Source Extensions, fed by the
// WebSocket {base}/{room}/subscribe, and the room's recording when it is offline.
// A room is WebM (VP8/VP9 and Opus) or fragmented MP4 (H.264 with Opus or AAC,
// as Safari and Chrome's MP4 recorders make it); either plays through
// MediaSource, or ManagedMediaSource where that is all there is (iPhone Safari
// 17.1+). A browser that cannot play a room's codecs (an iPhone and a VP9 WebM
// room) is told so, naming them, before it subscribes when the status names
// them (its mime, container and codecs), else when the stream's hello does.
// Needs protocol.js and core.js first (the head partial loads them in order).
//
// Markup (the "amlive-player" partial):
//   <div data-amlive-player data-base="/live" data-room="alice" data-live="true">
//     <video playsinline muted controls></video>
//     <span data-amlive-viewers></span>  <button data-amlive-unmute hidden>
//     <p data-amlive-status role="status"></p>  <button data-amlive-golive hidden>
//     <button data-amlive-rewind="start" hidden>  <button data-amlive-rewind="30" hidden>
//     <button data-amlive-tolive hidden>
//   </div>
// Optional attributes: data-autoplay ("true" by default), data-latency-ms (300),
// data-media-source ("managed": use ManagedMediaSource wherever the browser has
// it; it is used anyway where MediaSource is missing, as on iPhone Safari; may
// also sit on an ancestor of the player).
// data-latency="low" (on the player or an ancestor): where the browser has
// WebCodecs and webcodecs.js is loaded, play live WebM rooms with
// VideoDecoder/AudioDecoder onto a canvas instead of MSE (mediaSource
// 'webcodecs'); MP4 rooms, a codec the decoders refuse or a decoder error
// go back to MSE. Without the attribute, rooms whose status says latency
// "low" (the broadcaster uploads WebCodecs' chunks) play so too;
// data-latency="normal" keeps every room on MSE.
// The buttons are optional; each shows only when it applies.
//
// Sound: playback always starts muted, so that autoplay works everywhere (a
// phone's browser refuses to autoplay with sound), and [data-amlive-unmute]
// is a toggle, shown whenever there is something to play: its text says
// "Unmute" while muted and "Mute" while not, and el.dataset.muted mirrors it.
// The viewer's choice (the button, the video's own controls, or the API) is
// remembered in localStorage under "amlive.sound" ("on" or "off"; where
// storage is refused, as in some private modes, for the page's life only):
// someone who unmuted starts with sound next time where the autoplay policy
// allows it, and muted, with the button saying "Unmute", where it does not.
//
// Each element gets el.amlivePlayer = {state, mode, broadcast, mime, container
// ('webm' or 'mp4'), codecs (the server's codec strings), viewers,
// lastError, publisherLost, mediaSource ('mse', 'managed' or 'webcodecs' once
// live, mirrored in el.dataset.mediaSource), muted,
// stats: {appended, bytes, skips, reconnects, stalls, evictions, mediaErrors,
// reports (experience reports sent on the socket)},
// connect(), rewind(back), mute(), unmute(), on(event, fn), destroy()}; the
// state is mirrored in el.dataset.state (and the mode in el.dataset.mode) and
// announced with the DOM events amlive:state, amlive:viewers, amlive:publisher
// and amlive:sound ({muted}).
//
// Modes: 'live' (MediaSource fed by the WebSocket), 'recording' (a finished
// recording), 'timeshift' (state 'timeshift': the live broadcast's growing
// recording, rewound; [data-amlive-tolive] or connect() returns to live) and
// 'none'. A growing recording has no duration and Chromium takes its length
// from the first response, so the player reloads it where it stopped until it
// catches up with the recording's end (then it goes back to live).
//
// Two parts: amlive.PlayerEngine plays into the video element it is given and
// touches no other DOM (conf callbacks tell the page what happens); the
// Player widget binds an engine to the markup.
(() => {
  'use strict';

  const amlive = window.amlive;
  const { Engine, Widget, expose, endpoint, intAttr, closeMessage, retries, register, openFeedSocket, sendOnFeed } = amlive.core;
  const { header: ebmlHeader, vintLen, uint: ebmlUint } = amlive.core.ebml; // EBML, for the ClusterMerger
  const codes = amlive.protocol.codes;

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
  const QUOTA_KEEP_S = 10; // a full SourceBuffer keeps this much behind currentTime…
  const QUOTA_RETRY_MS = 1000; // …or, if nothing can be freed yet, retries this much later
  const HAVE_FUTURE_DATA = 3; // HTMLMediaElement.readyState
  // Experience reports on the subscribe socket (liveplugin/reports.go bounds
  // them): one every REPORT_MS while live, never more than REPORTS_PER_MIN a
  // minute, each value clamped to what the server takes.
  const REPORT_MS = 5000;
  const REPORTS_PER_MIN = 12;
  const REPORT_MAX_DELAY_S = 600;
  const REPORT_MAX_FRAMES = 240 * 60;
  const REPORT_MAX_COUNT = 1000;
  const REPORT_MAX_STALL_S = 60;

  const SOUND_KEY = 'amlive.sound'; // localStorage: 'on' or 'off', the viewer's last choice

  // loadSound returns whether the viewer last chose sound ('on' in
  // localStorage); false when they never did, or storage is refused.
  function loadSound() {
    try {
      return window.localStorage.getItem(SOUND_KEY) === 'on';
    } catch (e) {
      return false;
    }
  }

  // saveSound remembers the viewer's choice, where storage is allowed.
  function saveSound(on) {
    try {
      window.localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
    } catch (e) {
      // Private modes and sandboxed frames may refuse storage: the choice
      // then lasts as long as the page.
    }
  }

  const MEDIA_ERRORS = { 1: 'aborted', 2: 'network error', 3: 'decode error', 4: 'source not supported' };

  // mediaSourceClass prefers MediaSource; Safari on iPhone only has
  // ManagedMediaSource, and preferManaged (data-media-source="managed") asks
  // for it wherever it exists. With a type, the preferred class that plays it
  // wins, then the other one; null when neither does.
  function mediaSourceClass(preferManaged, type) {
    const order = preferManaged ? [window.ManagedMediaSource, window.MediaSource] : [window.MediaSource, window.ManagedMediaSource];
    const have = order.filter((MS) => typeof MS === 'function');
    if (type === undefined) return have[0] || null;
    return have.find((MS) => typeof MS.isTypeSupported === 'function' && MS.isTypeSupported(type)) || null;
  }

  // containerOf is 'webm' or 'mp4' for a type such as video/mp4;codecs=…, or ''.
  function containerOf(mime) {
    const m = /^\s*(?:video|audio)\/(webm|mp4)\b/i.exec(mime || '');
    return m ? m[1].toLowerCase() : '';
  }

  // codecsOf lists the codecs a type names: video/webm;codecs="vp9,opus" → [vp9, opus].
  function codecsOf(mime) {
    const m = /codecs\s*=\s*"?([^";]*)"?/i.exec(mime || '');
    return m ? m[1].split(',').map((c) => c.trim()).filter(Boolean) : [];
  }

  // mseType is the type to ask MSE about: the container with the server's
  // full codec strings (avc1.42C01F, not the recorder's avc1) when it names
  // them, else the mime as it is.
  function mseType(mime, container, codecs) {
    const c = container || containerOf(mime);
    const list = Array.isArray(codecs) ? codecs.filter((x) => typeof x === 'string' && x) : [];
    if (!c || !list.length) return mime || '';
    return `video/${c};codecs="${list.join(',')}"`;
  }

  // decidable: type names its codecs fully enough for isTypeSupported to
  // judge it (MSE refuses video/mp4;codecs=avc1,opus, the recorder's own
  // type, and wants avc1.42C01F).
  function decidable(type) {
    const c = containerOf(type);
    const list = codecsOf(type);
    if (c === 'webm') return true;
    return c === 'mp4' && list.length > 0 && list.every((x) => !/^(avc1|avc3|hvc1|hev1|mp4a|av01|vp09)$/i.test(x));
  }

  const CODEC_NAMES = [
    [/^vp0?8/i, 'VP8'],
    [/^(vp9|vp09)/i, 'VP9'],
    [/^(av01|av1)/i, 'AV1'],
    [/^(avc1|avc3|h264)/i, 'H.264'],
    [/^(hvc1|hev1|h265)/i, 'H.265'],
    [/^opus/i, 'Opus'],
    [/^mp4a/i, 'AAC'],
    [/^vorbis/i, 'Vorbis'],
  ];
  const VIDEO_CODECS = new Set(['VP8', 'VP9', 'AV1', 'H.264', 'H.265']);

  function codecName(c) {
    const hit = CODEC_NAMES.find(([re]) => re.test(c));
    return hit ? hit[1] : c;
  }

  // unplayableMessage says why this browser cannot play a room of the given
  // type, naming the codecs it refuses and the container ("VP9 in WebM"),
  // with a hint of what would work.
  function unplayableMessage(mime, container, codecs) {
    const c = container || containerOf(mime);
    const box = c === 'mp4' ? 'MP4' : c === 'webm' ? 'WebM' : '';
    if (!mediaSourceClass(false)) {
      return 'This browser cannot play live video (it has no Media Source Extensions). Try a recent Chrome, Edge, Firefox or Safari.';
    }
    const list = Array.isArray(codecs) && codecs.length ? codecs : codecsOf(mime);
    const refused = list.filter((x) => !mediaSourceClass(false, `video/${c || 'webm'};codecs="${x}"`) && !mediaSourceClass(true, `video/${c || 'webm'};codecs="${x}"`));
    const names = (refused.length ? refused : list).map(codecName);
    const video = names.filter((n) => VIDEO_CODECS.has(n));
    const what = [...new Set(video.length ? video : names)].join(' and ');
    const kind = video.length || !names.length ? 'video' : 'sound';
    const reason = what && box ? `${what} in ${box}` : what || box || mime || 'an unknown format';
    const hint =
      c === 'webm'
        ? 'iPhones and iPads play only MP4 with H.264: watch in another browser (Chrome, Edge or Firefox on a computer), or ask the broadcaster to go live in MP4 (H.264), which plays everywhere.'
        : 'Watch in another browser, such as a recent Chrome, Edge, Firefox or Safari.';
    return `This browser cannot play this broadcast’s ${kind} (${reason}). ${hint}`;
  }

  // Latency is how far behind the newest buffered media the playhead should
  // be: the page's target plus a backoff that stalls raise and calm lowers.
  class Latency {
    constructor(baseS) {
      this.base = baseS;
      this.backoff = 0; // added to base after stalls, in seconds
      this.calmMs = 0; // time since the last stall or step back
    }

    target() {
      return this.base + this.backoff;
    }

    stalled() {
      this.backoff = Math.min(MAX_BACKOFF_S, this.backoff + BACKOFF_STEP_S);
      this.calmMs = 0;
    }

    // calm counts ms without a stall; each CALM_MS of it takes a step back.
    calm(ms) {
      if (this.backoff <= 0) return;
      this.calmMs += ms;
      if (this.calmMs >= CALM_MS) {
        this.backoff = Math.max(0, this.backoff - BACKOFF_STEP_S);
        this.calmMs = 0;
      }
    }
  }

  // ClusterMerger rewrites the WebM stream on its way to the SourceBuffer so
  // that every Cluster starts with a video keyframe: each Cluster whose first
  // video block is not a keyframe loses its header and its blocks join the
  // Cluster before it, their timecodes made relative to that Cluster's.
  // Firefox's MSE parses each Cluster apart and, when one starts before the
  // end it guessed for the previous Cluster's last video frame (Chromium
  // starts a Cluster every timeslice, with an audio block), re-creates its
  // demuxer, which drops video up to the next keyframe: most of a broadcast's
  // video is lost. Only unknown-size Clusters (MediaRecorder's) are merged; a
  // Cluster's bytes wait here until its first video block has arrived.
  // The merge is for Firefox only: in WebKit (WebKitGTK 2.50) a second
  // broadcast on one page failed to play with it, and Chromium needs none.
  const MERGE_CLUSTERS = /\bFirefox\//.test(navigator.userAgent);
  const EBML_CLUSTER = 0x1f43b675;
  const EBML_SEGMENT = 0x18538067;
  const EBML_TRACKS = 0x1654ae6b;
  const MAX_REL_MS = 30000; // a merged block's timecode stays an int16 away from its Cluster's

  class ClusterMerger {
    constructor() {
      this.buf = new Uint8Array(0); // input not yet handled
      this.video = -1; // the video track number, once Tracks is read
      this.off = false; // pass everything through
      this.base = null; // timecode of the Cluster merged blocks join
      this.cur = null; // the open Cluster: {hdr, tc, held, state, delta}
    }

    // push takes the next bytes of the stream and returns those ready to append.
    push(chunk) {
      const data = new Uint8Array(chunk);
      if (this.off && !this.buf.length) return data;
      const b = this.buf.length ? concatBytes([this.buf, data]) : data;
      const out = [];
      let i = 0;
      while (i < b.length) {
        if (this.off) {
          out.push(b.subarray(i));
          i = b.length;
          break;
        }
        const h = ebmlHeader(b, i);
        if (!h) break;
        if (h.bad) {
          this._pass(out); // not EBML as expected: leave it to the SourceBuffer
          continue;
        }
        const end = h.size < 0 ? -1 : i + h.len + h.size;
        if (this.cur && h.id > 0xffffff) this._close(out); // a Segment-level element ends the Cluster
        if (this.cur) {
          if (end < 0) {
            this._pass(out);
            continue;
          }
          if (end > b.length) break;
          this._child(out, b, i, h, end);
          i = end;
          continue;
        }
        if (h.id === EBML_SEGMENT) {
          out.push(b.subarray(i, i + h.len));
          i += h.len;
          continue;
        }
        if (h.id === EBML_CLUSTER && h.size < 0) {
          const t = ebmlHeader(b, i + h.len);
          if (!t) break;
          const tcEnd = i + h.len + t.len + t.size;
          if (t.id !== 0xe7 || t.size < 0 || t.size > 6) {
            this.base = null; // not as MediaRecorder writes it: keep it whole
            this.cur = { hdr: b.slice(i, i + h.len), tc: 0, held: [], state: 'real', delta: 0 };
            out.push(this.cur.hdr);
            i += h.len;
            continue;
          }
          if (tcEnd > b.length) break;
          this.cur = { hdr: b.slice(i, tcEnd), tc: ebmlUint(b, tcEnd - t.size, t.size), held: [], state: 'open', delta: 0 };
          i = tcEnd;
          continue;
        }
        if (end < 0) {
          this._pass(out);
          continue;
        }
        if (end > b.length) break;
        if (h.id === EBML_TRACKS) this._tracks(b, i + h.len, end);
        if (h.id === EBML_CLUSTER) this.base = null;
        out.push(b.slice(i, end));
        i = end;
      }
      this.buf = b.slice(i);
      return concatBytes(out);
    }

    // _pass gives up on an element it cannot follow: everything passes through.
    _pass(out) {
      this._close(out);
      this.off = true;
    }

    // _close ends the open Cluster; one without video stays as it came.
    _close(out) {
      const c = this.cur;
      this.cur = null;
      if (c && c.state === 'open') {
        this.base = c.tc;
        out.push(c.hdr, ...c.held);
      }
    }

    // _tracks finds the video track's number in the Tracks element b[from:to].
    _tracks(b, from, to) {
      for (let i = from; i < to; ) {
        const e = ebmlHeader(b, i);
        if (!e || e.size < 0) return;
        if (e.id === 0xae) {
          let num = -1;
          let type = -1;
          for (let j = i + e.len; j < i + e.len + e.size; ) {
            const f = ebmlHeader(b, j);
            if (!f || f.size < 0) return;
            if (f.id === 0xd7) num = ebmlUint(b, j + f.len, f.size);
            if (f.id === 0x83) type = ebmlUint(b, j + f.len, f.size);
            j += f.len + f.size;
          }
          if (type === 1) this.video = num;
        }
        i += e.len + e.size;
      }
      if (this.video < 0) this.off = true;
    }

    // _child handles one element b[i:end] of the open Cluster.
    _child(out, b, i, h, end) {
      const c = this.cur;
      const el = b.slice(i, end);
      const block = blockAt(el, h);
      if (c.state === 'open') {
        c.held.push(el);
        if (!block || block.track !== this.video) return;
        if (block.key || this.base === null || c.tc - this.base > MAX_REL_MS) {
          this.base = c.tc;
          c.state = 'real';
          out.push(c.hdr, ...c.held);
        } else {
          c.state = 'merged';
          c.delta = c.tc - this.base;
          for (const e of c.held) this._rebase(out, e);
        }
        c.held = [];
        return;
      }
      if (c.state === 'merged') this._rebase(out, el);
      else out.push(el);
    }

    // _rebase makes a merged Cluster's block relative to the Cluster it
    // joins, starting a new Cluster when the timecode would not fit.
    _rebase(out, el) {
      const c = this.cur;
      const block = blockAt(el, ebmlHeader(el, 0));
      if (!block) {
        out.push(el);
        return;
      }
      const dv = new DataView(el.buffer, el.byteOffset + block.at, 2);
      let rel = dv.getInt16(0) + c.delta;
      if (rel > 32767 || rel < -32768) {
        this.base = c.tc + dv.getInt16(0);
        c.delta = c.tc - this.base;
        out.push(clusterHeader(this.base));
        rel = dv.getInt16(0) + c.delta;
      }
      dv.setInt16(0, rel);
      out.push(el);
    }
  }

  // blockAt describes the SimpleBlock, or the Block of the BlockGroup, el
  // (whose header is h): {track, key, at} with at the offset in el of its
  // int16 timecode; null for any other element.
  function blockAt(el, h) {
    if (h.id === 0xa3) return blockHeader(el, h.len, el[h.len + vintLen(el[h.len]) + 2] & 0x80);
    if (h.id !== 0xa0) return null;
    let block = null;
    let refs = false;
    for (let j = h.len; j < el.length; ) {
      const f = ebmlHeader(el, j);
      if (!f || f.size < 0) return null;
      if (f.id === 0xa1) block = j + f.len;
      if (f.id === 0xfb) refs = true;
      j += f.len + f.size;
    }
    return block === null ? null : blockHeader(el, block, !refs);
  }

  function blockHeader(el, at, key) {
    const tl = vintLen(el[at]);
    if (!tl || at + tl + 3 > el.length) return null;
    return { track: ebmlUint(el, at, tl) - (0x80 >> (tl - 1)) * 256 ** (tl - 1), key: Boolean(key), at: at + tl };
  }

  // clusterHeader is an unknown-size Cluster with the timecode tc.
  function clusterHeader(tc) {
    const h = new Uint8Array([0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe7, 0x84, 0, 0, 0, 0]);
    new DataView(h.buffer).setUint32(14, tc);
    return h;
  }

  function concatBytes(parts) {
    if (parts.length === 1) return parts[0];
    let n = 0;
    for (const p of parts) n += p.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  // Feed is one subscription: the WebSocket, its MediaSource and SourceBuffer,
  // the queue of media waiting to be appended, and the live-edge state of the
  // engine's tick. Once closed it does nothing.
  class Feed {
    constructor(video, url, scope, conf) {
      this.video = video;
      this.scope = scope; // the engine's: timers die with it
      this.conf = conf; // {preferManaged, onText(msg), onClose(ev), onFirstMedia(), onUnsupported(mime), onAppend(bytes), onEvicted()}
      this.closed = false;
      this.ws = null;
      this.ms = null;
      this.sb = null;
      this.objectURL = '';
      this.managed = false; // a ManagedMediaSource: it says when to append
      this.streaming = true; // a ManagedMediaSource wants media now
      this.pending = []; // media messages not yet appended
      this.merger = null; // a ClusterMerger for WebM in Firefox (see ClusterMerger); none for MP4
      this.webm = false; // the stream is WebM
      this.remoteWas = null; // video.disableRemotePlayback before a ManagedMediaSource set it
      this.started = false; // playback started at the first buffered media
      this.removing = false; // a remove() runs
      this.needAbort = false; // abort() the SourceBuffer before the next append
      this.retryTimer = 0; // retry an append the quota refused
      // Live-edge steering (the engine's _tick):
      this.lag = NaN; // smoothed lag behind the newest media, seconds
      this.lastEnd = NaN; // the newest media's end at the last updateend
      this.lastT = NaN; // currentTime at the last tick
      this.moved = false; // played since the last seek
      this.waiting = false; // stalled after playing
      this.stallMs = 0; // stuck with data ahead this long
      this.seekMs = 0; // seeking this long
      // MP4 arrives a fragment (a keyframe interval) at a time: the newest
      // media's end moves by that much at once.
      this.bursts = []; // the last appends' growth of the buffered end, seconds
      this.burst = 0; // their maximum
      this.grewAt = 0; // performance.now() when the buffered end last grew
      this.lates = []; // how much later than its media's length each of the last fragments came, seconds
      this.late = 0; // their maximum: the arrival jitter to keep a margin for

      this.ws = openFeedSocket(this, url, (buf) => this._onMedia(buf));
    }

    // report sends an experience report on the socket, if it is open; it
    // reports whether it did.
    report(msg) {
      return sendOnFeed(this, msg);
    }

    // hasMediaSource reports whether openMediaSource succeeded.
    hasMediaSource() {
      return Boolean(this.ms);
    }

    // canAppend: the SourceBuffer accepts an append or remove now.
    canAppend() {
      return Boolean(this.sb) && this.ms.readyState === 'open' && !this.sb.updating && !this.removing;
    }

    // openMediaSource attaches a new MediaSource to the video; the SourceBuffer
    // is added on sourceopen. Media arriving before then waits in pending.
    openMediaSource(mime) {
      const MS = mime ? mediaSourceClass(this.conf.preferManaged, mime) : null;
      if (!MS) return false;
      const v = this.video;
      this.webm = containerOf(mime) !== 'mp4';
      this.merger = MERGE_CLUSTERS && this.webm ? new ClusterMerger() : null;
      const ms = new MS();
      this.ms = ms;
      this.managed = Boolean(window.ManagedMediaSource) && MS === window.ManagedMediaSource;
      if (this.managed) this._manage(ms);
      this.objectURL = URL.createObjectURL(ms);
      ms.addEventListener(
        'sourceopen',
        () => {
          if (this.closed) return;
          URL.revokeObjectURL(this.objectURL);
          this.objectURL = '';
          try {
            // The mode stays 'segments': the Clusters' (or the fragments'
            // tfdt) own timestamps place the media, so a late joiner's buffer
            // starts at its first Cluster's time, not at 0 (see
            // PlayerEngine._startPlayback).
            this.sb = ms.addSourceBuffer(mime);
          } catch (e) {
            this.conf.onUnsupported(mime);
            return;
          }
          this.sb.addEventListener('updateend', () => this._onUpdateEnd());
          // A ManagedSourceBuffer tells of the media the browser evicted.
          if (this.managed) this.sb.addEventListener('bufferedchange', (ev) => this._onBufferedChange(ev));
          this._appendNext();
        },
        { once: true },
      );
      v.playbackRate = 1;
      v.src = this.objectURL;
      return true;
    }

    // _manage follows a ManagedMediaSource's wishes: it only opens with
    // remote playback (AirPlay) disabled, and it says when it wants media
    // (startstreaming) and when it has enough (endstreaming); until it wants
    // more, media waits in pending.
    _manage(ms) {
      this.remoteWas = Boolean(this.video.disableRemotePlayback);
      this.video.disableRemotePlayback = true;
      this.streaming = Boolean(ms.streaming);
      ms.addEventListener('startstreaming', () => {
        this.streaming = true;
        this._appendNext();
      });
      ms.addEventListener('endstreaming', () => {
        this.streaming = false;
      });
    }

    // _onBufferedChange: the browser evicted media (memory pressure) or
    // media was appended. The engine's tick leaves a hole the eviction made
    // at currentTime.
    _onBufferedChange(ev) {
      if (this.closed) return;
      if (ev.removedRanges && ev.removedRanges.length) this.conf.onEvicted();
    }

    _onMedia(buf) {
      if (!this.ms) return; // media before hello: not part of the protocol
      const media = this.merger ? this.merger.push(buf) : new Uint8Array(buf);
      if (!media.length) return;
      this.pending.push(media);
      this._appendNext();
    }

    // _appendNext appends the next queued message, one at a time: a
    // SourceBuffer accepts no new append (or remove) while updating, and
    // updateend calls back here.
    _appendNext() {
      if (this.closed || !this.canAppend()) return;
      if (!this.streaming) return; // a ManagedMediaSource has enough for now
      const sb = this.sb;
      if (this.needAbort) {
        this.needAbort = false;
        sb.abort();
      }
      if (!this.pending.length) return;
      const buf = this.pending[0];
      try {
        sb.appendBuffer(buf);
      } catch (e) {
        if (e.name === 'QuotaExceededError') {
          // The buffer is full: free more of the past, then retry the same
          // message (on updateend, or shortly if nothing can be freed yet).
          if (!this.evict(QUOTA_KEEP_S) && !this.retryTimer) {
            this.retryTimer = this.scope.timeout(() => {
              this.retryTimer = 0;
              this._appendNext();
            }, QUOTA_RETRY_MS);
          }
          return;
        }
        // InvalidStateError: the SourceBuffer was dropped after a decode error;
        // the video's error event reports and reconnects.
        console.warn('amlive: appendBuffer failed', e);
        return;
      }
      this.pending.shift();
      this.conf.onAppend(buf.byteLength);
    }

    _onUpdateEnd() {
      if (this.closed) return;
      this.removing = false;
      this._measureBurst();
      // Start once the join burst (the GOP up to now) is in, so that the
      // first seek lands near the live edge rather than inside the burst.
      if (!this.started && this.video.buffered.length > 0 && !this.pending.length) {
        this.started = true;
        this.conf.onFirstMedia();
      }
      this._appendNext();
    }

    // _measureBurst follows how far each append moves the newest media's
    // end: a fragment's length for MP4, a Cluster's for WebM.
    _measureBurst() {
      const b = this.video.buffered;
      if (!b.length) return;
      const end = b.end(b.length - 1);
      const prev = Number.isFinite(this.lastEnd) ? this.lastEnd : b.start(b.length - 1);
      this.lastEnd = end;
      if (end <= prev + 0.001) return;
      const now = performance.now();
      if (this.grewAt) {
        this.lates.push(Math.min(Math.max(0, (now - this.grewAt) / 1000 - (end - prev)), 5));
        if (this.lates.length > 5) this.lates.shift();
        this.late = Math.max(...this.lates);
      }
      this.grewAt = now;
      this.bursts.push(Math.min(end - prev, 10));
      if (this.bursts.length > 5) this.bursts.shift();
      this.burst = Math.max(...this.bursts);
    }

    // skip: the server dropped data because this viewer fell behind; the next
    // binary message is the init segment again, then media from a keyframe
    // Cluster. The queue holds superseded bytes: drop it. abort() resets the
    // SourceBuffer's parser, which may be in the middle of an element (the
    // server cut the stream anywhere); that partial element is discarded, so the
    // init segment parses from a clean state. abort() must not be called while
    // a remove() runs: then it waits for that remove's updateend.
    skip() {
      this.pending = [];
      this.merger = MERGE_CLUSTERS && this.webm ? new ClusterMerger() : null;
      if (!this.sb || this.ms.readyState !== 'open') return;
      if (this.removing) {
        this.needAbort = true;
        return;
      }
      try {
        this.sb.abort(); // while an append runs, this cancels it and fires updateend
      } catch (e) {
        this.needAbort = true;
      }
    }

    // evict removes media more than keep seconds behind currentTime, once the
    // buffer reaches back more than threshold seconds. It reports whether a
    // remove() started (its updateend resumes appending).
    evict(keep, threshold) {
      const sb = this.sb;
      if (!this.canAppend() || !sb.buffered.length) return false;
      const t = this.video.currentTime;
      if (sb.buffered.start(0) >= t - (threshold || keep)) return false;
      this.removing = true;
      sb.remove(0, t - keep);
      return true;
    }

    // resetEdge forgets the steering state after a seek to the live edge.
    resetEdge() {
      this.lag = NaN; // the smoothed lag of PlayerEngine._followEdge
      this.lastT = this.video.currentTime;
      this.moved = false; // waiting for the seek is no stall
    }

    // close ends the subscription: closes the socket and the MediaSource. The
    // video keeps its element; the engine sets or clears its src.
    close() {
      if (this.closed) return;
      this.closed = true;
      this.scope.clearTimeout(this.retryTimer);
      this.retryTimer = 0;
      const ws = this.ws;
      if (ws) {
        ws.onmessage = null;
        ws.onclose = null;
        if (ws.readyState <= WebSocket.OPEN) ws.close(codes.Normal);
      }
      if (this.ms && this.ms.readyState === 'open') {
        try {
          // endOfStream() throws while a SourceBuffer is updating.
          if (!this.sb || !this.sb.updating) this.ms.endOfStream();
        } catch (e) {
          /* closing anyway */
        }
      }
      if (this.objectURL) URL.revokeObjectURL(this.objectURL);
      this.objectURL = '';
      // A recording (a plain src) may go to AirPlay again.
      if (this.remoteWas !== null) this.video.disableRemotePlayback = this.remoteWas;
    }
  }

  // Shift is the time-shifted broadcast: its growing recording.
  class Shift {
    constructor(broadcast, url) {
      this.broadcast = broadcast;
      this.url = url;
      this.reloadedAt = -1; // the position of the last reload
    }
  }

  // PlayerEngine plays a room into a video element: the live stream
  // (WebSocket + MediaSource), the latest recording when offline, and the
  // growing recording after a rewind. It touches no DOM but the video.
  //
  // conf: {url(path, ws) → URL of {base}/{room}/{path}, latencyMs, autoplay, latency (data-latency: "low", "normal" or ""), roomLatency (the room's, as rendered),
  // isHidden() → whether the page is hidden, and callbacks (each optional)
  // onState(state, previous, message), onStatus(text) (a status line without
  // a change of state), onError(message) (also in lastError),
  // onViewers(count), onPublisher(reconnecting), onMuted(muted) (the video
  // was muted or unmuted, by the engine, the viewer or the API; also called
  // with the state playback starts in), onOfferLive(show) (offer to leave a
  // recording for live), and onUnmute(show), the former name of onMuted
  // (show: offer to unmute), still called with the same value}.
  //
  // Playback starts muted unless the viewer's remembered choice is sound
  // (see "Sound" above); mute() and unmute() change it and remember it.
  class PlayerEngine extends Engine {
    constructor(video, conf) {
      super(video, conf, '');
      this.mode = 'none';
      this.broadcast = '';
      this.mime = '';
      this.container = ''; // 'webm' or 'mp4' once known
      this.codecs = []; // the server's codec strings, once known
      this.startedAt = '';
      this.stats = { appended: 0, bytes: 0, skips: 0, reconnects: 0, stalls: 0, evictions: 0, mediaErrors: 0, reports: 0, nudges: 0 };
      this.mediaSource = ''; // 'managed' or 'mse' while live
      this.publisherLost = false;

      this._feed = null; // the current subscription
      this._shift = null; // the time-shifted broadcast
      this._latency = new Latency((conf.latencyMs || 300) / 1000);
      this._roomLowLatency = conf.roomLatency === 'low'; // see _webCodecs
      this._fileStall = { t: -1, ms: 0 }; // a file's currentTime and how long it stood there (_unstickFile)
      this._autoplay = conf.autoplay !== false;
      this._attempt = 0; // reconnect backoff step
      this._retryTimer = 0;
      this._pollTimer = 0;
      this._noLive = false; // the live stream cannot play here: offer recordings only
      this._resumeLive = false; // suspended while live: subscribe again on resume
      // Experience reports: what the last report covered up to.
      this._reported = { stalls: 0, skips: 0, mediaErrors: 0, frames: 0, dropped: 0 };
      this._stallStart = 0; // performance.now() when the stall under way began, or 0
      this._stallMs = 0; // stalled time since the last report
      this._reportTimes = []; // when the reports of the last minute were sent

      const v = video;
      this._wantSound = loadSound(); // the viewer's choice: start with sound
      v.muted = true;
      this._muted = true; // what onMuted last said
      this._scope.listen(v, 'error', () => this._onVideoError());
      // A change of muted that _setMuted did not make is the viewer's, with
      // the video's own controls: remember it too.
      this._scope.listen(v, 'volumechange', () => {
        if (v.muted !== this._muted) this._setMuted(v.muted, true);
      });
      this._scope.listen(v, 'ended', () => this._onEnded());
      this._scope.interval(() => this._tick(), TICK_MS);
      this._scope.interval(() => this._sendReport(), REPORT_MS);
    }

    // _sendReport sends the live feed an experience report on the time since
    // the last one: the delay behind the newest media received, stalls and
    // their duration, frames shown and dropped, skips, media errors, and the
    // codec. Nothing is sent unless live, nor more than REPORTS_PER_MIN a
    // minute.
    _sendReport() {
      const wc = this._feed && this._feed.wc && this._feed.started && this.mode === 'live' ? this._feed : null;
      if (!this._playingLive() && !wc) return;
      const now = performance.now();
      this._reportTimes = this._reportTimes.filter((t) => now - t < 60000);
      if (this._reportTimes.length >= REPORTS_PER_MIN) return;
      const v = this.video;
      const b = v.buffered;
      const clamp = (x, hi) => Math.min(hi, Math.max(0, Number.isFinite(x) ? x : 0));
      const delay = wc ? clamp(wc.ahead(), REPORT_MAX_DELAY_S) : b.length ? clamp(b.end(b.length - 1) - v.currentTime, REPORT_MAX_DELAY_S) : 0;
      if (this._stallStart) {
        this._stallMs += now - this._stallStart;
        this._stallStart = now;
      }
      let frames = 0;
      let dropped = 0;
      const q = wc ? wc.quality() : typeof v.getVideoPlaybackQuality === 'function' ? v.getVideoPlaybackQuality() : null;
      const r = this._reported;
      if (q) {
        // The counts restart with a new source: then count from 0.
        if (q.totalVideoFrames < r.frames || q.droppedVideoFrames < r.dropped) r.frames = r.dropped = 0;
        frames = clamp(q.totalVideoFrames - r.frames, REPORT_MAX_FRAMES);
        dropped = Math.min(frames, clamp(q.droppedVideoFrames - r.dropped, REPORT_MAX_FRAMES));
      }
      const st = this.stats;
      const stalls = clamp(st.stalls - r.stalls, REPORT_MAX_COUNT);
      const msg = {
        type: 'report',
        delay: Math.round(delay * 1000) / 1000,
        stalls,
        stallSeconds: stalls ? Math.round(clamp(this._stallMs / 1000, REPORT_MAX_STALL_S) * 1000) / 1000 : 0,
        frames,
        dropped,
        skips: clamp(st.skips - r.skips, REPORT_MAX_COUNT),
        errors: clamp(st.mediaErrors - r.mediaErrors, REPORT_MAX_COUNT),
        codec: String(this.mime || '').replace(/[^A-Za-z0-9.,+_/ ;="-]/g, '').slice(0, 100),
      };
      if (!this._feed.report(msg)) return;
      this._reportTimes.push(now);
      st.reports++;
      r.stalls = st.stalls;
      r.skips = st.skips;
      r.mediaErrors = st.mediaErrors;
      if (q) {
        r.frames = q.totalVideoFrames;
        r.dropped = q.droppedVideoFrames;
      }
      this._stallMs = 0;
    }

    // rewindable: the live stream can leave for the growing recording.
    rewindable() {
      return this.mode === 'live' && this.state === 'live' && Boolean(this.broadcast);
    }

    // _publisherLostNow shows that the broadcaster's connection dropped (the
    // server waits for it to resume) or came back.
    _publisherLostNow(lost) {
      if (this.publisherLost === lost) return;
      this.publisherLost = lost;
      if (this._connectingOrLive()) {
        this._status(lost ? 'The broadcaster’s connection dropped — waiting for it to come back…' : 'Live');
      }
      this._call('onPublisher', lost);
    }

    _connectingOrLive() {
      return this.state === 'live' || this.state === 'connecting';
    }

    // start plays the live stream when live is true, else asks the status.
    start(live) {
      if (live) this.connect();
      else this._refresh();
    }

    // ---- live: WebSocket + MediaSource -------------------------------------

    // connect (re)subscribes to the live stream with a fresh MediaSource.
    connect() {
      if (this.closed) return;
      this._stopPolling();
      this._scope.clearTimeout(this._retryTimer);
      this._retryTimer = 0;
      this._call('onOfferLive', false);
      this._closeFeed();
      this._noLive = false;
      this._shift = null;
      if (this.mode === 'timeshift') this.mode = 'none';
      // A new source restarts the video's frame counts (the media element's
      // load algorithm resets them).
      this._reported.frames = this._reported.dropped = 0;

      let feed = null;
      const mine = (fn) => (...args) => {
        if (this._feed === feed) fn(...args);
      };
      feed = new (this._webCodecs() ? amlive.webcodecs.Feed : Feed)(this.video, this._conf.url('subscribe', true).href, this._scope, {
        onText: mine((msg) => this._onText(feed, msg)),
        onClose: mine((ev) => this._onClose(ev)),
        onFirstMedia: mine(() => this._startPlayback()),
        onUnsupported: mine((mime) => this._unsupported(mime)),
        onAppend: (bytes) => {
          this.stats.appended++;
          this.stats.bytes += bytes;
        },
        preferManaged: this._conf.mediaSource === 'managed',
        onEvicted: mine(() => {
          this.stats.evictions++;
          this._tick();
        }),
        ...this._webCodecsConf(mine),
      });
      this._feed = feed;
      this._setState('connecting', 'Connecting…');
    }

    _onText(feed, msg) {
      switch (msg.type) {
        case 'hello':
          this.broadcast = msg.broadcast || '';
          this.mime = msg.mime || '';
          this.container = msg.container || containerOf(this.mime) || this.container;
          this.codecs = Array.isArray(msg.codecs) ? msg.codecs.slice() : [];
          this.startedAt = msg.startedAt || '';
          if (!feed.hasMediaSource() && !feed.openMediaSource(mseType(this.mime, this.container, this.codecs))) this._unsupported(this.mime);
          else this.mediaSource = feed.kind || (feed.managed ? 'managed' : 'mse');
          break;
        case 'viewers':
          this._setViewers(Number(msg.count) || 0);
          break;
        case 'skip':
          this.stats.skips++;
          feed.skip();
          break;
        case 'reconnecting':
        case 'resumed':
          this._publisherLostNow(msg.type === 'reconnecting');
          break;
        case 'end':
          this._onEnd(msg);
          break;
        case 'error':
          this._setError(msg.message || 'The server reported an error.');
          this._status(this.lastError);
          break;
      }
    }

    // _startPlayback runs once the first media is buffered. In 'segments' mode
    // the buffer starts where the join Cluster's timecode says (e.g. 734.2 s),
    // while currentTime is 0: without a seek the video would wait forever.
    _startPlayback() {
      this._attempt = 0;
      this.mode = 'live';
      this._jumpToLive();
      this._setState('live', this._autoplay ? 'Live' : 'Live — press play to watch');
      if (this.publisherLost) this._status('The broadcaster’s connection dropped — waiting for it to come back…');
      if (this._autoplay) this.play();
    }

    // _jumpToLive seeks to the live edge minus the target latency, but never
    // before the start of the newest buffered range.
    _jumpToLive() {
      const v = this.video;
      const b = v.buffered;
      if (!b.length) return;
      const start = b.start(b.length - 1);
      const end = b.end(b.length - 1);
      v.currentTime = Math.max(start, end - this._target());
      v.playbackRate = 1;
      if (this._feed) this._feed.resetEdge();
    }

    // _target is the latency to keep: the page's, with the stalls' backoff,
    // plus for MP4 a fragment's length and how late fragments came lately
    // (a fragment arrives whole, a keyframe interval at a time, and as late
    // as the broadcaster's encoder and network make it: closer to the edge,
    // the playhead would run out of media before the next one).
    _target() {
      const f = this._feed;
      return this._latency.target() + (f && !f.webm ? f.burst + f.late : 0);
    }

    // _steeringLag is the lag the steering compares with the target. For MP4
    // it is the lag as it was right after the last fragment came (the lag
    // falls while the playhead plays towards the end, then jumps by a
    // fragment): not a sawtooth the size of a fragment.
    _steeringLag(c, lag) {
      if (c.webm || !c.grewAt) return lag;
      return lag + Math.min((performance.now() - c.grewAt) / 1000, c.burst);
    }

    // ---- low latency: WebCodecs (webcodecs.js) -----------------------------

    // _webCodecs: the next subscription decodes with WebCodecs: the page
    // asks for low latency (data-latency="low"), or the room's status says
    // so and the page does not refuse it (data-latency="normal");
    // webcodecs.js is loaded, the browser has the decoders, and this room
    // has not fallen back to MSE.
    _webCodecs() {
      const wc = amlive.webcodecs;
      const mode = this._conf.latency || '';
      const low = mode === 'low' || (mode !== 'normal' && this._roomLowLatency);
      return Boolean(low && !this._webCodecsOff && wc && wc.available());
    }

    // _webCodecsConf is what a WebCodecs feed adds to a Feed's conf: its
    // stalls count as the MSE player's do, and a codec it cannot decode or a
    // decoder error sends the room back to MSE.
    _webCodecsConf(mine) {
      return {
        onStall: mine((ms) => {
          this.stats.stalls++;
          this._stallMs += ms;
        }),
        onMuted: mine((muted) => this._setMuted(muted, false)),
        onFallback: mine(() => {
          this._webCodecsOff = true;
          this.connect();
        }),
      };
    }

    // _playingLive: a live feed has started and steering applies.
    _playingLive() {
      const f = this._feed;
      return Boolean(f && f.started && f.sb && this.mode === 'live');
    }

    // _unstickFile nudges a file (a recording, or time shift's growing one)
    // that stopped with data ahead: playing, not seeking, currentTime
    // unchanged for STALL_MS while what is buffered reaches half a second
    // past it. WebKit's GStreamer pipeline, starved of CPU, can stay at
    // HAVE_CURRENT_DATA so with the whole file loaded; a seek to where it
    // stands starts it again. (Time shift's own reload at the end of what
    // it loaded is not this: there is no data ahead then.)
    _unstickFile() {
      const v = this.video;
      const s = this._fileStall;
      if (v.paused || v.seeking || v.ended || !v.currentSrc) {
        s.t = -1;
        s.ms = 0;
        return;
      }
      const t = v.currentTime;
      let ahead = 0;
      const b = v.buffered;
      for (let i = 0; i < b.length; i++) {
        if (t >= b.start(i) && t < b.end(i)) ahead = b.end(i) - t;
      }
      if (t !== s.t || ahead < 0.5) {
        s.t = t;
        s.ms = 0;
        return;
      }
      s.ms += TICK_MS;
      if (s.ms >= STALL_MS) {
        s.ms = 0;
        this.stats.nudges++;
        v.currentTime = t + 0.001;
      }
    }

    // _tick keeps a live player near the edge, out of gaps and unstuck, and
    // trims old buffer.
    _tick() {
      if (this.mode === 'recording' || this.mode === 'timeshift') {
        this._unstickFile();
        return;
      }
      if (!this._playingLive()) return;
      const c = this._feed;
      const v = this.video;
      const b = v.buffered;
      if (!b.length) return;
      if (v.seeking) {
        // A seek that never completes (its target lost to eviction or a
        // decoder hiccup) would freeze the player: retarget the live edge.
        c.seekMs += TICK_MS;
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
        if (this._steeringLag(c, lag) > this._target() + JUMP_LAG_S) {
          this._jumpToLive();
        } else {
          this._followEdge(c, this._steeringLag(c, lag));
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
          this._stallStart = performance.now();
          this._latency.stalled();
        } else if (!waiting) {
          this._latency.calm(TICK_MS);
        }
        if (!waiting && this._stallStart) {
          this._stallMs += performance.now() - this._stallStart;
          this._stallStart = 0;
        }
        c.waiting = waiting;
        if (waiting && lag >= this._target() + 0.1) {
          this._jumpToLive();
          c.stallMs = 0;
        } else if (stuck && lag > 0.3) {
          c.stallMs += TICK_MS;
          if (c.stallMs >= STALL_MS) {
            c.stallMs = 0;
            v.currentTime = Math.min(t + 0.1, end);
          }
        } else {
          c.stallMs = 0;
        }
      }

      c.evict(KEEP_BEHIND_S, EVICT_AT_S);
    }

    // _followEdge steers the playback rate so that the playhead stays about
    // the target latency behind the newest buffered media. The lag is a
    // sawtooth (it grows by a chunk's length at each append), so it is
    // smoothed first. Behind: play faster, the more the further behind;
    // ahead (the buffer running thin): a little slower, rather than stall.
    _followEdge(c, lag) {
      const v = this.video;
      c.lag = Number.isNaN(c.lag) ? lag : c.lag + LAG_SMOOTHING * (lag - c.lag);
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

    // muted is whether the video is muted.
    get muted() {
      return this.video.muted;
    }

    // mute turns the sound off and remembers it.
    mute() {
      this._setMuted(true, true);
    }

    // unmute turns the sound on (call it from a user gesture, which the
    // autoplay policy asks for), remembers it, and plays if paused.
    unmute() {
      this._setMuted(false, true);
      if (this.video.paused) this.play();
    }

    // _setMuted mutes or unmutes the video, remembers it as the viewer's
    // choice when remember is true, and tells the page.
    _setMuted(muted, remember) {
      const v = this.video;
      this._muted = muted;
      if (v.muted !== muted) v.muted = muted;
      if (remember) {
        this._wantSound = !muted;
        saveSound(!muted);
      }
      this._call('onMuted', muted);
      this._call('onUnmute', muted);
    }

    // play starts the video: muted, unless the viewer chose sound; muted
    // after all when the autoplay policy refuses sound.
    async play() {
      this._setMuted(!this._wantSound, false);
      if (this._feed && this._feed.wc) return this._feed.play(); // it mutes again while sound cannot run
      const v = this.video;
      const attempt = () => {
        let p;
        try {
          p = v.play();
        } catch (e) {
          return Promise.resolve(e);
        }
        if (!p || !p.then) return Promise.resolve('ok');
        return Promise.race([p.then(() => 'ok', (e) => e), this._scope.sleep(PLAY_TIMEOUT_MS).then(() => 'timeout')]);
      };
      let r = await attempt();
      if (r && r.name === 'NotAllowedError' && !v.muted && !this.closed) {
        // The autoplay policy refuses sound without a user gesture: play
        // muted, the button saying "Unmute". The choice stays sound.
        this._setMuted(true, false);
        r = await attempt();
      }
      if (r && r.name === 'NotAllowedError' && !this.closed) this._status('Press play to watch.');
      return r;
    }

    _onEnd(msg) {
      const url = msg.recording;
      // reason: the site ended the broadcast (moderation); shown as text.
      const ended = msg.reason ? `The site ended this broadcast: ${msg.reason}` : 'The broadcast has ended';
      this._closeFeed(); // endOfStream, detach; the server closes the socket with Normal
      if (url) {
        this._playRecording(url, `${ended} — playing the recording.`, 'ended', true);
      } else {
        this._detachVideo();
        this.mode = 'none';
        this._setState('ended', `${ended}.`);
      }
      this._startPolling();
    }

    // _offlineClose: the close says the room is offline (or ended without an
    // end event); the status decides what to show.
    _offlineClose(code) {
      return code === codes.NotLive || code === codes.Normal;
    }

    _onClose(ev) {
      const code = ev.code;
      if (this._offlineClose(code)) {
        this._closeFeed();
        this._refresh();
        return;
      }
      const msg = closeMessage('viewer', code, ev.reason);
      this._setError(msg);
      if (!retries(code)) {
        this._closeFeed();
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
      this._scope.clearTimeout(this._retryTimer);
      this._retryTimer = this._scope.timeout(() => {
        this._retryTimer = 0;
        this.stats.reconnects++;
        this.connect();
      }, delay);
    }

    // _unsupported: this browser cannot play the live stream; offer recordings.
    _unsupported(mime) {
      this._closeFeed();
      this._detachVideo();
      this._noLive = true;
      this._setError(unplayableMessage(mime, this.container, this.codecs));
      this.mode = 'none';
      this._setState('error', this.lastError);
      this._refresh();
    }

    // _closeFeed ends the current subscription, if any.
    _closeFeed() {
      const f = this._feed;
      if (!f) return;
      this._feed = null;
      this._stallStart = 0; // a stall under way ends with its feed
      this._publisherLostNow(false);
      f.close();
    }

    _detachVideo() {
      const v = this.video;
      if (!v.getAttribute('src')) return;
      v.removeAttribute('src'); // unlike src = '', this raises no error event
      v.load();
    }

    _onVideoError() {
      const e = this.video.error;
      if (!e) return;
      this.stats.mediaErrors++;
      const what = MEDIA_ERRORS[e.code] || 'error';
      const msg = `The video could not be played (MediaError ${e.code}, ${what}${e.message ? `: ${e.message}` : ''}).`;
      this._setError(msg);
      if (this.mode === 'live' || this.state === 'connecting') {
        this._closeFeed();
        this._retry(msg);
      } else {
        this._setState('error', msg);
      }
    }

    // ---- offline: status, recordings, polling -------------------------------

    async _fetchStatus() {
      const res = await fetch(this._conf.url('status', false).href, { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return res.json();
    }

    // _busy: closed, or subscribed meanwhile; a status answer is stale.
    _busy() {
      return this.closed || Boolean(this._feed);
    }

    // _refresh asks the server for the room's status and shows live, the
    // latest recording or "offline" accordingly.
    async _refresh() {
      let st;
      try {
        st = await this._fetchStatus();
      } catch (e) {
        if (this._busy()) return;
        const msg = `Could not get this room’s status (${e.message || e}). Retrying…`;
        if (this.mode === 'recording') this._status(msg);
        else this._setState('offline', msg);
        this._startPolling();
        return;
      }
      if (this._busy()) return; // connected meanwhile
      this._poster(st);
      const stMime = st.mimeType || st.mime || '';
      if (st.live && !this._noLive && stMime) {
        // Decided before subscribing: can this browser play the room?
        this.mime = stMime;
        this.container = st.container || containerOf(stMime);
        this.codecs = Array.isArray(st.codecs) ? st.codecs.slice() : [];
        const type = mseType(this.mime, this.container, this.codecs);
        if (decidable(type) && !mediaSourceClass(this._conf.mediaSource === 'managed', mseType(this.mime, this.container, this.codecs))) {
          this._noLive = true;
          this._setError(unplayableMessage(this.mime, this.container, this.codecs));
        }
      }
      this._roomLowLatency = st.latency === 'low'; // a room flag, if the server sets one
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

    // _poster shows the live broadcast's thumbnail, else the latest
    // recording's, before the video plays (the status names them).
    _poster(st) {
      const recs = Array.isArray(st.recordings) ? st.recordings : [];
      const latest = recs.find((r) => !r.live);
      const url = st.live ? st.thumbnail : latest && latest.thumbnail;
      if (url) this.video.poster = new URL(url, document.baseURI).href;
    }

    _playRecording(url, message, state, autoplay) {
      this._closeFeed();
      const v = this.video;
      this._shift = null;
      this.mode = 'recording';
      v.playbackRate = 1;
      try {
        v.src = new URL(url, this._conf.url('', false)).href;
      } catch (e) {
        v.src = url;
      }
      this._setState(state, message);
      if (autoplay) this.play();
    }

    // ---- time shift: the live broadcast's growing recording -----------------

    // rewind leaves the live stream for the broadcast's recording, which the
    // server is still writing: back seconds before the live position, or from
    // the start when back is not a positive number. connect() returns to live.
    rewind(back) {
      const id = this.broadcast;
      if (this.mode !== 'live' || !id || this.closed) return;
      const at = this._feed && this._feed.wc ? this._feed.currentTime() : this.video.currentTime;
      const target = back > 0 ? Math.max(0, at - back) : 0;
      this._closeFeed();
      this._shift = new Shift(id, this._conf.url(`playback?b=${encodeURIComponent(id)}`, false));
      this.mode = 'timeshift';
      this._loadShift(target);
      this._setState('timeshift', target > 0 ? `Rewound ${Math.round(back)} s — you are behind live.` : 'Watching from the start — you are behind live.');
      this._startPolling();
    }

    // _loadShift (re)loads the growing recording and plays it from t. Each
    // request gets the file as far as it is on disk; Chromium plays it with an
    // infinite duration and can seek in it (it scans the Clusters).
    _loadShift(t) {
      const v = this.video;
      const u = new URL(this._shift.url);
      u.searchParams.set('at', String(Date.now())); // a new response, with the file's new length
      v.playbackRate = 1;
      v.src = u.href;
      if (t > 0) {
        this._scope.listen(
          v,
          'loadedmetadata',
          () => {
            if (this._shift) v.currentTime = t;
          },
          { once: true },
        );
      }
      this.play();
    }

    // _reloadSealed loads the time-shifted broadcast's sealed recording in
    // place of the growing file, at the same position and play state.
    _reloadSealed() {
      const s = this._shift;
      if (!s) return;
      const v = this.video;
      const pos = v.currentTime;
      const playing = !v.paused;
      const u = new URL(s.url);
      u.searchParams.set('at', 'sealed'); // not the growing file's cached response
      s.reloadedAt = pos;
      v.src = u.href;
      this._scope.listen(
        v,
        'loadedmetadata',
        () => {
          if (this._shift === s) v.currentTime = pos;
        },
        { once: true },
      );
      if (playing) this.play();
    }

    // _onEnded: a time-shifted recording ends where the file ended when it was
    // requested. Reload it there while the recording has more; once it has
    // caught up (no progress since the last reload), go back to live.
    async _onEnded() {
      const s = this._shift;
      if (!s) return;
      const pos = this.video.currentTime;
      let st;
      try {
        st = await this._fetchStatus();
      } catch (e) {
        return;
      }
      if (this._shift !== s || this.closed) return;
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
      this._pollTimer = this._scope.timeout(() => this._poll(), POLL_MS);
    }

    _stopPolling() {
      this._scope.clearTimeout(this._pollTimer);
      this._pollTimer = 0;
    }

    // _poll checks the status every POLL_MS while the page is visible: an
    // offline room connects by itself when it goes live; a viewer watching a
    // recording gets the "Live now — watch" button instead of an interruption.
    async _poll() {
      this._scope.clearTimeout(this._pollTimer);
      this._pollTimer = this._scope.timeout(() => this._poll(), POLL_MS);
      if (this._conf.isHidden() || this._busy()) return;
      let st;
      try {
        st = await this._fetchStatus();
      } catch (e) {
        return; // try again next time
      }
      if (!this._pollTimer || this._busy()) return;
      if (this.mode === 'timeshift') {
        if (!st.live || st.broadcast !== this._shift.broadcast) {
          // Ended meanwhile: the server has sealed the recording, which
          // rewrote the file's layout (its ETag changed). Bytes the element
          // asks for from now on must come from the sealed file, so load it
          // at the same position; it also has a duration and Cues now.
          this._reloadSealed();
          this.mode = 'recording';
          this._setState('ended', 'The broadcast has ended — playing its recording.');
          this._call('onOfferLive', Boolean(st.live));
        }
        return;
      }
      if (this.mode === 'recording') {
        this._call('onOfferLive', Boolean(st.live));
        return;
      }
      if (st.live || (st.recordings && st.recordings.length)) {
        this._stopPolling();
        this._refresh();
      }
    }

    // ---- the page's lifecycle ----------------------------------------------

    // visible: the page is shown again. Background tabs fall behind (timers
    // are throttled): back to live.
    visible() {
      if (this.mode === 'live') this._jumpToLive();
      if (this._pollTimer) this._poll();
    }

    // suspend: the page is being left; say goodbye to the server.
    suspend() {
      this._resumeLive = Boolean(this._feed);
      this._closeFeed();
      this._stopPolling();
      this._scope.clearTimeout(this._retryTimer);
      this._retryTimer = 0;
    }

    // resume: the page came back from the back/forward cache; subscribe again.
    resume() {
      if (this._resumeLive) this.connect();
      else this._refresh();
    }

    // close stops everything: the socket, the MediaSource, the timers and
    // the video's source. The engine cannot be used again.
    close() {
      if (this.closed) return;
      this._closeFeed();
      this._stopPolling();
      this.closed = true;
      this._shift = null;
      this._scope.close();
      this._detachVideo();
    }
  }

  // Player binds a PlayerEngine to the player markup.
  class Player extends Widget {
    constructor(el) {
      super(el, 'amlivePlayer');
      this._video = el.querySelector('video');
      this._viewersEl = el.querySelector('[data-amlive-viewers]');
      this._soundBtn = el.querySelector('[data-amlive-unmute]');
      this._goliveBtn = el.querySelector('[data-amlive-golive]');
      this._rewindBtns = [...el.querySelectorAll('[data-amlive-rewind]')];
      this._toliveBtn = el.querySelector('[data-amlive-tolive]');
      this.engine = new PlayerEngine(this._video, {
        url: (path, ws) => endpoint(el.getAttribute('data-base'), el.getAttribute('data-room'), path, ws),
        latencyMs: intAttr(el, 'data-latency-ms', 300),
        autoplay: el.getAttribute('data-autoplay') !== 'false',
        mediaSource: (el.closest('[data-media-source]') || el).getAttribute('data-media-source') || '',
        latency: (el.closest('[data-latency]') || el).getAttribute('data-latency') || '',
        // The room's latency mode as the page was rendered; the status, when
        // the player asks for it, has the newer word.
        roomLatency: el.getAttribute('data-room-latency') || '',
        isHidden: () => document.hidden,
        onState: (state, prev, message) => this._onState(state, prev, message),
        onStatus: (text) => this._status(text),
        onViewers: (n) => this._onViewers(n),
        onPublisher: (lost) => this._onPublisher(lost),
        onMuted: (muted) => this._onMuted(muted),
        onOfferLive: (show) => this._show(this._goliveBtn, show),
      });

      this._onClick(this._soundBtn, () => (this.engine.muted ? this.engine.unmute() : this.engine.mute()));
      this._onMuted(this.engine.muted);
      this._onClick(this._goliveBtn, () => this.connect());
      for (const btn of this._rewindBtns) {
        this._onClick(btn, () => {
          const back = parseFloat(btn.getAttribute('data-amlive-rewind'));
          this.rewind(Number.isFinite(back) ? back : undefined);
        });
      }
      this._onClick(this._toliveBtn, () => this.connect());
      this._scope.listen(document, 'visibilitychange', () => {
        if (!document.hidden) this.engine.visible();
      });
      // Leaving the page: say goodbye to the server; if the page comes back
      // from the back/forward cache, subscribe again.
      this._scope.listen(window, 'pagehide', () => this.engine.suspend());
      this._scope.listen(window, 'pageshow', (ev) => {
        if (ev.persisted) this.engine.resume();
      });

      this.engine.start(el.getAttribute('data-live') === 'true');
    }

    // connect (re)subscribes to the live stream.
    connect() {
      this.engine.connect();
    }

    // rewind leaves live for the growing recording, back seconds (or from
    // the start).
    rewind(back) {
      this.engine.rewind(back);
    }

    // mute turns the sound off; the choice is remembered.
    mute() {
      this.engine.mute();
    }

    // unmute turns the sound on (from a user gesture); the choice is
    // remembered.
    unmute() {
      this.engine.unmute();
    }

    _show(btn, show) {
      if (btn) btn.hidden = !show;
    }

    // _onMuted labels the sound button for what a press does, mirrors the
    // state in el.dataset.muted and announces it (amlive:sound).
    _onMuted(muted) {
      const was = this.el.dataset.muted;
      this.el.dataset.muted = String(muted);
      const btn = this._soundBtn;
      if (btn) {
        const label = muted ? 'Unmute' : 'Mute';
        if (btn.textContent !== label) btn.textContent = label;
        btn.title = muted ? 'Turn the sound on' : 'Turn the sound off';
      }
      if (was !== undefined && was !== String(muted)) this._emit('sound', { muted });
    }

    _onState(state, prev, message) {
      const e = this.engine;
      this.el.dataset.state = state;
      this.el.dataset.mode = e.mode;
      if (e.mediaSource) this.el.dataset.mediaSource = e.mediaSource;
      for (const btn of this._rewindBtns) btn.hidden = !e.rewindable();
      // Sound is offered whenever there is something to play.
      this._show(this._soundBtn, e.mode !== 'none');
      this._show(this._toliveBtn, e.mode === 'timeshift');
      if (message !== undefined) this._status(message);
      if (prev !== state) this._emit('state', { state, previous: prev, mode: e.mode, message: message || '' });
    }

    _onViewers(n) {
      if (this._viewersEl) this._viewersEl.textContent = `${n} watching`;
      this._emit('viewers', { count: n });
    }

    // _onPublisher mirrors the broadcaster's dropped connection in
    // el.dataset.publisher ('reconnecting' or absent) and the DOM event
    // amlive:publisher ({reconnecting}).
    _onPublisher(lost) {
      if (lost) this.el.dataset.publisher = 'reconnecting';
      else delete this.el.dataset.publisher;
      this._emit('publisher', { reconnecting: lost });
    }

    _release() {
      this.engine.close();
    }
  }

  expose(Player, ['state', 'mode', 'broadcast', 'mime', 'container', 'codecs', 'startedAt', 'viewers', 'lastError', 'stats', 'publisherLost', 'mediaSource', 'muted']);

  amlive.PlayerEngine = PlayerEngine;
  amlive.initPlayers = register({
    selector: SELECTOR,
    prop: 'amlivePlayer',
    accepts: (el) => Boolean(el.querySelector('video')),
    create: (el) => new Player(el),
  });
})();
