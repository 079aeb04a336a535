// amlive broadcaster: captures camera + microphone with MediaRecorder (WebM, or
// fragmented MP4 where the browser records no WebM: Safari) and uploads the
// chunks over a WebSocket to {base}/{room}/upload?mime=<the recorder's type>.
// Needs protocol.js and core.js first (the head partial loads them in order).
//
// Markup (the "amlive-broadcaster" partial):
//   <div data-amlive-broadcaster data-base="/live" data-room="alice">
//     <video data-amlive-preview muted playsinline></video>
//     <button data-amlive-start>  <button data-amlive-stop>
//     <span data-amlive-viewers></span>  <p data-amlive-status role="status"></p>
//     <p data-amlive-audience aria-live="polite"></p>  <p data-amlive-health aria-live="polite"></p>
//     <input data-amlive-title-input>  <textarea data-amlive-description-input></textarea>
//     <p data-amlive-meta-status aria-live="polite"></p>
//     <button data-amlive-camera-toggle>  <select data-amlive-camera>
//     <select data-amlive-microphone>  <select data-amlive-resolution>
//     <meter data-amlive-level>
//   </div>
// Before going live: the preview shows the camera as soon as the person
// allows it: at once when the permission was already granted (the
// Permissions API says so; not with data-preview="click"), else when
// "Start camera" (data-amlive-camera-toggle, which also turns it off) or
// "Go live" is pressed. Once allowed, the camera and microphone pickers
// list the devices; the choice is remembered in localStorage
// (amlive.camera, amlive.microphone: deviceIds; amlive.resolution), and
// a remembered device that is gone falls back to the browser's choice.
// Changing a picker restarts the preview with that device; while live
// the pickers are disabled (MediaRecorder cannot change its tracks), so
// a broadcast keeps the devices it started with. "Go live" publishes the
// preview's stream. The level meter shows the microphone's peak level
// (Web Audio, 10 times a second), before and while live. The resolution
// picker's options (data-width, data-height) are the sizes the site
// allows; data-max-width, data-max-height and data-max-fps bound the
// camera (getUserMedia max constraints, relaxed to ideal ones where the
// camera cannot meet them), data-video-bps and data-audio-bps are
// MediaRecorder's bitrates (the partial renders Config.Capture into them).
// The audience line summarises the viewers' experience reports ("14 watching,
// median delay 0.6 s, 1 stalling"); the health line is the upload's own: bytes
// handed to the socket per second, bytes sent but not yet acknowledged by the
// server and the age of the oldest of them, and the reconnects so far.
// Optional attributes: data-mime, data-reach, data-video-bps, data-audio-bps,
// data-max-width, data-max-height, data-max-fps, data-preview, data-keyframe-ms,
// data-timeslice-ms (100: a chunk this often; each waits half of it on average,
// so shorter chunks mean less latency and more messages for the server).
// The recording format: VP9 or VP8 WebM where MediaRecorder records it, else
// fragmented MP4 with H.264 (video/mp4;codecs=avc1,opus, then avc1,mp4a.40.2,
// avc1, video/mp4: Safari). data-reach="wide" (on the widget or around it)
// prefers MP4 with H.264 wherever the browser records it (Chrome 126+, Safari),
// because H.264 plays in every browser, iPhones included, where VP8/VP9 WebM
// does not. data-mime names a type to try first: VP8/VP9 WebM or H.264 MP4
// (H.264 in WebM is refused: no browser plays it through Media Source
// Extensions). MP4 recorders get a timeslice of at least 1000 ms (Safari
// needs it), and deliver a chunk when a fragment completes, that is at each
// keyframe (data-keyframe-ms, 2000 by default), whatever the timeslice.
//
// data-latency="low" (on the widget or around it) asks for low latency: where
// WebCodecs exist with MediaStreamTrackProcessor, or with
// requestVideoFrameCallback and AudioWorklet in its stead (Firefox: frames
// from a hidden video element, sound through the capture worklet
// {base}/assets/capture-worklet.js), frames are encoded with
// VideoEncoder (the first of VP8, VP9, AV1 the browser supports, realtime,
// a keyframe every data-keyframe-ms) and AudioEncoder (Opus), and each
// encoded chunk is sent as it leaves the encoder, to
// upload?mime=application/x-amlive-chunks (a {"type":"tracks"} message first;
// the server muxes the chunks into the same live WebM). While the socket is
// backed up (or the encoder falls behind), video frames are dropped before
// the encoder, and the next frame encoded is a keyframe. Elsewhere, and when
// no configuration is supported, MediaRecorder records as usual; mimeType
// then says which path went live, and videoCodec names the WebCodecs codec.
//
// The title and description fields may be filled before "Go live" and edited
// during the broadcast: the broadcaster sends them ({"type":"meta",...}) after
// the server's ready (again after a resume), and edits 1 s after typing stops
// (or when a field loses focus); the server answers with what it applied
// (trimmed, perhaps rewritten by the site), which the fields and the meta
// status line then show, and a refusal with an error event.
//
// Each element gets el.amliveBroadcaster = {state, broadcast, mimeType, viewers,
// meta ({title, description} as the server applied them), setMeta({title,
// description}),
// audience ({viewers, medianDelay, p90Delay, stalling, droppedFrames} or null),
// health ({bitrate (bytes/s), unackedBytes, unackedMs, reconnects, and with
// WebCodecs encodedFrames and droppedFrames, the video frames encoded and
// dropped before the encoder}),
// lastError, source, recorder ({mimeType, videoBitsPerSecond,
// audioBitsPerSecond} as MediaRecorder applied them), stream (what the
// preview shows, or null), meter (a LevelMeter: level 0–100),
// startPreview(), stopPreview(), start(), stop(), on(event, fn),
// destroy()}; the state is
// mirrored in el.dataset.state and announced with the DOM events amlive:state
// and amlive:viewers. States: idle, starting, live, reconnecting, stopping,
// ended, error, and unsupported: the browser's MediaRecorder records no type
// the server takes (WebM, or MP4 with H.264), or there is none; the status
// line says so at once and "Go live" stays disabled. A recorder that records
// nothing (no bytes within NO_DATA_MS of the start: WebKitGTK without the
// GStreamer muxer it needs) ends in error with a status that says so.
// destroy() ends a live broadcast the way leaving the page does.
// While live, the broadcaster sends the server a JPEG still of its preview
// (at most 640 px wide) soon after the first frames and every 15 s, for the
// rooms list and the players' posters; never while the socket is backed up
// or reconnecting.
//
// Dropped connections: the server acknowledges the bytes it holds
// ({"type":"ack","offset":N}); the broadcaster keeps what it sent until then.
// When the socket drops (no close frame: a network failure), the camera keeps
// recording, the state is 'reconnecting', and the broadcaster reconnects with
// the resume token of its ready event, within the grace period the server
// named (resumeWithinMs), and resends from the offset the server holds.
//
// source is null (the camera and microphone) or a function that start() calls
// for the MediaStream to publish instead, for example
//   b.source = () => navigator.mediaDevices.getDisplayMedia({ video: true, audio: true });
//   b.source = () => canvas.captureStream(30); // add an audio track for sound
// It may return a promise. The stream needs a video track; the broadcaster
// stops its tracks when the broadcast ends, so return a fresh one each time.
//
// Two parts: amlive.BroadcastEngine records and uploads, touching no DOM but
// the preview video it is given (conf callbacks tell the page what happens);
// the Broadcaster widget binds an engine to the markup.
(() => {
  'use strict';

  const amlive = window.amlive;
  const { Engine, Widget, Scope, expose, endpoint, assetURL, intAttr, closeMessage, register } = amlive.core;
  const codes = amlive.protocol.codes;

  const SELECTOR = '[data-amlive-broadcaster]';
  const WEBM_CANDIDATES = [
    'video/webm;codecs=vp9,opus',
    'video/webm;codecs=vp8,opus',
    'video/webm;codecs=vp9',
    'video/webm;codecs=vp8',
    'video/webm',
  ];
  // MP4_CANDIDATES are fragmented MP4 with H.264: Chromium records avc1 with
  // Opus, Safari avc1 with AAC (mp4a.40.2) or Opus.
  const MP4_CANDIDATES = [
    'video/mp4;codecs=avc1,opus',
    'video/mp4;codecs=avc1,mp4a.40.2',
    'video/mp4;codecs=avc1',
    'video/mp4',
  ];
  const MP4_MIN_TIMESLICE_MS = 1000; // Safari's MP4 recorder wants at least this
  const NO_DATA_MS = 10000; // a recorder with no bytes by then (or by 2 keyframe intervals and 2 s) records nothing
  const HIGH_WATER = 2 * 1024 * 1024; // don't send while ws.bufferedAmount is above this
  const MAX_QUEUE_BYTES = 64 * 1024 * 1024; // local queue limit…
  const MAX_QUEUE_MS = 30000; // …or this much recorded media waiting: give up
  const PUMP_MS = 100; // retry sending this often while backed up
  const READY_TIMEOUT_MS = 15000;
  const HEALTH_MS = 2000; // the upload health is measured (and shown) this often
  const RETRY_MIN_MS = 250; // reconnect backoff after a drop…
  const RETRY_MAX_MS = 2000; // …doubling up to this
  const CLOSE_TIMEOUT_MS = 10000;
  const DRAIN_MAX_MS = 60000; // the longest wait for the socket's buffer to drain
  // Thumbnails: a JPEG still of the preview, {"type":"thumbnail","data":<base64>}.
  const THUMB_FIRST_MS = 1500; // the first, once live and the preview shows frames…
  const THUMB_RETRY_MS = 1000; // …checked again this often until then
  const THUMB_EVERY_MS = 15000; // then one this often (the server takes one every 5 s at most)
  const THUMB_MAX_WIDTH = 640; // px
  const THUMB_QUALITY = 0.8;
  const THUMB_MAX_BYTES = 256 * 1024; // the server's default Config.MaxThumbnailBytes, until ready says
  const META_DEBOUNCE_MS = 1000; // a title edit is sent once typing stopped this long
  // Capture: the site's limits (Config.Capture, data attributes of the
  // widget) or these defaults, the same as the server's.
  const DEFAULT_CAPTURE = Object.freeze({ width: 1280, height: 720, frameRate: 30, maxWidth: 1280, maxHeight: 720, maxFrameRate: 30 });
  const DEFAULT_VIDEO_BPS = 2500000;
  const DEFAULT_AUDIO_BPS = 128000;
  const LEVEL_MS = 100; // the microphone level meter is updated this often
  const LEVEL_FLOOR_DB = -60; // the meter's 0; 0 dBFS is its 100
  // The pickers' choices, remembered in localStorage by deviceId (or
  // "1280x720" for the resolution).
  const STORE_CAMERA = 'amlive.camera';
  const STORE_MICROPHONE = 'amlive.microphone';
  const STORE_RESOLUTION = 'amlive.resolution';

  // Low latency (WebCodecs): data-latency="low" on the widget or around it,
  // where VideoEncoder, AudioEncoder and MediaStreamTrackProcessor exist,
  // encodes frames with WebCodecs and sends each encoded chunk as it leaves
  // the encoder (see ChunkRecorder), with ?mime=CHUNK_MIME.
  const CHUNK_MIME = 'application/x-amlive-chunks';
  // VIDEO_CODECS are tried in order with VideoEncoder.isConfigSupported.
  const VIDEO_CODECS = ['vp8', 'vp09.00.10.08', 'av01.0.04M.08'];
  const CHUNK_HEADER = 14; // track(1) flags(1) timestamp µs(8) duration µs(4)
  const CHUNK_VIDEO = 1;
  const CHUNK_AUDIO = 2;
  const MAX_CHUNK_DURATION_US = 10000000;
  // WC_HIGH_WATER: video frames are dropped before the encoder while the
  // socket (or the queue) holds more than this, so the delay stays small.
  const WC_HIGH_WATER = 256 * 1024;
  const WC_MAX_ENCODE_QUEUE = 4; // frames waiting in the encoder: more are dropped
  const CALIBRATE_MS = 250; // each track's first frames, timed and not encoded (ChunkRecorder._calibrated)

  // FRAME_QUEUE_VIDEO and FRAME_QUEUE_AUDIO bound the frames a frame
  // source without MediaStreamTrackProcessor holds for the encoder (see
  // FrameQueue): the oldest goes first.
  const FRAME_QUEUE_VIDEO = 2;
  const FRAME_QUEUE_AUDIO = 50;
  const CAPTURE_BLOCK_S = 0.02; // the capture worklet's blocks of sound: an Opus frame
  const CAPTURE_WORKLET = 'capture-worklet.js';
  const CAPTURE_SILENT_MS = 3000; // the capture worklet's first sound comes within this, or the upload fails
  // The sound MediaStreamTrackProcessor holds for a reader that is behind
  // (a busy page): AudioData, 10 to 20 ms each. Chromium's default keeps
  // 10, and a page busy for longer loses sound.
  const TRACK_QUEUE_AUDIO = 100;
  // SoundClock (what keeps the sound on the stream's clock) measures, over
  // each SOUND_EPOCH_MS, how far the sound fed to the encoder is behind the
  // clock at the least; it fills past SOUND_DRIFT_MAX_US with silence (or
  // cuts as much sound ahead of it), at most SOUND_FILL_MAX_US at a time:
  // beyond, the sound's time jumps instead.
  const SOUND_EPOCH_MS = 1000;
  const SOUND_DRIFT_MAX_US = 20000;
  const SOUND_FILL_MAX_US = 2000000;

  // hasTrackProcessor: the browser reads a track's frames with
  // MediaStreamTrackProcessor (else frameReader stands in for it).
  function hasTrackProcessor() {
    return typeof window.MediaStreamTrackProcessor === 'function';
  }

  // webCodecsAvailable: the browser can encode a camera with WebCodecs:
  // VideoEncoder and AudioEncoder, and MediaStreamTrackProcessor or its
  // equivalent here (a video element's frames and an audio worklet's
  // sound: Firefox).
  function webCodecsAvailable() {
    if (typeof window.VideoEncoder !== 'function' || typeof window.AudioEncoder !== 'function') return false;
    if (hasTrackProcessor()) return true;
    return (
      typeof window.VideoFrame === 'function' &&
      typeof window.AudioData === 'function' &&
      typeof window.AudioWorkletNode === 'function' &&
      typeof HTMLVideoElement.prototype.requestVideoFrameCallback === 'function'
    );
  }

  // frameReader reads track's frames (VideoFrames or AudioData) as a
  // MediaStreamTrackProcessor's reader does: {read() → {value, done},
  // cancel()}, from one where the browser has it, else from
  // ElementVideoReader or WorkletAudioReader (opts: {workletURL, the
  // worklet's module; audioContext, the context to read the sound in}).
  // Closing what it reads is the caller's.
  function frameReader(track, opts) {
    if (hasTrackProcessor()) {
      const init = track.kind === 'audio' ? { track, maxBufferSize: TRACK_QUEUE_AUDIO } : { track };
      return new MediaStreamTrackProcessor(init).readable.getReader();
    }
    return track.kind === 'video' ? new ElementVideoReader(track) : new WorkletAudioReader(track, opts.workletURL, opts.audioContext);
  }

  // captureContext is an AudioContext at Opus's rate (the encoder takes
  // the context's), resumed at once: made in a click, it may run.
  function captureContext() {
    const AC = window.AudioContext || window.webkitAudioContext;
    let ac;
    try {
      ac = new AC({ sampleRate: 48000 });
    } catch (e) {
      ac = new AC();
    }
    ac.resume().catch(() => {});
    return ac;
  }

  // FrameQueue is a reader fed by a source that pushes: what is pushed
  // waits in order, at most max (the oldest is closed to make room: the
  // encoder is behind), until read() takes it. cancel() or fail(err) ends
  // it; a subclass's _stop() then releases its source.
  class FrameQueue {
    constructor(max) {
      this.max = max;
      this.q = [];
      this.waiting = null; // a pending read's {resolve, reject}
      this.done = false;
      this.err = null;
    }

    push(v) {
      if (this.done) {
        v.close();
        return;
      }
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w.resolve({ value: v, done: false });
        return;
      }
      this.q.push(v);
      if (this.q.length > this.max) this.q.shift().close();
    }

    read() {
      if (this.q.length) return Promise.resolve({ value: this.q.shift(), done: false });
      if (this.err) return Promise.reject(this.err);
      if (this.done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        this.waiting = { resolve, reject };
      });
    }

    cancel() {
      this._end(null);
      return Promise.resolve();
    }

    fail(err) {
      this._end(err instanceof Error ? err : new Error(String(err)));
    }

    _end(err) {
      if (this.done) return;
      this.done = true;
      this.err = err;
      for (const v of this.q) v.close();
      this.q = [];
      const w = this.waiting;
      this.waiting = null;
      if (w) {
        if (err) w.reject(err);
        else w.resolve({ value: undefined, done: true });
      }
      try {
        this._stop();
      } catch (e) {
        /* released already */
      }
    }

    _stop() {}
  }

  // ElementVideoReader reads a video track's frames from a video element of
  // its own (hidden, muted): each frame the element presents
  // (requestVideoFrameCallback) becomes a VideoFrame, stamped with its
  // arrival (performance.now(), µs), which ChunkRecorder puts on the
  // stream's clock as it does every track's.
  class ElementVideoReader extends FrameQueue {
    constructor(track) {
      super(FRAME_QUEUE_VIDEO);
      const v = document.createElement('video');
      v.muted = true;
      v.playsInline = true;
      v.setAttribute('aria-hidden', 'true');
      v.tabIndex = -1;
      v.dataset.amliveCapture = '';
      // On the page (a detached or undisplayed element presents no
      // frames), a pixel wide and all but transparent.
      v.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;opacity:0.01;pointer-events:none;';
      v.srcObject = new MediaStream([track]);
      (document.body || document.documentElement).append(v);
      this.v = v;
      const tick = () => {
        if (this.done) return;
        let frame = null;
        try {
          frame = new VideoFrame(v, { timestamp: Math.round(performance.now() * 1000) });
        } catch (e) {
          /* no picture yet */
        }
        if (frame) this.push(frame);
        v.requestVideoFrameCallback(tick);
      };
      v.requestVideoFrameCallback(tick);
      v.play().catch((e) => this.fail(e));
    }

    _stop() {
      this.v.pause();
      this.v.srcObject = null;
      this.v.remove();
    }
  }

  // PLANAR holds the samples (f32-planar) each AudioData a
  // WorkletAudioReader made was made of.
  const PLANAR = new WeakMap();

  // WorkletAudioReader reads an audio track's sound through ac (an
  // AudioContext made in the click, captureContext, that the session owns
  // and closes): the capture worklet (capture-worklet.js at url) posts
  // blocks of CAPTURE_BLOCK_S, each made an AudioData (f32-planar) stamped
  // with the context's sample count, which ChunkRecorder puts on the
  // stream's clock. A context that gives no sound within CAPTURE_SILENT_MS
  // (the browser keeps it from running) fails the reader: an upload
  // without its sound would stall every MSE viewer.
  class WorkletAudioReader extends FrameQueue {
    constructor(track, url, ac) {
      super(FRAME_QUEUE_AUDIO);
      const settings = track.getSettings ? track.getSettings() : {};
      this.channels = Math.min(Math.max(settings.channelCount || 1, 1), 2);
      this.ac = ac;
      this.src = null;
      this.node = null;
      this.blocks = 0;
      this.timer = setTimeout(() => {
        if (!this.blocks) this.fail(new Error(`the microphone gave no sound to encode (its AudioContext is ${ac ? ac.state : 'missing'})`));
      }, CAPTURE_SILENT_MS);
      this._open(track, url).catch((e) => this.fail(e));
    }

    async _open(track, url) {
      const ac = this.ac;
      if (!ac || !url) throw new Error('no AudioContext or no URL for the capture worklet');
      await ac.audioWorklet.addModule(url);
      if (this.done) return;
      this.src = ac.createMediaStreamSource(new MediaStream([track]));
      this.node = new AudioWorkletNode(ac, 'amlive-capture', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: this.channels,
        channelCountMode: 'explicit',
        processorOptions: { frames: Math.round(ac.sampleRate * CAPTURE_BLOCK_S), channels: this.channels },
      });
      this.node.port.onmessage = (ev) => this._block(ev.data);
      this.src.connect(this.node);
      this.node.connect(ac.destination); // silent: the worklet runs only where the graph pulls it
    }

    _block(msg) {
      if (this.done || !msg || !msg.planes || !msg.planes.length) return;
      this.blocks++;
      const planes = msg.planes;
      const n = planes[0].length;
      const data = new Float32Array(n * planes.length);
      planes.forEach((p, i) => data.set(p, i * n));
      const d = new AudioData({
        format: 'f32-planar',
        sampleRate: this.ac.sampleRate,
        numberOfFrames: n,
        numberOfChannels: planes.length,
        timestamp: Math.round((msg.frame / this.ac.sampleRate) * 1e6),
        data,
      });
      PLANAR.set(d, data);
      this.push(d);
    }

    _stop() {
      clearTimeout(this.timer);
      if (this.node) {
        this.node.port.postMessage('stop');
        this.node.disconnect();
      }
      if (this.src) this.src.disconnect();
    }
  }

  // SoundClock keeps the sound given to the AudioEncoder on the stream's
  // clock. An encoder counts the samples it is given and stamps its output
  // by that count, not by the AudioData's timestamps; so the sound a
  // microphone loses (a page too busy to read it in time: the track's queue
  // overflows) or the sound it gives at its own rate (an AudioContext's
  // clock, or a device's, drifting from the page's) would put the sound
  // behind the picture, or ahead of it, for the rest of the broadcast, and
  // every viewer's buffer, which waits for the later of the two, with it.
  // The clock starts where the first sound is; take() is told of each
  // AudioData as it arrives and answers where on the stream's clock
  // (µs) its first sample goes, counting on from the sound before it. Once
  // an epoch (SOUND_EPOCH_MS) has shown that even the soonest sound came
  // more than SOUND_DRIFT_MAX_US after its place, that much silence goes
  // before the next; once it has shown the sound that far ahead of the
  // clock, as much sound is cut. filledUs and cutUs count both.
  class SoundClock {
    constructor(rate, startUs) {
      this.rate = rate;
      this.start = startUs; // where the first sample goes, µs
      this.frames = 0; // samples placed since (silence included)
      this.epoch = null; // {from: the epoch's first arrival, least: its smallest lag}, µs
      this.debtUs = 0; // sound still to be cut
      this.filledUs = 0;
      this.cutUs = 0;
      this.jumpedUs = 0; // behind by more than SOUND_FILL_MAX_US: skipped, not filled
    }

    // end is where the sound placed so far ends, µs.
    end() {
      return this.start + Math.round((this.frames * 1e6) / this.rate);
    }

    // take places n samples that arrived at nowUs: {drop: true} (they are
    // cut), or {ts, silence, at}: the silence to encode first (samples,
    // from at), then the samples from ts.
    take(nowUs, n) {
      const at = this.end();
      const lag = nowUs - at;
      let silence = 0;
      if (!this.epoch) this.epoch = { from: nowUs, least: lag };
      else this.epoch.least = Math.min(this.epoch.least, lag);
      if (nowUs - this.epoch.from >= SOUND_EPOCH_MS * 1000) {
        const least = this.epoch.least;
        this.epoch = null;
        if (least > SOUND_DRIFT_MAX_US) {
          const fill = Math.min(least, SOUND_FILL_MAX_US);
          silence = Math.round((fill * this.rate) / 1e6);
          this.frames += silence;
          this.filledUs += fill;
          if (least > fill) {
            this.start += least - fill;
            this.jumpedUs += least - fill;
          }
          this.debtUs = 0;
        } else if (least < -SOUND_DRIFT_MAX_US) {
          this.debtUs = -least;
        }
      }
      const dur = (n * 1e6) / this.rate;
      if (this.debtUs >= dur / 2) {
        this.debtUs = Math.max(0, this.debtUs - dur);
        this.cutUs += dur;
        return { drop: true };
      }
      const ts = this.end();
      this.frames += n;
      return { drop: false, ts, silence, at };
    }
  }

  // planarAudio is an AudioData of n samples (f32-planar, planes in
  // order) with like's rate and channels, stamped ts, µs.
  function planarAudio(like, n, samples, ts) {
    return new AudioData({ format: 'f32-planar', sampleRate: like.sampleRate, numberOfFrames: n, numberOfChannels: like.numberOfChannels, timestamp: ts, data: samples });
  }

  // soundAt is data's sound stamped ts, µs: from the samples it was made
  // of, where a WorkletAudioReader made it (WebKitGTK's AudioData.copyTo
  // crashes the page), else copied out.
  function soundAt(data, ts) {
    const n = data.numberOfFrames;
    let all = PLANAR.get(data);
    if (!all) {
      all = new Float32Array(n * data.numberOfChannels);
      for (let i = 0; i < data.numberOfChannels; i++) data.copyTo(all.subarray(i * n, (i + 1) * n), { planeIndex: i, format: 'f32-planar' });
    }
    return planarAudio(data, n, all, ts);
  }

  // silenceAt is n samples of silence like data's, stamped ts, µs.
  function silenceAt(data, n, ts) {
    return planarAudio(data, n, new Float32Array(n * data.numberOfChannels), ts);
  }

  // ChunkRecorder encodes a stream's first video and audio tracks with
  // WebCodecs and hands out each encoded chunk, in the upload's chunk format,
  // as soon as the encoder gives it. It stands in for a MediaRecorder in a
  // Session: state, mimeType, start(), stop() (flushes the encoders, then
  // onstop), and tracks, the {"type":"tracks"} message the server gets first.
  // backedUp() says when the upload falls behind: video frames are then
  // dropped before the encoder (the next encoded frames still decode), never
  // encoded chunks; audio is not dropped for the upload, only kept on the
  // stream's clock (SoundClock: sound, the recorder's sound).
  class ChunkRecorder {
    // create resolves to a ChunkRecorder for stream, or null when the
    // browser's encoders support none of the configurations (then the
    // caller falls back to MediaRecorder).
    static async create(stream, opts) {
      const vt = stream.getVideoTracks()[0];
      const at = stream.getAudioTracks()[0] || null;
      const vs = vt.getSettings ? vt.getSettings() : {};
      const width = vs.width || 640;
      const height = vs.height || 480;
      let video = null;
      for (const codec of VIDEO_CODECS) {
        const cfg = {
          codec,
          width,
          height,
          bitrate: opts.videoBps,
          framerate: vs.frameRate || 30,
          latencyMode: 'realtime',
        };
        try {
          const r = await VideoEncoder.isConfigSupported(cfg);
          if (r && r.supported) {
            video = cfg;
            break;
          }
        } catch (e) {
          /* try the next */
        }
      }
      if (!video) return null;
      let audio = null;
      if (at) {
        const as = at.getSettings ? at.getSettings() : {};
        audio = { codec: 'opus', sampleRate: 48000, numberOfChannels: Math.min(Math.max(as.channelCount || 1, 1), 2), bitrate: opts.audioBps || 128000 };
        try {
          const r = await AudioEncoder.isConfigSupported(audio);
          if (!r || !r.supported) return null;
        } catch (e) {
          return null;
        }
      }
      return new ChunkRecorder(vt, at, video, audio, opts);
    }

    constructor(vt, at, video, audio, opts) {
      this.mimeType = CHUNK_MIME;
      this.state = 'inactive';
      this.videoCodec = video.codec;
      this.videoBitsPerSecond = video.bitrate; // as MediaRecorder names what it applied
      this.audioBitsPerSecond = audio ? audio.bitrate : 0;
      this.tracks = { type: 'tracks', video: { codec: video.codec, width: video.width, height: video.height } };
      if (audio) this.tracks.audio = { codec: 'opus', sampleRate: 48000, numberOfChannels: audio.numberOfChannels };
      this.encoded = 0; // video frames encoded
      this.dropped = 0; // video frames dropped before the encoder
      this.onchunk = null; // (ArrayBuffer)
      this.onerror = null; // (Error)
      this._vt = vt;
      this._at = audio ? at : null;
      this._video = video;
      this._audio = audio;
      this._opts = opts; // {keyframeMs, backedUp(), workletURL, audioContext}
      this._t0 = performance.now();
      this._off = [0, null, null]; // by track: what turns the encoder's timestamps into the stream's (µs)
      this._calib = [null, null, null]; // by track, while calibrating: {from: performance.now() of its first frame, off: the smallest offset seen}
      this._lastKey = -Infinity; // timestamp of the last keyframe asked for
      this._readers = [];
      this._encoders = [];
      this._stopped = null;
      this.sound = null; // the SoundClock, from the first sound encoded
    }

    // _nowUs is the stream's clock, in µs since the recorder was made.
    _nowUs() {
      return Math.round((performance.now() - this._t0) * 1000);
    }

    // _calibrated sets what turns a track's timestamps into the stream's
    // clock and reports whether it is set: frames of the first
    // CALIBRATE_MS of each track are not encoded, only timed. The
    // tracks' timestamps need not share a clock (a canvas's and a Web
    // Audio graph's do not; nor, in some browsers, a camera's and a
    // microphone's), so each track is put on the stream's clock by its own
    // frames' arrival: the offset is the smallest (arrival − timestamp) of
    // its first CALIBRATE_MS, so that a stale first frame skews nothing,
    // and the two tracks stay in sync to within their delivery delays.
    _calibrated(track, ts) {
      if (this._off[track] !== null) return true;
      const now = this._nowUs();
      const t = performance.now();
      if (this._calib[track] === null) this._calib[track] = { from: t, off: Infinity };
      const c = this._calib[track];
      c.off = Math.min(c.off, now - ts);
      if (t - c.from < CALIBRATE_MS) return false;
      this._off[track] = c.off;
      return true;
    }

    start() {
      this.state = 'recording';
      const fail = (err) => {
        if (this.state === 'inactive') return;
        this.stop();
        if (this.onerror) this.onerror(err);
      };
      const venc = new VideoEncoder({ output: (c) => this._output(CHUNK_VIDEO, c), error: fail });
      venc.configure(this._video);
      this._encoders.push(venc);
      let needKey = true;
      this._read(this._vt, (frame) => {
        if (!this._calibrated(CHUNK_VIDEO, frame.timestamp)) return;
        if (this._opts.backedUp() || venc.encodeQueueSize > WC_MAX_ENCODE_QUEUE) {
          this.dropped++;
          // After a gap, an MSE player drops every frame up to the next
          // keyframe: make it the next one.
          needKey = true;
          return;
        }
        const key = needKey || frame.timestamp - this._lastKey >= (this._opts.keyframeMs || 2000) * 1000;
        if (key) {
          this._lastKey = frame.timestamp;
          needKey = false;
        }
        venc.encode(frame, { keyFrame: key });
        this.encoded++;
      }, fail);
      if (this._at) {
        let aenc = null;
        this._read(this._at, (data) => {
          if (!this._calibrated(CHUNK_AUDIO, data.timestamp)) return;
          const off = this._off[CHUNK_AUDIO];
          if (!aenc) {
            // Configured from the first data: the encoder takes what the
            // track gives.
            aenc = new AudioEncoder({ output: (c) => this._output(CHUNK_AUDIO, c), error: fail });
            aenc.configure({ ...this._audio, sampleRate: data.sampleRate, numberOfChannels: data.numberOfChannels });
            this._encoders.push(aenc);
            this.sound = new SoundClock(data.sampleRate, data.timestamp + off);
          }
          const step = this.sound.take(this._nowUs(), data.numberOfFrames);
          if (step.drop) return;
          const parts = step.silence ? [silenceAt(data, step.silence, step.at - off)] : [];
          parts.push(soundAt(data, step.ts - off));
          for (const d of parts) {
            try {
              aenc.encode(d);
            } finally {
              d.close();
            }
          }
        }, fail);
      }
    }

    // _read feeds each frame (or audio data) of track to use, then closes it.
    _read(track, use, fail) {
      const reader = frameReader(track, this._opts);
      this._readers.push(reader);
      const loop = async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          try {
            if (this.state === 'recording') use(value);
          } finally {
            value.close();
          }
        }
      };
      loop().catch(fail);
    }

    // _output frames an encoded chunk for the upload.
    _output(track, chunk) {
      if (!this.onchunk) return;
      const buf = new ArrayBuffer(CHUNK_HEADER + chunk.byteLength);
      const dv = new DataView(buf);
      dv.setUint8(0, track);
      dv.setUint8(1, chunk.type === 'key' ? 1 : 0);
      dv.setBigInt64(2, BigInt(Math.round(chunk.timestamp + (this._off[track] || 0))));
      dv.setUint32(10, Math.min(Math.max(Math.round(chunk.duration || 0), 0), MAX_CHUNK_DURATION_US));
      chunk.copyTo(new Uint8Array(buf, CHUNK_HEADER));
      this.onchunk(buf);
    }

    // stop stops reading the tracks, flushes the encoders (their last
    // chunks go to onchunk) and resolves once they are closed.
    stop() {
      if (this._stopped) return this._stopped;
      this.state = 'inactive';
      for (const r of this._readers) r.cancel().catch(() => {});
      this._stopped = (async () => {
        for (const enc of this._encoders) {
          try {
            if (enc.state === 'configured') await enc.flush();
          } catch (e) {
            /* closed by an error */
          }
          try {
            if (enc.state !== 'closed') enc.close();
          } catch (e) {
            /* closed */
          }
        }
      })();
      return this._stopped;
    }
  }

  const publisherMessage = (code, reason) => closeMessage('publisher', code, reason);

  // UNSUPPORTED is the status line of a browser that can record neither WebM
  // nor MP4 with H.264.
  const UNSUPPORTED =
    'This browser cannot record video in a format this site accepts (WebM or MP4 with H.264), so it cannot go live. Try Chrome, Edge, Firefox or Safari.';

  // NO_DATA is the status line when the recorder produced nothing.
  const NO_DATA = (mime) =>
    `This browser’s recorder produced no video (${mime || 'MediaRecorder'} gave no data), so it cannot go live here. Try another browser.`;

  // isPlayableWebM refuses H.264 in WebM/Matroska: MediaRecorder can produce it,
  // but Media Source Extensions cannot play it.
  function isPlayableWebM(mime) {
    const m = (mime || '').toLowerCase();
    return m.startsWith('video/webm') && !/avc1|avc3|h264|hev1|hvc1/.test(m);
  }

  // isH264MP4: MP4 with H.264 video, or with codecs left to the recorder.
  function isH264MP4(mime) {
    const m = (mime || '').toLowerCase();
    if (!m.startsWith('video/mp4')) return false;
    return !/codecs/.test(m) || /avc1|avc3/.test(m);
  }

  // isMP4 reports whether mime is an MP4 type.
  function isMP4(mime) {
    return (mime || '').toLowerCase().startsWith('video/mp4');
  }

  // accepted: a type the server takes and viewers play.
  function accepted(mime) {
    return isPlayableWebM(mime) || isH264MP4(mime);
  }

  // chooseMime is the first type MediaRecorder records among override, then
  // WebM and MP4 (MP4 first when reach is 'wide').
  function chooseMime(override, reach) {
    if (typeof MediaRecorder === 'undefined' || !MediaRecorder.isTypeSupported) return '';
    const list = reach === 'wide' ? MP4_CANDIDATES.concat(WEBM_CANDIDATES) : WEBM_CANDIDATES.concat(MP4_CANDIDATES);
    if (override) {
      if (accepted(override)) list.unshift(override);
      else console.warn(`amlive: ignoring data-mime=${override}: only VP8/VP9 WebM and H.264 MP4 are supported`);
    }
    return list.find((m) => MediaRecorder.isTypeSupported(m)) || '';
  }

  function mediaErrorMessage(err) {
    switch (err && err.name) {
      case 'NotAllowedError':
      case 'SecurityError':
        return 'Camera and microphone access was denied. Allow it in your browser’s site settings, then try again.';
      case 'NotFoundError':
      case 'OverconstrainedError':
        return 'No camera or microphone was found. Connect one and try again.';
      case 'NotReadableError':
      case 'AbortError':
        return 'The camera or microphone is in use by another application, or could not be started.';
      default:
        return `Could not start the camera: ${(err && err.message) || err}`;
    }
  }

  // stopStream stops every track of stream (may be null).
  function stopStream(stream) {
    if (stream) for (const track of stream.getTracks()) track.stop();
  }

  // streamLive: every track of stream still runs.
  function streamLive(stream) {
    return Boolean(stream) && stream.getTracks().length > 0 && stream.getTracks().every((t) => t.readyState === 'live');
  }

  // constraintTries are the getUserMedia constraints to try in turn: the
  // chosen devices within the site's limits; then with ideal sizes only
  // (a camera that cannot meet the limits: a phone held upright may
  // deliver a portrait picture taller than maxHeight); then any device
  // (the remembered one is gone). cap is {width, height, frameRate,
  // maxWidth, maxHeight, maxFrameRate}; videoId and audioId are deviceIds
  // or ''.
  function constraintTries(cap, videoId, audioId) {
    const size = (limits) => {
      const v = {
        width: { ideal: cap.width },
        height: { ideal: cap.height },
        frameRate: { ideal: Math.min(cap.frameRate, cap.maxFrameRate) },
      };
      if (limits) {
        v.width.max = cap.maxWidth;
        v.height.max = cap.maxHeight;
        v.frameRate.max = cap.maxFrameRate;
      }
      return v;
    };
    const with_ = (video, vid, aid) => ({
      video: vid ? { ...video, deviceId: { exact: vid } } : video,
      audio: aid ? { deviceId: { exact: aid } } : true,
    });
    const tries = [with_(size(true), videoId, audioId), with_(size(false), videoId, audioId)];
    if (videoId || audioId) tries.push(with_(size(false), '', ''));
    return tries;
  }

  // store and recall keep a picker's choice; both do nothing where
  // localStorage is unavailable (private modes, sandboxed frames).
  function store(key, value) {
    try {
      if (value) window.localStorage.setItem(key, value);
      else window.localStorage.removeItem(key);
    } catch (e) {
      /* not remembered */
    }
  }
  function recall(key) {
    try {
      return window.localStorage.getItem(key) || '';
    } catch (e) {
      return '';
    }
  }

  // captureThumbnail draws the video's current frame, at most
  // THUMB_MAX_WIDTH wide, into a canvas and returns it as base64 JPEG of at
  // most maxBytes (smaller and lower quality until it fits), or '' when it
  // cannot.
  async function captureThumbnail(video, maxBytes) {
    const w0 = video.videoWidth;
    const h0 = video.videoHeight;
    if (!w0 || !h0) return '';
    const canvas = document.createElement('canvas'); // never in the page
    let scale = Math.min(1, THUMB_MAX_WIDTH / w0);
    let quality = THUMB_QUALITY;
    for (let i = 0; i < 4; i++, scale *= 0.7, quality -= 0.15) {
      canvas.width = Math.max(16, Math.round(w0 * scale));
      canvas.height = Math.max(16, Math.round(h0 * scale));
      canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
      if (!blob) return '';
      if (blob.size > maxBytes) continue;
      const url = await new Promise((resolve, reject) => {
        const r = new FileReader();
        r.onload = () => resolve(String(r.result));
        r.onerror = () => reject(r.error);
        r.readAsDataURL(blob);
      });
      return url.slice(url.indexOf(',') + 1);
    }
    return '';
  }

  // UserError carries a message meant for the status line as is.
  class UserError extends Error {}

  // CloseError is a socket that closed before the server said ready.
  class CloseError extends UserError {
    constructor(ev) {
      super(publisherMessage(ev.code, ev.reason));
      this.code = ev.code;
    }
  }

  // Session is one broadcast: its stream and recorder, its socket, and the
  // bytes recorded and not yet held by the server. queue: recorded, not yet
  // sent; unacked: sent from offset unacked[0].off up to sent, not yet
  // acknowledged by the server.
  class Session {
    constructor() {
      this.stream = null;
      this.recorder = null;
      this.captureAudio = null; // the AudioContext the low-latency upload reads the sound in, where it needs one (captureContext)
      this.recorderStopped = null; // resolves on the recorder's stop event
      this.recorded = 0; // bytes the recorder produced
      this.noDataTimer = 0; // fails the session when the recorder produces nothing
      this.readChain = Promise.resolve(); // reads the chunks in order
      this.queue = []; // {buf, t}
      this.queuedBytes = 0;
      this.unacked = []; // {off, buf, t}
      this.unackedBytes = 0;
      this.sent = 0; // stream offset of the next byte sent
      this.ws = null;
      this.wsReady = false; // nothing is sent before ready says from which offset
      this.closeEvent = null; // the socket's last close event
      this.onClosed = null; // stop() waits for the close with this
      this.token = ''; // the resume token of the ready event
      this.graceMs = 0; // how long the server waits for a resume
      this.resumeDeadline = 0;
      this.reconnects = 0;
      this.handed = 0; // bytes handed to a socket, resends included
      this.reconnecting = null; // the running _reconnect's promise
      this.pumpTimer = 0;
      this.slow = false; // the status line says the upload is slow
      this.flushing = false; // ignore backpressure: everything goes before end
      this.failed = false;
      this.thumbTimer = 0; // the next thumbnail (see _thumbnail)
      this.thumbs = 0; // thumbnails sent
    }

    // held is what the broadcaster holds for the server, in bytes.
    held() {
      return this.queuedBytes + this.unackedBytes;
    }

    // socketOpen: the socket is open for sending.
    socketOpen() {
      return Boolean(this.ws) && this.ws.readyState === WebSocket.OPEN;
    }
  }

  // BroadcastEngine publishes a MediaStream (the camera and microphone, or
  // what source returns) to a room, resuming after drops. It touches no DOM
  // but the preview video it is given (may be null), and, on the
  // low-latency path where the browser has no MediaStreamTrackProcessor,
  // the hidden video element its frames come from (ElementVideoReader).
  //
  // conf: {url(path, ws) → URL of {base}/{room}/{path}, assetURL(name) → URL
  // of the plugin's asset name (the capture worklet), mime, reach, videoBps,
  // audioBps, keyframeMs, timesliceMs (each read when a broadcast starts),
  // capture ({width, height, frameRate: the size asked for; maxWidth,
  // maxHeight, maxFrameRate: the site's limits}), videoDevice and
  // audioDevice (deviceIds, or '' for the browser's choice), each read
  // when the camera starts, and
  // callbacks (each optional) onState(state, previous, message),
  // onStream(stream) (the stream the preview shows: the camera's before
  // and while live, or null once it is off),
  // onStatus(text) (a status line without a change of state),
  // onError(message) (also in lastError), onViewers(count),
  // onAudience(audience) (the server's summary of the viewers' reports),
  // onHealth(health) (every HEALTH_MS while a session runs),
  // onMeta(meta) (the title and description the server applied)}.
  class BroadcastEngine extends Engine {
    constructor(video, conf) {
      super(video, conf, 'idle');
      this.broadcast = '';
      this.mimeType = '';
      this.videoCodec = ''; // the WebCodecs video codec of a low-latency broadcast, '' otherwise
      this.source = null;
      this.audience = null; // the latest audience event, while on air
      this.health = { bitrate: 0, unackedBytes: 0, unackedMs: 0, reconnects: 0 };
      this.meta = { title: '', description: '' }; // as the server applied them
      this._wantMeta = null; // what setMeta asked for, sent after each ready

      this.preview = null; // the camera's stream before going live (startPreview)
      this.stream = null; // the stream the preview video shows, or null
      // recorder: what the browser's MediaRecorder applied, once a
      // broadcast started: {mimeType, videoBitsPerSecond, audioBitsPerSecond}.
      this.recorder = null;
      this._previewPending = null; // the latest startPreview's promise
      this._previewGen = 0; // a newer startPreview or stopPreview supersedes the pending one

      this._session = null;
      this._healthSamples = []; // {at, handed}: the session's bytes handed at the last measures…
      this._healthSession = null; // …of this session
      this._scope.interval(() => this._measureHealth(), HEALTH_MS);
      // Without a recorder type the server takes, only the WebCodecs path
      // (when the page asks for low latency) can go live.
      if (!chooseMime(null, '') && !(this._conf.latency === 'low' && webCodecsAvailable())) {
        this.state = 'unsupported';
        this.lastError = UNSUPPORTED;
      }
    }

    // busy: a broadcast is starting, on or finishing.
    busy() {
      return this.state === 'starting' || this.onAir() || this.state === 'stopping';
    }

    // onAir: live, or reconnecting after a drop.
    onAir() {
      return this.state === 'live' || this.state === 'reconnecting';
    }

    // stoppable: stop() has something to stop.
    stoppable() {
      return this.state === 'starting' || this.onAir();
    }

    // _current: s is the engine's session and has not failed.
    _current(s) {
      return this._session === s && !s.failed;
    }

    // startPreview starts the camera and microphone (the devices conf
    // names, within its capture limits) and shows them in the preview
    // before going live; again, it restarts them (a new device chosen).
    // It resolves with the stream, or null when superseded (a newer
    // startPreview, stopPreview, start with a source, close), and rejects
    // with an Error whose message is for the status line. It does nothing
    // while a broadcast is on: its stream is the one recorded. start()
    // publishes the preview's stream when there is one.
    startPreview() {
      if (this.closed || this.busy() || this.source) return Promise.resolve(null);
      const gen = ++this._previewGen;
      this._dropPreview();
      const p = (async () => {
        if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
          throw new UserError('The camera needs a secure page (https:// or localhost): this browser blocks it here.');
        }
        let stream;
        try {
          stream = await this._capture();
        } catch (err) {
          throw new UserError(mediaErrorMessage(err));
        }
        if (gen !== this._previewGen || this.closed || this.busy()) {
          stopStream(stream);
          return null;
        }
        this.preview = stream;
        this._showPreview(stream);
        for (const track of stream.getTracks()) {
          track.addEventListener('ended', () => {
            if (this.preview !== stream) return;
            this._dropPreview();
            this._status('Your camera or microphone stopped. Press “Start camera” to try again.');
          });
        }
        return stream;
      })();
      this._previewPending = p;
      p.catch(() => {}); // the caller handles it
      return p;
    }

    // stopPreview turns the preview's camera and microphone off.
    stopPreview() {
      this._previewGen++;
      this._dropPreview();
    }

    // previewing: the camera is on before going live.
    previewing() {
      return Boolean(this.preview);
    }

    _dropPreview() {
      const st = this.preview;
      this.preview = null;
      if (!st) return;
      stopStream(st);
      this._unshow(st);
    }

    // _takePreview is the stream a broadcast publishes: the preview's
    // (once any pending startPreview settled), else a new capture.
    async _takePreview() {
      for (let seen = null; this._previewPending && this._previewPending !== seen; ) {
        seen = this._previewPending;
        try {
          await seen;
        } catch (e) {
          /* no preview: capture below */
        }
      }
      const st = this.preview;
      this.preview = null; // the session's now
      if (streamLive(st)) return st;
      if (st) {
        stopStream(st);
        this._unshow(st);
      }
      return this._capture();
    }

    // _capture asks for the camera and microphone, relaxing the
    // constraints when the browser cannot meet them (constraintTries).
    async _capture() {
      const c = this._conf.capture || {};
      const cap = {};
      for (const k of Object.keys(DEFAULT_CAPTURE)) cap[k] = Number(c[k]) > 0 ? Number(c[k]) : DEFAULT_CAPTURE[k];
      let last;
      for (const constraints of constraintTries(cap, this._conf.videoDevice || '', this._conf.audioDevice || '')) {
        try {
          return await navigator.mediaDevices.getUserMedia(constraints);
        } catch (err) {
          last = err;
          if (!err || (err.name !== 'OverconstrainedError' && err.name !== 'NotFoundError')) throw err;
        }
      }
      throw last;
    }

    // start captures, connects and, once the server is ready, records.
    async start() {
      if (this.busy() || this.closed || this.state === 'unsupported') return;
      const s = new Session();
      this._session = s;
      this.broadcast = '';
      this.lastError = '';
      // A new broadcast has an audience and an upload of its own.
      this._setAudience({ viewers: 0 });
      this.audience = null;
      this._setViewers(0);
      this.meta = { title: '', description: '' };
      this._setState('starting', 'Starting your camera…');

      try {
        if (!this.source && (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia)) {
          throw new UserError('Going live needs a secure page (https:// or localhost): this browser blocks the camera here.');
        }
        const lowLatency = this._conf.latency === 'low' && webCodecsAvailable();
        // Without MediaStreamTrackProcessor the sound is read through an
        // AudioContext: made now, in the click, which lets it run.
        if (lowLatency && !hasTrackProcessor()) s.captureAudio = captureContext();
        const mime = chooseMime(this._conf.mime, this._conf.reach);
        if (!mime && !lowLatency) throw new UserError(UNSUPPORTED);

        try {
          if (this.source) this.stopPreview(); // the source's stream is published and shown instead
          s.stream = this.source ? await this.source() : await this._takePreview();
        } catch (err) {
          throw new UserError(mediaErrorMessage(err));
        }
        if (!s.stream || !s.stream.getVideoTracks || !s.stream.getVideoTracks().length) {
          this._stopTracks(s);
          throw new UserError('There is no video to publish.');
        }
        if (this._session !== s) return this._stopTracks(s); // stopped meanwhile
        this._showPreview(s.stream);
        for (const track of s.stream.getTracks()) {
          track.addEventListener('ended', () => {
            if (this._session === s && this.onAir()) this._stopWith(s, 'Your camera or microphone stopped.');
          });
        }

        if (lowLatency) {
          s.recorder = await ChunkRecorder.create(s.stream, {
            videoBps: this._conf.videoBps || 2500000,
            audioBps: this._conf.audioBps || DEFAULT_AUDIO_BPS,
            keyframeMs: this._conf.keyframeMs || 2000,
            workletURL: this._conf.assetURL ? this._conf.assetURL(CAPTURE_WORKLET) : '',
            audioContext: s.captureAudio,
            backedUp: () => s.socketOpen() && (s.ws.bufferedAmount > WC_HIGH_WATER || s.queuedBytes > WC_HIGH_WATER),
          });
          if (this._session !== s) return this._stopTracks(s);
          if (!s.recorder && !mime) throw new UserError(UNSUPPORTED);
        }
        if (!s.recorder) s.recorder = this._makeRecorder(s.stream, mime);
        this.mimeType = s.recorder.mimeType || mime;
        this.videoCodec = s.recorder instanceof ChunkRecorder ? s.recorder.videoCodec : '';
        this.recorder = {
          mimeType: this.mimeType,
          videoBitsPerSecond: s.recorder.videoBitsPerSecond,
          audioBitsPerSecond: s.recorder.audioBitsPerSecond,
        };
        if (!(s.recorder instanceof ChunkRecorder) && !accepted(this.mimeType)) {
          throw new UserError(`This browser records ${this.mimeType}, which viewers cannot play. Try another browser.`);
        }

        this._status('Connecting to the server…');
        await this._connect(s); // resolves on {"type":"ready"}
        if (this._session !== s) return;

        this._startRecording(s);
        // MP4 recorders deliver their first bytes at the end of the first
        // fragment: "live" waits for them.
        if (!isMP4(this.mimeType) || s.recorded) this._setState('live', 'You are live.');
        else this._status('Starting the recorder…');
      } catch (err) {
        if (this._session !== s) return;
        this._fail(s, err instanceof UserError ? err.message : `Could not go live: ${err.message || err}`);
      }
    }

    _showPreview(stream) {
      const v = this.video;
      if (v && v.srcObject !== stream) {
        v.muted = true; // never echo the microphone
        v.srcObject = stream;
        const p = v.play();
        if (p && p.catch) p.catch(() => {});
      }
      if (this.stream !== stream) {
        this.stream = stream;
        this._call('onStream', stream);
      }
    }

    // _unshow takes stream out of the preview, if it is there.
    _unshow(stream) {
      if (this.video && this.video.srcObject === stream) this.video.srcObject = null;
      if (this.stream === stream) {
        this.stream = null;
        this._call('onStream', null);
      }
    }

    // _makeRecorder asks for a keyframe about every data-keyframe-ms (VP8's own
    // gap is ~5 s, and a viewer can only join at a keyframe). Browsers without
    // the option throw; retry without it. Never also pass
    // videoKeyFrameIntervalCount: both together throw.
    _makeRecorder(stream, mimeType) {
      const opts = {
        mimeType,
        videoBitsPerSecond: this._conf.videoBps || DEFAULT_VIDEO_BPS,
        audioBitsPerSecond: this._conf.audioBps || DEFAULT_AUDIO_BPS,
      };
      try {
        return new MediaRecorder(stream, {
          ...opts,
          videoKeyFrameIntervalDuration: this._conf.keyframeMs || 2000,
        });
      } catch (e) {
        try {
          return new MediaRecorder(stream, opts);
        } catch (err) {
          throw new UserError(`This browser cannot record ${mimeType}: ${err.message || err}`);
        }
      }
    }

    // _connect opens the upload socket and resolves when the server says
    // ready; with resume, it resumes the session's broadcast and requeues what
    // the server does not hold. It rejects with a CloseError when the socket
    // closes before ready.
    _connect(s, resume) {
      return new Promise((resolve, reject) => {
        const url = this._conf.url('upload', true);
        if (resume) url.searchParams.set('resume', s.token);
        else url.searchParams.set('mime', this.mimeType);
        const ws = new WebSocket(url.href);
        ws.binaryType = 'arraybuffer';
        s.ws = ws;
        s.wsReady = false;
        let ready = false;
        const wait = resume ? Math.max(1000, Math.min(READY_TIMEOUT_MS, s.resumeDeadline - Date.now())) : READY_TIMEOUT_MS;
        const timer = this._scope.timeout(() => {
          if (!ready) {
            reject(new UserError('The server did not answer. Please try again.'));
            ws.close(codes.Normal);
          }
        }, wait);

        ws.onmessage = (ev) => {
          if (typeof ev.data !== 'string' || s.ws !== ws) return;
          let msg;
          try {
            msg = JSON.parse(ev.data);
          } catch (e) {
            return;
          }
          switch (msg.type) {
            case 'ready':
              ready = true;
              s.wsReady = true;
              this._scope.clearTimeout(timer);
              this.broadcast = msg.broadcast || this.broadcast;
              if (msg.resume) s.token = msg.resume;
              s.graceMs = Number(msg.resumeWithinMs) || 0;
              // The server's thumbnail bounds: at most this large, at most this often.
              s.thumbMaxBytes = Number(msg.maxThumbnailBytes) > 0 ? Number(msg.maxThumbnailBytes) : THUMB_MAX_BYTES;
              s.thumbEveryMs = Math.max(THUMB_EVERY_MS, Number(msg.thumbnailIntervalMs) || 0);
              if (resume && !this._requeueFrom(s, Number(msg.offset) || 0)) {
                reject(new UserError('The server lost part of your stream: the broadcast cannot continue.'));
                return;
              }
              // An encoded-chunk upload describes its tracks before its
              // first chunk, once: a resumed connection goes on with them.
              if (!resume && s.recorder instanceof ChunkRecorder) ws.send(JSON.stringify(s.recorder.tracks));
              this._sendMeta(s); // also after a resume: an edit made meanwhile is not lost
              resolve();
              break;
            case 'meta':
              this.meta = { title: String(msg.title || ''), description: String(msg.description || '') };
              this._call('onMeta', this.meta);
              break;
            case 'ack':
              this._acked(s, Number(msg.offset) || 0);
              break;
            case 'viewers':
              this._setViewers(Number(msg.count) || 0);
              break;
            case 'audience':
              this._setAudience(msg);
              break;
            case 'error':
              this._setError(msg.message || 'The server reported an error.');
              this._status(this.lastError);
              break;
          }
        };
        ws.onclose = (ev) => {
          this._scope.clearTimeout(timer);
          if (s.ws !== ws) return; // replaced
          s.closeEvent = ev;
          if (!ready) {
            reject(new CloseError(ev));
            return;
          }
          if (s.onClosed) s.onClosed(ev);
          // An MP4 session is 'starting' from ready until its first fragment.
          const waitingForData = this.state === 'starting' && s.recorder && s.recorder.state === 'recording';
          if (this._session !== s || (this.state !== 'live' && !waitingForData)) return;
          if (this._canResume(s, ev)) this._reconnect(s);
          else this._fail(s, publisherMessage(ev.code, ev.reason));
        };
        ws.onerror = () => {}; // a close event with the code always follows
      });
    }

    // _canResume: only a socket that dropped without a close frame
    // (Abnormal) is resumed; every close the server sends on purpose has a code.
    _canResume(s, ev) {
      return ev.code === codes.Abnormal && Boolean(s.token) && s.graceMs > 0;
    }

    // _reconnect resumes the session's broadcast after a drop, retrying with
    // backoff until the server's grace period is over. It resolves true once
    // live again; false when the session failed or ended.
    _reconnect(s) {
      if (s.reconnecting) return s.reconnecting;
      const stopping = this.state === 'stopping';
      if (!stopping) this._setState('reconnecting', 'Connection lost — reconnecting… Your camera keeps recording.');
      this._scope.clearTimeout(s.pumpTimer);
      s.pumpTimer = 0;
      s.resumeDeadline = Date.now() + s.graceMs;
      s.reconnects++;
      const attempt = async () => {
        for (let delay = RETRY_MIN_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
          if (!this._current(s)) return false;
          try {
            await this._connect(s, true);
            return true;
          } catch (err) {
            if (!this._current(s)) return false;
            const code = err instanceof CloseError ? err.code : 0;
            if (code === codes.NotLive) {
              if (stopping) {
                // The server had the end message: it ended the broadcast.
                this._session = null;
                this._teardown(s);
                this._setState('ended', 'You are offline. Recording saved.');
              } else {
                this._fail(s, 'The connection was lost for too long, so your broadcast ended. Its recording was saved up to the drop.');
              }
              return false;
            }
            if ((code && code !== codes.Abnormal) || Date.now() + delay >= s.resumeDeadline) {
              this._fail(s, code ? err.message : 'The connection to the server was lost and could not be restored: your broadcast ended.');
              return false;
            }
            await this._scope.sleep(delay);
          }
        }
      };
      s.reconnecting = attempt().then((ok) => {
        s.reconnecting = null;
        if (!ok) return false;
        if (!s.socketOpen()) return this._reconnect(s); // dropped again at once
        if (this.state === 'reconnecting') this._setState('live', 'You are live again.');
        this._pump(s);
        return true;
      });
      return s.reconnecting;
    }

    // setMeta sets the broadcast's title and description: sent now when on
    // air, else after the server's ready.
    setMeta(m) {
      this._wantMeta = { title: String((m && m.title) || ''), description: String((m && m.description) || '') };
      this._sendMeta(this._session);
    }

    // _sendMeta sends what setMeta asked for, if anything, on s's socket once
    // the server is ready.
    _sendMeta(s) {
      if (!s || !this._wantMeta || !s.socketOpen() || !s.wsReady) return;
      s.ws.send(JSON.stringify({ type: 'meta', title: this._wantMeta.title, description: this._wantMeta.description }));
    }

    // _setAudience keeps the server's summary of the viewers' reports.
    _setAudience(msg) {
      const num = (x) => (Number.isFinite(Number(x)) ? Number(x) : 0);
      this.audience = {
        viewers: num(msg.viewers),
        medianDelay: num(msg.medianDelay),
        p90Delay: num(msg.p90Delay),
        stalling: num(msg.stalling),
        droppedFrames: num(msg.droppedFrames),
      };
      this._call('onAudience', this.audience);
    }

    // _measureHealth measures the upload of the current session: the bytes
    // handed to the socket per second since the last measure (since the
    // measure at least two keyframe intervals ago for MP4, whose recorder
    // delivers a chunk per fragment, not per timeslice), what is sent and not
    // yet acknowledged, and the reconnects.
    _measureHealth() {
      const s = this._session;
      if (!s) return;
      const now = Date.now();
      if (this._healthSession !== s) this._healthSamples = [];
      this._healthSession = s;
      const span = isMP4(this.mimeType) ? Math.max(HEALTH_MS, 2 * (this._conf.keyframeMs || 2000)) : HEALTH_MS;
      const samples = this._healthSamples;
      while (samples.length > 1 && now - samples[1].at >= span) samples.shift();
      let bitrate = 0;
      if (samples.length && now > samples[0].at) {
        bitrate = ((s.handed - samples[0].handed) * 1000) / (now - samples[0].at);
      }
      samples.push({ at: now, handed: s.handed });
      const rec = s.recorder instanceof ChunkRecorder ? s.recorder : null; // WebCodecs only
      const sound = rec && rec.sound;
      this.health = {
        bitrate: Math.round(bitrate),
        unackedBytes: s.unackedBytes,
        unackedMs: s.unacked.length ? now - s.unacked[0].sentAt : 0,
        reconnects: s.reconnects,
        // WebCodecs only: frames encoded, and dropped before the encoder
        // while the upload was backed up.
        encodedFrames: rec ? rec.encoded : 0,
        droppedFrames: rec ? rec.dropped : 0,
        // And the sound put back on the clock: silence where the microphone
        // lost sound, and sound cut where it ran ahead, ms.
        soundFilledMs: sound ? Math.round(sound.filledUs / 1000) : 0,
        soundCutMs: sound ? Math.round(sound.cutUs / 1000) : 0,
      };
      this._call('onHealth', this.health);
    }

    // _acked forgets what the server holds.
    _acked(s, offset) {
      while (s.unacked.length && s.unacked[0].off + s.unacked[0].buf.byteLength <= offset) {
        s.unackedBytes -= s.unacked.shift().buf.byteLength;
      }
    }

    // _requeueFrom puts what was sent after offset, the server's end of the
    // stream, back in front of the queue. It reports false when the
    // broadcaster no longer holds those bytes.
    _requeueFrom(s, offset) {
      const first = s.unacked.length ? s.unacked[0].off : s.sent;
      if (offset < first || offset > s.sent) return false;
      const again = [];
      for (const it of s.unacked) {
        const skip = offset - it.off;
        if (skip >= it.buf.byteLength) continue;
        again.push({ buf: skip > 0 ? it.buf.slice(skip) : it.buf, t: it.t });
      }
      s.queue = again.concat(s.queue);
      s.queuedBytes = s.queue.reduce((n, it) => n + it.buf.byteLength, 0);
      s.unacked = [];
      s.unackedBytes = 0;
      s.sent = offset;
      return true;
    }

    _startRecording(s) {
      const rec = s.recorder;
      if (rec instanceof ChunkRecorder) return this._startEncoding(s, rec);
      // Blob.arrayBuffer() is asynchronous; chaining keeps the chunks in order.
      const mp4 = isMP4(this.mimeType);
      rec.addEventListener('dataavailable', (ev) => {
        const blob = ev.data;
        if (!blob || !blob.size) return; // Safari's and Chromium's last MP4 blob can be empty
        const t = Date.now();
        s.recorded += blob.size;
        if (s.noDataTimer) {
          this._scope.clearTimeout(s.noDataTimer);
          s.noDataTimer = 0;
        }
        if (mp4 && this._session === s && this.state === 'starting') this._setState('live', 'You are live.');
        s.readChain = s.readChain
          .then(() => blob.arrayBuffer())
          .then((buf) => this._enqueue(s, buf, t))
          .catch((err) => this._fail(s, `Could not read the recorded video: ${err.message || err}`));
      });
      s.recorderStopped = new Promise((resolve) => rec.addEventListener('stop', resolve, { once: true }));
      rec.addEventListener('error', (ev) => {
        const err = ev.error || ev;
        this._fail(s, `Recording failed: ${err.message || err.name || 'unknown error'}`);
      });
      const slice = this._conf.timesliceMs || 100;
      const keyframeMs = this._conf.keyframeMs || 2000;
      s.noDataTimer = this._scope.timeout(() => {
        s.noDataTimer = 0;
        if (this._current(s) && !s.recorded) this._fail(s, NO_DATA(this.mimeType));
      }, Math.max(NO_DATA_MS, 2 * keyframeMs + 2000, 2 * slice));
      rec.start(mp4 ? Math.max(MP4_MIN_TIMESLICE_MS, slice) : slice);
      s.thumbTimer = this._scope.timeout(() => this._thumbnail(s), THUMB_FIRST_MS);
    }

    // _startEncoding starts a ChunkRecorder: each chunk is queued as it
    // comes, in order.
    _startEncoding(s, rec) {
      rec.onchunk = (buf) => {
        s.recorded += buf.byteLength;
        this._enqueue(s, buf, Date.now());
      };
      rec.onerror = (err) => this._fail(s, `Encoding failed: ${err.message || err.name || 'unknown error'}`);
      s.recorderStopped = new Promise((resolve) => {
        const stop = rec.stop.bind(rec);
        rec.stop = () => stop().then(resolve);
      });
      s.noDataTimer = this._scope.timeout(() => {
        s.noDataTimer = 0;
        if (this._current(s) && !s.recorded) this._fail(s, NO_DATA(this.mimeType));
      }, NO_DATA_MS);
      rec.start();
      s.thumbTimer = this._scope.timeout(() => this._thumbnail(s), THUMB_FIRST_MS);
    }

    // _thumbnail sends a still of the preview when the broadcast is live,
    // the server holds some of it and the socket is not backed up, then
    // schedules the next.
    async _thumbnail(s) {
      s.thumbTimer = 0;
      if (!this._current(s)) return;
      const v = this.video;
      const ready =
        this.state === 'live' && s.socketOpen() && s.wsReady && !s.reconnecting && s.sent - s.unackedBytes > 0 &&
        s.ws.bufferedAmount <= HIGH_WATER / 2 && v && v.videoWidth > 0 && v.readyState >= 2;
      if (ready) {
        try {
          const data = await captureThumbnail(v, s.thumbMaxBytes || THUMB_MAX_BYTES);
          if (data && this._current(s) && s.socketOpen() && !s.reconnecting) {
            s.ws.send(JSON.stringify({ type: 'thumbnail', data }));
            s.thumbs++;
          }
        } catch (e) {
          /* a still is optional: try again later */
        }
      }
      if (this._current(s)) s.thumbTimer = this._scope.timeout(() => this._thumbnail(s), s.thumbs ? s.thumbEveryMs || THUMB_EVERY_MS : THUMB_RETRY_MS);
    }

    _enqueue(s, buf, t) {
      if (!this._current(s)) return;
      s.queue.push({ buf, t });
      s.queuedBytes += buf.byteLength;
      if (s.held() > MAX_QUEUE_BYTES) {
        this._fail(s, 'Too much video is waiting to be sent: the broadcast was stopped. Try a better connection.');
        return;
      }
      this._pump(s);
    }

    // _pump sends queued chunks in order while the socket's own buffer is
    // small; otherwise it keeps them and retries shortly.
    _pump(s) {
      const ws = s.ws;
      if (!s.socketOpen() || !s.wsReady) return;
      while (s.queue.length && (ws.bufferedAmount <= HIGH_WATER || s.flushing)) {
        const item = s.queue.shift();
        s.queuedBytes -= item.buf.byteLength;
        ws.send(item.buf);
        s.handed += item.buf.byteLength;
        s.unacked.push({ off: s.sent, buf: item.buf, t: item.t, sentAt: Date.now() });
        s.unackedBytes += item.buf.byteLength;
        s.sent += item.buf.byteLength;
      }
      if (!s.queue.length) {
        if (s.slow && this.state === 'live') {
          s.slow = false;
          this._status('You are live.');
        }
        return;
      }
      const age = Date.now() - s.queue[0].t;
      if (s.held() > MAX_QUEUE_BYTES || age > MAX_QUEUE_MS) {
        this._fail(s, 'Your upload is too slow for your camera: the broadcast was stopped. Try a better connection.');
        return;
      }
      if (!s.slow && this.state === 'live') {
        s.slow = true;
        this._status('Your upload is slower than your camera: viewers may see a delay.');
      }
      if (!s.pumpTimer) {
        s.pumpTimer = this._scope.timeout(() => {
          s.pumpTimer = 0;
          this._pump(s);
        }, PUMP_MS);
      }
    }

    // stop ends the broadcast: the recorder's final chunk is sent, then
    // {"type":"end"}, and the server closes the socket when the recording is saved.
    async stop() {
      const s = this._session;
      if (!s || !this.stoppable()) return;
      if (this.state === 'starting') {
        this._session = null;
        this._teardown(s);
        this._setState('idle', 'Cancelled.');
        return;
      }
      this._setState('stopping', 'Finishing your upload…');
      try {
        if (s.recorder.state !== 'inactive') {
          s.recorder.stop(); // fires a last dataavailable, then stop
          await s.recorderStopped;
        }
        await s.readChain; // every chunk is queued
        // A drop while finishing is resumed like one while live.
        for (let tries = 0; ; tries++) {
          if (s.reconnecting && !(await s.reconnecting)) return; // failed or ended: the state says so
          const ws = s.ws;
          if (!s.socketOpen()) throw new UserError(publisherMessage(s.closeEvent ? s.closeEvent.code : codes.Abnormal, s.closeEvent && s.closeEvent.reason));
          s.flushing = true; // ignore backpressure: everything goes, in order, before end
          this._pump(s);
          const closed = new Promise((resolve) => {
            s.onClosed = resolve;
          });
          ws.send(JSON.stringify({ type: 'end' }));
          const ev = await this._waitClose(ws, closed);
          s.onClosed = null;
          if (this._session !== s) return;
          if (ev && tries < 3 && this._canResume(s, ev)) {
            this._reconnect(s);
            continue;
          }
          this._teardown(s);
          if (ev && ev.code === codes.Normal) {
            this._setState('ended', 'You are offline. Recording saved.');
          } else if (ev) {
            this._setError(publisherMessage(ev.code, ev.reason));
            this._setState('error', this.lastError);
          } else {
            this._setState('ended', 'You are offline. The server did not confirm that the recording was saved.');
          }
          return;
        }
      } catch (err) {
        if (this._session === s) this._fail(s, err instanceof UserError ? err.message : `Stopping failed: ${err.message || err}`);
      }
    }

    // _waitClose waits for the server's close: 10 s after the socket's own
    // buffer has drained (a slow upload may need longer to get there, but
    // not more than a minute).
    async _waitClose(ws, closed) {
      const deadline = Date.now() + DRAIN_MAX_MS;
      const drained = new Promise((resolve) => {
        const check = () => {
          if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount === 0 || Date.now() > deadline || this.closed) resolve();
          else this._scope.timeout(check, 100);
        };
        check();
      });
      const first = await Promise.race([closed, drained.then(() => null)]);
      if (first) return first;
      let timer = 0;
      const timeout = new Promise((resolve) => {
        timer = this._scope.timeout(() => resolve(null), CLOSE_TIMEOUT_MS);
        if (!timer) resolve(null); // closed
      });
      const ev = await Promise.race([closed, timeout]);
      this._scope.clearTimeout(timer);
      if (!ev && ws.readyState === WebSocket.OPEN) ws.close(codes.Normal);
      return ev;
    }

    _stopWith(s, message) {
      this.stop().then(() => {
        if (this.state === 'ended') this._status(`${message} You are offline. Recording saved.`);
      });
    }

    // stopNow is the best effort for pagehide, when nothing can be awaited:
    // send what is queued, say end, close.
    stopNow() {
      const s = this._session;
      if (!s) return;
      const on = this.onAir() || this.state === 'stopping';
      if (on && s.socketOpen()) {
        s.flushing = true;
        this._pump(s);
        try {
          s.ws.send(JSON.stringify({ type: 'end' }));
        } catch (e) {
          /* closing anyway */
        }
      }
      this._session = null;
      this._teardown(s);
      if (on) this._setState('ended', 'You are offline.');
    }

    _fail(s, message) {
      if (s.failed) return;
      s.failed = true;
      if (this._session === s) this._session = null;
      this._teardown(s);
      this._setError(message);
      this._setState('error', message);
    }

    _teardown(s) {
      this._scope.clearTimeout(s.pumpTimer);
      s.pumpTimer = 0;
      this._scope.clearTimeout(s.noDataTimer);
      s.noDataTimer = 0;
      this._scope.clearTimeout(s.thumbTimer);
      s.thumbTimer = 0;
      try {
        if (s.recorder && s.recorder.state !== 'inactive') s.recorder.stop();
      } catch (e) {
        /* already stopped */
      }
      if (s.ws && s.ws.readyState <= WebSocket.OPEN) s.ws.close(codes.Normal);
      this._stopTracks(s);
      s.queue = [];
      s.queuedBytes = 0;
      s.unacked = [];
      s.unackedBytes = 0;
    }

    _stopTracks(s) {
      if (s.captureAudio) s.captureAudio.close().catch(() => {});
      s.captureAudio = null;
      stopStream(s.stream);
      if (s.stream) this._unshow(s.stream);
    }

    // close ends a broadcast the way leaving the page does (stopNow) and
    // releases the timers; the engine cannot be used again. A camera that
    // start() is still waiting for is stopped when it arrives.
    close() {
      if (this.closed) return;
      this.stopNow();
      this.stopPreview();
      this.closed = true;
      this._scope.close();
    }
  }

  // LevelMeter measures the loudness of a stream's first audio track ten
  // times a second with Web Audio (an AnalyserNode), for a microphone
  // level meter: onLevel(level) gets 0 (silence, or below LEVEL_FLOOR_DB)
  // to 100 (full scale) when it changes; a drop falls back gradually, as
  // a meter's needle does. No DOM: the widget shows the level.
  class LevelMeter {
    constructor(onLevel) {
      this.level = 0;
      this.closed = false;
      this._onLevel = onLevel;
      this._scope = new Scope();
      this._ctx = null; // the AudioContext, made on the first attach
      this._analyser = null;
      this._buf = null;
      this._source = null; // the attached track's source node
      this._timer = 0;
    }

    // attach measures stream's first audio track from now on (none, or
    // null, shows 0).
    attach(stream) {
      this._detach();
      const track = stream && stream.getAudioTracks ? stream.getAudioTracks()[0] : null;
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!track || !AC || this.closed) return;
      try {
        if (!this._ctx) {
          this._ctx = new AC();
          this._analyser = this._ctx.createAnalyser();
          this._analyser.fftSize = 1024;
          this._buf = new Float32Array(this._analyser.fftSize);
          // Safari processes only what reaches the destination: through
          // a silent gain, so the microphone is never heard.
          const mute = this._ctx.createGain();
          mute.gain.value = 0;
          this._analyser.connect(mute);
          mute.connect(this._ctx.destination);
        }
        this._source = this._ctx.createMediaStreamSource(new MediaStream([track]));
        this._source.connect(this._analyser);
      } catch (e) {
        return; // no meter, the rest works
      }
      this.resume();
      this._timer = this._scope.interval(() => this._measure(), LEVEL_MS);
    }

    // resume starts an AudioContext that the browser's autoplay policy
    // suspended until the person interacts with the page.
    resume() {
      if (this._ctx && this._ctx.state === 'suspended') this._ctx.resume().catch(() => {});
    }

    _measure() {
      this._analyser.getFloatTimeDomainData(this._buf);
      let peak = 0;
      for (const v of this._buf) peak = Math.max(peak, Math.abs(v));
      const db = peak > 0 ? 20 * Math.log10(peak) : -Infinity;
      const now = Math.max(0, Math.min(100, Math.round(((db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB) * 100)));
      this._report(Math.max(now, this.level - 8)); // falls 8 points a tick
    }

    _report(level) {
      if (level === this.level) return;
      this.level = level;
      this._onLevel(level);
    }

    _detach() {
      this._scope.clearInterval(this._timer);
      this._timer = 0;
      if (this._source) this._source.disconnect();
      this._source = null;
      this._report(0);
    }

    // close stops measuring and closes the AudioContext.
    close() {
      if (this.closed) return;
      this._detach();
      this.closed = true;
      this._scope.close();
      if (this._ctx) this._ctx.close().catch(() => {});
      this._ctx = null;
    }
  }

  // Broadcaster binds a BroadcastEngine to the broadcaster markup.
  class Broadcaster extends Widget {
    constructor(el) {
      super(el, 'amliveBroadcaster');
      this._startBtn = el.querySelector('[data-amlive-start]');
      this._stopBtn = el.querySelector('[data-amlive-stop]');
      this._viewersEl = el.querySelector('[data-amlive-viewers]');
      this._audienceEl = el.querySelector('[data-amlive-audience]');
      this._healthEl = el.querySelector('[data-amlive-health]');
      this._titleEl = el.querySelector('[data-amlive-title-input]');
      this._descEl = el.querySelector('[data-amlive-description-input]');
      this._metaStatusEl = el.querySelector('[data-amlive-meta-status]');
      this._metaTimer = 0; // sends an edit once typing stopped
      this._metaEdited = false; // the fields were edited since the page loaded
      this._cameraBtn = el.querySelector('[data-amlive-camera-toggle]');
      this._cameraSel = el.querySelector('select[data-amlive-camera]');
      this._micSel = el.querySelector('select[data-amlive-microphone]');
      this._resSel = el.querySelector('select[data-amlive-resolution]');
      this._levelEl = el.querySelector('[data-amlive-level]');
      this._devicesFilled = false; // the pickers list the devices (labels need the permission)
      this.meter = new LevelMeter((level) => this._onLevel(level));
      const cap = () => ({
        maxWidth: intAttr(el, 'data-max-width', DEFAULT_CAPTURE.maxWidth),
        maxHeight: intAttr(el, 'data-max-height', DEFAULT_CAPTURE.maxHeight),
        maxFrameRate: intAttr(el, 'data-max-fps', DEFAULT_CAPTURE.maxFrameRate),
      });
      const picked = (sel, key) => (sel && sel.value) || recall(key);
      const res = this._resSel;
      const camSel = this._cameraSel;
      const micSel = this._micSel;
      this.engine = new BroadcastEngine(el.querySelector('[data-amlive-preview]') || el.querySelector('video'), {
        url: (path, ws) => endpoint(el.getAttribute('data-base'), el.getAttribute('data-room'), path, ws),
        assetURL: (name) => assetURL(el.getAttribute('data-base'), name),
        // Read when a broadcast starts, as the attributes may change before.
        get mime() {
          return el.getAttribute('data-mime');
        },
        get reach() {
          const r = el.closest('[data-reach]');
          return r ? r.getAttribute('data-reach') : '';
        },
        get videoBps() {
          return intAttr(el, 'data-video-bps', DEFAULT_VIDEO_BPS);
        },
        get audioBps() {
          return intAttr(el, 'data-audio-bps', DEFAULT_AUDIO_BPS);
        },
        // The resolution picker's size (the largest allowed without one),
        // within the site's limits.
        get capture() {
          const c = cap();
          const opt = res && res.selectedOptions[0];
          const w = opt ? Number(opt.getAttribute('data-width')) : 0;
          const h = opt ? Number(opt.getAttribute('data-height')) : 0;
          return {
            ...c,
            width: w > 0 ? Math.min(w, c.maxWidth) : c.maxWidth,
            height: h > 0 ? Math.min(h, c.maxHeight) : c.maxHeight,
            frameRate: Math.min(DEFAULT_CAPTURE.frameRate, c.maxFrameRate),
          };
        },
        get videoDevice() {
          return picked(camSel, STORE_CAMERA);
        },
        get audioDevice() {
          return picked(micSel, STORE_MICROPHONE);
        },
        onStream: (st) => this._onStream(st),
        get keyframeMs() {
          return intAttr(el, 'data-keyframe-ms', 2000);
        },
        get timesliceMs() {
          return intAttr(el, 'data-timeslice-ms', 100);
        },
        get latency() {
          const r = el.closest('[data-latency]');
          return r ? r.getAttribute('data-latency') : '';
        },
        onState: (state, prev, message) => this._onState(state, prev, message),
        onStatus: (text) => this._status(text),
        onViewers: (n) => this._onViewers(n),
        onAudience: (a) => this._onAudience(a),
        onHealth: (h) => this._onHealth(h),
        onMeta: (m) => this._onMeta(m),
      });

      this._onClick(this._startBtn, () => this.start());
      this._onClick(this._stopBtn, () => this.stop());
      this._scope.listen(window, 'pagehide', () => this.engine.stopNow());
      for (const field of [this._titleEl, this._descEl]) {
        if (!field) continue;
        this._scope.listen(field, 'input', () => {
          this._metaEdited = true;
          this._scope.clearTimeout(this._metaTimer);
          this._metaTimer = this._scope.timeout(() => this._pushMeta(), META_DEBOUNCE_MS);
        });
        this._scope.listen(field, 'change', () => this._pushMeta());
      }
      this._onClick(this._cameraBtn, () => {
        if (this.engine.previewing()) {
          this.engine.stopPreview();
          this._status('Your camera is off.');
        } else {
          this._preview();
        }
      });
      for (const [sel, key] of [
        [this._cameraSel, STORE_CAMERA],
        [this._micSel, STORE_MICROPHONE],
        [this._resSel, STORE_RESOLUTION],
      ]) {
        if (!sel) continue;
        this._scope.listen(sel, 'change', () => {
          store(key, sel.value);
          if (!this.engine.busy()) this._preview(); // a new device: restart the camera with it
        });
      }
      if (this._resSel) {
        // The remembered size if the site still allows it, else the largest.
        const want = recall(STORE_RESOLUTION);
        const opts = [...this._resSel.options];
        const opt = opts.find((o) => o.value === want) || opts[opts.length - 1];
        if (opt) opt.selected = true;
      }
      // The browser's autoplay policy may keep the meter's AudioContext
      // suspended until the person interacts with the page.
      for (const type of ['pointerdown', 'keydown']) this._scope.listen(document, type, () => this.meter.resume());
      const md = navigator.mediaDevices;
      if (md && md.addEventListener) this._scope.listen(md, 'devicechange', () => this._fillDevices());

      const e = this.engine;
      if (e.state === 'unsupported') this._onState(e.state, '', e.lastError);
      else this._onState('idle', 'idle');
      this._autoPreview();
    }

    // _autoPreview starts the preview at once when the person already
    // allowed the camera and microphone (they are not asked again), unless
    // data-preview="click"; otherwise "Start camera" (or "Go live") asks.
    async _autoPreview() {
      const perms = navigator.permissions;
      if (this.el.getAttribute('data-preview') === 'click' || !perms || !perms.query || !navigator.mediaDevices) return;
      let granted = false;
      try {
        const states = await Promise.all([perms.query({ name: 'camera' }), perms.query({ name: 'microphone' })]);
        granted = states.every((st) => st.state === 'granted');
      } catch (e) {
        return; // a browser that does not tell (Firefox before 131): wait for a click
      }
      if (granted && !this.destroyed && !this.engine.busy() && !this.engine.stream) this._preview();
    }

    // _preview starts (or restarts) the camera preview and says so.
    _preview() {
      this.meter.resume();
      return this.engine.startPreview().then(
        (st) => {
          if (st && !this.engine.busy()) this._status('Your camera is on: only you see this preview until you go live.');
        },
        (err) => {
          if (!this.engine.busy()) this._status(err.message);
        },
      );
    }

    // _onStream follows the stream the preview shows: the meter listens
    // to it, and the pickers list the devices once it is allowed.
    _onStream(stream) {
      this.meter.attach(stream);
      if (stream) this._fillDevices();
      this._syncSetup();
    }

    _onLevel(level) {
      if (!this._levelEl) return;
      this._levelEl.value = level;
      this._levelEl.setAttribute('aria-valuetext', level ? `${level} %` : 'silent');
    }

    // _fillDevices lists the cameras and microphones in their pickers,
    // each showing the device in use (else the remembered one). Before
    // the person allowed the camera, browsers give no labels: the
    // pickers keep their "Default" entries then.
    async _fillDevices() {
      const md = navigator.mediaDevices;
      if (!md || !md.enumerateDevices) return;
      let devices;
      try {
        devices = await md.enumerateDevices();
      } catch (e) {
        return;
      }
      if (this.destroyed) return;
      const st = this.engine.stream;
      const inUse = (kind) => {
        const track = st && (kind === 'videoinput' ? st.getVideoTracks() : st.getAudioTracks())[0];
        const settings = track && track.getSettings ? track.getSettings() : {};
        return settings.deviceId || '';
      };
      const fill = (sel, kind, key, noun) => {
        if (!sel) return;
        const list = devices.filter((d) => d.kind === kind && d.deviceId);
        if (!list.length || list.every((d) => !d.label)) return; // not allowed yet
        const want = inUse(kind) || sel.value || recall(key);
        sel.replaceChildren(
          ...list.map((d, i) => {
            const o = document.createElement('option');
            o.value = d.deviceId;
            o.textContent = d.label || `${noun} ${i + 1}`;
            return o;
          }),
        );
        if (list.some((d) => d.deviceId === want)) sel.value = want;
        this._devicesFilled = true;
      };
      fill(this._cameraSel, 'videoinput', STORE_CAMERA, 'Camera');
      fill(this._micSel, 'audioinput', STORE_MICROPHONE, 'Microphone');
    }

    // _syncSetup enables the camera controls before going live only: a
    // MediaRecorder cannot change its tracks, so the devices stay those
    // the broadcast started with.
    _syncSetup() {
      const busy = this.engine.busy();
      for (const sel of [this._cameraSel, this._micSel, this._resSel]) if (sel) sel.disabled = busy;
      if (this._cameraBtn) {
        this._cameraBtn.disabled = busy;
        this._cameraBtn.textContent = this.engine.stream ? 'Turn camera off' : 'Start camera';
      }
      this.el.dataset.camera = this.engine.stream ? 'on' : 'off';
    }

    get source() {
      return this.engine.source;
    }
    set source(fn) {
      this.engine.source = fn;
    }

    // startPreview turns the camera on before going live (as "Start
    // camera" does), stopPreview off.
    startPreview() {
      return this._preview();
    }
    stopPreview() {
      this.engine.stopPreview();
    }

    // start captures, connects and, once the server is ready, records.
    start() {
      this.meter.resume(); // a click: the browser lets audio start now
      if (this._metaEdited || this._fieldValue(this._titleEl) || this._fieldValue(this._descEl)) this._pushMeta();
      return this.engine.start();
    }

    // setMeta fills the title and description fields and sends them (now
    // when on air, else after "Go live").
    setMeta(m) {
      if (this._titleEl) this._titleEl.value = String((m && m.title) || '');
      if (this._descEl) this._descEl.value = String((m && m.description) || '');
      this._metaEdited = true;
      this._pushMeta();
    }

    _fieldValue(field) {
      return field ? field.value : '';
    }

    // _pushMeta hands the fields to the engine.
    _pushMeta() {
      this._scope.clearTimeout(this._metaTimer);
      this._metaTimer = 0;
      this.engine.setMeta({ title: this._fieldValue(this._titleEl), description: this._fieldValue(this._descEl) });
    }

    // _onMeta shows what the server applied, in the fields too unless an
    // edit is waiting to be sent or a field is being edited.
    _onMeta(m) {
      const editing = this._metaTimer || [this._titleEl, this._descEl].includes(document.activeElement);
      if (!editing) {
        if (this._titleEl) this._titleEl.value = m.title;
        if (this._descEl) this._descEl.value = m.description;
      }
      if (this._metaStatusEl) {
        this._metaStatusEl.textContent = m.title ? `Viewers see the title “${m.title}”.` : 'No title: viewers see the room’s name.';
      }
      this._emit('meta', { title: m.title, description: m.description });
    }

    // stop ends the broadcast once the server has saved it.
    stop() {
      return this.engine.stop();
    }

    _onState(state, prev, message) {
      const e = this.engine;
      this.el.dataset.state = state;
      if (message !== undefined) this._status(message);
      if (this._startBtn) this._startBtn.disabled = e.busy() || state === 'unsupported';
      if (this._stopBtn) this._stopBtn.disabled = !e.stoppable();
      this._syncSetup();
      if (prev !== state) this._emit('state', { state, previous: prev, message: message || '' });
    }

    _onAudience(a) {
      if (!this._audienceEl) return;
      if (!a.viewers) {
        this._audienceEl.textContent = 'No reports from viewers yet.';
        return;
      }
      const delay = `median delay ${a.medianDelay.toFixed(1)} s`;
      const stalling = a.stalling ? `, ${a.stalling} stalling` : ', none stalling';
      const dropped = a.droppedFrames >= 0.001 ? `, ${(a.droppedFrames * 100).toFixed(1)} % frames dropped` : '';
      this._audienceEl.textContent = `${a.viewers} watching, ${delay}${stalling}${dropped}`;
    }

    _onHealth(h) {
      if (!this._healthEl) return;
      const mbit = ((h.bitrate * 8) / 1e6).toFixed(2);
      const kb = Math.round(h.unackedBytes / 1024);
      const oldest = (h.unackedMs / 1000).toFixed(1);
      const rc = h.reconnects === 1 ? '1 reconnect' : `${h.reconnects} reconnects`;
      this._healthEl.textContent = `Upload ${mbit} Mbit/s, ${kb} KiB awaiting acknowledgement (oldest ${oldest} s), ${rc}`;
    }

    _onViewers(n) {
      if (this._viewersEl) this._viewersEl.textContent = `${n} watching`;
      this._emit('viewers', { count: n });
    }

    _release() {
      this.engine.close();
      this.meter.close();
    }
  }

  // showShareLinks shows the share link on the broadcast page as an absolute URL.
  function showShareLinks(root) {
    if (!root.querySelectorAll) return;
    for (const input of root.querySelectorAll('input[data-amlive-share]')) {
      try {
        input.value = new URL(input.value, document.baseURI).href;
      } catch (e) {
        /* leave it */
      }
    }
  }

  expose(Broadcaster, ['state', 'broadcast', 'mimeType', 'videoCodec', 'viewers', 'audience', 'health', 'meta', 'lastError', 'recorder', 'stream']);

  amlive.BroadcastEngine = BroadcastEngine;
  amlive.LevelMeter = LevelMeter;
  amlive.SoundClock = SoundClock;
  amlive.initBroadcasters = register({
    selector: SELECTOR,
    prop: 'amliveBroadcaster',
    create: (el) => new Broadcaster(el),
    after: showShareLinks,
  });
})();
