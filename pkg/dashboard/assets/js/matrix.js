// A project's environment × service matrix: which image each environment runs, what differs
// from the environment before it, and each environment's marks (pending writes, drift, lock,
// freezes) and actions.
import { h, imageLabel, parseImage, shortID, time, person, badge, absTime } from './dom.js';
import { get, project as P } from './api.js';
import { href, projectNav } from './common.js';
import { promoteDialog, rollbackDialog, lockDialog, unlockDialog } from './actions.js';

export async function matrixView({ params, refresh }) {
  const [id] = params;
  const [proj, envs, latest, freezes] = await Promise.all([
    get(P(id)),
    get(P(id, 'environments')),
    get(P(id, 'images', 'latest')),
    get(P(id, 'freezes')),
  ]);
  const now = Date.now() / 1000;
  const environments = envs.items;
  const columns = [];
  if (Object.keys(latest.images).length) {
    columns.push({ key: 'latest', label: 'latest', sub: 'newest build', images: latest.images, latest: true });
  }
  for (const e of environments) {
    // Where the environment lives (docs/accounts.md), when it is not shiplog's own account and region.
    const where = [e.environment.account_id, e.environment.region].filter(Boolean).join(' ');
    columns.push({ key: e.environment.id, label: e.environment.name || e.environment.id, sub: where ? `${e.environment.id} · ${where}` : e.environment.id, env: e, images: (e.current && e.current.images) || {} });
  }

  // Rows: the manifest's services, then any a deployment still holds that the manifest dropped.
  const services = (proj.image_repositories || []).flatMap((r) => r.services || []);
  const extra = new Set();
  for (const c of columns) for (const svc of Object.keys(c.images)) if (!services.includes(svc)) extra.add(svc);
  const rows = [...services.map((s) => ({ svc: s })), ...[...extra].sort().map((s) => ({ svc: s, dropped: true }))];

  const ctx = { projectID: id, project: proj, environments, refresh };
  const table = h('table', { class: 'matrix', id: 'matrix' },
    h('caption', {}, 'The image each environment runs, by tag and short digest. A highlighted cell differs from the column to its left.'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'svc' }, 'Service'),
      columns.map((c) => h('th', { scope: 'col', class: c.latest ? 'col-latest' : 'col-env', dataset: { environment: c.key } },
        h('span', { class: 'col-name' }, c.label),
        h('span', { class: 'col-sub mono' }, c.sub),
        c.env ? envMarks(c.env, freezesOf(freezes.items, c.key, now), now) : null)))),
    h('tbody', {}, rows.map(({ svc, dropped }) => h('tr', {},
      h('th', { scope: 'row', class: 'svc' }, svc, dropped ? h('span', { class: 'muted small' }, ' (not in the manifest)') : null),
      columns.map((c, i) => cell(svc, c, columns[i - 1]))))));

  const node = h('section', {},
    h('h1', {}, proj.name || id),
    projectNav(id, 'matrix'),
    environments.length === 0 ? h('p', { class: 'empty' }, 'This project has no environments.') : null,
    h('div', { class: 'matrix-wrap', tabindex: '0', role: 'region', 'aria-label': 'Images by environment' }, table),
    legend(),
    h('h2', {}, 'Environments'),
    h('div', { class: 'env-cards' }, environments.map((e, i) => envCard(ctx, e, i, freezesOf(freezes.items, e.environment.id, now), now))));
  return { title: proj.name || id, node, crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)]] };
}

function cell(svc, col, left) {
  const uri = col.images[svc];
  const leftURI = left ? left.images[svc] : undefined;
  const differs = left !== undefined && (uri || leftURI) && uri !== leftURI;
  const env = col.env;
  const pending = env && env.current && (env.current.pending || []).includes(svc);
  const drift = env && (env.drift || []).filter((d) => d.service === svc);
  const classes = ['img', differs ? 'differs' : '', uri ? '' : 'missing', pending ? 'is-pending' : '', drift && drift.length ? 'is-drift' : ''].filter(Boolean).join(' ');
  const im = parseImage(uri);
  return h('td', { class: classes, title: uri || 'not deployed', dataset: { service: svc, environment: col.key, image: uri || '' } },
    uri ? [
      im.tag ? h('span', { class: 'tag' }, im.tag) : null,
      im.short ? h('code', { class: 'digest' }, im.short) : h('code', {}, imageLabel(uri)),
    ] : h('span', { class: 'muted' }, '—'),
    differs ? h('span', { class: 'sr-only' }, ' (differs from the column to its left)') : null,
    pending ? badge('pending', 'warn', 'The deployment has still to write this service\'s parameter') : null,
    (drift || []).map((d) => badge(`drift: ${d.kind.replace(/_/g, ' ')}`, 'bad', `recorded ${d.recorded || '—'}, actual ${d.actual || '—'}`)));
}

function freezesOf(freezes, env, now) {
  return freezes.filter((f) => (f.environments.length === 0 || f.environments.includes(env)) && f.ends_at > now);
}

