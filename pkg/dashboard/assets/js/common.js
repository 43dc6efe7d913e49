// Pieces every view uses: the project's tabs, error boxes, dialogs and the status line.
import { h } from './dom.js';

// href builds a dashboard link: href('p', 'storage', 'releases') is "#/p/storage/releases".
export function href(...parts) {
  let query = '';
  if (parts.length && typeof parts[parts.length - 1] === 'object') {
    const q = new URLSearchParams(parts.pop());
    query = q.size ? '?' + q : '';
  }
  return '#/' + parts.map(encodeURIComponent).join('/') + query;
}

const TABS = [
  ['matrix', 'Environments', []],
  ['releases', 'Releases', ['releases']],
  ['deployments', 'Deployments', ['deployments']],
  ['timeline', 'Timeline', ['timeline']],
  ['events', 'Events', ['events']],
  ['metrics', 'DORA metrics', ['metrics']],
];

// projectNav is the tab bar of a project's views.
export function projectNav(projectID, current) {
  return h('nav', { class: 'tabs', 'aria-label': 'Project views' },
    TABS.map(([key, label, path]) => h('a', {
      href: href('p', projectID, ...path),
      'aria-current': key === current ? 'page' : null,
    }, label)));
}

// errorBox shows an API error: its message as the API phrased it, and its kind.
export function errorBox(err, what) {
  return h('div', { class: 'error', role: 'alert' },
    what ? h('strong', {}, what + ': ') : null,
    err.message,
    err.kind ? h('span', { class: 'kind' }, ` (${err.kind}${err.status ? ', HTTP ' + err.status : ''})`) : null,
    // The API wants to know who asks: offer to say so, here and now.
    err.status === 401 ? h('p', {}, h('button', { type: 'button', onclick: () => document.getElementById('user').click() }, 'Set your name')) : null);
}

let dialogCount = 0;

// openDialog shows a modal dialog (Escape or Close cancels it) and returns it; close() removes it
// and puts the focus back where it was.
export function openDialog(title, ...content) {
  const id = `dialog-title-${++dialogCount}`;
  const opener = document.activeElement;
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': id },
    h('div', { class: 'dialog-head' },
      h('h2', { id }, title),
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close', onclick: () => dlg.close() }, '×')),
    ...content);
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector('[autofocus], input, select, textarea, .dialog-actions button');
  if (first) first.focus();
  return dlg;
}

let statusTimer;

// announce says something in the status line (read out by screen readers) for a while.
export function announce(message, kind = 'ok') {
  const el = document.getElementById('status');
  el.replaceChildren(h('span', { class: `status-${kind}` }, message));
  el.classList.add('shown');
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => el.classList.remove('shown'), 8000);
}

// pool runs fn over items, a few at a time, and returns the results in order.
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
