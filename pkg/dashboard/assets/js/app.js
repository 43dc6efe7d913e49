// The dashboard's entry point: hash routes (so that every view has a link that can be shared or
// bookmarked), the header and the user name the page writes with.
import { h, person } from './dom.js';
import { user, setUser, userProblem, writer, get, project as P } from './api.js';
import { errorBox, openDialog, announce } from './common.js';
import { projectsView, allProjects } from './projects.js';
import { matrixView } from './matrix.js';
import { releasesView, releaseView } from './releases.js';
import { timelineView, allTimelineView, deploymentView } from './timeline.js';
import { metricsView } from './metrics.js';
import { eventsView } from './events.js';

const routes = [
  [/^\/$/, projectsView],
  [/^\/p\/([^/]+)$/, matrixView],
  [/^\/p\/([^/]+)\/releases$/, releasesView],
  [/^\/p\/([^/]+)\/releases\/([^/]+)$/, releaseView],
  [/^\/p\/([^/]+)\/deployments$/, timelineView],
  [/^\/p\/([^/]+)\/deployments\/([^/]+)$/, deploymentView],
  [/^\/p\/([^/]+)\/timeline$/, allTimelineView],
  [/^\/p\/([^/]+)\/events$/, eventsView],
  [/^\/p\/([^/]+)\/metrics$/, metricsView],
];

const main = document.getElementById('main');
let seq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  return q < 0 ? { path: raw, query: new URLSearchParams() } : { path: raw.slice(0, q), query: new URLSearchParams(raw.slice(q + 1)) };
}

function notFound(path) {
  return {
    title: 'Not found',
    node: h('section', {}, h('h1', { tabindex: '-1' }, 'Not found'),
      h('p', {}, `The dashboard has no page ${path}. `, h('a', { href: '#/' }, 'See the projects.'))),
  };
}

// render shows the view the hash names. A refresh keeps the focus on the control that had it
// (found again by its data-key), so that acting from the keyboard does not lose one's place.
async function render({ refresh = false } = {}) {
  if (location.hash && !location.hash.startsWith('#/')) return;
  const { path, query } = parseHash();
  const hash = location.hash;
  const token = ++seq;
  const focusKey = refresh && document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : '';
  let view = null;
  let params = [];
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) {
      view = fn;
      try { params = m.slice(1).map(decodeURIComponent); } catch { view = null; }
      break;
    }
  }
  main.setAttribute('aria-busy', 'true');
  // What the record looked like before the view read it: if it changes later, the view is stale.
  const sig = await signature(path);
  let out;
  try {
    out = view ? await view({ params, query, refresh: () => render({ refresh: true }) }) : notFound(path);
  } catch (err) {
    out = { title: 'Error', node: h('section', {}, h('h1', { tabindex: '-1' }, 'Something went wrong'), errorBox(err)) };
  }
  if (token !== seq) return; // another navigation came meanwhile
  shown = { path, sig };
  main.replaceChildren(out.node);
  main.dataset.shown = hash; // which address the page now shows (tests and scripts wait on it)
  main.removeAttribute('aria-busy');
  document.title = out.title ? `${out.title} · shiplog` : 'shiplog';
  renderCrumbs(out.crumbs || []);
  const again = focusKey && main.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
  if (again) {
    again.focus();
    // A text field found again keeps its caret at the end of what was typed.
    if (typeof again.setSelectionRange === 'function' && /^(text|search|)$/.test(again.type || '')) {
      try { again.setSelectionRange(again.value.length, again.value.length); } catch { /* not a text field */ }
    }
  }
  else if (!refresh) {
    const h1 = main.querySelector('h1');
    if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: true }); }
  }
}

// Live updates: every few seconds the page asks for the newest event of what it shows (the
// project's, or every project's on the overview) and shows the view again, keeping the focus,
// when one came since it was read. It waits while a dialog is open or the tab is hidden.
const POLL_MS = 3000;
let shown = null; // { path, sig } of the view on screen

function watchedProjects(path) {
  const m = path.match(/^\/p\/([^/]+)/);
  if (m) {
    try { return Promise.resolve([decodeURIComponent(m[1])]); } catch { return Promise.resolve([]); }
  }
  return path === '/' ? allProjects().then((items) => items.map((p) => p.id)) : Promise.resolve([]);
}

