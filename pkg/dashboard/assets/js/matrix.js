// A project's environment × service matrix: which image each environment runs, what differs
// from the environment before it, and each environment's marks (pending writes, drift, lock,
// freezes) and actions.
import { h, s, imageLabel, parseImage, shortID, time, person, badge, absTime, breakable } from './dom.js';
import { get, project as P } from './api.js';
import { href, projectNav, openDialog, announce } from './common.js';
import {
  promoteDialog, rollbackDialog, lockDialog, unlockDialog, deployDialog, emergencyDialog, reportDialog, freezeDialog, liftFreezeDialog, approveDialog,
} from './actions.js';

// onlyDiffering is the "only what differs" filter; it outlives a refresh of the view.
let onlyDiffering = false;

export async function matrixView({ params, refresh }) {
  const [id] = params;
  const [proj, envs, latest, freezes, releases] = await Promise.all([
    get(P(id)),
    get(P(id, 'environments')),
    get(P(id, 'images', 'latest')),
    get(P(id, 'freezes')),
    get(P(id, 'releases'), { limit: 1 }),
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
  const envFreezes = (envID) => freezesOf(freezes.items, envID, now);
  let differing = 0;
  const body = h('tbody', {}, rows.map(({ svc, dropped }) => {
    const cells = columns.map((c, i) => cell(svc, c, columns[i - 1]));
    const differs = cells.some((td) => td.classList.contains('differs') || td.classList.contains('is-drift') || td.classList.contains('is-pending') || td.classList.contains('is-unreplicated'));
    if (differs) differing++;
    return h('tr', { dataset: { differs: differs ? 'true' : 'false' }, hidden: onlyDiffering && !differs },
      h('th', { scope: 'row', class: 'svc' }, breakable(svc), dropped ? h('span', { class: 'muted small' }, ' (not in the manifest)') : null),
      cells);
  }));
  const table = h('table', { class: 'matrix', id: 'matrix' },
    h('caption', {}, 'The image each environment runs, by tag and short digest. A highlighted cell differs from the column to its left.'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'svc' }, 'Service'),
      columns.map((c) => h('th', { scope: 'col', class: c.latest ? 'col-latest' : 'col-env', dataset: { environment: c.key } },
        h('span', { class: 'col-name' }, c.label),
        h('span', { class: 'col-sub mono' }, c.sub),
        c.env ? envMarks(c.env, envFreezes(c.key), now) : null,
        c.env ? h('button', {
          type: 'button', class: 'col-actions', dataset: { key: `menu:${c.key}` }, 'aria-haspopup': 'dialog',
          onclick: () => actionsMenu(ctx, c.env, environments.indexOf(c.env), envFreezes(c.key)),
        }, 'Actions', h('span', { class: 'sr-only' }, ` for ${c.label}`), ' ▾') : null)))),
    body);

  const shown = h('span', { class: 'muted small', id: 'rows-shown' });
  const sayShown = () => {
    shown.textContent = onlyDiffering ? `${differing} of ${rows.length} services differ somewhere; the rest are hidden.` : `${rows.length} services.`;
  };
  sayShown();
  const filter = h('input', { type: 'checkbox', id: 'only-differs', checked: onlyDiffering, dataset: { key: 'only-differs' } });
  filter.addEventListener('change', () => {
    onlyDiffering = filter.checked;
    for (const tr of body.rows) tr.hidden = onlyDiffering && tr.dataset.differs !== 'true';
    sayShown();
  });
  const nothingYet = environments.every((e) => !e.current);
  const node = h('section', {},
    h('h1', {}, proj.name || id),
    projectNav(id, 'matrix'),
    environments.length === 0 ? h('p', { class: 'empty' }, 'This project has no environments.') : null,
    nothingYet ? gettingStarted(proj, environments, Object.keys(latest.images).length > 0, releases.items[0]) : null,
    rows.length ? h('div', { class: 'matrix-tools' }, h('label', { class: 'check', for: 'only-differs' }, filter, 'Only what differs'), ' ', shown) : null,
    h('div', { class: 'matrix-wrap', tabindex: '0', role: 'region', 'aria-label': 'Images by environment' }, table),
    legend(),
    h('h2', {}, 'How the environments depend on each other'),
    dependencyGraph(id, environments),
    h('h2', {}, 'Environments'),
    h('div', { class: 'env-cards' }, environments.map((e, i) => envCard(ctx, e, i, envFreezes(e.environment.id), now))));
  return { title: proj.name || id, node, crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)]] };
}

