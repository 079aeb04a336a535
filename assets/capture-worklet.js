// amlive capture worklet: the microphone's sound for the low-latency
// broadcaster where the browser has WebCodecs but no
// MediaStreamTrackProcessor (Firefox). broadcaster.js loads it with
// audioWorklet.addModule from {base}/assets/capture-worklet.js and connects
// the microphone to an AudioWorkletNode named 'amlive-capture'; the
// processor gathers the input into blocks of processorOptions.frames
// sample frames and posts each to the node's port as
// {frame, planes: [Float32Array per channel]} (frame: the AudioContext's
// sample frame of the block's first sample), transferring the planes. It
// outputs silence.
class AmliveCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.frames = Math.max(128, o.frames | 0 || 960);
    this.channels = Math.min(Math.max(o.channels | 0 || 1, 1), 2);
    this.planes = null;
    this.filled = 0;
    this.first = 0;
    this.stopped = false;
    this.port.onmessage = (ev) => {
      if (ev.data === 'stop') this.stopped = true;
    };
  }

  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0];
    if (!input || !input.length) return true; // no source connected yet
    const n = input[0].length;
    for (let i = 0; i < n; ) {
      if (!this.planes) {
        this.planes = [];
        for (let ch = 0; ch < this.channels; ch++) this.planes.push(new Float32Array(this.frames));
        this.filled = 0;
        this.first = currentFrame + i;
      }
      const take = Math.min(n - i, this.frames - this.filled);
      for (let ch = 0; ch < this.channels; ch++) {
        // Fewer channels in than asked for: the first is repeated.
        const src = input[Math.min(ch, input.length - 1)];
        this.planes[ch].set(src.subarray(i, i + take), this.filled);
      }
      this.filled += take;
      i += take;
      if (this.filled === this.frames) {
        const planes = this.planes;
        this.planes = null;
        this.port.postMessage({ frame: this.first, planes }, planes.map((p) => p.buffer));
      }
    }
    return true;
  }
}

registerProcessor('amlive-capture', AmliveCapture);
