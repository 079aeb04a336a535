// Glass-to-glass reader: the viewer page's meter hands it each frame the
// WebCodecs player shows, as a VideoFrame taken when it was shown, and it
// reads the clock back here, so that the readback (drawImage, getImageData:
// up to tens of ms on a busy machine) does not hold up the player on the
// page's main thread. It answers each frame with its code, null when
// unreadable, in the order they came.
'use strict';
importScripts('/g2g/clock.js');

const readFrom = g2gClock.reader(new OffscreenCanvas(1, 1));

self.onmessage = (ev) => {
  const frame = ev.data;
  const code = readFrom(frame);
  frame.close();
  self.postMessage(code);
};
