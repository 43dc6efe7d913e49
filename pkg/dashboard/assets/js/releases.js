// A project's releases, each with its diff to the release before it, and one release.
import { h, imageLabel, parseImage, shortID, time, person, badge, rangeView } from './dom.js';
import { get, project as P, ApiError } from './api.js';
import { href, projectNav, errorBox, pool } from './common.js';

const PAGE = 10;

export async function releasesView({ params }) {
  const [id] = params;
  // A listed release carries how often it was deployed (deployment_count), not its deployments
  // (the list leaves them out to stay cheap); where each runs now comes from the environments.
  const [proj, first, envs] = await Promise.all([get(P(id)), get(P(id, 'releases'), { limit: PAGE }), get(P(id, 'environments'))]);
  const runsIn = new Map();
  for (const e of envs.items) {
    if (!e.current) continue;
    if (!runsIn.has(e.current.release_id)) runsIn.set(e.current.release_id, []);
    runsIn.get(e.current.release_id).push(e.environment.id);
  }
  const list = h('ol', { class: 'releases', id: 'releases' });
  const more = h('button', { type: 'button', class: 'secondary', dataset: { key: 'more-releases' } }, 'Older releases');
  let cursor = '';
  async function add(page) {
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
    // The release before the last one of a page is the first of the next page.
    let after = null;
    if (cursor && page.items.length) {
      const next = await get(P(id, 'releases'), { limit: 1, cursor });
      after = next.items[0] || null;
    }
    const items = page.items;
    const diffs = await pool(items, 4, (r, i) => {
      const prev = items[i + 1] || after;
      return prev ? get(P(id, 'diff'), { from: `release:${prev.release_id}`, to: `release:${r.release_id}` }).catch((e) => e) : null;
    });
    items.forEach((r, i) => list.append(releaseItem(id, r, items[i + 1] || after, diffs[i], runsIn.get(r.release_id) || [])));
  }
  more.addEventListener('click', async () => {
    more.disabled = true;
    try { await add(await get(P(id, 'releases'), { limit: PAGE, cursor })); } catch (e) { list.after(errorBox(e)); }
    more.disabled = false;
  });
  await add(first);
  const node = h('section', {},
    h('h1', {}, `${proj.name || id}: releases`),
    projectNav(id, 'releases'),
    first.items.length ? list : h('p', { class: 'empty' }, 'No release yet. CI makes one with create-release, or POST /projects/' + id + '/releases.'),
    h('p', {}, more));
  return { title: `Releases of ${proj.name || id}`, node, crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)], ['Releases', href('p', id, 'releases')]] };
}

// deployedSummary says how often a release was deployed and where it runs now.
function deployedSummary(projectID, r, runsNow) {
  const n = r.deployment_count || 0;
  if (!n) return h('span', { class: 'muted deployed' }, 'Not deployed.');
  return h('span', { class: 'deployed' },
    h('a', { href: href('p', projectID, 'releases', r.release_id) }, `Deployed ${n} time${n === 1 ? '' : 's'}`),
    runsNow.length ? ['; runs now in ', runsNow.map((e, i) => [i ? ', ' : '', h('span', { class: 'chip' }, e)])] : '; runs nowhere now',
    '.');
}

function releaseItem(projectID, r, prev, diff, runsNow) {
  return h('li', { class: 'card release', dataset: { release: r.release_id } },
    h('h2', {}, h('a', { href: href('p', projectID, 'releases', r.release_id), class: 'mono', title: r.release_id }, shortID(r.release_id)),
      ' ', badge(r.label, 'muted', 'the label its images were taken from'), r.description ? h('span', { class: 'desc' }, ' ', r.description) : null),
    h('p', { class: 'small' }, 'Made ', time(r.created_at), ` by ${person(r.requested_by)}. `,
      deployedSummary(projectID, r, runsNow)),
    prev ? diffView(diff, prev) : h('p', { class: 'muted small' }, `The first release: ${Object.keys(r.images).length} services.`));
}

