// The actions: promote, roll back, lock and unlock. Each opens a dialog that shows what will
// happen first (for a deploy or a rollback, the API's plan: a dry run that writes nothing) and
// acts only when confirmed. A refusal, from the plan or from the real request, is shown in the
// API's own words.
import { h, imageLabel, shortID, person, time, breakable, rangeView } from './dom.js';
import { call, user, writer, newKey, project as P } from './api.js';
import { openDialog, errorBox, announce } from './common.js';

// asWho says, before the action, who the record will name: behind shiplog ui the identity it
// signs as (no name typed in the page reaches the record), on the local stack the name the page
// sends, or the stack's default user.
function asWho() {
  const p = h('p', { class: 'help who', id: 'who' }, 'Finding out who this will be recorded as…');
  writer().then((w) => {
    if (w && w.fixed) {
      p.replaceChildren('Recorded as ', h('strong', {}, w.id ? person(w) : 'the API\'s default user'), w.how ? `: ${w.how}.` : '.');
      return;
    }
    const u = user();
    const fallback = w && w.id ? ['the local stack\'s default user, ', h('strong', {}, person(w))] : ['the local stack\'s default user'];
    p.replaceChildren('Recorded as ', ...(u ? [h('strong', {}, u)] : fallback), ' (change it with the button at the top).');
  }, (err) => {
    p.replaceChildren(h('span', { class: 'error' }, `Who this will be recorded as is unknown: ${err.message}`));
  });
  return p;
}

const KIND_WORDS = { deploy: 'Deploy', promote: 'Promote', rollback: 'Roll back' };

const GATE_WORDS = { pass: 'Pass', refused: 'Refused', overridden: 'Passed by break glass' };

// gateState names a gate's decision: pass, refused, or refused and passed by break glass.
function gateState(g) {
  if (g.allow) return 'pass';
  return g.overridden ? 'overridden' : 'refused';
}

// gatesView lists every gate's decision, refusals and all, and when a closed gate opens by itself.
function gatesView(gates) {
  if (!gates || !gates.length) return null;
  return h('div', { class: 'table-wrap' }, h('table', { class: 'gates' },
    h('caption', {}, 'Gates'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Gate'), h('th', { scope: 'col' }, 'Decision'), h('th', { scope: 'col' }, 'Why'))),
    h('tbody', {}, gates.map((g) => h('tr', { class: `gate-${gateState(g)}`, dataset: { gate: g.gate } },
      h('th', { scope: 'row' }, g.gate), h('td', {}, GATE_WORDS[gateState(g)]),
      h('td', {}, g.message, g.retry_at ? h('span', { class: 'muted small' }, ` (opens ${time(g.retry_at)})`) : null))))));
}

// planView shows a deploy's plan: the release, each service that changes, the parameters it
// would write, every gate's decision, and the refusal it would meet.
export function planView(plan) {
  const changed = plan.services.filter((s) => s.change !== 'unchanged');
  const unchanged = plan.services.length - changed.length;
  const params = plan.parameters_to_write || [];
  return h('div', { class: 'plan', id: 'plan' },
    h('h3', {}, 'Plan'),
    h('p', {}, `${KIND_WORDS[plan.kind] || plan.kind} release `, h('code', { title: plan.release_id }, shortID(plan.release_id)),
      plan.promoted_from ? ` from ${plan.promoted_from}` : '', ` to ${plan.environment}.`),
    plan.refusal ? h('div', { class: 'error refusal', role: 'alert' }, h('strong', {}, 'Refused: '), plan.refusal.message,
      h('span', { class: 'kind' }, ` (${plan.refusal.kind})`)) : null,
    gatesView(plan.gates),
    changed.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'changes' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Change'), h('th', { scope: 'col' }, 'From'), h('th', { scope: 'col' }, 'To'),
          changed.some((c) => c.range) ? h('th', { scope: 'col' }, 'Source') : null)),
        h('tbody', {}, changed.map((c) => h('tr', { class: `change-${c.change}`, dataset: { service: c.service } },
          h('th', { scope: 'row' }, breakable(c.service)), h('td', {}, c.change),
          h('td', { title: c.from || '' }, h('code', {}, imageLabel(c.from) || '—')),
          h('td', { title: c.to || '' }, h('code', {}, imageLabel(c.to) || '—')),
          changed.some((x) => x.range) ? h('td', {}, rangeView(c.range)) : null)))))
      : h('p', { class: 'muted' }, 'No service changes: the environment runs these images already.'),
    unchanged ? h('p', { class: 'muted small' }, `${unchanged} service${unchanged === 1 ? '' : 's'} unchanged.`) : null,
    params.length
      ? h('details', {}, h('summary', {}, `${params.length} parameter${params.length === 1 ? '' : 's'} to write`),
        h('ul', { class: 'mono small' }, params.map((p) => h('li', {}, p))))
      : h('p', { class: 'muted small' }, 'No parameter to write.'));
}

