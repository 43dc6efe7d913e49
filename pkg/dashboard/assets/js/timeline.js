// A deployment timeline per environment: who deployed what, when, why, how (deploy, promote,
// rollback, emergency) and how it went; rollbacks and what they undid are marked. Also: the
// timeline of every environment together, and a page per deployment.
import { h, s, shortID, time, person, badge, imageLabel, absTime, breakable } from './dom.js';
import { get, project as P, ApiError } from './api.js';
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

export function item(projectID, d, revertedBy, withEnv) {
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
      withEnv ? h('span', { class: 'chip' }, d.environment.id) : null,
      ' ', time(d.created_at)),
    h('p', {}, h('strong', {}, person(d.requested_by)), ' deployed release ',
      h('a', { href: href('p', projectID, 'releases', d.release_id), class: 'mono', title: d.release_id }, shortID(d.release_id)),
      d.promoted_from ? ` from ${d.promoted_from}` : '',
      d.reverts ? [', undoing deployment ', h('span', { class: 'mono', title: d.reverts }, shortID(d.reverts))] : '', '.'),
    d.description ? h('p', { class: 'why' }, '“', d.description, '”') : d.override ? null : h('p', { class: 'muted small' }, 'No reason given.'),
    d.override ? h('p', { class: 'small override' }, h('strong', {}, 'Emergency'), ` (by ${person(d.override.by)}): “`, d.override.reason, '”') : null,
    summary ? h('p', { class: 'small muted' }, summary, ch.changed.length ? `: ${ch.changed.join(', ')}` : '') : null,
    (d.status_history || []).length ? h('details', { class: 'small' }, h('summary', {}, 'Status history'),
      h('ol', { class: 'plain' }, d.status_history.map((s) => h('li', {}, statusBadge(s.status), ' ', time(s.at), s.by ? ` by ${person(s.by)}` : '', s.detail ? `: ${s.detail}` : '')))) : null,
    h('p', { class: 'small' }, h('a', { class: 'mono', href: href('p', projectID, 'deployments', d.deployment_id) }, d.deployment_id)));
}

// allTimelineView draws every environment's deployments on one time axis, a lane per
// environment, each deployment a dot that links to its page; the list below says the same.
export async function allTimelineView({ params }) {
  const [id] = params;
  const [proj, page] = await Promise.all([get(P(id)), get(P(id, 'deployments'), { limit: 100 })]);
  const envs = (proj.environments || []).map((e) => e.id);
  for (const d of page.items) if (!envs.includes(d.environment.id)) envs.push(d.environment.id);
  const reverted = new Map();
  for (const d of page.items) if (d.reverts) reverted.set(d.reverts, d);
  const node = h('section', {},
    h('h1', {}, `${proj.name || id}: every environment`),
    projectNav(id, 'timeline'),
    page.items.length ? [
      lanes(id, envs, page.items),
      page.next_cursor ? h('p', { class: 'muted small' }, `The newest ${page.items.length} deployments; older ones are in each environment's `, h('a', { href: href('p', id, 'deployments') }, 'history'), '.') : null,
      h('ol', { class: 'timeline', id: 'timeline' }, page.items.map((d) => item(id, d, reverted.get(d.deployment_id), true))),
    ] : h('p', { class: 'empty' }, 'Nothing has been deployed yet.'));
  return {
    title: `Timeline of ${proj.name || id}`, node,
    crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)], ['Timeline', href('p', id, 'timeline')]],
  };
}

