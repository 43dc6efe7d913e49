// A project's event log (GET /projects/{p}/events): every change, newest first, filterable by
// type (the API's ?type=) and by person (here, over what the API returns).
import { h, shortID, time, person, badge } from './dom.js';
import { get, project as P } from './api.js';
import { href, projectNav, errorBox } from './common.js';

// TYPES are the event types shiplog records (pkg/shiplog/events.go).
export const TYPES = ['project.registered', 'image.recorded', 'release.created', 'deployment.requested', 'deployment.applied',
  'deployment.verified', 'deployment.failed', 'deployment.superseded', 'environment.locked', 'environment.unlocked',
  'freeze.set', 'freeze.deleted', 'approval.granted', 'approval.withdrawn'];

const PAGE = 100;
const WANT = 50; // events to show before asking for "Older events"
const MAX_PAGES = 10; // pages read in one go while a person filter skips events

function typeKind(type) {
  if (type === 'deployment.failed') return 'bad';
  if (type === 'deployment.verified') return 'ok';
  if (type.startsWith('environment.')) return 'lock';
  if (type.startsWith('freeze.')) return 'freeze';
  return 'muted';
}

export async function eventsView({ params, query }) {
  const [id] = params;
  const type = query.get('type') || '';
  const by = (query.get('by') || '').trim();
  const proj = await get(P(id));
  const typeSel = h('select', { id: 'events-type', name: 'type', dataset: { key: 'events-type' } },
    h('option', { value: '' }, 'every type'), TYPES.map((t) => h('option', { value: t, selected: t === type }, t)));
  const who = h('input', { id: 'events-by', name: 'by', value: by, autocomplete: 'off', placeholder: 'id or name, e.g. ci', dataset: { key: 'events-by' } });
  const form = h('form', { class: 'filter-bar', role: 'search' },
    h('label', { for: 'events-type' }, 'Type'), typeSel,
    h('label', { for: 'events-by' }, 'Person'), who,
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = href('p', id, 'events', { ...(typeSel.value ? { type: typeSel.value } : {}), ...(who.value.trim() ? { by: who.value.trim() } : {}) });
  });
  typeSel.addEventListener('change', () => form.requestSubmit());

  const needle = by.toLowerCase();
  const matches = (ev) => !needle || [ev.by.id || '', ev.by.name || ''].some((s) => s.toLowerCase().includes(needle));
  const list = h('ol', { class: 'events plain', id: 'events' });
  const more = h('button', { type: 'button', class: 'secondary', dataset: { key: 'more-events' } }, 'Older events');
  const note = h('p', { class: 'muted small', id: 'events-note' });
  let cursor = '';
  let shown = 0, read = 0;
  async function load() {
    let pages = 0, added = 0;
    do {
      const page = await get(P(id, 'events'), { type, limit: PAGE, cursor });
      cursor = page.next_cursor || '';
      pages++;
      for (const ev of page.items) {
        read++;
        if (!matches(ev)) continue;
        list.append(eventItem(id, ev));
        added++;
        shown++;
      }
    } while (cursor && added < WANT && pages < MAX_PAGES);
    more.hidden = !cursor;
    note.textContent = needle ? `${shown} of the ${read} events read${type ? ` of type ${type}` : ''} are by someone matching “${by}”.` : '';
  }
  more.addEventListener('click', async () => {
    more.disabled = true;
    try { await load(); } catch (e) { list.after(errorBox(e)); }
    more.disabled = false;
  });
  await load();
  const node = h('section', {},
    h('h1', {}, `${proj.name || id}: events`),
    projectNav(id, 'events'),
    form, note,
    shown ? list : h('p', { class: 'empty' }, type || by ? 'No event matches.' : 'Nothing has happened yet.'),
    h('p', {}, more));
  return {
    title: `Events of ${proj.name || id}`, node,
    crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)], ['Events', href('p', id, 'events')]],
  };
}

function eventItem(projectID, ev) {
  const detail = Object.entries(ev.detail || {});
  return h('li', { class: 'card event-row', dataset: { event: ev.event_id, type: ev.type, by: ev.by.id || '' } },
    h('p', { class: 'event-head' }, badge(ev.type, typeKind(ev.type)), ' ', time(ev.at), ' by ', h('strong', {}, person(ev.by) || 'no one named')),
    h('p', { class: 'small' },
      ev.environment ? ['environment ', h('a', { href: href('p', projectID, 'deployments', { environment: ev.environment }) }, ev.environment), ' '] : null,
      ev.service ? ['service ', h('strong', {}, ev.service), ' '] : null,
      ev.release_id ? ['release ', h('a', { class: 'mono', href: href('p', projectID, 'releases', ev.release_id), title: ev.release_id }, shortID(ev.release_id)), ' '] : null,
      ev.deployment_id ? ['deployment ', h('a', { class: 'mono', href: href('p', projectID, 'deployments', ev.deployment_id), title: ev.deployment_id }, shortID(ev.deployment_id))] : null),
    detail.length ? h('p', { class: 'small muted mono' }, detail.map(([k, v]) => `${k}=${v}`).join('  ')) : null);
}