function actionsRow(dlg, confirm) {
  return h('div', { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel'), confirm);
}

// busy runs fn with the button disabled and relabelled, and puts it back afterwards.
async function busy(button, label, fn) {
  const old = button.textContent;
  button.disabled = true;
  button.textContent = label;
  try { return await fn(); } finally { button.textContent = old; }
}

function deployedMessage(res, env) {
  const d = res.deployment;
  const what = { promote: 'Promoted', rollback: 'Rolled back', deploy: 'Deployed' }[d.kind] || 'Deployed';
  return `${what}: ${env} now runs release ${shortID(res.release.release_id)} (deployment ${shortID(d.deployment_id)}).`;
}

export function promoteDialog(ctx, target, sources) {
  const env = target.environment;
  const preferred = sources[0].environment.id; // the nearest environment before it
  const from = h('select', { id: 'promote-from', name: 'from' }, sources.map((o) => h('option', { value: o.environment.id, selected: o.environment.id === preferred },
    `${o.environment.name || o.environment.id} (release ${shortID(o.current.release_id)})`)));
  const description = h('input', { id: 'promote-description', name: 'description', autocomplete: 'off', placeholder: 'e.g. after QA' });
  const planBox = h('div', { class: 'plan-box', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Working out the plan…'));
  const errors = h('div', { class: 'dialog-errors' });
  const confirm = h('button', { type: 'submit', class: 'primary', id: 'confirm', disabled: true }, `Promote to ${env.name || env.id}`);
  const form = h('form', { class: 'form', novalidate: true },
    h('label', { for: 'promote-from' }, 'Promote what runs in'), from,
    h('label', { for: 'promote-description' }, 'Why (optional)'), description,
    asWho(), planBox, errors);
  let key = newKey();
  let seq = 0;
  const body = () => ({ from_environment: from.value, description: description.value.trim() || undefined });
  const path = P(ctx.projectID, 'environments', env.id, 'deployments');
  async function plan() {
    const n = ++seq;
    confirm.disabled = true;
    errors.replaceChildren();
    planBox.replaceChildren(h('p', { class: 'loading' }, 'Working out the plan…'));
    try {
      const res = await call('POST', path, { body: { ...body(), dry_run: true } });
      if (n !== seq) return;
      planBox.replaceChildren(planView(res.plan));
      confirm.disabled = Boolean(res.plan.refusal);
    } catch (err) {
      if (n !== seq) return;
      planBox.replaceChildren(errorBox(err, 'No plan'));
    }
  }
  from.addEventListener('change', () => { key = newKey(); plan(); });
  description.addEventListener('input', () => { key = newKey(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (confirm.disabled) return;
    errors.replaceChildren();
    await busy(confirm, 'Promoting…', async () => {
      try {
        const res = await call('POST', path, { body: body(), key });
        dlg.close();
        announce(deployedMessage(res, env.id));
        ctx.refresh();
      } catch (err) {
        errors.replaceChildren(errorBox(err, 'Not promoted'));
        confirm.disabled = false;
      }
    });
  });
  form.append(actionsRow({ close: () => dlg.close() }, confirm));
  const dlg = openDialog(`Promote to ${env.name || env.id}`, form);
  plan();
}

export function rollbackDialog(ctx, target) {
  const env = target.environment;
  const reason = h('textarea', { id: 'rollback-reason', name: 'reason', rows: '2', required: true, 'aria-describedby': 'rollback-reason-help' });
  const hold = h('input', { type: 'checkbox', id: 'rollback-hold', name: 'hold' });
  const planBox = h('div', { class: 'plan-box', 'aria-live': 'polite' });
  const errors = h('div', { class: 'dialog-errors' });
  const show = h('button', { type: 'button', id: 'show-plan' }, 'Show the plan');
  const confirm = h('button', { type: 'submit', class: 'danger', id: 'confirm', disabled: true }, `Roll back ${env.name || env.id}`);
  const cur = target.current;
  const form = h('form', { class: 'form', novalidate: true },
    h('p', {}, `${env.name || env.id} runs release `, h('code', { title: cur.release_id }, shortID(cur.release_id)), ', deployed ', time(cur.deployed_at),
      ` by ${person(cur.requested_by)}. A rollback deploys again the release it ran before.`),
    h('label', { for: 'rollback-reason' }, 'Why (required)'), reason,
    h('p', { id: 'rollback-reason-help', class: 'help' }, 'Recorded on the rollback, for the people who come after.'),
    h('label', { class: 'check', for: 'rollback-hold' }, hold, ' Hold: lock the environment too, so that the next automatic deploy does not undo the rollback'),
    h('div', {}, show),
    asWho(), planBox, errors);
  let key = newKey();
  const body = () => ({ reason: reason.value.trim(), hold: hold.checked || undefined });
  const path = P(ctx.projectID, 'environments', env.id, 'rollback');
  const stale = () => { key = newKey(); confirm.disabled = true; planBox.replaceChildren(); };
  reason.addEventListener('input', stale);
  hold.addEventListener('change', stale);
  function needReason() {
    if (body().reason) return false;
    errors.replaceChildren(h('div', { class: 'error', role: 'alert' }, 'Say why: a rollback needs a reason.'));
    reason.setAttribute('aria-invalid', 'true');
    reason.focus();
    return true;
  }
  show.addEventListener('click', async () => {
    errors.replaceChildren();
    if (needReason()) return;
    reason.removeAttribute('aria-invalid');
    planBox.replaceChildren(h('p', { class: 'loading' }, 'Working out the plan…'));
    try {
      const res = await call('POST', path, { body: { ...body(), dry_run: true } });
      planBox.replaceChildren(planView(res.plan));
      confirm.disabled = Boolean(res.plan.refusal);
      if (!confirm.disabled) confirm.focus();
    } catch (err) {
      planBox.replaceChildren(errorBox(err, 'No plan'));
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (confirm.disabled) { show.click(); return; }
    errors.replaceChildren();
    await busy(confirm, 'Rolling back…', async () => {
      try {
        const res = await call('POST', path, { body: body(), key });
        dlg.close();
        announce(deployedMessage(res, env.id) + (body().hold ? ' The environment is held (locked).' : ''));
        ctx.refresh();
      } catch (err) {
        errors.replaceChildren(errorBox(err, 'Not rolled back'));
        confirm.disabled = false;
      }
    });
  });
  form.append(actionsRow({ close: () => dlg.close() }, confirm));
  const dlg = openDialog(`Roll back ${env.name || env.id}`, form);
}

const EXPIRIES = [['', 'until unlocked'], ['3600', 'for 1 hour'], ['14400', 'for 4 hours'], ['86400', 'for 1 day'], ['604800', 'for 1 week']];

export function lockDialog(ctx, target) {
  const env = target.environment;
  const reason = h('textarea', { id: 'lock-reason', name: 'reason', rows: '2', required: true });
  const expiry = h('select', { id: 'lock-expiry', name: 'expiry' }, EXPIRIES.map(([v, label]) => h('option', { value: v }, label)));
  const errors = h('div', { class: 'dialog-errors' });
  const confirm = h('button', { type: 'submit', class: 'primary', id: 'confirm' }, `Lock ${env.name || env.id}`);
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'plan' }, `While locked, every deploy, promotion and rollback to ${env.name || env.id} is refused with your reason. `,
      'An emergency deployment passes the lock. Nothing already deployed changes.'),
    h('label', { for: 'lock-reason' }, 'Why (required)'), reason,
    h('label', { for: 'lock-expiry' }, 'How long'), expiry,
    asWho(), errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const why = reason.value.trim();
    if (!why) {
      errors.replaceChildren(h('div', { class: 'error', role: 'alert' }, 'Say why: a lock needs a reason.'));
      reason.setAttribute('aria-invalid', 'true');
      reason.focus();
      return;
    }
    const body = { reason: why };
    if (expiry.value) body.expires_at = Math.floor(Date.now() / 1000) + Number(expiry.value);
    await busy(confirm, 'Locking…', async () => {
      try {
        await call('PUT', P(ctx.projectID, 'environments', env.id, 'lock'), { body });
        dlg.close();
        announce(`${env.id} is locked.`);
        ctx.refresh();
      } catch (err) {
        errors.replaceChildren(errorBox(err, 'Not locked'));
        confirm.disabled = false;
      }
    });
  });
  form.append(actionsRow({ close: () => dlg.close() }, confirm));
  const dlg = openDialog(`Lock ${env.name || env.id}`, form);
}

export function unlockDialog(ctx, target) {
  const env = target.environment;
  const lock = target.lock;
  const errors = h('div', { class: 'dialog-errors' });
  const confirm = h('button', { type: 'submit', class: 'primary', id: 'confirm', autofocus: true }, `Unlock ${env.name || env.id}`);
  const form = h('form', { class: 'form', novalidate: true },
    h('div', { class: 'plan' },
      h('p', {}, `${env.name || env.id} is locked by ${person(lock.locked_by)} since `, time(lock.locked_at), ':'),
      h('blockquote', {}, lock.reason),
      h('p', {}, 'Unlocking lets deploys to it go ahead again.')),
    asWho(), errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    await busy(confirm, 'Unlocking…', async () => {
      try {
        const res = await call('DELETE', P(ctx.projectID, 'environments', env.id, 'lock'));
        dlg.close();
        announce(res.removed ? `${env.id} is unlocked.` : `${env.id} was not locked any more.`);
        ctx.refresh();
      } catch (err) {
        errors.replaceChildren(errorBox(err, 'Not unlocked'));
        confirm.disabled = false;
      }
    });
  });
  form.append(actionsRow({ close: () => dlg.close() }, confirm));
  const dlg = openDialog(`Unlock ${env.name || env.id}`, form);
}

// releaseOptions lists a project's newest releases for a select, marking the one env runs.
async function releaseOptions(ctx, target) {
  const page = await call('GET', P(ctx.projectID, 'releases'), { query: { limit: 50 } });
  const running = target.current && target.current.release_id;
  return page.items.map((r) => h('option', { value: r.release_id },
    `${shortID(r.release_id)} · ${r.label}${r.description ? ' · ' + r.description : ''}${r.release_id === running ? ' (runs here now)' : ''}`));
}

// plannedDialog is a write that shows its plan first, as the rollback does: the fields, a
// "Show the plan" button (the API's dry run), and a confirm that is enabled only under a plan
// with no refusal and sends the same body. Any change to a field asks for the plan again.
function plannedDialog(ctx, target, o) {
  const env = target.environment;
  const planBox = h('div', { class: 'plan-box', 'aria-live': 'polite' });
  const errors = h('div', { class: 'dialog-errors' });
  const show = h('button', { type: 'button', id: 'show-plan' }, 'Show the plan');
  const confirm = h('button', { type: 'submit', class: o.danger ? 'danger' : 'primary', id: 'confirm', disabled: true }, o.confirmLabel);
  const form = h('form', { class: 'form', novalidate: true }, ...o.fields, h('div', {}, show), asWho(), planBox, errors);
  let key = newKey();
  const stale = () => { key = newKey(); confirm.disabled = true; planBox.replaceChildren(); };
  for (const f of form.querySelectorAll('input, select, textarea')) f.addEventListener(f.tagName === 'SELECT' ? 'change' : 'input', stale);
  function invalid() {
    const why = o.invalid ? o.invalid() : '';
    if (!why) return false;
    errors.replaceChildren(h('div', { class: 'error', role: 'alert' }, why));
    return true;
  }
  show.addEventListener('click', async () => {
    errors.replaceChildren();
    if (invalid()) return;
    planBox.replaceChildren(h('p', { class: 'loading' }, 'Working out the plan…'));
    try {
      const res = await call('POST', o.path, { body: { ...o.body(), dry_run: true } });
      planBox.replaceChildren(planView(res.plan));
      confirm.disabled = Boolean(res.plan.refusal);
      if (!confirm.disabled) confirm.focus();
    } catch (err) {
      planBox.replaceChildren(errorBox(err, 'No plan'));
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (confirm.disabled) { show.click(); return; }
    errors.replaceChildren();
    await busy(confirm, o.busyLabel, async () => {
      try {
        const res = await call('POST', o.path, { body: o.body(), key });
        dlg.close();
        announce(deployedMessage(res, env.id) + (o.done || ''));
        ctx.refresh();
      } catch (err) {
        errors.replaceChildren(errorBox(err, o.failLabel));
        confirm.disabled = false;
      }
    });
  });
  form.append(actionsRow({ close: () => dlg.close() }, confirm));
  const dlg = openDialog(o.title, form);
  return dlg;
}

// deployDialog deploys a release a person chooses from the project's newest.
export async function deployDialog(ctx, target) {
  const env = target.environment;
  const release = h('select', { id: 'deploy-release', name: 'release' }, await releaseOptions(ctx, target));
  const description = h('input', { id: 'deploy-description', name: 'description', autocomplete: 'off', placeholder: 'e.g. first deploy of the retries' });
  const path = P(ctx.projectID, 'environments', env.id, 'deployments');
  plannedDialog(ctx, target, {
    title: `Deploy to ${env.name || env.id}`, path, confirmLabel: `Deploy to ${env.name || env.id}`, busyLabel: 'Deploying…', failLabel: 'Not deployed',
    fields: release.options.length
      ? [h('label', { for: 'deploy-release' }, 'Release'), release, h('label', { for: 'deploy-description' }, 'Why (optional)'), description]
      : [h('p', { class: 'error', role: 'alert' }, 'This project has no release to deploy yet.')],
    invalid: () => (release.value ? '' : 'Choose a release: this project has none yet.'),
    body: () => ({ release_id: release.value, description: description.value.trim() || undefined }),
  });
}

// emergencyDialog breaks glass: a deployment that passes the environment's locks, freezes and
// promotion gates, and records why.
export async function emergencyDialog(ctx, target) {
  const env = target.environment;
  const release = h('select', { id: 'emergency-release', name: 'release' }, await releaseOptions(ctx, target));
  const reason = h('textarea', { id: 'emergency-reason', name: 'reason', rows: '2', required: true, 'aria-describedby': 'emergency-help' });
  const path = P(ctx.projectID, 'environments', env.id, 'emergency-deployments');
  plannedDialog(ctx, target, {
    title: `Break glass: deploy to ${env.name || env.id}`, path, danger: true,
    confirmLabel: `Deploy to ${env.name || env.id} anyway`, busyLabel: 'Deploying…', failLabel: 'Not deployed',
    fields: [
      h('p', { class: 'plan', id: 'emergency-help' }, `An emergency deployment passes ${env.name || env.id}'s lock, its freezes and its promotion gates. `,
        'It is recorded as one, with your reason, for everyone to see.'),
      h('label', { for: 'emergency-release' }, 'Release'), release,
      h('label', { for: 'emergency-reason' }, 'Why it cannot wait (required)'), reason],
    invalid: () => {
      if (!release.value) return 'Choose a release: this project has none yet.';
      if (!reason.value.trim()) { reason.setAttribute('aria-invalid', 'true'); reason.focus(); return 'Say why: an emergency deployment needs a reason.'; }
      reason.removeAttribute('aria-invalid');
      return '';
    },
    body: () => ({ release_id: release.value, reason: reason.value.trim() }),
    done: ' It passed locks and gates, as an emergency.',
  });
}

// reportDialog says whether the deployment an environment runs works: verified or failed.
export function reportDialog(ctx, target) {
  const env = target.environment;
  const cur = target.current;
  const verified = h('input', { type: 'radio', id: 'report-verified', name: 'status', value: 'verified', checked: true });
  const failed = h('input', { type: 'radio', id: 'report-failed', name: 'status', value: 'failed' });
  const detail = h('input', { id: 'report-detail', name: 'detail', autocomplete: 'off', placeholder: 'e.g. smoke tests passed' });
  const errors = h('div', { class: 'dialog-errors' });
  const confirm = h('button', { type: 'submit', class: 'primary', id: 'confirm' }, 'Report');
  const form = h('form', { class: 'form', novalidate: true },
    h('p', {}, `${env.name || env.id} runs release `, h('code', { title: cur.release_id }, shortID(cur.release_id)), ' (deployment ',
      h('code', { title: cur.deployment_id }, shortID(cur.deployment_id)), '), deployed ', time(cur.deployed_at), '.'),
    h('fieldset', { class: 'choices' }, h('legend', {}, 'It'),
      h('label', { class: 'check', for: 'report-verified' }, verified, ' works: verified (what promotion gates look for)'),
      h('label', { class: 'check', for: 'report-failed' }, failed, ' does not work: failed (counts against the change failure rate)')),
    h('label', { for: 'report-detail' }, 'Detail (optional)'), detail,
    asWho(), errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const status = failed.checked ? 'failed' : 'verified';
    await busy(confirm, 'Reporting…', async () => {
      try {
        await call('POST', P(ctx.projectID, 'environments', env.id, 'deployments', cur.deployment_id, 'status'),
          { body: { status, detail: detail.value.trim() || undefined } });
        dlg.close();
        announce(`Deployment ${shortID(cur.deployment_id)} to ${env.id} is reported ${status}.`);
        ctx.refresh();
      } catch (err) {
        errors.replaceChildren(errorBox(err, 'Not reported'));
        confirm.disabled = false;
      }
    });
  });
  form.append(actionsRow({ close: () => dlg.close() }, confirm));
  const dlg = openDialog(`Report on ${env.name || env.id}`, form);
}

// localInput is a datetime-local input's value for Unix seconds, in the browser's time zone.
function localInput(sec) {
  const d = new Date(sec * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// freezeDialog sets a change freeze of one environment, through the environment's own route.
export function freezeDialog(ctx, target) {
  const env = target.environment;
  const now = Math.floor(Date.now() / 1000);
  const day = localInput(now).slice(0, 10).replace(/-/g, '');
  const id = h('input', { id: 'freeze-id', name: 'freeze', value: `${env.id}-${day}`, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'freeze-id-help' });
  const starts = h('input', { type: 'datetime-local', id: 'freeze-starts', name: 'starts', value: localInput(now) });
  const ends = h('input', { type: 'datetime-local', id: 'freeze-ends', name: 'ends', value: localInput(now + 86400) });
  const reason = h('textarea', { id: 'freeze-reason', name: 'reason', rows: '2', required: true });
  const errors = h('div', { class: 'dialog-errors' });
  const confirm = h('button', { type: 'submit', class: 'primary', id: 'confirm' }, `Freeze ${env.name || env.id}`);
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'plan' }, `During the freeze every deploy, promotion and rollback to ${env.name || env.id} is refused with your reason; `,
      'an emergency deployment passes it. Setting a freeze of an id that exists replaces it.'),
    h('label', { for: 'freeze-id' }, 'Name'), id,
    h('p', { id: 'freeze-id-help', class: 'help' }, 'Letters, digits, ".", "_" and "-"; it names the freeze in the record and when you lift it.'),
    h('label', { for: 'freeze-starts' }, 'From (your time)'), starts,
    h('label', { for: 'freeze-ends' }, 'Until (your time)'), ends,
    h('label', { for: 'freeze-reason' }, 'Why (required)'), reason,
    asWho(), errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const why = reason.value.trim();
    const from = Math.floor(new Date(starts.value).getTime() / 1000);
    const to = Math.floor(new Date(ends.value).getTime() / 1000);
    let problem = '';
    if (!id.value.trim()) problem = 'Name the freeze.';
    else if (Number.isNaN(from) || Number.isNaN(to)) problem = 'Say when the freeze starts and ends.';
    else if (!why) { problem = 'Say why: a freeze needs a reason.'; reason.setAttribute('aria-invalid', 'true'); reason.focus(); }
    if (problem) { errors.replaceChildren(h('div', { class: 'error', role: 'alert' }, problem)); return; }
    await busy(confirm, 'Freezing…', async () => {
      try {
        await call('PUT', P(ctx.projectID, 'environments', env.id, 'freezes', id.value.trim()), { body: { starts_at: from, ends_at: to, reason: why } });
        dlg.close();
        announce(`${env.id} is frozen from ${new Date(from * 1000).toLocaleString()} to ${new Date(to * 1000).toLocaleString()}.`);
        ctx.refresh();
      } catch (err) {
        errors.replaceChildren(errorBox(err, 'Not frozen'));
        confirm.disabled = false;
      }
    });
  });
  form.append(actionsRow({ close: () => dlg.close() }, confirm));
  const dlg = openDialog(`Freeze ${env.name || env.id}`, form);
}