function envMarks(e, freezes, now) {
  const lock = e.lock;
  const active = freezes.filter((f) => f.starts_at <= now);
  return h('span', { class: 'marks' },
    lock ? badge('locked', 'lock', `Locked by ${person(lock.locked_by)}: ${lock.reason}`) : null,
    active.length ? badge('frozen', 'freeze', active.map((f) => `${f.freeze_id} until ${absTime(f.ends_at)}: ${f.reason}`).join('; ')) : null,
    e.status ? statusBadge(e.status) : null,
    (e.drift || []).length ? badge(`drift ${e.drift.length}`, 'bad', 'What runs differs from what was recorded') : null,
    e.current && (e.current.pending || []).length ? badge('pending', 'warn', 'Parameters still to write') : null);
}

export function statusBadge(status) {
  const kind = { verified: 'ok', applied: 'ok', requested: 'warn', failed: 'bad', superseded: 'muted' }[status] || 'muted';
  return badge(status, kind, `deployment status: ${status}`);
}

function legend() {
  return h('ul', { class: 'legend', 'aria-label': 'Legend' },
    h('li', {}, h('span', { class: 'swatch differs' }), 'differs from the column to its left'),
    h('li', {}, badge('pending', 'warn'), ' parameter not written yet'),
    h('li', {}, badge('drift', 'bad'), ' what runs is not what was recorded'),
    h('li', {}, badge('locked', 'lock'), ' deploys refused until unlocked'),
    h('li', {}, badge('frozen', 'freeze'), ' inside a change freeze'));
}

function envCard(ctx, e, i, freezes, now) {
  const env = e.environment;
  const cur = e.current;
  const others = ctx.environments.filter((o) => o.environment.id !== env.id && o.current);
  const lock = e.lock;
  return h('article', { class: 'card env-card', dataset: { environment: env.id } },
    h('h3', {}, env.name || env.id, ' ', h('span', { class: 'muted mono small' }, env.id)),
    env.requires && env.requires.length ? h('p', { class: 'small muted' }, `Needs a release verified in ${env.requires.join(', ')} first.`) : null,
    cur ? h('dl', { class: 'facts' },
      h('dt', {}, 'Release'), h('dd', {}, h('a', { href: href('p', ctx.projectID, 'releases', cur.release_id), class: 'mono', title: cur.release_id }, shortID(cur.release_id))),
      h('dt', {}, 'Deployed'), h('dd', {}, time(cur.deployed_at), ' by ', person(cur.requested_by)),
      cur.description ? [h('dt', {}, 'Why'), h('dd', {}, cur.description)] : null,
      e.status ? [h('dt', {}, 'Status'), h('dd', {}, statusBadge(e.status))] : null,
      (cur.pending || []).length ? [h('dt', {}, 'Pending'), h('dd', {}, cur.pending.join(', '))] : null)
      : h('p', { class: 'muted' }, 'Nothing deployed yet.'),
    lock ? h('p', { class: 'mark-lock' }, badge('locked', 'lock'), ` by ${person(lock.locked_by)} `, time(lock.locked_at), `: “${lock.reason}”`,
      lock.expires_at ? [' — until ', time(lock.expires_at)] : ' — until unlocked') : null,
    freezes.map((f) => h('p', { class: 'mark-freeze' }, badge(f.starts_at <= now ? 'frozen' : 'freeze ahead', 'freeze'),
      ` ${f.freeze_id}: “${f.reason}”, `, time(f.starts_at), ' to ', time(f.ends_at))),
    (e.drift || []).length ? h('ul', { class: 'drift' }, e.drift.map((d) => h('li', {}, badge(d.kind.replace(/_/g, ' '), 'bad'), ` ${d.service}: recorded `,
      h('code', {}, imageLabel(d.recorded) || '—'), ', actual ', h('code', {}, imageLabel(d.actual) || '—')))) : null,
    h('div', { class: 'actions' },
      h('button', {
        type: 'button', class: 'primary', dataset: { key: `promote:${env.id}` }, disabled: others.length === 0,
        title: others.length === 0 ? 'No other environment runs a release to promote' : null,
        onclick: () => promoteDialog(ctx, e, others, i),
      }, `Promote to ${env.name || env.id}…`),
      h('button', { type: 'button', dataset: { key: `rollback:${env.id}` }, disabled: !cur, onclick: () => rollbackDialog(ctx, e) }, 'Roll back…'),
      lock
        ? h('button', { type: 'button', dataset: { key: `lock:${env.id}` }, onclick: () => unlockDialog(ctx, e) }, 'Unlock…')
        : h('button', { type: 'button', dataset: { key: `lock:${env.id}` }, onclick: () => lockDialog(ctx, e) }, 'Lock…'),
      h('a', { class: 'button-link', href: href('p', ctx.projectID, 'deployments', { environment: env.id }) }, 'History')));
}
