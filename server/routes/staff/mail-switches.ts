// /staff/mail/domains/:name/switches: a domain's scheduled switches (pending, applied, cancelled) with plain forms to
// schedule one (at a time, or with a phase of a task's plan), cancel a pending one, and switch now (rollback at once).
import { Hono, type Context } from 'hono';
import { MIGRATION_MODES, DomainName, type MigrationMode } from '#data/contracts/mail-config.ts';
import { MODE_WORDS, ScheduleSwitchInput } from '#data/contracts/mail-switches.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { NotFound } from '../../domain/errors.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { findDomain } from '../../store/mail.ts';
import { listSwitches, phaseChoices, taskPhases, type SwitchRecord } from '../../store/mail-switches.ts';
import { cancelSwitch, scheduleSwitch, switchNow } from '../../services/mail/switches.ts';
import { page, send, html, raw, csrfField, noticeOf } from './layout.ts';
import { readForm, FormReader, type Form } from './forms.ts';
import { authOf, actorOf } from './guard.ts';
import { attempt } from './tasks.ts';

const LABELS: Record<string, string> = { mode: 'Mode', at: 'When', taskId: 'Phase', phase: 'Phase' };
const CANCELLED: Record<string, string> = {
  staff: 'cancelled by staff',
  'switch-now': 'cancelled by a switch now',
  'phase-removed': 'cancelled: its phase was removed from the plan',
  'no-legacy-host': 'cancelled: the domain had no legacy host',
};