// liftFreezeDialog lifts a freeze: one of this environment alone through the environment's
// route, one over several environments through the project's.
export function liftFreezeDialog(ctx, envID, f) {
  const alone = f.environments.length === 1 && f.environments[0] === envID;
  const errors = h('div', { class: 'dialog-errors' });
  const confirm = h('button', { type: 'submit', class: 'primary', id: 'confirm', autofocus: true }, `Lift ${f.freeze_id}`);
  const form = h('form', { class: 'form', novalidate: true },
    h('div', { class: 'plan' },
      h('p', {}, `Freeze ${f.freeze_id}, set by ${person(f.created_by)}, covers `, f.environments.length ? f.environments.join(', ') : 'every environment',
        '; it starts ', time(f.starts_at), ' and ends ', time(f.ends_at), ':'),
      h('blockquote', {}, f.reason),
      h('p', {}, alone ? 'Lifting it lets deploys to it go ahead again.' : 'It covers more than this environment: lifting it lifts it everywhere.')),
    asWho(), errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const path = alone ? P(ctx.projectID, 'environments', envID, 'freezes', f.freeze_id) : P(ctx.projectID, 'freezes', f.freeze_id);
    await busy(confirm, 'Lifting…', async () => {
      try {
        await call('DELETE', path);
        dlg.close();
        announce(`Freeze ${f.freeze_id} is lifted.`);
        ctx.refresh();
      } catch (err) {
        errors.replaceChildren(errorBox(err, 'Not lifted'));
        confirm.disabled = false;
      }
    });
  });
  form.append(actionsRow({ close: () => dlg.close() }, confirm));
  const dlg = openDialog(`Lift freeze ${f.freeze_id}`, form);
}

