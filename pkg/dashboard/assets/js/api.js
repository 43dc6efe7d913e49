// The HTTP API on the page's own origin. Errors come back as ApiError carrying the API's kind and
// message ({"error": {"kind", "message"}}), which the page shows as they are.

const USER_KEY = 'shiplog.user';

// The local stack takes the caller from X-Shiplog-User; behind `shiplog ui` the proxy signs the
// request instead (see writer). Its rule for the header: printable, no spaces, at most 256 bytes.
export function user() {
  try { return localStorage.getItem(USER_KEY) || ''; } catch { return ''; }
}

export function userProblem(name) {
  if (name === '') return '';
  if (/\s/.test(name)) return 'a user name has no spaces';
  if (new TextEncoder().encode(name).length > 256) return 'a user name is at most 256 bytes';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'a user name has no control characters';
  return '';
}

// writer returns who the API will record as the requester of the page's writes, as the server
// serving the page says (dashboard.Writer: {id, name, fixed, how}), or null where it does not say.
// fixed means the server names the requester itself (shiplog ui signs as the person running it),
// and the page's own name is neither sent nor shown.
let writerAsked = null;
let fixedWriter = false;
export function writer() {
  if (!writerAsked) {
    writerAsked = (async () => {
      let res;
      try {
        res = await fetch('/dashboard/identity', { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      } catch (e) {
        throw new ApiError(0, 'Unavailable', `the page's server did not say who writes are recorded as: ${e.message}`);
      }
      let data = null;
      try { data = await res.json(); } catch { /* said below */ }
      if (res.status === 404) return null;
      if (!res.ok || !data) {
        const err = data && data.error;
        throw new ApiError(res.status, (err && err.kind) || '', (err && err.message) || `GET /dashboard/identity answered ${res.status}`);
      }
      fixedWriter = !!data.fixed;
      return data;
    })();
    writerAsked.catch(() => { writerAsked = null; }); // ask again next time
  }
  return writerAsked;
}

export function setUser(name) {
  try {
    if (name) localStorage.setItem(USER_KEY, name);
    else localStorage.removeItem(USER_KEY);
  } catch { /* private mode: the name lasts until reload */ }
}

export class ApiError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

// project returns the API path of a project, or of something under it.
export function project(id, ...rest) {
  return ['/projects', id, ...rest].map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
}

// newKey makes an idempotency key (an id: letters, digits, '-'), so that a retried click records
// one deployment.
export function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'ui-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// call sends one request and returns the decoded body, or throws ApiError.
export async function call(method, path, { query, body, key } = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') qs.set(k, v);
  const url = path + (qs.size ? '?' + qs : '');
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && user() && !fixedWriter) headers['X-Shiplog-User'] = user();
  if (key) headers['Idempotency-Key'] = key;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'Unavailable', `the API did not answer ${method} ${path}: ${e.message}`);
  }
  showVersion(res.headers.get('X-Shiplog-Version'));
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: say so below */ }
  if (!res.ok) {
    const err = data && data.error;
    if (err && err.message) throw new ApiError(res.status, err.kind || '', err.message);
    const msg = (data && data.message) || text.trim() || res.statusText;
    throw new ApiError(res.status, '', `${method} ${path} answered ${res.status}: ${msg}`);
  }
  if (data === null && text) throw new ApiError(res.status, 'Internal', `${method} ${path} answered something that is not JSON`);
  return data;
}

export const get = (path, query) => call('GET', path, { query });

// showVersion puts in the footer the version of shiplog that answered (the API says it in every
// answer's X-Shiplog-Version header), so a report of a problem can name it.
function showVersion(v) {
  const el = document.getElementById('version');
  if (el && v && el.dataset.version !== v) {
    el.dataset.version = v;
    el.textContent = `shiplog ${v}`;
  }
}
