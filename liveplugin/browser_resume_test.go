package liveplugin_test

// The publisher's network drop and resume, from the broadcast page, is the
// "publisher resumes" row of TestEngines (scenarioResume), on every engine
// that records WebM; these are its scripts.

import "github.com/amlive/amlive/internal/chrometest"

// jsCaptureRecorder makes the page keep a copy of every chunk its
// MediaRecorders produce (window.__produced), and log the broadcaster's
// states (window.__states). It must run before "Go live".
const jsCaptureRecorder = `(() => {
  window.__produced = [];
  window.__states = [];
  const start = MediaRecorder.prototype.start;
  MediaRecorder.prototype.start = function (...args) {
    this.addEventListener('dataavailable', (ev) => { if (ev.data && ev.data.size) window.__produced.push(ev.data); });
    return start.apply(this, args);
  };
  ` + chrometest.BroadcasterJS + `.amliveBroadcaster.on('state', (d) => window.__states.push(d.state));
  return true;
})()`

// jsProduced is every byte the page's MediaRecorder produced, in base64.
const jsProduced = `(async () => {
  const bytes = new Uint8Array(await new Blob(window.__produced).arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
})()`