// diffView shows what changed from one release to the next; unchanged services are only counted.
export function diffView(diff, prev, label) {
  if (diff instanceof ApiError || diff instanceof Error) return errorBox(diff, 'No diff');
  if (!diff) return null;
  const changed = diff.services.filter((s) => s.change !== 'unchanged');
  const same = diff.services.length - changed.length;
  return h('div', { class: 'diff' },
    h('p', { class: 'small' }, label || ['Against ', h('code', { title: prev.release_id }, shortID(prev.release_id)), ': '],
      changed.length ? `${changed.length} changed` : 'no image changed', same ? `, ${same} unchanged` : '', '.'),
    changed.length ? h('ul', { class: 'changes-list' }, changed.map((c) => h('li', { class: `change-${c.change}` },
      h('strong', {}, c.service), ` ${c.change}: `,
      h('code', { title: c.from || '' }, imageLabel(c.from) || '—'), ' → ', h('code', { title: c.to || '' }, imageLabel(c.to) || '—'),
      c.range ? [' ', rangeView(c.range)] : null))) : null);
}

export async function releaseView({ params }) {
  const [id, releaseID] = params;
  const [proj, r, envs] = await Promise.all([get(P(id)), get(P(id, 'releases', releaseID)), get(P(id, 'environments'))]);
  const deployed = envs.items.filter((e) => e.current);
  const against = await pool(deployed, 4, (e) => (e.current.release_id === r.release_id ? null
    : get(P(id, 'diff'), { from: `environment:${e.environment.id}`, to: `release:${r.release_id}` }).catch((err) => err)));
  const services = Object.keys(r.images).sort();
  const node = h('section', {},
    h('h1', {}, 'Release ', h('span', { class: 'mono', title: r.release_id }, shortID(r.release_id))),
    projectNav(id, 'releases'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Id'), h('dd', { class: 'mono' }, r.release_id),
      h('dt', {}, 'Label'), h('dd', {}, r.label),
      h('dt', {}, 'Made'), h('dd', {}, time(r.created_at), ` by ${person(r.requested_by)}`),
      r.description ? [h('dt', {}, 'Why'), h('dd', {}, r.description)] : null,
      h('dt', {}, 'Last deployed'), h('dd', {}, time(r.last_date_deployed))),
    h('h2', {}, 'Images'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'images', id: 'images' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Repository'), h('th', { scope: 'col' }, 'Image'))),
      h('tbody', {}, services.map((svc) => {
        const im = parseImage(r.images[svc]);
        return h('tr', { dataset: { service: svc } }, h('th', { scope: 'row' }, svc), h('td', { class: 'mono small' }, im.repository),
          h('td', { title: im.uri }, h('code', {}, imageLabel(im.uri))));
      })))),
    h('h2', {}, 'Against what runs now'),
    deployed.length ? h('ul', { class: 'plain' }, deployed.map((e, i) => h('li', {},
      against[i] === null ? h('p', { class: 'small' }, h('strong', {}, e.environment.id), ' runs this release.')
        : diffView(against[i], null, [h('strong', {}, e.environment.id), ' to this release: '])))) : h('p', { class: 'muted' }, 'No environment runs anything yet.'),
    h('h2', {}, 'Deployments'),
    (r.deployments || []).length ? h('ol', { class: 'plain' }, [...r.deployments].reverse().map((d) => h('li', {},
      badge(d.kind || 'deploy', d.kind === 'rollback' ? 'bad' : 'muted'), ' to ', h('a', { href: href('p', id, 'deployments', { environment: d.environment.id }) }, d.environment.id), ' ',
      time(d.created_at), ` by ${person(d.requested_by)}`, d.description ? `: ${d.description}` : ''))) : h('p', { class: 'muted' }, 'Never deployed.'),
    h('details', {}, h('summary', {}, 'The manifest it was made with'), h('pre', { class: 'small' }, prettyJSON(r.release_manifest))));
  return {
    title: `Release ${shortID(r.release_id)}`, node,
    crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)], ['Releases', href('p', id, 'releases')], [shortID(r.release_id), href('p', id, 'releases', r.release_id)]],
  };
}

function prettyJSON(s) {
  try { return JSON.stringify(JSON.parse(s), null, 2); } catch { return s; }
}
