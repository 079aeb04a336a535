// Helpers the browser package's tests call through Page.Eval. Each
// returns plain data (or a promise of it) that JSON can carry.
'use strict';

// A console.error at load time, before the page has finished loading.
console.error('load-time console.error');

document.addEventListener('DOMContentLoaded', () => {
  document.body.dataset.ready = 'yes';
});

window.smoke = {
  // Errors of each kind after load: an uncaught error, a console.error and
  // a Content-Security-Policy violation (an image from another origin).
  misbehave() {
    setTimeout(() => { throw new Error('late uncaught error'); }, 0);
    console.error('late console.error', {code: 7});
    const img = document.createElement('img');
    img.src = 'http://127.0.0.2:9/blocked.png';
    document.body.append(img);
  },

  // getUserMedia with video and audio; the tracks, left running in
  // window.smokeStream.
  async gum() {
    const s = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 360}, audio: true});
    window.smokeStream = s;
    return s.getTracks().map((t) => ({kind: t.kind, readyState: t.readyState, enabled: t.enabled, muted: t.muted, label: t.label}));
  },

  // What the engine says it supports.
  support() {
    const mse = {};
    const types = [
      'video/webm;codecs="vp8,opus"',
      'video/webm;codecs="vp9,opus"',
      'video/mp4;codecs="avc1.42C01F,mp4a.40.2"',
      'video/mp4;codecs="avc1.42C01F,opus"',
    ];
    for (const t of types) mse[t] = typeof MediaSource === 'function' && MediaSource.isTypeSupported(t);
    const managed = {};
    for (const t of types) managed[t] = typeof ManagedMediaSource === 'function' && ManagedMediaSource.isTypeSupported(t);
    const rec = {};
    for (const t of [
      'video/webm',
      'video/webm;codecs=vp8,opus',
      'video/webm;codecs=vp9,opus',
      'video/mp4',
      'video/mp4;codecs=avc1,opus',
      'video/mp4;codecs=avc1,mp4a.40.2',
      'video/mp4;codecs="avc1.42C01F,mp4a.40.2"',
    ]) rec[t] = typeof MediaRecorder === 'function' && MediaRecorder.isTypeSupported(t);
    return {
      userAgent: navigator.userAgent,
      mediaSource: typeof MediaSource === 'function',
      managedMediaSource: typeof ManagedMediaSource === 'function',
      mse, managed, recorder: rec,
    };
  },

  // Plays the WebM at url through MSE (ManagedMediaSource when managed is
  // true) on the page's video element; resolves once the data is appended
  // and play() has been called.
  async playMSE(url, mime, managed) {
    const v = document.getElementById('v');
    const MS = managed ? window.ManagedMediaSource : window.MediaSource;
    const ms = new MS();
    if (managed) v.disableRemotePlayback = true;
    v.src = URL.createObjectURL(ms);
    await new Promise((resolve, reject) => {
      ms.addEventListener('sourceopen', resolve, {once: true});
      v.addEventListener('error', () => reject(new Error('video error before sourceopen: ' + (v.error && v.error.message))), {once: true});
    });
    const sb = ms.addSourceBuffer(mime);
    const data = await (await fetch(url)).arrayBuffer();
    await new Promise((resolve, reject) => {
      sb.addEventListener('updateend', resolve, {once: true});
      sb.addEventListener('error', () => reject(new Error('SourceBuffer error; video.error: ' + (v.error && v.error.code + ' ' + v.error.message))), {once: true});
      sb.appendBuffer(data);
    });
    ms.endOfStream();
    // play() can hang when there is no data at currentTime: do not await it
    // for long.
    const played = v.play().then(() => 'playing', (e) => 'play() failed: ' + e);
    return Promise.race([played, new Promise((r) => setTimeout(() => r('play() pending'), 2000))]);
  },

  // Appends the media at urls (fetched first) to a SourceBuffer of type
  // mime on the page's video element as a live stream would come: the
  // first two at once, then one every paceMs; plays, and resolves after
  // watchMs of playback with what was painted: the frames
  // requestVideoFrameCallback saw, the longest wall-clock gap between two
  // of them, currentTime, the buffered ranges and any error.
  async playChunks(urls, mime, paceMs, watchMs) {
    const v = document.getElementById('v');
    const bufs = await Promise.all(urls.map(async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer())));
    const ms = new MediaSource();
    v.src = URL.createObjectURL(ms);
    await new Promise((resolve) => ms.addEventListener('sourceopen', resolve, {once: true}));
    const sb = ms.addSourceBuffer(mime);
    const queue = [];
    const pump = () => { if (!sb.updating && queue.length) sb.appendBuffer(queue.shift()); };
    sb.addEventListener('updateend', pump);
    const push = (b) => { queue.push(b); pump(); };
    push(bufs[0]);
    if (bufs.length > 1) push(bufs[1]);
    let next = 2;
    const timer = setInterval(() => { if (next < bufs.length) push(bufs[next++]); }, paceMs);
    await new Promise((resolve) => { const check = () => (v.buffered.length ? resolve() : setTimeout(check, 20)); check(); });
    v.currentTime = v.buffered.start(0);
    const frames = [];
    const onFrame = (now) => { frames.push(now); v.requestVideoFrameCallback(onFrame); };
    v.requestVideoFrameCallback(onFrame);
    v.play().catch(() => {});
    await new Promise((r) => setTimeout(r, watchMs));
    clearInterval(timer);
    let maxGap = 0;
    for (let i = 1; i < frames.length; i++) maxGap = Math.max(maxGap, frames[i] - frames[i - 1]);
    const b = v.buffered;
    const ranges = [];
    for (let i = 0; i < b.length; i++) ranges.push([b.start(i), b.end(i)]);
    return {frames: frames.length, maxGapMs: Math.round(maxGap), currentTime: v.currentTime, buffered: ranges,
      error: v.error ? v.error.code + ' ' + v.error.message : null};
  },

  // What a person would see of the video element.
  video() {
    const v = document.getElementById('v');
    const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
    const b = v.buffered;
    return {
      currentTime: v.currentTime,
      totalVideoFrames: q.totalVideoFrames || 0,
      droppedVideoFrames: q.droppedVideoFrames || 0,
      error: v.error ? v.error.code + ' ' + v.error.message : null,
      paused: v.paused,
      readyState: v.readyState,
      buffered: b.length ? [b.start(0), b.end(b.length - 1)] : [],
      videoWidth: v.videoWidth,
    };
  },

  // Records window.smokeStream for ms with timeslice and the recorder
  // options opts, uploads the whole recording to /upload/NAME when name is
  // set, and resolves with the recorder's mimeType and each chunk's size.
  async record(ms, timeslice, opts, name) {
    if (!window.smokeStream) await this.gum();
    const r = new MediaRecorder(window.smokeStream, opts);
    const chunks = [];
    r.addEventListener('dataavailable', (e) => chunks.push(e.data));
    const stopped = new Promise((resolve, reject) => {
      r.addEventListener('stop', resolve, {once: true});
      r.addEventListener('error', (e) => reject(new Error('MediaRecorder error: ' + (e.error || e))), {once: true});
    });
    r.start(timeslice);
    await new Promise((res) => setTimeout(res, ms));
    r.stop();
    await stopped;
    const out = {mimeType: r.mimeType, sizes: chunks.map((c) => c.size), types: chunks.map((c) => c.type)};
    if (name) {
      const resp = await fetch('/upload/' + name, {method: 'POST', body: new Blob(chunks)});
      out.uploaded = resp.status;
    }
    return out;
  },
};