// gettingStarted tells a person what to run for a project that has nothing deployed yet, each
// step marked done once the record shows it.
function gettingStarted(proj, environments, hasImages, release) {
  const first = environments[0] ? environments[0].environment.id : 'ENVIRONMENT';
  const next = environments[1] ? environments[1].environment.id : '';
  const step = (done, title, ...body) => h('li', { class: done ? 'done' : '' }, h('strong', {}, done ? '✓ ' : '', title), ...body);
  const cmd = (text) => h('pre', { class: 'cmd' }, h('code', {}, text));
  return h('div', { class: 'notice start', id: 'getting-started' },
    h('h2', {}, 'Nothing is deployed yet: how to start'),
    h('ol', {},
      step(true, 'The project is registered.', cmd(`shiplog project show ${proj.id}`)),
      step(hasImages, 'Record the images CI pushes.',
        h('p', { class: 'small' }, 'ECR push events reach the ecr-push function (EventBridge does it in AWS). On the local stack, send one as the README\'s walkthrough does:'),
        cmd(`aws lambda invoke --endpoint-url ${location.origin} --function-name ecr-push \\\n  --payload fileb:///tmp/push.json /tmp/push-out.json`)),
      step(Boolean(release), 'Make a release of the latest images.', cmd(`shiplog release create ${proj.id} --description "first release"`)),
      step(false, `Deploy it to ${first}.`, cmd(`shiplog deploy ${proj.id} ${first} ${release ? release.release_id : 'RELEASE_ID'}`),
        h('p', { class: 'small' }, 'or use "Deploy a release…" below.')),
      next ? step(false, `Say it works, and promote it to ${next}.`,
        cmd(`shiplog report ${proj.id} DEPLOYMENT_ID verified\nshiplog promote ${proj.id} ${first} ${next}`)) : null));
}

// dependencyGraph draws the environments as boxes, each to the right of those it requires (a
// release must be verified there first), with an arrow per requirement; environments that
// require none start a column of their own. The same facts follow as a list.
function dependencyGraph(projectID, environments) {
  const byID = new Map(environments.map((e) => [e.environment.id, e]));
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const req = ((byID.get(id) || {}).environment || {}).requires || [];
    const d = req.filter((r) => byID.has(r)).reduce((m, r) => Math.max(m, depthOf(r, seen) + 1), 0);
    depth.set(id, d);
    return d;
  };
  const columns = [];
  for (const e of environments) {
    const d = depthOf(e.environment.id);
    (columns[d] = columns[d] || []).push(e);
  }
  const W = 176, H = 54, GX = 56, GY = 18;
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((e, y) => pos.set(e.environment.id, { x: 8 + x * (W + GX), y: 8 + y * (H + GY) })));
  const width = 16 + columns.length * W + Math.max(0, columns.length - 1) * GX;
  const height = 16 + Math.max(1, ...columns.map((c) => c.length)) * (H + GY) - GY;
  const edges = [];
  for (const e of environments) {
    for (const r of e.environment.requires || []) {
      const a = pos.get(r), b = pos.get(e.environment.id);
      if (a && b) edges.push({ from: r, to: e.environment.id, a, b });
    }
  }
  const svg = s('svg', { class: 'env-graph', id: 'env-graph', viewBox: `0 0 ${width} ${height}`, width, role: 'img', 'aria-labelledby': 'env-graph-title' },
    s('title', { id: 'env-graph-title' }, 'Which environment requires which'),
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
      s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'edge-head' }))),
    edges.map(({ from, to, a, b }) => s('path', {
      class: 'edge', dataset: { from, to }, 'marker-end': 'url(#arrow)',
      d: `M ${a.x + W} ${a.y + H / 2} C ${a.x + W + GX / 2} ${a.y + H / 2}, ${b.x - GX / 2} ${b.y + H / 2}, ${b.x} ${b.y + H / 2}`,
    })),
    environments.map((e) => {
      const p = pos.get(e.environment.id);
      const st = e.status || (e.current ? 'applied' : 'empty');
      return s('a', { href: href('p', projectID, 'deployments', { environment: e.environment.id }), class: `node node-${st}${e.lock ? ' node-locked' : ''}`, dataset: { environment: e.environment.id } },
        s('rect', { x: p.x, y: p.y, width: W, height: H, rx: 8 }),
        s('text', { x: p.x + 10, y: p.y + 22, class: 'node-name' }, (e.lock ? '🔒 ' : '') + (e.environment.name || e.environment.id)),
        s('text', { x: p.x + 10, y: p.y + 41, class: 'node-sub' }, e.current ? `${shortID(e.current.release_id)} · ${st}` : 'nothing deployed'));
    }));
  return h('div', { class: 'graph-box' },
    h('div', { class: 'graph-scroll' }, svg),
    h('ul', { class: 'small muted graph-list' }, environments.map((e) => h('li', {}, h('strong', {}, e.environment.id), ': ',
      (e.environment.requires || []).length ? `requires a release verified in ${e.environment.requires.join(', ')}` : 'requires nothing before it'))));
}

