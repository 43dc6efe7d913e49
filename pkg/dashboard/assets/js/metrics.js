// The DORA figures of an environment (GET /projects/{p}/metrics): deployment frequency, lead time
// for changes, change failure rate and time to restore, over the last eight weeks, and charts of
// the same eight weeks, week by week, drawn as inline SVG.
import { h, s, duration } from './dom.js';
import { get, project as P, ApiError } from './api.js';
import { href, projectNav, errorBox, pool } from './common.js';

const DAY = 86400;
const WEEKS = 8;
const shortDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

export async function metricsView({ params, query }) {
  const [id] = params;
  const proj = await get(P(id));
  const envs = proj.environments || [];
  const envID = query.get('environment') || (envs.length ? envs[envs.length - 1].id : '');
  const tabs = h('nav', { class: 'tabs env-tabs', 'aria-label': 'Environments' }, envs.map((e) => h('a', {
    href: href('p', id, 'metrics', { environment: e.id }), 'aria-current': e.id === envID ? 'page' : null,
  }, e.name || e.id)));
  // until is outside the window: one second past now, so a deployment made just now counts.
  const until = Math.floor(Date.now() / 1000) + 1;
  let body;
  try {
    // The figures and the charts cover one period: the figures the whole of it, the charts its weeks.
    const m = await get(P(id, 'metrics'), { environment: envID, since: until - WEEKS * 7 * DAY, until });
    const weeks = await pool(Array.from({ length: WEEKS }, (_, i) => WEEKS - 1 - i), 4, (i) => {
      const to = until - i * 7 * DAY;
      return get(P(id, 'metrics'), { environment: envID, since: to - 7 * DAY, until: to });
    });
    body = [figures(m), charts(weeks)];
  } catch (err) {
    body = err instanceof ApiError && (err.status === 404 || err.status === 405) ? notAvailable(err) : errorBox(err);
  }
  const node = h('section', {},
    h('h1', {}, `${proj.name || id}: DORA metrics for ${envID}`),
    projectNav(id, 'metrics'), tabs, body);
  return {
    title: `DORA metrics of ${proj.name || id}`, node,
    crumbs: [['Projects', '#/'], [proj.name || id, href('p', id)], ['DORA metrics', href('p', id, 'metrics', { environment: envID })]],
  };
}

function notAvailable(err) {
  return h('div', { class: 'notice', id: 'metrics-unavailable', role: 'status' },
    h('h2', {}, 'Not available'),
    h('p', {}, 'This API does not serve DORA metrics yet: GET /projects/{project}/metrics answered ', String(err.status), '. ',
      'The figures appear here once the API has that route.'),
    h('p', { class: 'muted small' }, 'The API said: ', err.message));
}

function figure(label, value, detail) {
  return h('div', { class: 'figure' }, h('p', { class: 'figure-label' }, label), h('p', { class: 'figure-value' }, value), h('p', { class: 'figure-detail muted small' }, detail));
}

function figures(m) {
  const df = m.deployment_frequency || {};
  const lt = m.lead_time_seconds || {};
  const cfr = m.change_failure_rate || {};
  const ttr = m.time_to_restore_seconds || {};
  return h('div', {},
    h('p', { class: 'muted', id: 'period' }, `The last ${WEEKS} weeks (${shortDate.format(new Date(m.since * 1000))} to ${shortDate.format(new Date((m.until - 1) * 1000))}): `,
      `${m.deployments} deployment${m.deployments === 1 ? '' : 's'} to ${m.environment}. The charts below show the same ${WEEKS} weeks, week by week.`),
    h('div', { class: 'figures', id: 'figures', dataset: { since: m.since, until: m.until } },
      figure('Deployment frequency', `${fmt(df.per_week)} / week`, `${fmt(df.per_day)} a day`),
      figure('Lead time for changes', duration(lt.median), lt.count ? `median of ${lt.count}; p90 ${duration(lt.p90)}` : 'no change deployed'),
      figure('Change failure rate', cfr.total ? `${Math.round((cfr.rate || 0) * 100)} %` : '—', `${cfr.failed || 0} failed of ${cfr.total || 0}`),
      figure('Time to restore', ttr.count ? duration(ttr.median) : ttr.unrestored ? 'not yet' : '—', restoreDetail(ttr))));
}

