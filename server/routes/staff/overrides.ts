// /staff/overrides: set a section to any of the four states with a note and an expiry, or clear it early.
import { Hono, type Context } from 'hono';
import { SERVICE_STATES, STATE_LEGEND, type ServiceState } from '#data/contracts/states.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { listEntries } from '../../store/lists.ts';
import { allOverrides } from '../../store/overrides.ts';
import { activeOverride } from '../../services/overrides/active.ts';
import { setOverride } from '../../services/overrides/setOverride.ts';
import { clearOverride } from '../../services/overrides/clearOverride.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { page, send, html, raw, csrfField, noticeOf } from './layout.ts';
import { readForm, FormReader } from './forms.ts';
import { authOf, actorOf } from './guard.ts';
import { attempt } from './tasks.ts';

const DEFAULT_LENGTH_MS = 2 * 3_600_000;

export function overridePageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes, publicUrl: deps.config.publicUrl };
  const tz = deps.config.displayTimeZone;

  const show = (c: Context, errors: FieldError[] = [], status = 200) => {
    const now = deps.clock();
    const rows = allOverrides(deps.db);
    const auth = authOf(c);
    const defaultExpiry = utcToWallTime(new Date(now.getTime() + DEFAULT_LENGTH_MS), tz);
    const body = html`<p class="muted">An override beats every automatic rule for its section until it expires (times in ${tz}). The note is shown publicly.</p>
    ${listEntries(deps.db, 'sections').map((s) => {
      const slug = String(s.slug);
      const active = activeOverride(
        rows.filter((r) => r.slug === slug),
        now,
      );
      return html`<section class="preview" aria-labelledby="h-${slug}"><h2 id="h-${slug}">${s.name}</h2>
        <p>${active ? html`Override in force: <strong>${active.state}</strong> (${STATE_LEGEND[active.state]}) until ${utcToWallTime(active.expiresAt, tz).replace('T', ' ')}${active.note ? html` — “${active.note}”` : ''}, set by ${active.setBy ?? 'unknown'}.` : 'No override: the state follows tasks and telemetry.'}</p>
        <form method="post" action="/staff/overrides/${slug}" class="row">${csrfField(auth)}
          <div><label for="state-${slug}">State</label><select id="state-${slug}" name="state">${SERVICE_STATES.map((st) => html`<option value="${st}"${active?.state === st ? raw(' selected') : ''}>${st}: ${STATE_LEGEND[st]}</option>`)}</select></div>
          <div style="flex:1"><label for="note-${slug}">Public note</label><input type="text" id="note-${slug}" name="note" maxlength="1000" value="${active?.note ?? ''}"></div>
          <div><label for="expires-${slug}">Expires</label><input type="datetime-local" id="expires-${slug}" name="expiresAt" value="${active ? utcToWallTime(active.expiresAt, tz) : defaultExpiry}" required></div>
          <div><button type="submit">Set override</button></div></form>
        ${active ? html`<form method="post" action="/staff/overrides/${slug}/clear">${csrfField(auth)}<button type="submit">Clear override now</button></form>` : ''}
      </section>`;
    })}`;
    return send(c, page({ title: 'Section state overrides', auth, notice: noticeOf(c), errors, body }), status);
  };

  app.get('/overrides', (c) => show(c));

  app.post('/overrides/:slug', async (c) => {
    const r = new FormReader(await readForm(c), tz);
    const state = r.text('state') as ServiceState;
    if (!(SERVICE_STATES as readonly string[]).includes(state)) r.errors.push({ field: 'State', message: 'choose one of the four states' });
    const expiresAt = r.instant('expiresAt', 'Expires');
    if (expiresAt === undefined && r.errors.length === 0) r.errors.push({ field: 'Expires', message: 'an override needs an expiry' });
    const errors = r.errors.length
      ? r.errors
      : attempt(() => {
          setOverride({
            ctx,
            actor: actorOf(c),
            slug: c.req.param('slug'),
            input: { state, note: r.text('note').trim().slice(0, 1000), expiresAt: expiresAt! },
          });
        });
    if (errors) return show(c, errors, (errors as { status?: number }).status ?? 400);
    return c.redirect(`/staff/overrides?done=override${r.dstQuery()}`, 303);
  });

  app.post('/overrides/:slug/clear', (c) => {
    const errors = attempt(() => {
      clearOverride({ ctx, actor: actorOf(c), slug: c.req.param('slug') });
    });
    if (errors) return show(c, errors, errors.status ?? 400);
    return c.redirect('/staff/overrides?done=cleared', 303);
  });
  return app;
}