// promoteSources are the environments a promotion to env may take its release from, nearest
// first: those it requires, else those before it in the manifest; never one after it, which
// would promote backwards.
function promoteSources(ctx, e, i) {
  const req = e.environment.requires || [];
  const cands = req.length
    ? ctx.environments.filter((o) => req.includes(o.environment.id))
    : ctx.environments.slice(0, i);
  return cands.filter((o) => o.current).reverse();
}

// envActions are what a person can do to an environment, in the order offered; the first is its
// main action.
function envActions(ctx, e, i, freezes) {
  const env = e.environment;
  const name = env.name || env.id;
  const sources = promoteSources(ctx, e, i);
  const before = (ctx.environments.slice(0, i).length || (env.requires || []).length) > 0;
  const later = (fn) => () => fn().catch((err) => announce(err.message, 'bad'));
  const out = [];
  if (before) {
    out.push({
      key: `promote:${env.id}`, label: `Promote to ${name}…`, disabled: sources.length === 0,
      title: sources.length === 0 ? `${(env.requires || []).join(', ') || 'No environment before it'} runs nothing to promote yet` : null,
      run: () => promoteDialog(ctx, e, sources, i),
    });
  }
  out.push({ key: `deploy:${env.id}`, label: 'Deploy a release…', run: later(() => deployDialog(ctx, e)) });
  if (env.approvals) out.push({ key: `approve:${env.id}`, label: 'Approve a release…', run: later(() => approveDialog(ctx, e)) });
  out.push({ key: `rollback:${env.id}`, label: 'Roll back…', disabled: !e.current, run: () => rollbackDialog(ctx, e) });
  out.push({ key: `report:${env.id}`, label: 'Report verified or failed…', disabled: !e.current, run: () => reportDialog(ctx, e) });
  out.push(e.lock
    ? { key: `lock:${env.id}`, label: 'Unlock…', run: () => unlockDialog(ctx, e) }
    : { key: `lock:${env.id}`, label: 'Lock…', run: () => lockDialog(ctx, e) });
  out.push({ key: `freeze:${env.id}`, label: 'Freeze…', run: () => freezeDialog(ctx, e) });
  for (const f of freezes) out.push({ key: `lift:${env.id}:${f.freeze_id}`, label: `Lift freeze ${f.freeze_id}…`, run: () => liftFreezeDialog(ctx, env.id, f) });
  out.push({ key: `emergency:${env.id}`, label: 'Break glass…', danger: true, run: later(() => emergencyDialog(ctx, e)) });
  return out;
}

function actionButton(a, primary, onclick) {
  return h('button', {
    type: 'button', class: primary ? 'primary' : a.danger ? 'danger-outline' : null, dataset: { key: a.key },
    disabled: a.disabled, title: a.title, onclick,
  }, a.label);
}

// actionsMenu offers an environment's actions from its column's header, which stays in view
// while the matrix scrolls. The chosen action opens once the menu has closed and given the
// focus back, so that its own dialog returns the focus to the header.
function actionsMenu(ctx, e, i, freezes) {
  const env = e.environment;
  let chosen = null;
  const acts = envActions(ctx, e, i, freezes);
  const dlg = openDialog(`${env.name || env.id}: actions`,
    h('div', { class: 'form menu' }, acts.map((a, n) => actionButton(a, n === 0, () => { chosen = a; dlg.close(); })),
      h('p', {}, h('a', { href: href('p', ctx.projectID, 'deployments', { environment: env.id }), onclick: () => dlg.close() }, `History of ${env.id}`))));
  dlg.addEventListener('close', () => { if (chosen) chosen.run(); });
}

