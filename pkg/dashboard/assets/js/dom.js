// DOM building and formatting. Every text the API returns goes into the page as text nodes, never
// as HTML, so a description cannot inject markup.

// h builds an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child, [more]).
// Attributes whose value is null, undefined or false are left out; true sets an empty attribute.
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG = 'http://www.w3.org/2000/svg';

// s builds an SVG element, as h does.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// breakable lets a long name (a service's) break after its '_', '-' and '.' where it must (on a
// phone), rather than anywhere or nowhere.
export function breakable(name) {
  return name.split(/(?<=[_.-])/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
}

// parseImage splits an image URI (registry/repository[:tag][@sha256:digest]) into its parts.
export function parseImage(uri) {
  if (!uri) return null;
  let ref = uri, digest = '';
  const at = uri.indexOf('@');
  if (at >= 0) { ref = uri.slice(0, at); digest = uri.slice(at + 1); }
  let tag = '';
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) { tag = ref.slice(colon + 1); ref = ref.slice(0, colon); }
  const slash = ref.indexOf('/');
  const repository = slash >= 0 && /[.:]/.test(ref.slice(0, slash)) ? ref.slice(slash + 1) : ref;
  const hex = digest.replace(/^sha256:/, '');
  return { uri, repository, tag, digest, short: hex ? hex.slice(0, 12) : '' };
}

// imageLabel is how a cell names an image: its tag and short digest, whichever it has.
export function imageLabel(uri) {
  const im = parseImage(uri);
  if (!im) return '';
  return [im.tag, im.short].filter(Boolean).join(' @ ') || uri;
}

// shortID shortens a ULID for reading; the full id stays in links and titles.
export function shortID(id) {
  return id && id.length > 10 ? id.slice(-8) : id || '';
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function absTime(sec) {
  return sec ? dateFmt.format(new Date(sec * 1000)) : '';
}

export function relTime(sec, now = Date.now() / 1000) {
  if (!sec) return '';
  const d = now - sec;
  const a = Math.abs(d);
  const say = (n, unit) => (d >= 0 ? `${n} ${unit}${n === 1 ? '' : 's'} ago` : `in ${n} ${unit}${n === 1 ? '' : 's'}`);
  if (a < 45) return d >= 0 ? 'just now' : 'in a moment';
  if (a < 3600) return say(Math.round(a / 60), 'minute');
  if (a < 86400) return say(Math.round(a / 3600), 'hour');
  if (a < 86400 * 45) return say(Math.round(a / 86400), 'day');
  return say(Math.round(a / (86400 * 30)), 'month');
}

// time is a <time> element reading "3 hours ago · 4 Mar 2026, 05:06", the UTC instant in its title.
export function time(sec) {
  if (!sec) return h('span', { class: 'muted' }, 'never');
  const iso = new Date(sec * 1000).toISOString();
  return h('time', { datetime: iso, title: iso.replace('.000Z', 'Z') }, `${relTime(sec)} · ${absTime(sec)}`);
}

// duration reads seconds as "42 s", "5 min", "3.5 h", "2.1 d".
export function duration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '—';
  if (sec < 60) return `${Math.round(sec)} s`;
  if (sec < 3600) return `${Math.round(sec / 60)} min`;
  if (sec < 86400) return `${(sec / 3600).toFixed(1)} h`;
  return `${(sec / 86400).toFixed(1)} d`;
}

// person shows who: the name, and in brackets the id when it differs and "invoke" when a direct
// invocation asserted the identity, e.g. "CI (ci, invoke)".
export function person(p) {
  if (!p) return '';
  const who = p.name && p.name !== p.id ? p.name : p.id || p.name || '';
  const notes = [];
  if (p.name && p.id && p.name !== p.id) notes.push(p.id);
  // Only what the invoker said, which no one authenticated: say so, as the CLI does.
  if (p.via === 'invoke') notes.push('invoke');
  return notes.length ? `${who} (${notes.join(', ')})` : who;
}

export function badge(text, kind, title) {
  return h('span', { class: `badge badge-${kind}`, title }, text);
}

// rangeView shows a service's source range (docs/change-notes.md): the revisions, the compare
// link (https only), whether it goes back, and why part of it is unknown; null without a range.
export function rangeView(r) {
  if (!r) return null;
  const rev = (x) => (x ? x.slice(0, 12) : '?');
  const known = r.from_revision || r.to_revision;
  return h('span', { class: 'range small' },
    known ? h('code', { title: `${r.from_revision || '?'}..${r.to_revision || '?'}` }, `${rev(r.from_revision)}..${rev(r.to_revision)}`) : null,
    r.backwards ? [' ', badge('goes back', 'bad', 'the image deployed was pushed before the one it replaces, or this is a rollback')] : null,
    r.compare_url && r.compare_url.startsWith('https://')
      ? [' ', h('a', { href: r.compare_url, class: 'compare', target: '_blank', rel: 'noopener noreferrer' }, r.backwards ? 'commits taken out' : 'compare')] : null,
    r.unknown ? h('span', { class: 'muted' }, ` ${r.unknown}`) : null);
}
