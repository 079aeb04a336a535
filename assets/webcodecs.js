// amlive WebCodecs player: plays a low-latency live room by decoding the
// subscribe socket's WebM with VideoDecoder and AudioDecoder, drawing the
// frames onto a <canvas> and playing the sound through Web Audio, with a
// small adaptive jitter buffer instead of the Media Source Extensions
// player's. player.js uses it (amlive.webcodecs.Feed in place of its MSE
// Feed) where the browser has WebCodecs and the page asks for low latency
// (data-latency="low" on the player or an ancestor); it falls back to MSE
// when a codec is unsupported or a decoder fails. Load it after core.js and
// before player.js (the head partial does).
//
// amlive.webcodecs = {available(), WebMDemuxer, Feed, Peak (the clock's windowed
// maximum), Jitter (the clock), placeSound (where decoded sound plays)}.
(() => {
  'use strict';

  const amlive = window.amlive;
  const codes = amlive.protocol.codes;

  // ---- the incremental WebM demuxer --------------------------------------

  const ID = {
    EBML: 0x1a45dfa3,
    Segment: 0x18538067,
    Info: 0x1549a966,
    TimecodeScale: 0x2ad7b1,
    Tracks: 0x1654ae6b,
    TrackEntry: 0xae,
    TrackNumber: 0xd7,
    TrackType: 0x83,
    CodecID: 0x86,
    CodecPrivate: 0x63a2,
    CodecDelay: 0x56aa,
    Video: 0xe0,
    PixelWidth: 0xb0,
    PixelHeight: 0xba,
    Audio: 0xe1,
    SamplingFrequency: 0xb5,
    Channels: 0x9f,
    Cluster: 0x1f43b675,
    Timecode: 0xe7,
    SimpleBlock: 0xa3,
    BlockGroup: 0xa0,
    Block: 0xa1,
    ReferenceBlock: 0xfb,
  };
  // Elements the demuxer reads whole; every other element (Cues, Tags,
  // Void…) is skipped as it streams by, whatever its size.
  const WHOLE = new Set([ID.Info, ID.Tracks, ID.Timecode, ID.SimpleBlock, ID.BlockGroup]);
  const MAX_ELEMENT = 16 << 20; // a whole element larger than this is an error

  const { vintLen, uint } = amlive.core.ebml;

  // header reads the element header at b[i:]: {id, size (-1: unknown), len};
  // null when b ends first; throws on bytes that are not a header.
  function header(b, i) {
    const h = amlive.core.ebml.header(b, i);
    if (h && h.bad) throw new Error(`not an EBML element ${h.bad} at byte ${h.at}`);
    return h;
  }

  // children calls fn(id, from, to) for each child of b[from:to].
  function children(b, from, to, fn) {
    for (let i = from; i < to; ) {
      const h = header(b, i);
      if (!h || h.size < 0 || i + h.len + h.size > to) return;
      fn(h.id, i + h.len, i + h.len + h.size);
      i += h.len + h.size;
    }
  }

  function float(b, from, to) {
    const dv = new DataView(b.buffer, b.byteOffset + from, to - from);
    return to - from === 4 ? dv.getFloat32(0) : to - from === 8 ? dv.getFloat64(0) : 0;
  }

  function text(b, from, to) {
    return String.fromCharCode(...b.subarray(from, to)).replace(/\0+$/, '');
  }

  // WebMDemuxer reads a live WebM stream pushed in pieces split anywhere
  // (the subscribe socket's messages): it calls onTracks([track]) for each
  // Tracks element and onBlock(block) for each SimpleBlock or BlockGroup.
  // A track is {number, type ('video', 'audio' or ''), codecId, codecPrivate
  // (Uint8Array or null), width, height, sampleRate, channels, codecDelayNs};
  // a block is {track, timestamp (µs, absolute), key, data (Uint8Array)}.
  // Clusters of unknown size (MediaRecorder's) end where the next top-level
  // element begins. It holds at most one element (bounded by MAX_ELEMENT)
  // plus one message's bytes; push throws on a stream it cannot follow.
  class WebMDemuxer {
    constructor(onTracks, onBlock) {
      this.onTracks = onTracks;
      this.onBlock = onBlock;
      this.buf = new Uint8Array(0);
      this.skip = 0; // bytes of a skipped element still to come
      this.scale = 1000000; // TimecodeScale, ns
      this.clusterTc = 0;
      this.laced = 0; // laced blocks seen (not decoded; MediaRecorder writes none)
    }

    push(chunk) {
      let data = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
      if (this.skip) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
      }
      let b = data;
      if (this.buf.length) {
        b = new Uint8Array(this.buf.length + data.length);
        b.set(this.buf);
        b.set(data, this.buf.length);
      }
      let i = 0;
      while (i < b.length) {
        const h = header(b, i);
        if (!h) break;
        if (h.id === ID.Segment || h.id === ID.Cluster) {
          // Containers: go inside (known size or not).
          if (h.id === ID.Cluster) this.clusterTc = 0;
          i += h.len;
          continue;
        }
        if (h.size < 0) throw new Error(`element 0x${h.id.toString(16)} of unknown size`);
        if (!WHOLE.has(h.id)) {
          const end = i + h.len + h.size;
          if (end > b.length) {
            this.skip = end - b.length;
            i = b.length;
            break;
          }
          i = end;
          continue;
        }
        if (h.size > MAX_ELEMENT) throw new Error(`element 0x${h.id.toString(16)} of ${h.size} bytes`);
        const end = i + h.len + h.size;
        if (end > b.length) break;
        this._element(h.id, b, i + h.len, end);
        i = end;
      }
      // Keep the unread rest, copied so that the message's buffer can go.
      this.buf = i >= b.length ? new Uint8Array(0) : b.slice(i);
    }

    _element(id, b, from, to) {
      switch (id) {
        case ID.Info:
          children(b, from, to, (cid, f, t) => {
            if (cid === ID.TimecodeScale) this.scale = uint(b, f, t - f) || 1000000;
          });
          break;
        case ID.Tracks:
          this.onTracks(this._tracks(b, from, to));
          break;
        case ID.Timecode:
          this.clusterTc = uint(b, from, to - from);
          break;
        case ID.SimpleBlock:
          this._block(b, from, to, null);
          break;
        case ID.BlockGroup: {
          let block = null;
          let refs = false;
          children(b, from, to, (cid, f, t) => {
            if (cid === ID.Block) block = [f, t];
            if (cid === ID.ReferenceBlock) refs = true;
          });
          if (block) this._block(b, block[0], block[1], !refs);
          break;
        }
      }
    }

    _tracks(b, from, to) {
      const out = [];
      children(b, from, to, (id, f, t) => {
        if (id !== ID.TrackEntry) return;
        const tr = { number: 0, type: '', codecId: '', codecPrivate: null, width: 0, height: 0, sampleRate: 0, channels: 1, codecDelayNs: 0 };
        children(b, f, t, (cid, cf, ct) => {
          switch (cid) {
            case ID.TrackNumber:
              tr.number = uint(b, cf, ct - cf);
              break;
            case ID.TrackType: {
              const type = uint(b, cf, ct - cf);
              tr.type = type === 1 ? 'video' : type === 2 ? 'audio' : '';
              break;
            }
            case ID.CodecID:
              tr.codecId = text(b, cf, ct);
              break;
            case ID.CodecPrivate:
              tr.codecPrivate = b.slice(cf, ct);
              break;
            case ID.CodecDelay:
              tr.codecDelayNs = uint(b, cf, ct - cf);
              break;
            case ID.Video:
              children(b, cf, ct, (vid, vf, vt) => {
                if (vid === ID.PixelWidth) tr.width = uint(b, vf, vt - vf);
                if (vid === ID.PixelHeight) tr.height = uint(b, vf, vt - vf);
              });
              break;
            case ID.Audio:
              children(b, cf, ct, (aid, af, at) => {
                if (aid === ID.SamplingFrequency) tr.sampleRate = float(b, af, at);
                if (aid === ID.Channels) tr.channels = uint(b, af, at - af);
              });
              break;
          }
        });
        out.push(tr);
      });
      return out;
    }

    // _block reads a Block's header: track, int16 relative timecode, flags;
    // key is the SimpleBlock's flag unless given (a BlockGroup's).
    _block(b, from, to, key) {
      const tl = vintLen(b[from]);
      if (!tl || from + tl + 3 > to) return;
      const track = uint(b, from, tl) - (0x80 >> (tl - 1)) * 256 ** (tl - 1);
      const rel = new DataView(b.buffer, b.byteOffset + from + tl, 2).getInt16(0);
      const flags = b[from + tl + 2];
      if (flags & 0x06) {
        this.laced++;
        return;
      }
      const timestamp = Math.round(((this.clusterTc + rel) * this.scale) / 1000);
      this.onBlock({ track, timestamp, key: key === null ? Boolean(flags & 0x80) : key, data: b.slice(from + tl + 3, to) });
    }
  }

  // ---- decoder configurations --------------------------------------------

  const hex2 = (n) => n.toString(16).padStart(2, '0');

  // videoConfig is the VideoDecoderConfig for a WebM video track, or null.
  function videoConfig(tr) {
    const c = { codedWidth: tr.width || undefined, codedHeight: tr.height || undefined, optimizeForLatency: true };
    const p = tr.codecPrivate;
    switch (tr.codecId) {
      case 'V_VP8':
        return { ...c, codec: 'vp8' };
      case 'V_VP9':
        return { ...c, codec: 'vp09.00.10.08' };
      case 'V_AV1':
        return { ...c, codec: 'av01.0.04M.08', description: p || undefined };
      case 'V_MPEG4/ISO/AVC':
        if (!p || p.length < 4) return null;
        return { ...c, codec: `avc1.${hex2(p[1])}${hex2(p[2])}${hex2(p[3])}`, description: p };
      default:
        return null;
    }
  }

  // opusDescription is the OpusHead (a track's CodecPrivate) to configure
  // the AudioDecoder with, or undefined when the packets themselves say all
  // the decoder needs: mono or stereo (channel mapping family 0) without
  // output gain. What else the head holds, the pre-skip, is for a decoder
  // starting at the stream's beginning, which a live viewer never does.
  // (WebKitGTK 2.50's AudioDecoder crashes the page when given one.)
  function opusDescription(head) {
    if (!head || head.length < 19) return head || undefined;
    const gain = head[16] | (head[17] << 8);
    return head[18] === 0 && gain === 0 ? undefined : head;
  }

  // audioConfig is the AudioDecoderConfig for a WebM audio track, or null.
  function audioConfig(tr) {
    const c = { sampleRate: tr.sampleRate || 48000, numberOfChannels: tr.channels || 1 };
    if (tr.codecId === 'A_OPUS') return { ...c, codec: 'opus', description: opusDescription(tr.codecPrivate) };
    if (tr.codecId === 'A_VORBIS' && tr.codecPrivate) return { ...c, codec: 'vorbis', description: tr.codecPrivate };
    return null;
  }

  function available() {
    return (
      typeof window.VideoDecoder === 'function' &&
      typeof window.AudioDecoder === 'function' &&
      typeof window.EncodedVideoChunk === 'function' &&
      typeof (window.AudioContext || window.webkitAudioContext) === 'function'
    );
  }

  // ---- the feed ------------------------------------------------------------

  // The clock. Media of timestamp ts is due (shown, heard) at ts + offset on
  // now(). Its transit is when it was ready (decoded) less its timestamp;
  // the offset is kept at the largest transit of the last WINDOW_MS, plus
  // a margin, plus the largest stall of the last HOLD_MS: a late frame or
  // sound raises it at once (a stall: the picture waits), and every
  // CUT_EVERY_MS what it holds beyond that is cut (the frames it passes
  // are dropped). The jitter buffer is thus the spread of the transits,
  // whatever the network, encoder and decoder add: it grows after stalls
  // and shrinks when steady.
  const JITTER_START_S = 0.05; // the buffer at the start, before there are transits
  const WINDOW_MS = 8000; // the transits the offset covers
  const WINDOW_MIN_MS = 1000; // the offset is not cut on less than this of them
  const CUT_EVERY_MS = 500; // how often the offset is brought down to the window's need…
  const CUT_MIN_S = 0.005; // …when it holds this much more
  const VIDEO_MARGIN_S = 0.004; // a frame is ready this long before it is due: the timer's slack
  const AUDIO_MARGIN_S = 0.01; // decoded sound is to start at least this long after the AudioContext's clock
  // The sound output's clock against the page's (Feed._toContext): a
  // difference that moves by more than CLOCK_SLIP_S (the output stalled or
  // ran on, a device changed) is taken at once, the sound skipping or
  // pausing; a smaller one is followed by CLOCK_SLEW_S a sound at most,
  // unheard (placeSound takes up the gaps), once past CLOCK_DEAD_S.
  const CLOCK_SLIP_S = 0.02;
  const CLOCK_SLEW_S = 0.0002;
  const CLOCK_DEAD_S = 0.002;
  const RENDER_WINDOW_MS = 2000; // the sound's lead covers the context's render-ahead over this
  // AV_SLACK_S is how long after its picture sound may be heard: the
  // picture waits only for output latency beyond it. Sound 45 ms late is
  // below what viewers detect (ITU-R BT.1359: 125 ms), and it is about
  // the latency of a computer's own sound output, which the picture thus
  // need not wait for.
  const AV_SLACK_S = 0.045;
  const MAP_WINDOW_MS = 1000; // the readings of the sound output's clock that _toContext takes the largest of
  const LATE_S = 0.005; // a frame this late is a stall
  // A gap in the sound up to STRETCH_MAX_GAP_S (the buffer grew by that
  // much, sound still in time) is taken up by playing the sound after it
  // slower, at STRETCH_MIN_RATE at least (a twentieth of a tone lower),
  // instead of a click of silence: how a jitter buffer grows unheard.
  const STRETCH_MAX_GAP_S = 0.01;
  const STRETCH_MIN_RATE = 0.97;
  const GROW_MAX_S = 0.2; // one stall raises the offset by at most this
  // A stall is remembered for HOLD_MS: until then the offset keeps, above
  // the window's largest transit, a cushion as large as the largest stall
  // remembered (GROW_MAX_S at most), so that the next delay like it is no
  // stall. A spell of HOLD_MS without one gives the cushion back.
  const HOLD_MS = 30000;
  const SETTLE_MAX_MS = 1000; // after a jump, lateness is catching up (not a stall) for at most this
  const MAX_CONVERTING = 2; // frames being made ImageBitmaps at most
  const CATCHUP_DRAW_MS = 100; // catching up, a frame is drawn at least this often
  const AHEAD_JUMP_S = 0.3; // media due further ahead than the buffer + this: catch up at once
  const LATE_JUMP_S = 1; // media later than this: start over from it, not a huge buffer
  const JOIN_AUDIO = 5; // the newest sound of a join's burst kept for after its first picture (_holdAudio)
  const MAX_AUDIO_QUEUE = 25; // sound waiting to be decoded at most (Opus chunks of 20-60 ms): a burst fits
  // MAX_DECODE_QUEUE bounds the chunks waiting in the video decoder: more,
  // and it skips to the next keyframe. A join's GOP comes in a burst, so
  // this bounds memory; a decoder too slow for the stream is caught by its
  // frames' lateness (SKIP_LATE_S).
  const MAX_DECODE_QUEUE = 150;
  const SKIP_LATE_S = 0.5; // a frame decoded this late: skip to the next keyframe
  const MAX_FRAMES = 30; // decoded frames held at most: the buffer covers no more (Feed._overflow)
  const FALLBACK = 'fallback';

  // placeSound says where on the AudioContext's clock sound of duration s,
  // due at when, is to play, after the sound before it (which ends at end)
  // and not before current (the context's currentTime): {start, offset
  // (the seconds of it cut, when it overlaps what plays or its time has
  // passed), rate (its playbackRate)}. A gap of at most STRETCH_MAX_GAP_S
  // after sound still playing (the buffer grew) is taken up by playing
  // this sound from end, slower (STRETCH_MIN_RATE at least): it ends at
  // its time or nearer it, and the next takes up the rest.
  function placeSound(when, duration, end, current) {
    const floor = Math.max(current, end - 0.002);
    if (when < floor) return { start: floor, offset: floor - when, rate: 1 };
    const gap = when - end;
    if (gap > 0 && end > current && gap <= STRETCH_MAX_GAP_S) {
      return { start: end, offset: 0, rate: Math.max(STRETCH_MIN_RATE, duration / (duration + gap)) };
    }
    return { start: when, offset: 0, rate: 1 };
  }

  // Peak is the largest value of those pushed within the last span ms
  // (a monotonic queue: amortised O(1) a push).
  class Peak {
    constructor(span) {
      this.span = span;
      this.q = []; // [at, v], v decreasing
      this.first = 0; // performance.now() of the oldest value still counted
    }
    push(at, v) {
      const q = this.q;
      while (q.length && q[q.length - 1][1] <= v) q.pop();
      q.push([at, v]);
      if (!this.first) this.first = at;
    }
    max(at) {
      const q = this.q;
      while (q.length && q[0][0] < at - this.span) q.shift();
      if (!q.length) {
        this.first = 0; // the spell is over: the next push starts one
        return -Infinity;
      }
      this.first = Math.max(this.first, at - this.span);
      return q[0][1];
    }
    // covers is how long a spell, up to span, the values counted at at
    // come from (0 when there are none), ms.
    covers(at) {
      return this.max(at) > -Infinity ? at - this.first : 0;
    }
    clear() {
      this.q = [];
      this.first = 0;
    }
  }

  // Jitter is the player's clock: due(ts) = ts / 1e6 + offset, on the
  // player's now() (s); at is the same clock in ms (performance.now()),
  // which its windows run on. Media ready late raises the offset at once
  // (ready); every CUT_EVERY_MS, what it holds beyond the window's largest
  // transit and the cushion of the stalls remembered is cut (cut).
  class Jitter {
    constructor() {
      this.offset = null; // null before the first jump
      this.worst = new Peak(WINDOW_MS); // the transits (plus margins), s
      this.best = new Peak(WINDOW_MS); // and their opposites: -best.max() is the smallest
      this.held = new Peak(HOLD_MS); // the stalls, s
      this.lastCut = 0; // at of the last cut
    }
    due(ts) {
      return ts / 1e6 + this.offset;
    }
    // jump makes media of timestamp ts due JITTER_START_S after now; the
    // transits start over (the stalls are still remembered).
    jump(ts, at) {
      this.offset = at / 1000 + JITTER_START_S - ts / 1e6;
      this.worst.clear();
      this.best.clear();
      this.lastCut = at;
    }
    // ready records that media of timestamp ts was ready at at + lead
    // (lead: the margin it needs, s) and raises the offset by its lateness,
    // at most GROW_MAX_S; it returns the lateness (s, <= 0 when in time).
    ready(ts, lead, at) {
      const late = at / 1000 + lead - this.due(ts);
      const transit = late + this.offset; // = now + lead - ts
      this.worst.push(at, transit);
      this.best.push(at, -transit);
      if (late > 0) this.offset += Math.min(late, GROW_MAX_S);
      return late;
    }
    // stalled remembers that the picture or the sound waited s.
    stalled(s, at) {
      this.held.push(at, Math.min(s, GROW_MAX_S));
    }
    // lower brings the offset down by s, whatever the window's transits
    // need (the player cannot hold more), and returns s.
    lower(s) {
      this.offset -= s;
      return s;
    }
    // cushion is what the offset keeps above the window's largest
    // transit, s.
    cushion(at) {
      return Math.max(0, this.held.max(at));
    }
    // cut brings the offset down to what the window's transits and the
    // cushion need, at most every CUT_EVERY_MS and only on WINDOW_MIN_MS
    // of transits; it returns the seconds cut. While settling (catching up
    // with a jump) nothing is cut.
    cut(at, settling) {
      if (this.offset === null || at - this.lastCut < CUT_EVERY_MS) return 0;
      this.lastCut = at;
      if (settling || this.worst.covers(at) < WINDOW_MIN_MS) return 0;
      const excess = this.offset - this.worst.max(at) - this.cushion(at);
      if (!(excess >= CUT_MIN_S && excess < Infinity)) return 0;
      this.offset -= excess;
      return excess;
    }
    // target is the jitter buffer, s: the offset beyond the quickest
    // transit of the window.
    target(at) {
      const best = -this.best.max(at);
      if (this.offset === null || best === Infinity) return JITTER_START_S;
      return Math.max(0, this.offset - best);
    }
  }

  // Feed is one low-latency subscription: the WebSocket, the demuxer, the
  // decoders, the canvas and the AudioContext. It has the shape of
  // player.js's MSE Feed (report, skip, close, started) plus wc = true, and
  // conf adds onFallback(reason) (play this room with MSE instead),
  // onStall(ms) and onFrame(). It puts a canvas in the video's place and
  // hides the video until it closes.
  class Feed {
    constructor(video, url, scope, conf) {
      this.wc = true;
      this.kind = 'webcodecs';
      this.video = video;
      this.scope = scope;
      this.conf = conf;
      this.closed = false;
      this.started = false;
      this.webm = true;
      this.openedAt = performance.now();
      this.stats = { resyncs: 0, slipMs: 0, frames: 0, shown: 0, dropped: 0, audio: 0, audioPlayed: 0, late: 0, catchups: 0, firstFrameMs: -1, keyAt: -1, tracksAt: -1, decodedAt: -1, drawMs: 0, audioSkipped: 0, growAudioMs: 0, growVideoMs: 0, cutMs: 0, bytes: 0, firstChunk: '', tight: 0, stretchedMs: 0, aheadMs: 0, joinAudio: 0, lastStall: null };
      this.demux = null;
      this.tracks = { video: null, audio: null };
      this.vdec = null;
      this.adec = null;
      this.configured = false; // the decoders are configured
      this.waitKey = true; // the video decoder needs a keyframe next
      this.frames = []; // decoded VideoFrames not yet shown, in order
      this.timer = 0;
      this.ac = null;
      this.gain = null;
      this.audioEnd = 0; // the AudioContext time the last scheduled sound ends
      this.sources = new Set();
      // The sound sent to the decoder, in order (_sent): its timestamps
      // (an AudioData's own may count on from the first one, past the
      // chunks skipped as too late) and when it came.
      this.audioIn = [];
      // And the video chunks, in decoding order (which is the
      // frames' for VP8, VP9 and AV1 as browsers encode them).
      this.videoIn = [];
      // The clock: started at the first keyframe.
      this.jit = new Jitter();
      // Media up to this timestamp (µs) came in a burst (a join's GOP, a
      // catch-up) and is behind the clock by design: it is decoded, as the
      // media after it needs, but its lateness is no stall. Until settled
      // (a frame on time after a jump, or SETTLE_MAX_MS), nothing is.
      this.backlogTo = -1;
      this.settleFrom = 0; // performance.now() of the jump being caught up, or 0
      this.lastDraw = 0; // performance.now() of the last frame drawn
      this.begun = false; // a frame has been handed to the canvas
      // The sound of a join's burst, held until its first picture
      // (_holdAudio): the newest JOIN_AUDIO blocks, or null once it is
      // decoded.
      this.joinAudio = [];
      this.converting = 0; // frames being made ImageBitmaps
      this.drawSeq = 0; // the frames handed to the canvas, counted
      this.shownSeq = 0; // the count of the one on it
      this.toAc = null; // now() to the AudioContext's time at which sound is heard (_toContext), s
      this.renderAhead = new Peak(RENDER_WINDOW_MS); // how far the context renders ahead of what is heard, s
      this.mapPeak = new Peak(MAP_WINDOW_MS); // the readings of now() to the context's time heard, s
      this.newest = -1; // the newest timestamp received, µs
      this.shownTs = -1; // the timestamp of the frame on the canvas, µs

      this.canvas = this._makeCanvas();
      this.ws = amlive.core.openFeedSocket(this, url, (buf) => this._onMedia(buf));
      this._muteListener = () => this._applyMute();
      video.addEventListener('volumechange', this._muteListener);
    }

    // _makeCanvas puts the canvas next to the video, which it hides.
    _makeCanvas() {
      const v = this.video;
      const c = document.createElement('canvas');
      c.className = `${v.className} amlive-canvas`.trim();
      c.setAttribute('role', 'img');
      const room = v.closest('[data-room]');
      c.setAttribute('aria-label', room ? `Live video of ${room.getAttribute('data-room')}` : 'Live video');
      c.width = 640;
      c.height = 360;
      c.dataset.amliveCanvas = '';
      v.after(c);
      v.hidden = true;
      // A frame becomes an ImageBitmap (the conversion off the main
      // thread, where the browser can) that the canvas takes over; a 2D
      // context's drawImage, the fallback, converts on the main thread.
      this.bctx = typeof window.createImageBitmap === 'function' ? c.getContext('bitmaprenderer') : null;
      this.ctx = null;
      if (!this.bctx) {
        this.ctx = c.getContext('2d', { alpha: false });
        this.ctx.fillStyle = '#000';
        this.ctx.fillRect(0, 0, c.width, c.height);
      }
      c.style.background = '#000';
      c.addEventListener('dblclick', () => this.fullscreen());
      // The MSE player's native controls are gone: a full screen button.
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'amlive-button amlive-fullscreen';
      btn.textContent = 'Full screen';
      btn.addEventListener('click', () => this.fullscreen());
      c.after(btn);
      this.fsButton = btn;
      // The button says what it will do: enter or leave full screen.
      this._fsListener = () => {
        btn.textContent = document.fullscreenElement === c.parentElement ? 'Exit full screen' : 'Full screen';
      };
      document.addEventListener('fullscreenchange', this._fsListener);
      // Sound: the player's own Unmute/Mute toggle sets video.muted, which
      // the gain follows (_applyMute).
      return c;
    }

    // fullscreen toggles full screen on the video's container.
    fullscreen() {
      const box = this.canvas.parentElement;
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      else if (box && box.requestFullscreen) box.requestFullscreen().catch(() => {});
    }

    report(msg) {
      return amlive.core.sendOnFeed(this, msg);
    }

    hasMediaSource() {
      return Boolean(this.demux);
    }

    // openMediaSource starts demuxing for the hello's type: WebM only (MP4
    // rooms play with MSE).
    openMediaSource(mime) {
      if (!/^\s*(video|audio)\/webm\b/i.test(mime || '')) {
        this._fallback(`the stream is ${mime || 'of no type'}, not WebM`);
        return true;
      }
      this.demux = new WebMDemuxer(
        (tracks) => this._onTracks(tracks),
        (block) => this._onBlock(block),
      );
      return true;
    }

    // quality is the frames decoded and dropped, as getVideoPlaybackQuality
    // names them.
    quality() {
      return { totalVideoFrames: this.stats.frames, droppedVideoFrames: this.stats.dropped };
    }

    // ahead is how far behind the newest media received the picture is, s.
    ahead() {
      return this.newest >= 0 && this.shownTs >= 0 ? Math.max(0, (this.newest - this.shownTs) / 1e6) : 0;
    }

    // currentTime is the media time on screen, s (the MSE video's currentTime).
    currentTime() {
      return this.shownTs >= 0 ? this.shownTs / 1e6 : 0;
    }

    // target is the jitter buffer, s: the offset beyond the quickest
    // transit of the window.
    target() {
      return this.jit.target(performance.now());
    }

    _onMedia(buf) {
      if (!this.demux) return;
      this.stats.bytes += buf.byteLength;
      try {
        this.demux.push(buf);
      } catch (e) {
        this._fallback(`the stream could not be read (${e.message})`);
      }
    }

    _onTracks(tracks) {
      if (this.configured) return; // after a skip: the same tracks again
      this.tracks.video = tracks.find((t) => t.type === 'video') || null;
      this.tracks.audio = tracks.find((t) => t.type === 'audio') || null;
      this.stats.tracksAt = performance.now() - this.openedAt;
      try {
        this._configure();
      } catch (e) {
        this._fallback(e.message || String(e));
      }
    }

    // _configure sets the decoders up at once, so that the join's keyframe
    // decodes without waiting; isConfigSupported answers meanwhile, and a
    // no sends the room back to MSE (so does the decoder's error callback).
    _configure() {
      const { video, audio } = this.tracks;
      const vc = video ? videoConfig(video) : null;
      const ac = audio ? audioConfig(audio) : null;
      if (video && !vc) throw new Error(`no WebCodecs codec for ${video.codecId}`);
      if (audio && !ac) throw new Error(`no WebCodecs codec for ${audio.codecId}`);
      const check = (D, c, tr) =>
        D.isConfigSupported(c).then(
          (r) => {
            if (!r.supported) this._fallback(`this browser’s ${D.name} cannot decode ${tr.codecId}`);
          },
          (e) => this._fallback(`${D.name}.isConfigSupported: ${e.message}`),
        );
      if (vc) check(VideoDecoder, vc, video);
      if (ac) check(AudioDecoder, ac, audio);
      if (vc) {
        this.vdec = new VideoDecoder({ output: (f) => this._onFrame(f), error: (e) => this._fallback(`video decoder: ${e.message}`) });
        this.vdec.configure(vc);
        if (video.width && video.height) this._size(video.width, video.height);
      }
      if (ac) {
        this.adec = new AudioDecoder({ output: (d) => this._onAudio(d), error: (e) => this._fallback(`audio decoder: ${e.message}`) });
        this.adec.configure(ac);
        this._openAudio(ac.sampleRate);
      }
      this.configured = true;
    }

    _size(w, h) {
      const c = this.canvas;
      if (c.width !== w || c.height !== h) {
        c.width = w;
        c.height = h;
      }
    }

    // _openAudio makes the AudioContext; without a user gesture it stays
    // suspended (the autoplay policy), and the wall clock runs meanwhile.
    _openAudio(rate) {
      const AC = window.AudioContext || window.webkitAudioContext;
      try {
        this.ac = new AC({ latencyHint: 'interactive', sampleRate: rate });
      } catch (e) {
        this.ac = new AC({ latencyHint: 'interactive' });
      }
      this.gain = this.ac.createGain();
      this.gain.connect(this.ac.destination);
      this._applyMute();
      this.ac.addEventListener('statechange', () => {
        // Suspended or resumed, its time stood still meanwhile: the
        // readings of its clock start over.
        this.mapPeak.clear();
        this.toAc = null;
        this._applyMute();
      });
    }

    _applyMute() {
      if (!this.gain) return;
      const on = !this.video.muted && this.ac.state === 'running';
      this.gain.gain.value = on ? this.video.volume : 0;
    }

    // play resumes the AudioContext (in a user gesture it may); while it
    // cannot run, the sound is off and the engine offers to unmute.
    async play() {
      if (!this.ac) return 'ok';
      if (this.ac.state !== 'running') {
        await Promise.race([this.ac.resume().catch(() => {}), new Promise((r) => setTimeout(r, 300))]);
      }
      if (this.closed) return 'ok';
      if (this.ac.state !== 'running') {
        // Not the viewer's choice: the engine mutes without remembering
        // it, and its button offers to unmute.
        this.conf.onMuted(true);
      }
      this._applyMute();
      return 'ok';
    }

    // now is the player's clock, s: the page's (Jitter is given it in ms,
    // as performance.now()). The picture is shown on it, and the sound
    // scheduled on the AudioContext to be heard at the same time
    // (_toContext): neither waits for the other, and a sound
    // output whose clock falls behind (a starved machine, a device that
    // stalls) costs sound skipped, not a picture that falls behind with it.
    now() {
      return performance.now() / 1000;
    }

    // _toContext is what turns a time on now() into the AudioContext's time
    // that is heard then: from the context's output timestamp (the context
    // time being heard, and when), or its current time less its output
    // latency where it has none, read at t (performance.now()). A change
    // past CLOCK_SLIP_S is a resync (stats.resyncs, stats.slipMs); a
    // smaller one is slewed.
    _toContext(t) {
      const ac = this.ac;
      const now = t / 1000;
      const o = typeof ac.getOutputTimestamp === 'function' ? ac.getOutputTimestamp() : null;
      // An output timestamp is used where it is one: heard up to 1 s before
      // now, of a context time up to 1 s before the current one (WebKitGTK's
      // is on another clock).
      const sane = (x) => x && x.performanceTime > 0 && x.contextTime > 0 && Math.abs(now - x.performanceTime / 1000) < 1 && ac.currentTime - x.contextTime >= 0 && ac.currentTime - x.contextTime < 1;
      const raw = sane(o) ? o.contextTime - o.performanceTime / 1000 : ac.currentTime - (ac.outputLatency || ac.baseLatency || 0) - now;
      // The context's time moves in steps (a render quantum, or Firefox's
      // callbacks: its output timestamps spread over 30 ms), each reading
      // is behind the true difference by up to a step: the largest of the
      // last MAP_WINDOW_MS is it.
      this.mapPeak.push(t, raw);
      const m = this.mapPeak.max(t);
      const d = m - (this.toAc === null ? m : this.toAc);
      if (this.toAc === null || Math.abs(d) > CLOCK_SLIP_S) {
        if (this.toAc !== null) {
          this.stats.resyncs++;
          this.stats.slipMs += Math.abs(d) * 1000;
        }
        this.toAc = m;
      } else if (Math.abs(d) > CLOCK_DEAD_S) {
        this.toAc += Math.sign(d) * Math.min(Math.abs(d) - CLOCK_DEAD_S, CLOCK_SLEW_S);
      }
      return this.toAc;
    }

    // due is when media of timestamp ts (µs) is to be shown or heard, on now().
    due(ts) {
      return this.jit.due(ts);
    }

    // _jump makes media of timestamp ts due JITTER_START_S from now; what
    // came before it is backlog, and the transits start over.
    _jump(ts) {
      this.jit.jump(ts, performance.now());
      this.backlogTo = Math.max(this.backlogTo, ts);
      this.settleFrom = performance.now();
    }

    // _settling reports whether the feed is still catching up with a jump.
    _settling() {
      if (this.settleFrom && performance.now() - this.settleFrom > SETTLE_MAX_MS) this.settleFrom = 0;
      return this.settleFrom !== 0;
    }

    // _ready records that media of timestamp ts was ready at now() + lead
    // (lead: the margin it needs), and raises the offset at once if it
    // was late: by the lateness, at most GROW_MAX_S. It returns the
    // lateness (s, <= 0 when in time), or 0 for backlog.
    _ready(ts, lead) {
      if (ts <= this.backlogTo || this._settling()) return 0;
      return this.jit.ready(ts, lead, performance.now());
    }

    // _cut brings the offset down to what the window's transits and the
    // stalls remembered need, every CUT_EVERY_MS: the excess is delay for
    // nothing (a join's GOP, the end of a stall). The frames it passes are
    // dropped, the sound cut.
    _cut() {
      this.stats.cutMs += this.jit.cut(performance.now(), this._settling()) * 1000;
    }

    _onBlock(b) {
      if (this.closed) return;
      if (!this.configured) return;
      const { video, audio } = this.tracks;
      const isVideo = video && b.track === video.number;
      const isAudio = audio && b.track === audio.number;
      if (!isVideo && !isAudio) return;
      if (b.timestamp > this.newest) this.newest = b.timestamp;
      if (isVideo && this.waitKey) {
        if (!b.key) return;
        this.waitKey = false;
        if (this.stats.keyAt < 0) this.stats.keyAt = performance.now() - this.openedAt;
      }
      if (this.jit.offset === null) {
        if (!isVideo && video) return; // start with the video's keyframe
        this._jump(b.timestamp);
      }
      // Far behind the live edge (a backlog): media due well past the
      // buffer. Or far too late (a network hole): start over at it.
      const early = this.due(b.timestamp) - this.now();
      if (early > this.target() + AHEAD_JUMP_S || early < -LATE_JUMP_S) {
        this._jump(b.timestamp);
        if (this.started) this.stats.catchups++;
      }
      try {
        if (isVideo) this._decodeVideo(b);
        else if (!this._holdAudio(b)) this._decodeAudio(b);
      } catch (e) {
        this._fallback(`decoding failed (${e.message})`);
      }
    }

    // _holdAudio keeps the sound of a join's burst from the decoders until
    // the first picture, and reports whether it did. The clock then jumps
    // to the newest media (_onFrame), and the sound before it would be too
    // late to be heard: decoding it (a GOP's worth: 34 to 39 blocks in
    // the tests here, more than the audio decoder's queue holds) would
    // only compete with the picture's decoding and its output for the
    // page's threads. The newest JOIN_AUDIO blocks are kept for after the
    // jump, where the buffer's start may still hear them.
    _holdAudio(b) {
      if (!this.joinAudio || !this.tracks.video) return false;
      this.stats.joinAudio++;
      this.joinAudio.push(b);
      if (this.joinAudio.length > JOIN_AUDIO) this.joinAudio.shift();
      return true;
    }

    // _releaseAudio decodes the sound held for the join, as far as it is
    // still in time, and stops holding.
    _releaseAudio() {
      const held = this.joinAudio;
      if (!held) return;
      this.joinAudio = null;
      for (const b of held) this._decodeAudio(b);
    }

    _decodeVideo(b) {
      const d = this.vdec;
      if (d.decodeQueueSize > MAX_DECODE_QUEUE && !b.key) {
        // The decoder cannot keep up: drop everything up to the next keyframe.
        this.stats.dropped++;
        this._skipToKey();
        return;
      }
      const type = b.key ? 'key' : 'delta';
      if (!this.stats.firstChunk) this.stats.firstChunk = type; // the join's first decoded chunk
      this.videoIn.push(this._sent(b.timestamp));
      if (this.videoIn.length > MAX_DECODE_QUEUE * 2) this.videoIn.shift(); // chunks it never gave frames of
      d.decode(new EncodedVideoChunk({ type, timestamp: b.timestamp, data: b.data }));
    }

    _decodeAudio(b) {
      if (!this.ac || this.ac.state !== 'running') return; // nothing would play it
      const early = this.due(b.timestamp) - this.now();
      if (early < -GROW_MAX_S) return; // too late to be heard
      if (early < AUDIO_MARGIN_S && (b.timestamp <= this.backlogTo || this._settling())) return; // a burst's, too late
      if (this.adec.decodeQueueSize >= MAX_AUDIO_QUEUE) {
        // The decoder is behind (a starved machine): a gap in the sound
        // rather than a backlog that the buffer would have to wait for.
        this.stats.audioSkipped++;
        return;
      }
      this.audioIn.push(this._sent(b.timestamp));
      this.adec.decode(new EncodedAudioChunk({ type: 'key', timestamp: b.timestamp, data: b.data }));
    }

    // _onAudio schedules decoded sound at its time on the AudioContext's
    // clock; sound whose time has passed is cut, and sound that would
    // overlap the previous (the buffer shrank) starts where it ends.
    _onAudio(d) {
      if (this.closed || !this.ac || this.jit.offset === null) {
        d.close();
        return;
      }
      this.stats.audio++;
      const ac = this.ac;
      const buf = ac.createBuffer(d.numberOfChannels, d.numberOfFrames, d.sampleRate);
      for (let ch = 0; ch < d.numberOfChannels; ch++) {
        const plane = new Float32Array(d.numberOfFrames);
        d.copyTo(plane, { planeIndex: ch, format: 'f32-planar' });
        buf.copyToChannel(plane, ch);
      }
      const t = performance.now();
      const toAc = this._toContext(t);
      const sent = this.audioIn.shift();
      const ts = sent ? sent.ts : d.timestamp;
      d.close();
      // The context renders ahead of what is heard (its output latency:
      // tens of ms, a Bluetooth headset's 150 ms or more). The sound may be
      // heard up to AV_SLACK_S after its picture; beyond that, the picture
      // waits for it: sound must be ready that much earlier than its time,
      // plus the margin. How far ahead moves with the render quanta, so it
      // is taken as the most of the last RENDER_WINDOW_MS.
      this.renderAhead.push(t, Math.max(0, ac.currentTime - (t / 1000 + toAc)));
      const ahead = this.renderAhead.max(t);
      const slack = Math.min(ahead, AV_SLACK_S);
      const lead = AUDIO_MARGIN_S + ahead - slack;
      this.stats.aheadMs = Math.max(this.stats.aheadMs, ahead * 1000);
      // Sound decoded with less than AUDIO_MARGIN_S to spare raises the
      // offset, so that it, the sound after it and the picture with them
      // keep the margin. Sound decoded after its time (later than the
      // margin) is a stall: it is heard late, after a gap. Sound still in
      // time is none: the gap the raise leaves is stretched away below.
      const late = this._ready(ts, lead);
      if (late > 0) {
        this.stats.growAudioMs += Math.min(late, GROW_MAX_S) * 1000;
        if (late <= AUDIO_MARGIN_S) this.stats.tight++;
        else if (this.started && this.stats.audioPlayed) this._stall('audio', Math.min(late - AUDIO_MARGIN_S, GROW_MAX_S) * 1000, sent, t);
      }
      this._cut();
      const { start, offset, rate } = placeSound(this.due(ts) + slack + toAc, buf.duration, this.audioEnd, ac.currentTime);
      if (offset >= buf.duration) return;
      if (rate !== 1) this.stats.stretchedMs += (buf.duration / rate - buf.duration) * 1000;
      const src = ac.createBufferSource();
      src.buffer = buf;
      src.playbackRate.value = rate;
      src.connect(this.gain);
      src.start(start, offset);
      this.audioEnd = start + (buf.duration - offset) / rate;
      this.stats.audioPlayed++;
      this.sources.add(src);
      src.onended = () => this.sources.delete(src);
    }

    _onFrame(f) {
      if (this.closed) {
        f.close();
        return;
      }
      this.stats.frames++;
      const sent = this._videoSent(f.timestamp);
      if (this.stats.decodedAt < 0) this.stats.decodedAt = performance.now() - this.openedAt;
      if (!this.begun && this.newest > f.timestamp) {
        // The join's first picture, shown at once; the GOP after it came in
        // a burst (while the decoder started): the clock goes to the newest
        // media, and the frames before it are backlog.
        this._jump(this.newest);
      }
      this._releaseAudio();
      if (this._settling() && f.timestamp > this.backlogTo && this.now() + VIDEO_MARGIN_S <= this.due(f.timestamp)) {
        this.settleFrom = 0; // caught up: a frame after the backlog, in time
      }
      const late = this._ready(f.timestamp, VIDEO_MARGIN_S) - VIDEO_MARGIN_S;
      if (this.started && late > SKIP_LATE_S && !this.frames.length) {
        // Far behind (the decoder or the page was starved): show this one,
        // then skip to the next keyframe.
        this._draw(f);
        this._skipToKey();
        return;
      }
      if (late > 0) {
        // Late (the offset has grown by it: the picture waited).
        this.stats.growVideoMs += Math.min(late + VIDEO_MARGIN_S, GROW_MAX_S) * 1000;
        if (this.started && late > LATE_S && !this.frames.length) this._stall('video', late * 1000, sent, performance.now());
      }
      this.frames.push(f);
      if (this.frames.length > MAX_FRAMES) this._overflow();
      this._pump();
    }

    // _overflow: more frames wait than MAX_FRAMES, so the buffer is longer
    // than the frames held cover (a burst of stalls grew it past a second
    // at 30 frames a second). Dropping the oldest, the one due next, would
    // drop every frame before its time and freeze the picture until the
    // buffer came down; instead the clock comes forward (Jitter.lower) so
    // that the oldest is due now: the buffer is what the frames held cover.
    _overflow() {
      const early = this.due(this.frames[0].timestamp) - this.now();
      if (early > 0) {
        this.stats.cutMs += this.jit.lower(early) * 1000;
        return;
      }
      this.frames.shift().close(); // due already: _pump would drop it
      this.stats.dropped++;
    }

    // _sent is what a chunk of timestamp ts sent to a decoder now is
    // remembered by: {ts, at (performance.now()), early (how long before
    // its time it came, s; below 0, late)}.
    _sent(ts) {
      return { ts, at: performance.now(), early: this.due(ts) - this.now() };
    }

    // _videoSent returns the video chunk of timestamp ts sent to the
    // decoder (_sent), forgetting those before it, or undefined.
    _videoSent(ts) {
      const q = this.videoIn;
      while (q.length && q[0].ts < ts) q.shift();
      return q.length && q[0].ts === ts ? q.shift() : undefined;
    }

    // _stall counts a stall: kind ('audio' or 'video') came ms late, and
    // the picture or the sound waited that long. sent is the chunk as it
    // came (_sent, where known) and t when it was decoded: stats.lastStall
    // tells where the time went, {kind, ms, earlyMs (how long before its
    // time the chunk came: below 0, it came late), decodeMs (from its
    // coming to its decoded output)}.
    _stall(kind, ms, sent, t) {
      this.stats.late++;
      this.stats.lastStall = { kind, ms };
      if (sent) {
        this.stats.lastStall.earlyMs = sent.early * 1000;
        this.stats.lastStall.decodeMs = t - sent.at;
      }
      this.jit.stalled(ms / 1000, performance.now());
      this.conf.onStall(ms);
    }

    // _skipToKey catches up with live: the video decoder drops its backlog
    // and the frames waiting to be shown, and starts again at the next
    // keyframe (the last picture stays on the canvas meanwhile).
    _skipToKey() {
      if (this.waitKey) return;
      this.waitKey = true;
      this.stats.catchups++;
      const d = this.vdec;
      this.stats.dropped += d.decodeQueueSize + this.frames.length;
      d.reset();
      d.configure(videoConfig(this.tracks.video));
      for (const f of this.frames) f.close();
      this.frames = [];
      this.videoIn = [];
    }

    // _pump shows the newest frame that is due, dropping older ones, and
    // sets a timer for the next.
    _pump() {
      this.scope.clearTimeout(this.timer);
      this.timer = 0;
      if (this.closed || !this.frames.length) return;
      const now = this.now();
      const fs = this.frames;
      while (fs.length > 1 && this.due(fs[1].timestamp) <= now) {
        fs.shift().close();
        this.stats.dropped++;
      }
      const wait = this.due(fs[0].timestamp) - now;
      const behind = fs[0].timestamp <= this.backlogTo || this._settling();
      if (this.begun && behind && wait < 0 && fs.length === 1 && this.vdec.decodeQueueSize > 0 && performance.now() - this.lastDraw < CATCHUP_DRAW_MS) {
        // Catching up: the decoder has newer frames coming, and drawing
        // this one would only hold them up.
        fs.shift().close();
        this.stats.dropped++;
        return;
      }
      if (wait <= 0.002 || !this.begun) {
        this._draw(fs.shift());
        if (!fs.length) return;
      }
      this.timer = this.scope.timeout(() => this._pump(), Math.max(1, (this.due(fs[0].timestamp) - this.now()) * 1000));
      this._cut();
    }

    _draw(f) {
      this._size(f.displayWidth, f.displayHeight);
      const t0 = performance.now();
      this.lastDraw = t0;
      this.begun = true;
      const ts = f.timestamp;
      if (!this.bctx) {
        this.ctx.drawImage(f, 0, 0, this.canvas.width, this.canvas.height);
        f.close();
        this._shown(ts, t0);
        return;
      }
      if (this.converting >= MAX_CONVERTING) {
        // The conversions lag: this frame would only come later still.
        f.close();
        this.stats.dropped++;
        return;
      }
      this.converting++;
      const seq = ++this.drawSeq;
      createImageBitmap(f)
        .then(
          (bmp) => {
            if (this.closed || seq < this.shownSeq) {
              bmp.close();
              return;
            }
            this.shownSeq = seq;
            this.bctx.transferFromImageBitmap(bmp);
            this._shown(ts, t0);
          },
          (e) => this._fallback(`a frame could not be drawn (${e.message})`),
        )
        .finally(() => {
          this.converting--;
          f.close();
        });
    }

    // _shown: the frame of timestamp ts, drawn from t0, is on the canvas.
    _shown(ts, t0) {
      const t = performance.now();
      this.stats.drawMs = Math.max(this.stats.drawMs, t - t0);
      this.shownTs = ts;
      this.stats.shown++;
      if (!this.started) {
        this.started = true;
        this.stats.firstFrameMs = performance.now() - this.openedAt;
        this.canvas.dataset.firstFrameMs = String(Math.round(this.stats.firstFrameMs));
        this.conf.onFirstMedia();
      }
      this.canvas.dispatchEvent(new CustomEvent('amlive:frame', { bubbles: true, detail: { timestamp: this.shownTs } }));
    }

    // skip: the server dropped data; the init segment comes again, then a
    // keyframe Cluster. The decoders keep their configuration.
    skip() {
      if (!this.demux) return;
      this.demux = new WebMDemuxer(
        (tracks) => this._onTracks(tracks),
        (block) => this._onBlock(block),
      );
      this.waitKey = true;
    }

    resetEdge() {}

    evict() {
      return false;
    }

    _fallback(reason) {
      if (this.closed || this.fell) return;
      this.fell = true;
      console.info(`amlive: WebCodecs playback unavailable, using Media Source Extensions: ${reason}`);
      this.scope.timeout(() => {
        if (!this.closed) this.conf.onFallback(reason);
      }, 0);
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      this.scope.clearTimeout(this.timer);
      const ws = this.ws;
      if (ws) {
        ws.onmessage = null;
        ws.onclose = null;
        if (ws.readyState <= WebSocket.OPEN) ws.close(codes.Normal);
      }
      for (const d of [this.vdec, this.adec]) {
        if (d && d.state !== 'closed') {
          try {
            d.close();
          } catch (e) {
            /* closing anyway */
          }
        }
      }
      for (const f of this.frames) f.close();
      this.frames = [];
      for (const s of this.sources) {
        try {
          s.stop();
        } catch (e) {
          /* done already */
        }
      }
      this.sources.clear();
      if (this.ac) this.ac.close().catch(() => {});
      this.video.removeEventListener('volumechange', this._muteListener);
      document.removeEventListener('fullscreenchange', this._fsListener);
      if (document.fullscreenElement === this.canvas.parentElement) document.exitFullscreen().catch(() => {});
      this.canvas.remove();
      this.fsButton.remove();
      this.video.hidden = false;
    }
  }

  amlive.webcodecs = Object.freeze({ available, WebMDemuxer, Feed, Peak, Jitter, placeSound, FALLBACK });
})();
