// The overview: every project registered, and for each its environments — what each runs, its
// status, drift, lock and freezes — on one page, with a filter.
import { h, shortID, relTime, person, badge, absTime } from './dom.js';
import { get, project as P } from './api.js';
import { href, pool, errorBox } from './common.js';
import { statusBadge } from './matrix.js';

// The filter outlives a refresh of the view (the page refreshes itself when something happens).
const filter = { text: '', problems: false };

// allProjects reads every project: GET /projects is paged like every list, so this follows its
// cursor to the end.
export async function allProjects() {
  const items = [];
  let cursor = '';
  do {
    const page = await get('/projects', cursor ? { limit: 100, cursor } : { limit: 100 });
    items.push(...page.items);
    cursor = page.next_cursor || '';
  } while (cursor);
  return items;
}

export async function projectsView() {
  const items = await allProjects();
  if (items.length === 0) {
    const node = h('section', {},
      h('h1', {}, 'Projects'),
      h('div', { class: 'notice start', id: 'getting-started' },
        h('h2', {}, 'No project is registered yet: how to start'),
        h('p', {}, 'Describe your project, its environments and its image repositories in a manifest (the README\'s ".wellcome_project format"), then register it:'),
        h('pre', { class: 'cmd' }, h('code', {}, 'shiplog project register -f .wellcome_project')),
        h('p', { class: 'small muted' }, 'or start the local stack with it: shiplog serve --manifest .wellcome_project. The project appears here as soon as it is registered.')));
    return { title: 'Projects', node, crumbs: [] };
  }
  const now = Date.now() / 1000;
  const details = await pool(items, 4, (p) => Promise.all([get(P(p.id, 'environments')), get(P(p.id, 'freezes'))])
    .then(([envs, freezes]) => ({ envs: envs.items, freezes: freezes.items }), (err) => ({ err })));

  const text = h('input', { type: 'search', id: 'overview-filter', value: filter.text, dataset: { key: 'overview-filter' }, placeholder: 'project, environment, release, person…', 'aria-describedby': 'overview-count' });
  const problems = h('input', { type: 'checkbox', id: 'overview-problems', checked: filter.problems, dataset: { key: 'overview-problems' } });
  const count = h('p', { class: 'muted small', id: 'overview-count', 'aria-live': 'polite' });
  const cards = items.map((p, i) => projectCard(p, details[i], now));
  const list = h('ul', { class: 'cards overview', id: 'projects' }, cards);
  const apply = () => {
    filter.text = text.value.trim().toLowerCase();
    filter.problems = problems.checked;
    let rowsShown = 0, rowsAll = 0, projectsShown = 0;
    for (const card of cards) {
      const projectMatch = !filter.text || card.dataset.search.includes(filter.text);
      let any = false;
      const rows = card.querySelectorAll('tr[data-environment]');
      for (const tr of rows) {
        rowsAll++;
        const show = (projectMatch || tr.dataset.search.includes(filter.text)) && (!filter.problems || tr.dataset.problem === 'true');
        tr.hidden = !show;
        if (show) { any = true; rowsShown++; }
      }
      card.hidden = !(any || (rows.length === 0 && projectMatch && !filter.problems));
      if (!card.hidden) projectsShown++;
    }
    count.textContent = `${projectsShown} of ${cards.length} projects, ${rowsShown} of ${rowsAll} environments shown.`;
  };
  text.addEventListener('input', apply);
  problems.addEventListener('change', apply);
  apply();
  const node = h('section', {},
    h('h1', {}, 'Projects'),
    h('form', { class: 'filter-bar', role: 'search', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'overview-filter' }, 'Filter'), text,
      h('label', { class: 'check', for: 'overview-problems' }, problems, 'Only environments that need attention (failed, drifting, locked, frozen, pending)')),
    count, list);
  return { title: 'Projects', node, crumbs: [] };
}

function projectCard(p, d, now) {
  const services = (p.image_repositories || []).flatMap((r) => r.services || []);
  const search = [p.id, p.name || ''].join(' ').toLowerCase();
  return h('li', { class: 'card', dataset: { project: p.id, search } },
    h('h2', {}, h('a', { href: href('p', p.id) }, p.name || p.id)),
    h('p', { class: 'muted mono' }, p.id, ` · ${services.length} service${services.length === 1 ? '' : 's'}`),
    d.err ? errorBox(d.err, 'Its environments') : envTable(p, d, now),
    h('p', { class: 'links' },
      h('a', { href: href('p', p.id, 'releases') }, 'Releases'),
      h('a', { href: href('p', p.id, 'timeline') }, 'Timeline'),
      h('a', { href: href('p', p.id, 'events') }, 'Events'),
      h('a', { href: href('p', p.id, 'metrics') }, 'DORA metrics')));
}

function envTable(p, d, now) {
  if (!d.envs.length) return h('p', { class: 'empty' }, 'No environments.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'overview-envs' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Environment'), h('th', { scope: 'col' }, 'Runs'), h('th', { scope: 'col' }, 'State'))),
    h('tbody', {}, d.envs.map((e) => {
      const env = e.environment;
      const cur = e.current;
      const active = d.freezes.filter((f) => (f.environments.length === 0 || f.environments.includes(env.id)) && f.starts_at <= now && f.ends_at > now);
      const drift = e.drift || [];
      const pending = cur && (cur.pending || []).length;
      const problem = e.status === 'failed' || drift.length > 0 || Boolean(e.lock) || active.length > 0 || Boolean(pending);
      const search = [env.id, env.name || '', cur ? cur.release_id : '', cur ? person(cur.requested_by) : '', e.status || ''].join(' ').toLowerCase();
      return h('tr', { dataset: { environment: env.id, search, problem: problem ? 'true' : 'false' } },
        h('th', { scope: 'row' }, h('a', { href: href('p', p.id, 'deployments', { environment: env.id }) }, env.name || env.id)),
        h('td', {}, cur
          ? [h('a', { class: 'mono', href: href('p', p.id, 'releases', cur.release_id), title: cur.release_id }, shortID(cur.release_id)),
            h('span', { class: 'muted small', title: absTime(cur.deployed_at) }, ` ${relTime(cur.deployed_at)}`)]
          : h('span', { class: 'muted' }, 'nothing')),
        h('td', { class: 'marks' },
          e.status ? statusBadge(e.status) : null,
          drift.length ? badge(`drift ${drift.length}`, 'bad', drift.map((x) => `${x.service}: ${x.kind}`).join('; ')) : null,
          pending ? badge('pending', 'warn', 'Parameters still to write') : null,
          e.lock ? badge('locked', 'lock', `by ${person(e.lock.locked_by)}: ${e.lock.reason}`) : null,
          active.map((f) => badge('frozen', 'freeze', `${f.freeze_id} until ${absTime(f.ends_at)}: ${f.reason}`))));
    }))));
}
