// amlive status: one stream of the rooms' state per page, shared by every
// element and widget that shows it. The head partial loads it with
// data-base="{base}"; it opens {base}/rooms/events (Server-Sent Events,
// see the plugin's Register) once something on the page needs it, and the
// browser reconnects it by itself (after a refusal, this script does, with
// a growing delay).
//
// Elements it keeps current, each naming its room with data-room:
//
//   [data-amlive-show="live"]      shown while the room is live, hidden otherwise
//   [data-amlive-show="offline"]   the opposite
//   [data-amlive-since]            text: when the live broadcast started; a <time> also gets datetime
//   [data-amlive-count]            text: the live broadcast's viewer count
//   [data-amlive-title]            text: the live broadcast's title, or the room's name without one
//   [data-amlive-description]      text: the live broadcast's description; hidden while it has none
//   [data-amlive-recordings]       a room's past broadcasts (below)
//
// and, without data-room:
//
//   [data-amlive-live-list]        the rooms live now: one clone of its
//                                  <template> per room, newest first
//   [data-amlive-live-empty]       shown while no room is live
//
// A [data-amlive-recordings] element holds a <template> for one recording
// and a [data-amlive-rows] element for the rows, each row marked
// data-amlive-broadcast="{id}" (and data-amlive-row-live while recorded).
// When a broadcast ends with a recording, its row is replaced by (or the
// list gains) a clone of the template. A second <template
// data-amlive-live-row> in the element, where there is one, is the row of a
// broadcast being recorded: the list gains a clone of it (marked
// data-amlive-row-live) when a broadcast starts while the page is open, or
// had started and had no row when the page was made; it goes if the
// broadcast ends with no recording. [data-amlive-if-rows] and
// [data-amlive-if-empty] inside it are shown when it has rows, or none.
//
// A [data-amlive-thumb] element in a live list's entry or a recording's row
// shows its thumbnail (an <img alt=""> of the versioned URL the stream
// names, replaced when a new one arrives), and stays empty without one.
//
// In a clone, [data-amlive-field] elements get a text: "room", "title",
// "viewers" and "since" for a live room, "title", "start", "duration",
// "size" for a recording (the server formats them, as the pages do); and every
// attribute's "__room__" and "__broadcast__" are replaced by the room and
// the broadcast id.
//
// amlive.status.subscribe(room, fn) calls fn(info, event) now and on every
// change of room: info is its live broadcast (the JSON of GET {base}/rooms)
// or null, event the stream's event ({type: "snapshot"|"live"|"viewers"|
// "ended", ...}). With room "*", info is the array of the rooms live now.
// It returns a function that unsubscribes. amlive.status.get(room) returns
// the room's live broadcast or null.
(function (amlive) {
  'use strict';

  const script = document.currentScript;
  const base = ((script && script.dataset.base) || '/live').replace(/\/+$/, '');

  const live = new Map(); // room → live broadcast info
  const subs = new Map(); // room or '*' → Set of fn
  let source = null;
  let retryMs = 2000;
  let known = false; // a snapshot arrived

  function rooms() {
    return [...live.values()].sort((a, b) => String(b.startedAt).localeCompare(String(a.startedAt)));
  }

  function notify(room, ev) {
    const info = live.get(room) || null;
    for (const fn of subs.get(room) || []) call(fn, info, ev);
    for (const fn of subs.get('*') || []) call(fn, rooms(), ev);
  }

  function call(fn, info, ev) {
    try {
      fn(info, ev);
    } catch (err) {
      console.error('amlive.status subscriber:', err);
    }
  }

  function byRoom(selector, room) {
    return [...document.querySelectorAll(selector)].filter((el) => el.dataset.room === room);
  }

  function fill(el, values, placeholders) {
    for (const f of el.querySelectorAll('[data-amlive-field]')) {
      const v = values[f.dataset.amliveField];
      if (v === undefined) continue;
      if (typeof v === 'object') {
        f.textContent = v.text;
        if (v.datetime && f.tagName === 'TIME') f.setAttribute('datetime', v.datetime);
      } else {
        f.textContent = String(v);
      }
    }
    for (const node of [el, ...el.querySelectorAll('*')]) {
      for (const attr of [...node.attributes]) {
        let v = attr.value;
        for (const [k, rep] of Object.entries(placeholders)) v = v.split(k).join(rep);
        if (v !== attr.value) node.setAttribute(attr.name, v);
      }
    }
  }

  // showThumb puts the image at url (versioned: a new image, a new URL) in
  // el's [data-amlive-thumb] boxes; without url they stay empty.
  function showThumb(el, url) {
    for (const box of el.querySelectorAll('[data-amlive-thumb]')) {
      const img = box.querySelector('img');
      if (!url) {
        if (img) img.remove();
        continue;
      }
      const href = new URL(url, document.baseURI).href;
      if (img && img.src === href) continue;
      const next = document.createElement('img');
      next.alt = '';
      next.loading = 'lazy';
      next.addEventListener('error', () => next.remove()); // gone meanwhile: the empty box stays
      next.src = href;
      if (img) img.replaceWith(next);
      else box.append(next);
    }
  }

  function clone(tpl) {
    const frag = tpl.content.cloneNode(true);
    return frag.firstElementChild;
  }

  // renderRoom brings the elements of one room up to date.
  function renderRoom(room) {
    const b = live.get(room);
    for (const el of byRoom('[data-amlive-show]', room)) {
      el.hidden = (el.dataset.amliveShow === 'live') !== !!b;
    }
    if (b) {
      for (const el of byRoom('[data-amlive-since]', room)) {
        el.textContent = b.sinceText;
        if (el.tagName === 'TIME') el.setAttribute('datetime', b.startedAt);
      }
      for (const el of byRoom('[data-amlive-count]', room)) el.textContent = String(b.viewers);
      // A title set or changed during the broadcast; the page keeps the
      // last one after it ends.
      for (const el of byRoom('[data-amlive-title]', room)) el.textContent = b.title || room;
      for (const el of byRoom('[data-amlive-description]', room)) {
        el.textContent = b.description || '';
        el.hidden = !b.description;
      }
    }
  }

  function liveValues(b) {
    return {
      room: b.room,
      title: b.title || '',
      viewers: b.viewers,
      since: { text: b.sinceText, datetime: b.startedAt },
    };
  }

  // renderLists rebuilds the live lists (keeping the entries of rooms still live).
  function renderLists() {
    const all = rooms();
    for (const list of document.querySelectorAll('[data-amlive-live-list]')) {
      const tpl = list.querySelector('template');
      if (!tpl) continue;
      const old = new Map();
      for (const el of list.querySelectorAll('[data-amlive-room]')) old.set(el.dataset.amliveRoom, el);
      const entries = all.map((b) => {
        let el = old.get(b.room);
        if (!el) {
          el = clone(tpl);
          el.dataset.amliveRoom = b.room;
          fill(el, {}, { __room__: encodeURIComponent(b.room) });
        }
        fill(el, liveValues(b), {});
        showThumb(el, b.thumbnail);
        return el;
      });
      list.replaceChildren(tpl, ...entries);
    }
    for (const el of document.querySelectorAll('[data-amlive-live-empty]')) el.hidden = all.length > 0;
  }

  function recValues(r) {
    return {
      title: r.title || '',
      start: { text: r.startText, datetime: r.start },
      duration: r.durationText,
      size: r.sizeText,
    };
  }

  // putRecording shows a finished recording in room's lists.
  function putRecording(room, rec) {
    for (const box of byRoom('[data-amlive-recordings]', room)) {
      const tpl = box.querySelector('template:not([data-amlive-live-row])');
      const rows = box.querySelector('[data-amlive-rows]');
      if (!tpl || !rows) continue;
      const old = rowOf(rows, rec.id);
      if (old && !old.hasAttribute('data-amlive-row-live')) continue;
      const row = clone(tpl);
      row.dataset.amliveBroadcast = rec.id;
      fill(row, recValues(rec), { __room__: encodeURIComponent(room), __broadcast__: encodeURIComponent(rec.id) });
      showThumb(row, rec.thumbnail);
      if (old) old.replaceWith(row);
      else placeRow(rows, row, rec.id);
      showRows(box);
    }
  }

  // putLive shows live broadcast b in its room's lists as being recorded,
  // where a list has a live row's template and no row for it yet.
  function putLive(b) {
    for (const box of byRoom('[data-amlive-recordings]', b.room)) {
      const tpl = box.querySelector('template[data-amlive-live-row]');
      const rows = box.querySelector('[data-amlive-rows]');
      if (!tpl || !rows || !b.broadcast) continue;
      if (rowOf(rows, b.broadcast)) continue;
      const row = clone(tpl);
      row.dataset.amliveBroadcast = b.broadcast;
      row.setAttribute('data-amlive-row-live', '');
      row.dataset.amliveAdded = ''; // by this script: it goes if nothing is recorded
      fill(row, { title: b.title || '', start: { text: b.sinceText, datetime: b.startedAt }, size: '' }, { __room__: encodeURIComponent(b.room), __broadcast__: encodeURIComponent(b.broadcast) });
      showThumb(row, b.thumbnail);
      placeRow(rows, row, b.broadcast);
      showRows(box);
    }
  }

  // rowOf is rows' row of broadcast id, or undefined.
  function rowOf(rows, id) {
    return [...rows.querySelectorAll('[data-amlive-broadcast]')].find((el) => el.dataset.amliveBroadcast === id);
  }

  // placeRow inserts row among rows, newest (largest id) first.
  function placeRow(rows, row, id) {
    const after = [...rows.querySelectorAll('[data-amlive-broadcast]')].find((el) => el.dataset.amliveBroadcast < id);
    rows.insertBefore(row, after || null);
  }

  function showRows(box) {
    const any = !!box.querySelector('[data-amlive-rows] [data-amlive-broadcast]');
    for (const el of box.querySelectorAll('[data-amlive-if-rows]')) el.hidden = !any;
    for (const el of box.querySelectorAll('[data-amlive-if-empty]')) el.hidden = any;
  }

  // endRows marks the rows of a broadcast that ended without a recording
  // this node could list.
  function endRows(room, id) {
    for (const box of byRoom('[data-amlive-recordings]', room)) {
      for (const row of box.querySelectorAll('[data-amlive-row-live]')) {
        if (row.dataset.amliveBroadcast !== id) continue;
        if ('amliveAdded' in row.dataset) {
          // Added here while live, of a broadcast nothing was kept of.
          row.remove();
          showRows(box);
          continue;
        }
        row.removeAttribute('data-amlive-row-live');
        for (const el of row.querySelectorAll('[data-amlive-show="live"]')) el.hidden = true;
      }
    }
  }

  function everyRoom() {
    const names = new Set(live.keys());
    for (const el of document.querySelectorAll('[data-room]')) names.add(el.dataset.room);
    return names;
  }

  function onSnapshot(ev) {
    const data = JSON.parse(ev.data);
    const before = new Set(live.keys());
    live.clear();
    for (const b of data.rooms || []) live.set(b.room, b);
    known = true;
    retryMs = 2000;
    for (const room of everyRoom()) renderRoom(room);
    renderLists();
    for (const [room, recs] of Object.entries(data.recordings || {})) {
      for (const rec of recs.slice().reverse()) if (!rec.live) putRecording(room, rec);
    }
    for (const b of live.values()) putLive(b);
    const event = { type: 'snapshot', rooms: data.rooms || [] };
    for (const room of new Set([...before, ...live.keys(), ...subs.keys()])) if (room !== '*') notifyRoomOnly(room, event);
    for (const fn of subs.get('*') || []) call(fn, rooms(), event);
  }

  function notifyRoomOnly(room, ev) {
    const info = live.get(room) || null;
    for (const fn of subs.get(room) || []) call(fn, info, ev);
  }

  function onLive(ev) {
    const b = JSON.parse(ev.data);
    live.set(b.room, b);
    renderRoom(b.room);
    renderLists();
    putLive(b);
    notify(b.room, Object.assign({ type: 'live' }, b));
  }

  function onViewers(ev) {
    const v = JSON.parse(ev.data);
    const b = live.get(v.room);
    if (b && b.broadcast === v.broadcast) b.viewers = v.viewers;
    renderRoom(v.room);
    renderLists();
    notify(v.room, Object.assign({ type: 'viewers' }, v));
  }

  function onEnded(ev) {
    const e = JSON.parse(ev.data);
    const b = live.get(e.room);
    if (b && b.broadcast === e.broadcast) live.delete(e.room);
    renderRoom(e.room);
    renderLists();
    if (e.recording) putRecording(e.room, e.recording);
    else endRows(e.room, e.broadcast);
    notify(e.room, Object.assign({ type: 'ended' }, e));
  }

  // connect opens the stream, once.
  function connect() {
    if (source || typeof EventSource === 'undefined') return;
    const u = new URL(base + '/rooms/events', document.baseURI);
    const asked = new Set();
    for (const el of document.querySelectorAll('[data-amlive-recordings][data-room]')) asked.add(el.dataset.room);
    for (const room of [...asked].slice(0, 8)) u.searchParams.append('room', room);
    source = new EventSource(u);
    source.addEventListener('snapshot', onSnapshot);
    source.addEventListener('live', onLive);
    source.addEventListener('viewers', onViewers);
    source.addEventListener('ended', onEnded);
    source.addEventListener('error', () => {
      if (source.readyState !== EventSource.CLOSED) return; // the browser reconnects
      source = null; // refused (429, 503): try again later
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 60000);
    });
  }

  const selectors =
    '[data-amlive-show], [data-amlive-since], [data-amlive-count], [data-amlive-title], [data-amlive-description], [data-amlive-recordings], [data-amlive-live-list], [data-amlive-live-empty]';

  function init() {
    if (document.querySelector(selectors)) connect();
  }

  amlive.status = Object.freeze({
    subscribe(room, fn) {
      if (!subs.has(room)) subs.set(room, new Set());
      subs.get(room).add(fn);
      if (known) call(fn, room === '*' ? rooms() : live.get(room) || null, { type: 'snapshot', rooms: rooms() });
      connect();
      return () => subs.get(room)?.delete(fn);
    },
    get(room) {
      return live.get(room) || null;
    },
    // refresh brings elements inserted since the page loaded up to date.
    refresh() {
      for (const room of everyRoom()) renderRoom(room);
      renderLists();
      init();
    },
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})((window.amlive = window.amlive || {}));
