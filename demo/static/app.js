// amlive demo: the little behaviour the site's own pages need. (The live
// list, badges and past broadcasts follow the rooms through the plugin's
// status.js, from the data-amlive-* attributes of the templates.)
//  - [data-delete-url]: deletes a recording (DELETE on the plugin's API).
//  - [data-copy]: snippets select themselves on focus.
(() => {
  'use strict';

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