// approveDialog approves a release for an environment whose deploys need approvals (or
// withdraws the person's own approval): it shows who approved the chosen release and whether
// that is enough, and records the approval as the page's writer (docs/approvals.md).
export async function approveDialog(ctx, target) {
  const env = target.environment;
  const rule = env.approvals;
  const release = h('select', { id: 'approve-release', name: 'release' }, await releaseOptions(ctx, target));
  const status = h('div', { class: 'plan', id: 'approvals', 'aria-live': 'polite' });
  const errors = h('div', { class: 'dialog-errors' });
  const confirm = h('button', { type: 'submit', class: 'primary', id: 'confirm' }, `Approve for ${env.name || env.id}`);
  const withdraw = h('button', { type: 'button', class: 'secondary', id: 'withdraw' }, 'Withdraw my approval');
  const who = rule.from && rule.from.length ? `Who may approve: ${rule.from.join(', ')}.` : 'Anyone may approve.';
  const self = rule.self_approval ? '' : ' The release\'s requester may not approve it, and an approval does not count for its approver\'s own deploy.';
  async function show() {
    errors.replaceChildren();
    if (!release.value) { status.replaceChildren(); return; }
    status.replaceChildren(h('p', { class: 'loading' }, 'Reading the approvals…'));
    try {
      status.replaceChildren(approvalsView(await call('GET', P(ctx.projectID, 'releases', release.value, 'approvals'), { query: { environment: env.id } })));
    } catch (err) {
      status.replaceChildren(errorBox(err, 'Approvals unknown'));
    }
  }
  release.addEventListener('change', show);
  async function act(button, label, method, opts, done, failed) {
    errors.replaceChildren();
    if (!release.value) {
      errors.replaceChildren(h('div', { class: 'error', role: 'alert' }, 'Choose a release: this project has none yet.'));
      return;
    }
    await busy(button, label, async () => {
      try {
        const res = await call(method, P(ctx.projectID, 'environments', env.id, 'approvals'), opts());
        status.replaceChildren(approvalsView(res));
        announce(done(res));
      } catch (err) {
        errors.replaceChildren(errorBox(err, failed));
      } finally {
        button.disabled = false;
      }
    });
  }
  const form = h('form', { class: 'form', novalidate: true },
    h('p', {}, `${env.name || env.id} needs ${rule.required} approval${rule.required === 1 ? '' : 's'} of a release before it is deployed there. ${who}${self}`),
    h('label', { for: 'approve-release' }, 'Release'), release, status, asWho(), errors);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(confirm, 'Approving…', 'POST', () => ({ body: { release_id: release.value } }),
      (res) => (res.changed ? `Approved release ${shortID(res.release_id)} for ${env.id}.` : `You had approved release ${shortID(res.release_id)} for ${env.id} already.`), 'Not approved');
  });
  withdraw.addEventListener('click', () => act(withdraw, 'Withdrawing…', 'DELETE', () => ({ query: { release_id: release.value } }),
    (res) => (res.changed ? `Withdrew your approval of release ${shortID(res.release_id)} for ${env.id}.` : `You had not approved release ${shortID(res.release_id)} for ${env.id}.`), 'Not withdrawn'));
  form.append(h('div', { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Close'), withdraw, confirm));
  const dlg = openDialog(`Approve for ${env.name || env.id}`, form);
  dlg.addEventListener('close', () => ctx.refresh());
  show();
  return dlg;
}

// approvalsView shows where a release stands with an environment's approvals.
function approvalsView(st) {
  const counted = new Set(st.counted || []);
  return h('div', { id: 'approvals-status', dataset: { approved: String(Boolean(st.approved)) } },
    h('p', {}, h('strong', {}, `${counted.size} of ${st.required}`), ' approvals counted: ',
      st.approved ? 'enough for a deploy by someone who did not approve.' : 'not enough yet.'),
    (st.approvals || []).length
      ? h('ul', { class: 'plain', id: 'approvers' }, st.approvals.map((a) => h('li', { dataset: { approver: a.by.id } },
        person(a.by), ' ', time(a.at), counted.has(a.by.id) ? '' : h('span', { class: 'muted small' }, ' (does not count)'))))
      : h('p', { class: 'muted' }, 'Nobody has approved it yet.'));
}