export function mailSwitchPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const tz = deps.config.displayTimeZone;
  const when = (iso: string) => utcToWallTime(iso, tz).replace('T', ' ');
  const domainOf = (c: Context) => {
    const r = DomainName.safeParse(c.req.param('name'));
    const d = r.success ? findDomain(deps.db, r.data) : undefined;
    if (!d) throw new NotFound(`The domain ${c.req.param('name')} is not hosted.`);
    return d;
  };
  const pagePath = (name: string) => `/staff/mail/domains/${encodeURIComponent(name)}/switches`;

  const show = (c: Context, errors: FieldError[] = [], status = 200, form: Form = {}) => {
    const auth = authOf(c);
    const csrf = csrfField(auth);
    const d = domainOf(c);
    const now = deps.clock().getTime();
    const base = pagePath(d.name);
    const modeOptions = (selected: string) =>
      MIGRATION_MODES.map((m) => html`<option value="${m}"${m === selected ? raw(' selected') : ''}>${MODE_WORDS[m]}</option>`);
    const phases = phaseChoices(deps.db).filter((p) => Date.parse(p.startsAt) > now);
    const state = (s: SwitchRecord) =>
      s.state === 'pending'
        ? html`pending <form method="post" action="${base}/${s.id}/cancel" class="inline">${csrf}<button type="submit">Cancel switch ${s.id}</button></form>`
        : s.state === 'applied'
          ? `applied ${when(s.appliedAt!)}`
          : `${CANCELLED[s.cancelReason!] ?? 'cancelled'} ${when(s.cancelledAt!)}`;
    const switches = listSwitches(deps.db, d.name);
    const body = html`<p><a href="/staff/mail">Mail configuration</a></p>
    <p>Mode now: <strong>${MODE_WORDS[d.mode]}</strong>${d.legacyHost ? `; old MX ${d.legacyHost}:${d.legacyPort ?? 25}` : '; no legacy host'}. Times in ${tz}.</p>
    <p class="muted">Each MX node makes a pending switch at its time from its own copy of the configuration, with or without the backend; a switch with a phase moves when the plan's phase moves. Switch now takes effect at each node's next config sync and cancels every pending switch of the domain.</p>
    <h2>Switches</h2>
    ${
      switches.length
        ? html`<table><thead><tr><th>Time</th><th>To</th><th>With</th><th>By</th><th>State</th></tr></thead><tbody>
    ${switches.map(
      (s) => html`<tr><td>${when(s.at)}</td><td>${MODE_WORDS[s.mode]}</td>
      <td>${s.task ? html`<a href="/staff/tasks/${s.task.id}">${taskRef(s.task.id)}</a>, phase “${s.task.phase}”` : 'a time'}</td>
      <td>${s.createdBy}</td><td>${state(s)}</td></tr>`,
    )}</tbody></table>`
        : html`<p>No switches yet.</p>`
    }
    <form method="post" action="${base}"><fieldset><legend>Schedule a switch</legend>${csrf}<input type="hidden" name="form" value="schedule">
      <label for="s-mode">To</label><select id="s-mode" name="mode">${modeOptions(form.form === 'schedule' ? (form.mode ?? '') : '')}</select>
      <label for="s-at">At a time (${tz})</label><input type="datetime-local" id="s-at" name="at" value="${form.form === 'schedule' ? (form.at ?? '') : ''}">
      <label for="s-phase">Or when a phase starts</label><select id="s-phase" name="phase"><option value="">none: at the time above</option>
      ${phases.map((p) => {
        const v = `${p.taskId}:${p.phaseId}`;
        return html`<option value="${v}"${form.phase === v ? raw(' selected') : ''}>${taskRef(p.taskId)} ${p.summary}: ${p.title} (${when(p.startsAt)})</option>`;
      })}</select>
      <p><button type="submit">Schedule switch</button></p></fieldset></form>
    <form method="post" action="/staff/mail/domains/${encodeURIComponent(d.name)}/switch-now"><fieldset><legend>Switch now</legend>${csrf}
      <label for="n-mode">To</label><select id="n-mode" name="mode">${modeOptions(d.mode)}</select>
      <p><button type="submit">Switch ${d.name} now</button></p></fieldset></form>`;
    return send(c, page({ title: `Switches of ${d.name}`, auth, notice: noticeOf(c), errors, body }), status);
  };

  /** Runs a write; on failure the page comes back with the errors (and the typed values). */
  const write = (c: Context, form: Form, errors: FieldError[], run: () => void, done: string) => {
    const failed = errors.length ? Object.assign(errors, { status: 400 }) : attempt(run);
    if (failed) return show(c, failed, failed.status ?? 400, form);
    return c.redirect(`${pagePath(domainOf(c).name)}?done=${done}`, 303);
  };

  app.get('/mail/domains/:name/switches', (c) => show(c));

  app.post('/mail/domains/:name/switches', async (c) => {
    const d = domainOf(c);
    const f = await readForm(c);
    const r = new FormReader(f, tz);
    const at = r.instant('at', LABELS.at);
    let phase: { taskId: number; phase: string } | undefined;
    const m = /^(\d{1,10}):(\d{1,10})$/.exec(f.phase ?? '');
    if (m) {
      const p = taskPhases(deps.db, Number(m[1])).find((x) => x.id === Number(m[2]));
      if (p) phase = { taskId: Number(m[1]), phase: p.title };
      else r.errors.push({ field: LABELS.phase, message: 'the plan has changed since; choose the phase again' });
    } else if (f.phase) r.errors.push({ field: LABELS.phase, message: 'choose a phase from the list' });
    const parsed = ScheduleSwitchInput.safeParse({ mode: f.mode, ...(at === undefined ? {} : { at }), ...phase });
    const errors = r.errors.length
      ? r.errors
      : parsed.success
        ? []
        : parsed.error.issues.map((i) => ({ field: LABELS[String(i.path[0])] ?? '', message: i.message }));
    return write(
      c,
      f,
      errors,
      () => void scheduleSwitch({ ctx, actor: actorOf(c), name: d.name, input: parsed.data! }),
      'switch-scheduled',
    );
  });

  app.post('/mail/domains/:name/switches/:id/cancel', (c) => {
    const d = domainOf(c);
    const id = c.req.param('id');
    const errors = /^\d{1,10}$/.test(id) ? [] : [{ field: '', message: 'no such switch' }];
    return write(c, {}, errors, () => void cancelSwitch({ ctx, actor: actorOf(c), name: d.name, id: Number(id) }), 'switch-cancelled');
  });

  app.post('/mail/domains/:name/switch-now', async (c) => {
    const d = domainOf(c);
    const f = await readForm(c);
    const ok = (MIGRATION_MODES as readonly string[]).includes(f.mode ?? '');
    const errors = ok ? [] : [{ field: LABELS.mode, message: 'choose legacy, shadow or active' }];
    return write(c, {}, errors, () => void switchNow({ ctx, actor: actorOf(c), name: d.name, mode: f.mode as MigrationMode }), 'switched');
  });
  return app;
}