// restoreDetail counts the restores, and the failures not restored yet, which are no less real
// for having no time to restore.
function restoreDetail(ttr) {
  const parts = [];
  if (ttr.count) parts.push(`median of ${ttr.count} restore${ttr.count === 1 ? '' : 's'}`);
  if (ttr.unrestored) parts.push(`${ttr.unrestored} failure${ttr.unrestored === 1 ? '' : 's'} not restored yet`);
  return parts.length ? parts.join('; ') : 'no failure to restore';
}

function fmt(x) {
  if (x === undefined || x === null) return '—';
  return x >= 10 ? String(Math.round(x)) : String(Math.round(x * 10) / 10);
}

function charts(weeks) {
  const label = (w) => shortDate.format(new Date(w.since * 1000));
  return h('div', { class: 'charts' },
    barChart('Deployments per week', 'deployments-chart', weeks.map((w) => ({
      label: label(w), value: w.deployments, part: (w.change_failure_rate || {}).failed || 0,
      tip: `${w.deployments} deployments, ${(w.change_failure_rate || {}).failed || 0} failed`,
    })), (v) => String(v), 'failed'),
    barChart('Median lead time per week', 'lead-time-chart', weeks.map((w) => {
      const lt = w.lead_time_seconds || {};
      return { label: label(w), value: lt.count ? lt.median : 0, tip: lt.count ? `median ${duration(lt.median)} over ${lt.count}` : 'no change deployed' };
    }), duration));
}

// barChart draws bars (value, with an optional highlighted part at their foot) with a y axis,
// and the same figures as a table for screen readers and copying.
function barChart(title, id, items, format, partLabel) {
  const W = 480, H = 200, L = 48, B = 28, T = 12;
  const max = Math.max(1, ...items.map((i) => i.value));
  const step = (W - L - 8) / items.length;
  const bw = Math.max(6, step * 0.6);
  const y = (v) => H - B - (v / max) * (H - B - T);
  const ticks = [0, max / 2, max];
  const chart = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': `${id}-title`, id },
    s('title', { id: `${id}-title` }, title),
    ticks.map((t) => [
      s('line', { x1: L, x2: W - 4, y1: y(t), y2: y(t), class: 'grid' }),
      s('text', { x: L - 6, y: y(t) + 4, class: 'axis', 'text-anchor': 'end' }, format(Math.round(t * 10) / 10)),
    ]),
    items.map((it, i) => {
      const x = L + i * step + (step - bw) / 2;
      return s('g', {},
        s('title', {}, `${it.label}: ${it.tip}`),
        s('rect', { x, y: y(it.value), width: bw, height: Math.max(0, H - B - y(it.value)), class: 'bar', rx: 2 }),
        it.part ? s('rect', { x, y: y(it.part), width: bw, height: Math.max(0, H - B - y(it.part)), class: 'bar-part', rx: 2 }) : null,
        s('text', { x: x + bw / 2, y: H - B + 16, class: 'axis', 'text-anchor': 'middle' }, it.label));
    }));
  return h('figure', { class: 'chart-box' },
    h('figcaption', {}, title, partLabel ? h('span', { class: 'key' }, h('span', { class: 'swatch bar-part' }), partLabel) : null),
    chart,
    h('details', { class: 'small' }, h('summary', {}, 'As a table'),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Week from'), h('th', { scope: 'col' }, title))),
        h('tbody', {}, items.map((it) => h('tr', {}, h('th', { scope: 'row' }, it.label), h('td', {}, it.tip)))))));
}