// signature names the newest event of each project the view shows; '' when it cannot be read,
// which then never counts as a change.
async function signature(path) {
  try {
    const ids = await watchedProjects(path);
    const newest = await Promise.all(ids.map((id) => get(P(id, 'events'), { limit: 1 }).then((p) => (p.items[0] ? p.items[0].event_id : '-'))));
    return ids.map((id, i) => `${id}:${newest[i]}`).join(',');
  } catch {
    return '';
  }
}

// editing reports whether a person is typing into a field of the view: showing it again would
// undo what they typed but did not submit yet.
function editing() {
  const el = document.activeElement;
  if (!el || !main.contains(el)) return false;
  if (el.tagName === 'TEXTAREA') return el.value !== el.defaultValue;
  if (el.tagName === 'INPUT' && !/^(checkbox|radio|button|submit)$/.test(el.type)) return el.value !== el.defaultValue;
  return false;
}

async function poll() {
  const live = document.getElementById('live');
  try {
    if (!shown || document.hidden || document.querySelector('dialog[open]') || main.hasAttribute('aria-busy') || editing()) return;
    const { path } = parseHash();
    if (path !== shown.path) return;
    const sig = await signature(path);
    live.title = `Checked for changes at ${new Date().toLocaleTimeString()}`;
    if (!sig || !shown.sig || sig === shown.sig || path !== shown.path) return;
    if (document.querySelector('dialog[open]')) return;
    await render({ refresh: true });
    // Said in the title, not the text, so that nothing in the header moves.
    live.title = `Updated by itself at ${new Date().toLocaleTimeString()}, after a change`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function renderCrumbs(crumbs) {
  const nav = document.getElementById('crumbs');
  nav.replaceChildren(...crumbs.map(([label, link]) => h('a', { href: link }, label)));
}

// fixedWho is the identity the server writes as when the page cannot choose (shiplog ui).
let fixedWho = null;

async function renderUser() {
  const b = document.getElementById('user');
  try {
    const w = await writer();
    if (w && w.fixed) {
      fixedWho = w;
      b.replaceChildren(h('span', {}, 'You: ', h('strong', {}, w.id ? (w.name || w.id) : 'the API\'s default user')));
      b.title = `Writes are recorded as ${w.id ? person(w) : 'the API\'s default user'}: ${w.how}`;
      return;
    }
  } catch (err) {
    b.replaceChildren('You: unknown');
    b.title = err.message;
    return;
  }
  const u = user();
  b.replaceChildren(u ? h('span', {}, 'You: ', h('strong', {}, u)) : 'Set your name');
  b.title = u ? 'Writes are sent as this user (X-Shiplog-User); change it' : 'Say who you are; the local stack records it on what you deploy';
}

// showFixedUser explains who the writes are recorded as when the server, not the page, says so.
function showFixedUser(w) {
  const dlg = openDialog('Who you are',
    h('p', {}, 'What you deploy, roll back and lock here is recorded as ', h('strong', {}, w.id ? person(w) : 'the API\'s default user'), '.'),
    h('p', { class: 'help' }, w.how, '. A name cannot be chosen in this page.'),
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'primary', onclick: () => dlg.close() }, 'Close')));
}

export function editUser() {
  if (fixedWho) {
    showFixedUser(fixedWho);
    return;
  }
  const input = h('input', { id: 'user-name', name: 'user', autocomplete: 'username', value: user(), spellcheck: 'false', 'aria-describedby': 'user-help' });
  const problem = h('p', { class: 'error', role: 'alert', hidden: true });
  const form = h('form', { class: 'form', novalidate: true },
    h('label', { for: 'user-name' }, 'Your user name'),
    input,
    h('p', { id: 'user-help', class: 'help' },
      'The local stack records it on what you deploy, roll back and lock (as X-Shiplog-User); left empty, it uses the user that runs it. ',
      'Kept in this browser only.'),
    problem,
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'primary' }, 'Save')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = input.value.trim();
    const why = userProblem(name);
    if (why) {
      problem.textContent = why;
      problem.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    setUser(name);
    renderUser();
    dlg.close();
    announce(name ? `Writes now go as ${name}.` : 'Writes now go as the local stack\'s default user.');
  });
  const dlg = openDialog('Who are you?', form);
}

document.getElementById('user').addEventListener('click', editUser);
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', () => render());
renderUser();
render();
setTimeout(poll, POLL_MS);
