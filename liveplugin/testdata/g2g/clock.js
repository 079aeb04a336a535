// Glass-to-glass clock: a picture code for the wall-clock time, drawn into
// the publisher's canvas and read back from the viewer's decoded frames.
//
// Layout, in pixels of a 640x360 frame: a grid of 8 columns by 7 rows of
// 40x40 cells at (40, 40). Row 0 is the sync pattern (white, black, …);
// rows 1–6 hold 48 bits, most significant first: the low 32 bits of
// Date.now() (ms), an 8-bit frame counter and a CRC-8 of those 5 bytes.
// A cell is white (1) or black (0); the reader averages the middle 20x20
// pixels of each cell, so blocking and ringing of VP8/VP9 do not matter.
(() => {
  'use strict';

  const W = 640;
  const H = 360;
  const CELL = 40;
  const COLS = 8;
  const ROWS = 7; // sync + 6 data rows
  const X0 = 40;
  const Y0 = 40;
  const INNER = 20; // the averaged middle of a cell

  function crc8(bytes) {
    let c = 0;
    for (const b of bytes) {
      c ^= b;
      for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
    }
    return c;
  }

  function low32(ms) {
    return ms % 4294967296;
  }

  function payload(ms, seq) {
    const t = low32(ms);
    const b = [Math.floor(t / 16777216) & 0xff, (t >>> 16) & 0xff, (t >>> 8) & 0xff, t & 0xff, seq & 0xff];
    b.push(crc8(b));
    return b;
  }

  // draw paints the code for time ms and counter seq, plus some motion
  // (a sweeping bar) so that the encoder has a little work to do.
  function draw(ctx, ms, seq) {
    ctx.fillStyle = '#404040';
    ctx.fillRect(0, 0, W, H);
    const x = (seq * 8) % W;
    ctx.fillStyle = '#a05020';
    ctx.fillRect(x, 0, 24, H);
    const bytes = payload(ms, seq);
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < COLS; c++) {
        let on;
        if (r === 0) {
          on = c % 2 === 0;
        } else {
          const i = (r - 1) * COLS + c;
          on = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
        }
        ctx.fillStyle = on ? '#ffffff' : '#000000';
        ctx.fillRect(X0 + c * CELL, Y0 + r * CELL, CELL, CELL);
      }
    }
    ctx.fillStyle = '#ffffff';
    ctx.font = '20px monospace';
    ctx.fillText(`${new Date(ms).toISOString()} #${seq}`, X0 + COLS * CELL + 20, Y0 + 20);
  }

  // read decodes the code from ctx, a 2D context holding a frame of at
  // least the grid's size. It returns {t, seq} (t: the low 32 bits of the
  // time in ms) or null when the sync pattern or the CRC does not match.
  function read(ctx) {
    const img = ctx.getImageData(X0, Y0, COLS * CELL, ROWS * CELL);
    const bits = [];
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < COLS; c++) {
        let sum = 0;
        const x1 = c * CELL + (CELL - INNER) / 2;
        const y1 = r * CELL + (CELL - INNER) / 2;
        for (let y = y1; y < y1 + INNER; y++) {
          for (let x = x1; x < x1 + INNER; x++) {
            const o = (y * img.width + x) * 4;
            sum += img.data[o] + img.data[o + 1] + img.data[o + 2];
          }
        }
        bits.push(sum / (3 * INNER * INNER) >= 128 ? 1 : 0);
      }
    }
    for (let c = 0; c < COLS; c++) if (bits[c] !== (c % 2 === 0 ? 1 : 0)) return null;
    const bytes = [];
    for (let i = 0; i < 6; i++) {
      let v = 0;
      for (let k = 0; k < 8; k++) v = (v << 1) | bits[COLS + i * 8 + k];
      bytes.push(v);
    }
    if (crc8(bytes.slice(0, 5)) !== bytes[5]) return null;
    return { t: ((bytes[0] * 256 + bytes[1]) * 256 + bytes[2]) * 256 + bytes[3], seq: bytes[4] };
  }

  // since returns now − t in ms, for t from read (low 32 bits).
  function since(now, t) {
    return (low32(now) - t + 4294967296) % 4294967296;
  }

  // region is the part of a frame read reads: a reader need copy no more.
  const region = { x: X0, y: Y0, w: COLS * CELL, h: ROWS * CELL };

  // reader returns readFrom(src), which copies the region of src (a video,
  // a canvas, a VideoFrame) into canvas (a page's or an OffscreenCanvas,
  // sized here) and reads the code from it, as read does.
  function reader(canvas) {
    canvas.width = region.x + region.w;
    canvas.height = region.y + region.h;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const r = region;
    return (src) => {
      ctx.drawImage(src, r.x, r.y, r.w, r.h, r.x, r.y, r.w, r.h);
      return read(ctx);
    };
  }

  // self: a page's window, or a worker's scope (reader.js).
  self.g2gClock = { W, H, region, draw, read, reader, since };
})();
