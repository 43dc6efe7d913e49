// A deployment timeline per environment: who deployed what, when, why, how (deploy, promote,
// rollback, emergency) and how it went; rollbacks and what they undid are marked.
import { h, shortID, time, person, badge } from './dom.js';
import { get, project as P } from './api.js';
import { href, projectNav, errorBox } from './common.js';
import { statusBadge } from './matrix.js';

const PAGE = 20;

export async function timelineView({ params, query }) {
  const [id] = params;
  const proj = await get(P(id));
  const envs = proj.environments || [];
  const envID = query.get('environment') || (envs[0] && envs[0].id) || '';
  const tabs = h('nav', { class: 'tabs env-tabs', 'aria-label': 'Environments' }, envs.map((e) => h('a', {
    href: href('p', id, 'deployments', { environment: e.id }), 'aria-current': e.id === envID ? 'page' : null,
  }, e.name || e.id)));
  const list = h('ol', { class: 'timeline', id: 'timeline' });
  const more = h('button', { type: 'button', class: 'secondary', dataset: { key: 'more-deployments' } }, 'Older deployments');
  const reverted = new Map();
  let cursor = '';
  const add = (page) => {
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
    for (const d of page.items) if (d.reverts) reverted.set(d.reverts, d);
    for (const d of page.items) list.append(item(id, d, reverted.get(d.deployment_id)));
  };
  more.addEventListener('click', async () => {
    more.disabled = true;
    try { add(await get(P(id, 'deployments'), { environment: envID, limit: PAGE, cursor })); } catch (e) { list.after(errorBox(e)); }
    more.disabled = false;
  });
  let body;
  if (envID) {
    const first = await get(P(id, 'deployments'), { environment: envID, limit: PAGE });
    add(first);
    body = first.items.length ? [list, h('p', {}, more)] : h('p', { class: 'empty' }, `Nothing has been deployed to ${envID} yet.`);
  } else {
    body = h('p', { class: 'empty' }, 'This project has no environments.');
  }
  const node = h('section', {},
    h('h1', {}, `${proj.name || id}: deployments to ${envID}`),
    projectNav(id, 'deployments'), tabs, body);
  return {
    title: `Deployments to ${envID} of ${proj.name || id}`, node,
    crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)], ['Deployments', href('p', id, 'deployments', { environment: envID })]],
  };
}

function item(projectID, d, revertedBy) {
  const kind = d.kind || 'deploy';
  const ch = d.changes;
  const summary = ch ? [ch.changed.length && `${ch.changed.length} changed`, ch.added.length && `${ch.added.length} added`,
    ch.removed.length && `${ch.removed.length} no longer in the release`].filter(Boolean).join(', ') || 'no image changed' : '';
  return h('li', { class: `event kind-${kind}${revertedBy ? ' reverted' : ''}`, dataset: { deployment: d.deployment_id } },
    h('div', { class: 'event-head' },
      badge(kind === 'rollback' ? '↩ rollback' : kind, kind === 'rollback' ? 'bad' : kind === 'promote' ? 'ok' : 'muted'),
      d.override ? badge('emergency', 'bad', `passed locks and gates: ${d.override.reason}`) : null,
      d.status ? statusBadge(d.status) : null,
      revertedBy ? badge('rolled back', 'warn', `undone by deployment ${revertedBy.deployment_id}`) : null,
      ' ', time(d.created_at)),
    h('p', {}, h('strong', {}, person(d.requested_by)), ' deployed release ',
      h('a', { href: href('p', projectID, 'releases', d.release_id), class: 'mono', title: d.release_id }, shortID(d.release_id)),
      d.promoted_from ? ` from ${d.promoted_from}` : '',
      d.reverts ? [', undoing deployment ', h('span', { class: 'mono', title: d.reverts }, shortID(d.reverts))] : '', '.'),
    d.description ? h('p', { class: 'why' }, '“', d.description, '”') : h('p', { class: 'muted small' }, 'No reason given.'),
    d.override ? h('p', { class: 'small' }, 'Emergency: “', d.override.reason, '”') : null,
    summary ? h('p', { class: 'small muted' }, summary, ch.changed.length ? `: ${ch.changed.join(', ')}` : '') : null,
    (d.status_history || []).length ? h('details', { class: 'small' }, h('summary', {}, 'Status history'),
      h('ol', { class: 'plain' }, d.status_history.map((s) => h('li', {}, statusBadge(s.status), ' ', time(s.at), s.by ? ` by ${person(s.by)}` : '', s.detail ? `: ${s.detail}` : '')))) : null,
    h('p', { class: 'mono small muted' }, d.deployment_id));
}