function lanes(projectID, envs, items) {
  const W = 760, L = 90, R = 16, LANE = 34, T = 8, B = 26;
  const now = Date.now() / 1000;
  const t0 = Math.min(...items.map((d) => d.created_at));
  const span = Math.max(3600, now - t0);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const H = T + envs.length * LANE + B;
  const tickFmt = new Intl.DateTimeFormat(undefined, span > 3 * 86400 ? { day: 'numeric', month: 'short' } : { hour: '2-digit', minute: '2-digit' });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => t0 + f * span);
  return h('figure', { class: 'chart-box lanes-box' },
    h('figcaption', {}, 'Deployments over time, by environment'),
    h('div', { class: 'graph-scroll' }, s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart lanes', id: 'lanes', role: 'img', 'aria-labelledby': 'lanes-title' },
      s('title', { id: 'lanes-title' }, `Deployments to ${envs.join(', ')} from ${absTime(t0)} to now`),
      envs.map((e, i) => [
        s('line', { x1: L, x2: W - R, y1: T + i * LANE + LANE / 2, y2: T + i * LANE + LANE / 2, class: 'grid' }),
        s('text', { x: L - 8, y: T + i * LANE + LANE / 2 + 4, class: 'axis lane-name', 'text-anchor': 'end' }, e),
      ]),
      ticks.map((t) => s('text', { x: x(t), y: H - 8, class: 'axis', 'text-anchor': 'middle' }, tickFmt.format(new Date(t * 1000)))),
      items.map((d) => {
        const i = envs.indexOf(d.environment.id);
        const kind = d.kind || 'deploy';
        return s('a', { href: href('p', projectID, 'deployments', d.deployment_id), class: `dot dot-${kind} dot-${d.status || 'none'}${d.override ? ' dot-emergency' : ''}`, dataset: { deployment: d.deployment_id, environment: d.environment.id } },
          s('title', {}, `${kind} of release ${shortID(d.release_id)} to ${d.environment.id}, ${absTime(d.created_at)} by ${person(d.requested_by)}${d.status ? ', ' + d.status : ''}`),
          s('circle', { cx: x(d.created_at), cy: T + i * LANE + LANE / 2, r: 7 }));
      }))),
    h('p', { class: 'small muted key' }, 'Dots: ', badge('deploy', 'muted'), badge('promote', 'ok'), badge('rollback', 'bad'), ' — a red ring: failed; dashed: emergency.'));
}