function cell(svc, col, left) {
  const uri = col.images[svc];
  const leftURI = left ? left.images[svc] : undefined;
  const differs = left !== undefined && (uri || leftURI) && uri !== leftURI;
  const env = col.env;
  const pending = env && env.current && (env.current.pending || []).includes(svc);
  const drift = env && (env.drift || []).filter((d) => d.service === svc);
  // Images this environment needs that its registry (a replica in its own account and region)
  // does not have yet: the API checks them by digest (docs/accounts.md).
  const unreplicated = env ? (env.unreplicated || []).filter((u) => u.service === svc) : [];
  const classes = ['img', differs ? 'differs' : '', uri ? '' : 'missing', pending ? 'is-pending' : '', drift && drift.length ? 'is-drift' : '',
    unreplicated.length ? 'is-unreplicated' : ''].filter(Boolean).join(' ');
  const im = parseImage(uri);
  return h('td', { class: classes, title: uri || 'not deployed', dataset: { service: svc, environment: col.key, image: uri || '' } },
    uri ? [
      im.tag ? h('span', { class: 'tag' }, im.tag) : null,
      im.short ? h('code', { class: 'digest' }, im.short) : h('code', {}, imageLabel(uri)),
    ] : h('span', { class: 'muted' }, '—'),
    differs ? h('span', { class: 'sr-only' }, ' (differs from the column to its left)') : null,
    pending ? badge('pending', 'warn', 'The deployment has still to write this service\'s parameter') : null,
    (drift || []).map((d) => badge(`drift: ${d.kind.replace(/_/g, ' ')}`, 'bad', `recorded ${d.recorded || '—'}, actual ${d.actual || '—'}`)),
    unreplicated.map((u) => unreplicatedMark(env.environment, u)));
}

// unreplicatedMark marks an image an environment needs that its registry lacks: the one it runs
// (a task it starts cannot pull it), or the one a promotion from another environment would bring
// (a deploy of it is refused until ECR replication copies it).
function unreplicatedMark(env, u) {
  const name = env.name || env.id;
  const where = [env.account_id, env.region].filter(Boolean).join(', ');
  const registry = `${name}'s registry${where ? ` (${where})` : ''}`;
  const runs = u.from === env.id;
  const title = runs
    ? `${name} runs ${u.image}, but ${registry} does not have it: looked for as ${u.looked_for}. A task ECS starts there cannot pull it.`
    : `Not replicated yet: ${u.from}'s image ${u.image} is not in ${registry}, looked for as ${u.looked_for}. A deploy of it to ${name} is refused until ECR replication copies it there.`;
  const b = badge(runs ? 'not in registry' : 'not replicated', runs ? 'bad' : 'warn', title);
  b.classList.add('mark-unreplicated');
  b.dataset.from = u.from;
  b.dataset.lookedFor = u.looked_for;
  return b;
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
    h('li', {}, badge('not replicated', 'warn'), ' an image the environment needs is not in its account and region\'s registry yet'),
    h('li', {}, badge('locked', 'lock'), ' deploys refused until unlocked'),
    h('li', {}, badge('frozen', 'freeze'), ' inside a change freeze'));
}

function envCard(ctx, e, i, freezes, now) {
  const env = e.environment;
  const cur = e.current;
  const lock = e.lock;
  return h('article', { class: 'card env-card', id: `env-${env.id}`, dataset: { environment: env.id } },
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
    e.pending ? pendingBlock(ctx, e.pending) : null,
    h('div', { class: 'actions' },
      envActions(ctx, e, i, freezes).map((a, n) => actionButton(a, n === 0, a.run)),
      h('a', { class: 'button-link', href: href('p', ctx.projectID, 'deployments', { environment: env.id }) }, 'History')));
}

// pendingBlock says what an auto-promoted environment waits for (docs/automation.md): its
// candidate release, and each gate that refuses it with when it opens by itself, or why there
// is nothing to deploy.
function pendingBlock(ctx, p) {
  const candidate = p.release_id
    ? [h('a', { href: href('p', ctx.projectID, 'releases', p.release_id), class: 'mono', title: p.release_id }, shortID(p.release_id)),
      p.from ? ` (verified in ${p.from})` : '']
    : 'no candidate';
  let body;
  if (p.error) {
    body = h('p', { class: 'small' }, badge('error', 'bad'), ` ${p.error}`);
  } else if (p.idle) {
    body = h('p', { class: 'small muted' }, p.idle);
  } else if ((p.waiting || []).length) {
    body = h('ul', { class: 'waiting' }, p.waiting.map((g) => h('li', {}, badge(g.gate, 'warn'), ` ${g.message}`,
      g.retry_at ? [' — opens ', time(g.retry_at)] : ' — opens when a person acts')));
  } else {
    body = h('p', { class: 'small' }, badge('ready', 'ok'), ' every gate passes: it deploys at the next tick');
  }
  return h('div', { class: 'auto-pending' }, h('p', { class: 'small' }, badge('auto-promote', 'muted'), ' candidate ', candidate), body);
}
