// Glass-to-glass reader: the viewer page's meter hands it each frame the
// WebCodecs player shows, as a VideoFrame taken when it was shown, and it
// reads the clock back here, so that the readback (drawImage, getImageData:
// up to tens of ms on a busy machine) does not hold up the player on the
// page's main thread. It answers each {id, frame} with {id, code}, code
// null when unreadable, in the order they came.
'use strict';
importScripts('/g2g/clock.js');

const r = g2gClock.region;
const canvas = new OffscreenCanvas(r.x + r.w, r.y + r.h);
const ctx = canvas.getContext('2d', { willReadFrequently: true });

self.onmessage = (ev) => {
  const { id, frame } = ev.data;
  ctx.drawImage(frame, r.x, r.y, r.w, r.h, r.x, r.y, r.w, r.h);
  frame.close();
  self.postMessage({ id, code: g2gClock.read(ctx) });
};