// deploymentView is one deployment: what, where, who and why; its status history; the gates it
// met; what it changed.
export async function deploymentView({ params }) {
  const [id, deploymentID] = params;
  const [proj, d] = await Promise.all([get(P(id)), get(P(id, 'deployments', deploymentID))]);
  const [rel, envs, history] = await Promise.all([get(P(id, 'releases', d.release_id)).catch((e) => e), get(P(id, 'environments')),
    get(P(id, 'deployments'), { environment: d.environment.id, limit: 100 }).catch(() => ({ items: [] }))]);
  // What the environment ran before: the release of the deployment before this one there.
  const at = history.items.findIndex((x) => x.deployment_id === d.deployment_id);
  const before = at >= 0 ? history.items[at + 1] : undefined;
  const was = before ? await get(P(id, 'releases', before.release_id)).then((r) => r.images, () => ({})) : {};
  const envState = envs.items.find((e) => e.environment.id === d.environment.id);
  const env = (envState && envState.environment) || d.environment;
  const kind = d.kind || 'deploy';
  const ch = d.changes;
  const changeRows = ch ? [...ch.changed.map((svc) => [svc, 'changed']), ...ch.added.map((svc) => [svc, 'added']), ...ch.removed.map((svc) => [svc, 'no longer in the release'])] : [];
  const images = rel instanceof Error ? {} : rel.images;
  const requires = env.requires || [];
  const verifiedIn = rel instanceof Error ? [] : rel.verified_in || [];
  const isCurrent = envState && envState.current && envState.current.deployment_id === d.deployment_id;
  const node = h('section', {},
    h('h1', {}, 'Deployment ', h('span', { class: 'mono', title: d.deployment_id }, shortID(d.deployment_id)), ' to ', env.name || env.id),
    projectNav(id, 'deployments'),
    h('p', { class: 'event-head' }, badge(kind === 'rollback' ? '↩ rollback' : kind, kind === 'rollback' ? 'bad' : kind === 'promote' ? 'ok' : 'muted'),
      d.override ? badge('emergency', 'bad') : null, d.status ? statusBadge(d.status) : null,
      isCurrent ? badge(`runs in ${env.id} now`, 'ok') : null),
    h('dl', { class: 'facts', id: 'deployment-facts' },
      h('dt', {}, 'Id'), h('dd', { class: 'mono' }, d.deployment_id),
      h('dt', {}, 'Environment'), h('dd', {}, h('a', { href: href('p', id, 'deployments', { environment: env.id }) }, env.id)),
      h('dt', {}, 'Release'), h('dd', {}, h('a', { class: 'mono', href: href('p', id, 'releases', d.release_id), title: d.release_id }, shortID(d.release_id)),
        rel instanceof Error ? null : ` (${rel.label}${rel.description ? ': ' + rel.description : ''})`),
      h('dt', {}, 'Requested'), h('dd', {}, time(d.created_at), ` by ${person(d.requested_by)}`),
      d.promoted_from ? [h('dt', {}, 'Promoted from'), h('dd', {}, d.promoted_from)] : null,
      d.reverts ? [h('dt', {}, 'Undid'), h('dd', {}, h('a', { class: 'mono', href: href('p', id, 'deployments', d.reverts), title: d.reverts }, shortID(d.reverts)))] : null,
      d.description ? [h('dt', {}, 'Why'), h('dd', {}, d.description)] : null,
      d.override ? [h('dt', {}, 'Emergency'), h('dd', {}, `“${d.override.reason}” (by ${person(d.override.by)})`)] : null),
    h('h2', {}, 'Status history'),
    (d.status_history || []).length
      ? h('ol', { class: 'plain status-history', id: 'status-history' }, d.status_history.map((st) => h('li', {}, statusBadge(st.status), ' ', time(st.at),
        st.by && (st.by.id || st.by.name) ? ` by ${person(st.by)}` : '', st.detail ? `: ${st.detail}` : '')))
      : h('p', { class: 'muted' }, 'No status recorded (a deployment from before statuses existed).'),
    h('h2', {}, 'Gates'),
    h('ul', { class: 'plain gates', id: 'gates' },
      requires.length
        ? requires.map((r) => h('li', {}, verifiedIn.includes(r) ? badge('✓ met', 'ok') : badge('not met now', d.override ? 'bad' : 'warn'),
          ` ${env.id} requires a release verified in ${r}: this release is${verifiedIn.includes(r) ? '' : ' not'} verified in ${r}.`))
        : h('li', {}, `${env.id} requires no release to be verified elsewhere first.`),
      h('li', { class: 'small muted' }, 'Locks and freezes refuse a deploy outright, so a recorded deployment met them',
        d.override ? ['; this one passed them and every gate as an emergency: “', d.override.reason, '”.'] : ' (or was an emergency).')),
    h('h2', {}, 'Changes'),
    changeRows.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'changes', id: 'changes' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Change'),
          h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'Deployed'))),
        h('tbody', {}, changeRows.map(([svc, what]) => h('tr', { dataset: { service: svc } }, h('th', { scope: 'row' }, breakable(svc)), h('td', {}, what),
          h('td', { title: was[svc] || '' }, h('code', {}, imageLabel(was[svc]) || '—')),
          h('td', { title: images[svc] || '' }, h('code', {}, imageLabel(images[svc]) || '—')))))))
      : h('p', { class: 'muted' }, ch ? 'No image changed: the environment ran these images already.' : 'Not recorded.'),
    ch && (ch.parameters_written || []).length ? h('details', {}, h('summary', {}, `${ch.parameters_written.length} parameters written`),
      h('ul', { class: 'mono small' }, ch.parameters_written.map((p) => h('li', {}, p)))) : null,
    rel instanceof ApiError ? errorBox(rel, 'Its release') : null);
  return {
    title: `Deployment ${shortID(d.deployment_id)}`, node,
    crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)], ['Deployments', href('p', id, 'deployments', { environment: env.id })],
      [shortID(d.deployment_id), href('p', id, 'deployments', d.deployment_id)]],
  };
}
