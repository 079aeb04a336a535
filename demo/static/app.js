// amlive demo: the little behaviour the site's own pages need.
//  - #live-list[data-rooms-url]: refreshed from the plugin's JSON every 5 s.
//  - [data-delete-url]: deletes a recording (DELETE on the plugin's API).
//  - [data-copy]: snippets select themselves on focus.
(() => {
  'use strict';

  const REFRESH_MS = 5000;

  function liveEntry(b) {
    const li = document.createElement('li');
    li.className = 'live-entry';
    li.dataset.testid = 'live-entry';
    li.dataset.room = b.room;
    const a = document.createElement('a');
    a.href = '/u/' + encodeURIComponent(b.room);
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'Live';
    const name = document.createElement('span');
    name.className = 'room-name';
    name.textContent = b.room;
    a.append(badge, ' ', name);
    const viewers = document.createElement('span');
    viewers.className = 'muted';
    viewers.dataset.testid = 'live-viewers';
    viewers.textContent = `${b.viewers} watching`;
    li.append(a, ' ', viewers);
    return li;
  }

  function watchLiveList(list) {
    const empty = document.getElementById('live-empty');
    async function refresh() {
      try {
        const res = await fetch(list.dataset.roomsUrl, { headers: { Accept: 'application/json' } });
        if (!res.ok) return;
        const live = await res.json();
        list.replaceChildren(...live.map(liveEntry));
        if (empty) empty.hidden = live.length > 0;
      } catch {
        // offline for a moment: try again at the next tick
      }
    }
    setInterval(() => {
      if (!document.hidden) refresh();
    }, REFRESH_MS);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) refresh();
    });
  }

  async function deleteRecording(button) {
    if (!confirm('Delete this recording? This cannot be undone.')) return;
    button.disabled = true;
    try {
      const res = await fetch(button.dataset.deleteUrl, { method: 'DELETE' });
      if (res.ok) {
        button.closest('tr')?.remove();
        return;
      }
      const body = await res.json().catch(() => ({}));
      alert(`Could not delete the recording: ${body.message || res.statusText}`);
    } catch (err) {
      alert(`Could not delete the recording: ${err.message}`);
    }
    button.disabled = false;
  }

  function init() {
    const list = document.querySelector('#live-list[data-rooms-url]');
    if (list) watchLiveList(list);
    document.addEventListener('click', (ev) => {
      const button = ev.target.closest('[data-delete-url]');
      if (button) deleteRecording(button);
    });
    for (const el of document.querySelectorAll('[data-copy]')) {
      el.addEventListener('focus', () => el.select());
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
