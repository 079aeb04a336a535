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
// amlive.webcodecs = {available(), WebMDemuxer, Feed}.
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

  // audioConfig is the AudioDecoderConfig for a WebM audio track, or null.
  function audioConfig(tr) {
    const c = { sampleRate: tr.sampleRate || 48000, numberOfChannels: tr.channels || 1 };
    if (tr.codecId === 'A_OPUS') return { ...c, codec: 'opus', description: tr.codecPrivate || undefined };
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

  const JITTER_START_S = 0.05; // the jitter buffer at the start
  const JITTER_MIN_S = 0.02; // it never shrinks below this
  const JITTER_MAX_S = 1; // nor grows above this
  const LATE_S = 0.005; // a frame decoded later than its time by this is a stall
  const GROW_MAX_S = 0.2; // one stall grows the buffer by at most this
  const SHRINK_EVERY_MS = 2000; // a steady spell this long…
  const SHRINK_STEP_S = 0.005; // …takes at least this off the buffer, if the margin allows
  const SHRINK_MARGIN_S = 0.015; // the spare time kept before a frame is due
  const AHEAD_JUMP_S = 0.3; // media due further ahead than buffer + this: catch up
  const LATE_JUMP_S = 1; // media later than this: start over from it, not a huge buffer
  const AUDIO_MARGIN_S = 0.01; // decoded sound is to start at least this long after the AudioContext's clock
  const MAX_AUDIO_QUEUE = 4; // sound waiting to be decoded at most (Opus chunks of 20-60 ms)
  const MAX_DECODE_QUEUE = 10; // the video decoder this far behind (chunks): skip to the next keyframe
  const SKIP_LATE_S = 0.5; // a frame decoded this late: skip to the next keyframe
  const MAX_FRAMES = 30; // decoded frames held at most
  const FALLBACK = 'fallback';

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
      this.stats = { frames: 0, shown: 0, dropped: 0, audio: 0, audioPlayed: 0, late: 0, catchups: 0, firstFrameMs: -1, keyAt: -1, tracksAt: -1, decodedAt: -1, drawMs: 0, audioSkipped: 0, growAudioMs: 0, growVideoMs: 0, bytes: 0, firstChunk: '' };
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
      // The timestamps of the sound sent to the decoder, in order: an
      // AudioData's own may count on from the first one, past the chunks
      // skipped as too late.
      this.audioTs = [];
      // The clock: due(ts) = ts / 1e6 - base.media + base.clock, on now().
      this.base = null;
      this.jitter = JITTER_START_S;
      this.stallFrom = 0; // now() when the current stall began, or 0
      this.lastShrink = 0; // performance.now() of the last shrink or growth
      this.slack = Infinity; // the smallest spare time of a frame since then, s
      this.clockSrc = '';
      this.clockOff = { wall: 0, audio: 0 };
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
      this.ctx = c.getContext('2d', { alpha: false });
      this.ctx.fillStyle = '#000';
      this.ctx.fillRect(0, 0, c.width, c.height);
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

    // target is the jitter buffer, s.
    target() {
      return this.jitter;
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
      this.ac.addEventListener('statechange', () => this._applyMute());
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

    // now is the player's clock, s: the AudioContext's while it runs (the
    // audio is the master; less its output latency, so that the picture
    // waits for the sound it goes with), else performance.now(). A change of
    // source keeps it continuous.
    now() {
      const running = this.ac && this.ac.state === 'running';
      const src = running ? 'audio' : 'wall';
      const raw = (s) => (s === 'audio' ? this.ac.currentTime - (this.ac.outputLatency || this.ac.baseLatency || 0) : performance.now() / 1000);
      if (src !== this.clockSrc) {
        if (this.clockSrc) this.clockOff[src] = raw(this.clockSrc) + this.clockOff[this.clockSrc] - raw(src);
        this.clockSrc = src;
      }
      return raw(src) + this.clockOff[src];
    }

    // due is when media of timestamp ts (µs) is to be shown or heard, on now().
    due(ts) {
      return ts / 1e6 - this.base.media + this.base.clock;
    }

    // _rebase makes ts due the jitter buffer from now.
    _rebase(ts) {
      this.base = { media: ts / 1e6, clock: this.now() + this.jitter };
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
      if (!this.base) {
        if (!isVideo && video) return; // start with the video's keyframe
        this._rebase(b.timestamp);
      }
      // Far behind the live edge (a join's burst, a backlog): media due well
      // past the buffer. Or far too late (a network hole): start over at it.
      const early = this.due(b.timestamp) - this.now();
      if (early > this.jitter + AHEAD_JUMP_S || early < -LATE_JUMP_S) {
        this._rebase(b.timestamp);
        if (this.started) this.stats.catchups++;
      }
      try {
        if (isVideo) this._decodeVideo(b);
        else this._decodeAudio(b);
      } catch (e) {
        this._fallback(`decoding failed (${e.message})`);
      }
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
      d.decode(new EncodedVideoChunk({ type, timestamp: b.timestamp, data: b.data }));
    }

    _decodeAudio(b) {
      if (!this.ac || this.ac.state !== 'running') return; // nothing would play it
      if (this.due(b.timestamp) < this.now() - GROW_MAX_S) return; // too late to be heard
      if (this.adec.decodeQueueSize >= MAX_AUDIO_QUEUE) {
        // The decoder is behind (a starved machine): a gap in the sound
        // rather than a backlog that the buffer would have to wait for.
        this.stats.audioSkipped++;
        return;
      }
      this.audioTs.push(b.timestamp);
      this.adec.decode(new EncodedAudioChunk({ type: 'key', timestamp: b.timestamp, data: b.data }));
    }

    // _onAudio schedules decoded sound at its time on the AudioContext's
    // clock; sound whose time has passed is cut, and sound that would
    // overlap the previous (the buffer shrank) starts where it ends.
    _onAudio(d) {
      if (this.closed || !this.ac || !this.base) {
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
      const toAc = -this.clockOff.audio + (ac.outputLatency || ac.baseLatency || 0); // now() to ac.currentTime
      const ts = this.audioTs.length ? this.audioTs.shift() : d.timestamp;
      let when = this.due(ts) + toAc;
      d.close();
      // Sound decoded too late to be heard in time is a stall of the master
      // clock: the buffer grows so that it, the sound after it and the
      // picture with them are in time.
      const late = ac.currentTime + AUDIO_MARGIN_S - when;
      if (late > 0 && late < LATE_JUMP_S && this.jitter < JITTER_MAX_S) {
        const grow = Math.min(late, GROW_MAX_S, JITTER_MAX_S - this.jitter);
        this.jitter += grow;
        this.base.clock += grow;
        this.stats.growAudioMs += grow * 1000;
        when += grow;
        this._calmFromNow();
        if (this.started && this.stats.audioPlayed) {
          this.stats.late++;
          this.conf.onStall(grow * 1000);
        }
      } else if (late <= 0) {
        this.slack = Math.min(this.slack, -late + SHRINK_MARGIN_S);
      }
      let start = when;
      let offset = 0;
      const floor = Math.max(ac.currentTime, this.audioEnd - 0.002);
      if (start < floor) {
        offset = floor - start;
        start = floor;
      }
      if (offset >= buf.duration) return;
      const src = ac.createBufferSource();
      src.buffer = buf;
      src.connect(this.gain);
      src.start(start, offset);
      this.audioEnd = start + buf.duration - offset;
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
      if (this.stats.decodedAt < 0) this.stats.decodedAt = performance.now() - this.openedAt;
      const now = this.now();
      const late = now - this.due(f.timestamp);
      if (this.started && late > Math.max(SKIP_LATE_S, this.jitter) && !this.frames.length) {
        // Far behind (the decoder or the page was starved): show this one,
        // then skip to the next keyframe.
        this._draw(f);
        this._skipToKey();
        return;
      }
      if (!this.started || late <= LATE_S) {
        this.slack = Math.min(this.slack, -late);
        if (this.stallFrom) this._endStall(now);
      } else if (this.frames.length === 0 && late < LATE_JUMP_S) {
        // Nothing else to show and this frame is late: a stall. The buffer
        // grows by the lateness (the picture waits), and that is the stall.
        if (!this.stallFrom) {
          this.stallFrom = now - late;
          this.stats.late++;
        }
        const grow = Math.min(late, GROW_MAX_S, JITTER_MAX_S - this.jitter);
        if (grow > 0) {
          this.stats.growVideoMs += grow * 1000;
          this.jitter += grow;
          this.base.clock += grow;
        }
        this._calmFromNow();
      }
      this.frames.push(f);
      if (this.frames.length > MAX_FRAMES) {
        this.frames.shift().close();
        this.stats.dropped++;
      }
      this._pump();
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
    }

    _endStall(now) {
      const ms = (now - this.stallFrom) * 1000;
      this.stallFrom = 0;
      if (this.started) this.conf.onStall(ms);
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
      if (wait <= 0.002 || !this.started) {
        this._draw(fs.shift());
        if (!fs.length) return;
      }
      this.timer = this.scope.timeout(() => this._pump(), Math.max(1, (this.due(fs[0].timestamp) - this.now()) * 1000));
      this._shrink();
    }

    _draw(f) {
      this._size(f.displayWidth, f.displayHeight);
      const t0 = performance.now();
      this.ctx.drawImage(f, 0, 0, this.canvas.width, this.canvas.height);
      this.stats.drawMs = Math.max(this.stats.drawMs, performance.now() - t0);
      this.shownTs = f.timestamp;
      f.close();
      this.stats.shown++;
      if (!this.started) {
        this.started = true;
        this.stats.firstFrameMs = performance.now() - this.openedAt;
        this.canvas.dataset.firstFrameMs = String(Math.round(this.stats.firstFrameMs));
        this.conf.onFirstMedia();
      }
      this.canvas.dispatchEvent(new CustomEvent('amlive:frame', { bubbles: true, detail: { timestamp: this.shownTs } }));
    }

    // _calmFromNow restarts the steady spell after the buffer grew.
    _calmFromNow() {
      this.lastShrink = performance.now();
      this.slack = Infinity;
    }

    // _shrink takes a step off the jitter buffer after a steady spell, if
    // every frame of it was decoded with time to spare.
    _shrink() {
      const t = performance.now();
      if (!this.lastShrink) this.lastShrink = t;
      if (t - this.lastShrink < SHRINK_EVERY_MS) return;
      this.lastShrink = t;
      const spare = this.slack - SHRINK_MARGIN_S;
      this.slack = Infinity;
      if (this.stallFrom || spare <= 0 || this.jitter <= JITTER_MIN_S) return;
      // A step of 5 ms, or a tenth of the excess after a big stall: a second
      // of buffer comes down in about half a minute of calm.
      const step = Math.min(Math.max(SHRINK_STEP_S, (this.jitter - JITTER_MIN_S) / 10), spare / 2, this.jitter - JITTER_MIN_S);
      this.jitter -= step;
      this.base.clock -= step;
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

  amlive.webcodecs = Object.freeze({ available, WebMDemuxer, Feed, FALLBACK });
})();
