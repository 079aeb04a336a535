// amlive core: what every widget shares. The head partial loads it after
// protocol.js (the close codes and events, generated from the Go side) and
// before player.js and broadcaster.js.
//
// amlive.init(root) initialises every amlive widget under root (default:
// document) whose script is loaded; it is safe to call again for new markup.
// amlive.destroy(root) destroys them: each releases its timers, listeners,
// sockets, media and camera, and its element can be removed or initialised
// again. Each widget element also has el.amlivePlayer.destroy() or
// el.amliveBroadcaster.destroy().
//
// amlive.core holds the helpers the widgets are built from: endpoint, assetURL,
// intAttr, closeMessage, retries, Emitter, Scope, Widget, expose and register;
// openFeedSocket and sendOnFeed for the players' subscribe sockets; and ebml
// (vintLen, uint, header: WebM's element headers).
(function (amlive) {
  'use strict';

  const protocol = amlive.protocol || Object.freeze({ close: {}, codes: {}, events: {} });

  // closeMessage is the sentence a widget shows for a WebSocket close code;
  // audience is 'viewer' or 'publisher'. The server's reason, if any, follows.
  function closeMessage(audience, code, reason) {
    const info = protocol.close[code];
    const sentence = (info && info[audience]) || `The connection closed unexpectedly (code ${code}).`;
    return reason ? `${sentence} (Server: ${reason})` : sentence;
  }

  // retries reports whether a viewer reconnects after the close code; an
  // unknown code is retried.
  function retries(code) {
    const info = protocol.close[code];
    return info ? info.retry : true;
  }

  // endpoint builds {base}/{room}/{path} against the page; base may be a path
  // ("/live") or an absolute http(s) URL. ws=true gives the ws:/wss: form.
  function endpoint(base, room, path, ws) {
    const u = new URL(`${trimBase(base)}/${encodeURIComponent(room)}/${path}`, document.baseURI);
    if (ws) u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u;
  }

  // assetURL is the URL of the plugin's asset name (served under
  // {base}/assets/) against the page.
  function assetURL(base, name) {
    return new URL(`${trimBase(base)}/assets/${name}`, document.baseURI).href;
  }

  function trimBase(base) {
    return (base || '').replace(/\/+$/, '');
  }

  // intAttr is the element's attribute name as a positive integer, or def.
  function intAttr(el, name, def) {
    const v = parseInt(el.getAttribute(name) || '', 10);
    return Number.isFinite(v) && v > 0 ? v : def;
  }

  // Emitter calls the functions registered for an event; one that throws is
  // logged and does not stop the others.
  class Emitter {
    constructor() {
      this._fns = new Map(); // event → [fn]
    }

    // on registers fn for event; it returns a function that unregisters it.
    on(event, fn) {
      this._fns.set(event, (this._fns.get(event) || []).concat(fn));
      return () => {
        this._fns.set(event, (this._fns.get(event) || []).filter((f) => f !== fn));
      };
    }

    emit(event, detail) {
      for (const fn of this._fns.get(event) || []) {
        try {
          fn(detail);
        } catch (e) {
          console.error(e);
        }
      }
    }

    clear() {
      this._fns.clear();
    }
  }

  // Scope owns the timers and listeners of one widget or engine, so that
  // close() releases them all. After close() nothing new starts: timeout and
  // interval do nothing, sleep resolves at once.
  class Scope {
    constructor() {
      this.closed = false;
      this._timeouts = new Set();
      this._intervals = new Set();
      this._listeners = new Set(); // {target, type, fn, opts}
      this._sleepers = new Set(); // resolve functions of pending sleeps
    }

    timeout(fn, ms) {
      if (this.closed) return 0;
      const id = setTimeout(() => {
        this._timeouts.delete(id);
        fn();
      }, ms);
      this._timeouts.add(id);
      return id;
    }

    clearTimeout(id) {
      if (!id) return;
      clearTimeout(id);
      this._timeouts.delete(id);
    }

    interval(fn, ms) {
      if (this.closed) return 0;
      const id = setInterval(fn, ms);
      this._intervals.add(id);
      return id;
    }

    clearInterval(id) {
      if (!id) return;
      clearInterval(id);
      this._intervals.delete(id);
    }

    // sleep resolves after ms, or when the scope closes.
    sleep(ms) {
      return new Promise((resolve) => {
        if (this.closed) return resolve();
        const done = () => {
          this._sleepers.delete(done);
          resolve();
        };
        this._sleepers.add(done);
        const id = this.timeout(done, ms);
        if (!id) done();
      });
    }

    // listen adds a listener that close() removes; it returns a function
    // that removes it sooner.
    listen(target, type, fn, opts) {
      if (this.closed) return () => {};
      const rec = { target, type, fn, opts };
      if (opts && opts.once) {
        rec.fn = (ev) => {
          this._listeners.delete(rec);
          fn(ev);
        };
      }
      target.addEventListener(type, rec.fn, opts);
      this._listeners.add(rec);
      return () => {
        if (this._listeners.delete(rec)) target.removeEventListener(type, rec.fn, opts);
      };
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      for (const id of this._timeouts) clearTimeout(id);
      for (const id of this._intervals) clearInterval(id);
      for (const r of this._listeners) r.target.removeEventListener(r.type, r.fn, r.opts);
      this._timeouts.clear();
      this._intervals.clear();
      this._listeners.clear();
      const sleepers = [...this._sleepers];
      this._sleepers.clear();
      for (const resolve of sleepers) resolve();
    }
  }

  // Widget is the DOM side every widget shares: its element, its listeners
  // (a Scope), events announced both to on() and as DOM events amlive:EVENT,
  // the status line, and destroy().
  // Engine is the base of the widgets' engines (PlayerEngine,
  // BroadcastEngine): no DOM but the video element it is given, a conf
  // object of callbacks (each optional: onState(state, previous, message),
  // onStatus(text), onError(message), onViewers(count), and each engine's
  // own), the state every engine reports, and a Scope that holds its
  // timers and listeners until close().
  class Engine {
    constructor(video, conf, state) {
      this.video = video;
      this.state = state;
      this.viewers = 0;
      this.lastError = '';
      this.closed = false;

      this._conf = conf;
      this._scope = new Scope();
    }

    _call(name, ...args) {
      if (!this.closed && this._conf[name]) this._conf[name](...args);
    }

    _status(text) {
      this._call('onStatus', text);
    }

    _setState(state, message) {
      const prev = this.state;
      this.state = state;
      this._call('onState', state, prev, message);
    }

    _setViewers(n) {
      this.viewers = n;
      this._call('onViewers', n);
    }

    _setError(message) {
      this.lastError = message;
      this._call('onError', message);
    }
  }

  class Widget {
    constructor(el, prop) {
      this.el = el;
      this.destroyed = false;
      this._prop = prop; // the element property that holds the widget
      this._scope = new Scope();
      this._emitter = new Emitter();
      this._statusEl = el.querySelector('[data-amlive-status]');
    }

    // on registers fn for an event; it returns a function that unregisters it.
    on(event, fn) {
      return this._emitter.on(event, fn);
    }

    _emit(event, detail) {
      if (this.destroyed) return;
      this._emitter.emit(event, detail);
      this.el.dispatchEvent(new CustomEvent(`amlive:${event}`, { detail, bubbles: true }));
    }

    _status(text) {
      if (this._statusEl && !this.destroyed) this._statusEl.textContent = text;
    }

    // _onClick calls fn when el (which may be missing) is clicked.
    _onClick(el, fn) {
      if (el) this._scope.listen(el, 'click', fn);
    }

    // destroy releases everything the widget holds; the element may then be
    // removed or initialised again.
    destroy() {
      if (this.destroyed) return;
      this._release();
      this.destroyed = true;
      this._scope.close();
      this._emitter.clear();
      if (this.el[this._prop] === this) delete this.el[this._prop];
    }

    // _release is each widget's own part of destroy (its engine).
    _release() {}
  }

  // expose gives cls read-only properties that read this.engine's of the
  // same names: a widget's public state is its engine's.
  function expose(cls, names) {
    for (const name of names) {
      Object.defineProperty(cls.prototype, name, {
        get() {
          return this.engine[name];
        },
        configurable: true,
      });
    }
  }

  // kinds are the registered widget kinds: {selector, prop, create, after}.
  const kinds = [];

  function elementsUnder(root, selector) {
    const r = root || document;
    const els = [];
    if (r.matches && r.matches(selector)) els.push(r);
    if (r.querySelectorAll) els.push(...r.querySelectorAll(selector));
    return els;
  }

  function initKind(kind, root) {
    for (const el of elementsUnder(root, kind.selector)) {
      if (!el[kind.prop] && kind.accepts(el)) el[kind.prop] = kind.create(el);
    }
    if (kind.after) kind.after(root || document);
  }

  // register adds a widget kind: create(el) builds the widget of each
  // element matching selector (and accepts(el), if given) and stores it in
  // el[prop]; after(root), if given, runs after each init. It initialises
  // the document now, or on DOMContentLoaded while it is loading. It
  // returns the kind's own init function.
  function register({ selector, prop, create, accepts, after }) {
    const kind = { selector, prop, create, accepts: accepts || (() => true), after };
    kinds.push(kind);
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', () => initKind(kind, document), { once: true });
    } else {
      initKind(kind, document);
    }
    return (root) => initKind(kind, root);
  }

  amlive.init = function init(root) {
    for (const kind of kinds) initKind(kind, root);
  };

  amlive.destroy = function destroy(root) {
    for (const kind of kinds) {
      for (const el of elementsUnder(root, kind.selector)) {
        if (el[kind.prop] && el[kind.prop].destroy) el[kind.prop].destroy();
      }
    }
  };

  // openFeedSocket opens the subscribe WebSocket at url for a player's feed
  // (the MSE one or the WebCodecs one): JSON text messages go to
  // feed.conf.onText(msg) (others are dropped), binary ones to
  // onMedia(ArrayBuffer), and the close clears feed.ws and goes to
  // feed.conf.onClose(ev); nothing is passed on once feed.closed.
  function openFeedSocket(feed, url, onMedia) {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => {
      if (feed.closed) return;
      if (typeof ev.data !== 'string') {
        onMedia(ev.data);
        return;
      }
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      feed.conf.onText(msg);
    };
    ws.onclose = (ev) => {
      if (feed.closed) return;
      feed.ws = null;
      feed.conf.onClose(ev);
    };
    ws.onerror = () => {}; // a close event with the code always follows
    return ws;
  }

  // sendOnFeed sends msg as JSON on feed's socket if it is open, and
  // reports whether it did.
  function sendOnFeed(feed, msg) {
    const ws = feed.ws;
    if (feed.closed || !ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  // EBML (the element format of WebM), as the player's Cluster merger and
  // the WebCodecs demuxer read it.

  // vintLen is the length of the variable-size integer whose first byte is
  // first: 1 to 8, or 0 when first is 0.
  function vintLen(first) {
    for (let n = 1; n <= 8; n++) if (first & (0x100 >> n)) return n;
    return 0;
  }

  // uint reads the n-byte big-endian unsigned integer at b[i:].
  function uint(b, i, n) {
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 256 + b[i + k];
    return v;
  }

  // header reads the ID and size of the element at b[i:]: {id, size, len}
  // with size -1 when unknown; null when b ends first; {bad: 'ID' or
  // 'size', at} when those bytes are not one.
  function header(b, i) {
    if (i >= b.length) return null;
    const il = vintLen(b[i]);
    if (!il || il > 4) return { bad: 'ID', at: i };
    if (i + il >= b.length) return null;
    const sl = vintLen(b[i + il]);
    if (!sl) return { bad: 'size', at: i + il };
    if (i + il + sl > b.length) return null;
    const id = uint(b, i, il);
    let size = b[i + il] & (0xff >> sl);
    let ones = size === 0xff >> sl;
    for (let k = 1; k < sl; k++) {
      size = size * 256 + b[i + il + k];
      ones = ones && b[i + il + k] === 0xff;
    }
    return { id, size: ones ? -1 : size, len: il + sl };
  }

  amlive.core = Object.freeze({
    closeMessage, retries, endpoint, assetURL, intAttr, Emitter, Scope, Engine, Widget, expose, register, codes: protocol.codes,
    openFeedSocket, sendOnFeed,
    ebml: Object.freeze({ vintLen, uint, header }),
  });
})((window.amlive = window.amlive || {}));
