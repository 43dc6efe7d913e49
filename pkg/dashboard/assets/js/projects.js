// The projects: every project registered, with its environments and services.
import { h } from './dom.js';
import { get } from './api.js';
import { href } from './common.js';

export async function projectsView() {
  // GET /projects is paged like every list: the view follows its cursor to show them all.
  const items = [];
  let cursor = '';
  do {
    const page = await get('/projects', cursor ? { limit: 100, cursor } : { limit: 100 });
    items.push(...page.items);
    cursor = page.next_cursor || '';
  } while (cursor);
  const node = h('section', {},
    h('h1', {}, 'Projects'),
    items.length === 0
      ? h('p', { class: 'empty' }, 'No project is registered yet. Register one with PUT /projects/{id} (see the README), or start the local stack with --manifest .wellcome_project.')
      : h('ul', { class: 'cards', id: 'projects' }, items.map((p) => {
        const services = (p.image_repositories || []).flatMap((r) => r.services || []);
        return h('li', { class: 'card', dataset: { project: p.id } },
          h('h2', {}, h('a', { href: href('p', p.id) }, p.name || p.id)),
          h('p', { class: 'muted mono' }, p.id),
          h('p', {}, h('span', { class: 'label' }, 'Environments '),
            (p.environments || []).map((e, i) => [i ? h('span', { class: 'arrow', 'aria-hidden': 'true' }, ' → ') : null, h('span', { class: 'chip' }, e.name || e.id)])),
          h('p', {}, h('span', { class: 'label' }, 'Services '), `${services.length}: ${services.join(', ')}`),
          h('p', { class: 'links' },
            h('a', { href: href('p', p.id, 'releases') }, 'Releases'),
            h('a', { href: href('p', p.id, 'deployments') }, 'Deployments'),
            h('a', { href: href('p', p.id, 'metrics') }, 'DORA metrics')));
      })));
  return { title: 'Projects', node, crumbs: [] };
}
