// /staff/webhooks: webhook endpoints without JavaScript: add one (its secret is shown on the answer page, once), disable,
// enable or remove one, and the delivery log (every attempt: status, error, duration). URLs and errors are escaped.
import { Hono, type Context } from 'hono';
import { AddWebhookInput, type WebhookView } from '#data/contracts/webhooks.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { listWebhooks, sectionChoices, webhookAttempts } from '../../store/webhooks.ts';
import { addWebhook } from '../../services/webhooks/addWebhook.ts';
import { removeWebhook, setWebhookEnabled } from '../../services/webhooks/changeWebhook.ts';
import { csrfField, html, noticeOf, page, raw, send } from './layout.ts';
import { readForm, type Form } from './forms.ts';
import { actorOf, authOf } from './guard.ts';
import { attempt } from './tasks.ts';

const LABELS: Record<string, string> = { url: 'URL', section: 'Events', description: 'Description' };
const LOG_ROWS = 50;

export function webhookPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const tz = deps.config.displayTimeZone;
  const when = (iso: string) => utcToWallTime(iso, tz).replace('T', ' ');

  const show = (
    c: Context,
    o: { errors?: FieldError[]; status?: number; form?: Form; created?: { w: WebhookView; secret: string } } = {},
  ) => {
    const auth = authOf(c);
    const csrf = csrfField(auth);
    const form = o.form ?? {};
    const hooks = listWebhooks(deps.db);
    const byId = new Map(hooks.map((w) => [w.id, w]));
    const sections = sectionChoices(deps.db);
    const action = (w: WebhookView, verb: string, label: string) =>
      html`<form method="post" action="/staff/webhooks/${w.id}/${verb}" class="inline">${csrf}<button type="submit">${label} webhook ${w.id}</button></form>`;
    const created = o.created
      ? html`<section class="notice" aria-labelledby="secret-h"><h2 id="secret-h">Webhook ${o.created.w.id} added</h2>
      <p>Its signing secret, shown this once (it is not shown again; remove the webhook and add it anew to get another):</p>
      <p><code>${o.created.secret}</code></p></section>`
      : '';
    const attempts = webhookAttempts(deps.db, null, LOG_ROWS);
    const body = html`${created}
    <p class="muted">Every event of the status page (new tasks, comments, changes, closing, reopening, section states) is POSTed as JSON, signed after Standard Webhooks, to each enabled webhook that follows it. A failed request is retried (after 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 6 h and 12 h); a webhook whose deliveries fail to the end ${raw('5')} times in a row is disabled until you enable it. Times in ${tz}.</p>
    <h2>Webhooks</h2>
    ${
      hooks.length
        ? html`<table><thead><tr><th>ID</th><th>URL</th><th>Events</th><th>Description</th><th>Added</th><th>State</th><th>Actions</th></tr></thead><tbody>
    ${hooks.map(
      (w) => html`<tr><td>${w.id}</td><td>${w.url}</td><td>${w.section ? w.section.name : 'everything'}</td><td>${w.description}</td>
      <td>${when(w.createdAt)} by ${w.createdBy}</td>
      <td>${w.enabled ? html`enabled${w.consecutiveFailures ? `, ${w.consecutiveFailures} failed deliveries in a row` : ''}` : html`<strong>disabled</strong> ${when(w.disabledAt!)}: ${w.disabledReason}`}</td>
      <td>${w.enabled ? action(w, 'disable', 'Disable') : action(w, 'enable', 'Enable')} ${action(w, 'remove', 'Remove')}</td></tr>`,
    )}</tbody></table>`
        : html`<p>No webhooks yet.</p>`
    }
    <form method="post" action="/staff/webhooks"><fieldset><legend>Add a webhook</legend>${csrf}
      <label for="w-url">URL (http or https)</label><input type="text" id="w-url" name="url" inputmode="url" value="${form.url ?? ''}">
      <label for="w-section">Events</label><select id="w-section" name="section"><option value="">everything</option>
      ${sections.map((s) => html`<option value="${s.slug}"${form.section === s.slug ? raw(' selected') : ''}>section ${s.name}</option>`)}</select>
      <label for="w-description">Description (optional)</label><input type="text" id="w-description" name="description" value="${form.description ?? ''}">
      <p><button type="submit">Add webhook</button></p></fieldset></form>
    <h2>Delivery log</h2>
    ${
      attempts.length
        ? html`<p class="muted">The latest ${LOG_ROWS} attempts, newest first.</p><table><thead><tr><th>Time</th><th>Webhook</th><th>Event</th><th>webhook-id</th><th>Attempt</th><th>Status</th><th>Error</th><th>Duration</th><th>Delivery</th></tr></thead><tbody>
    ${attempts.map(
      (
        a,
      ) => html`<tr><td>${when(a.at)}</td><td>${a.endpointId}${byId.has(a.endpointId) ? '' : ' (removed)'}</td><td>${a.eventId} ${a.kind}</td><td>${a.webhookId}</td>
      <td>${a.attempt}</td><td>${a.status ?? 'none'}</td><td>${a.error ?? ''}</td><td>${a.durationMs} ms</td><td>${a.state}</td></tr>`,
    )}</tbody></table>`
        : html`<p>Nothing sent yet.</p>`
    }`;
    return send(c, page({ title: 'Webhooks', auth, notice: noticeOf(c), errors: o.errors ?? [], body }), o.status ?? 200);
  };

  app.get('/webhooks', (c) => show(c));

  app.post('/webhooks', async (c) => {
    const f = await readForm(c);
    const parsed = AddWebhookInput.safeParse({
      url: (f.url ?? '').trim(),
      section: f.section ? f.section : null,
      ...(f.description ? { description: f.description } : {}),
    });
    if (!parsed.success)
      return show(c, {
        errors: parsed.error.issues.map((i) => ({ field: LABELS[String(i.path[0])] ?? '', message: i.message })),
        status: 400,
        form: f,
      });
    let created: { w: WebhookView; secret: string } | undefined;
    const failed = attempt(() => {
      const r = addWebhook({ ctx, actor: actorOf(c), input: parsed.data, allowPrivate: deps.config.webhookAllowPrivate });
      created = { w: r.webhook, secret: r.secret };
    });
    if (failed)
      return show(c, { errors: failed.map((e) => ({ ...e, field: LABELS[e.field] ?? e.field })), status: failed.status, form: f });
    return show(c, { created, status: 201 });
  });

  const change = (verb: 'remove' | 'enable' | 'disable', run: (id: number, c: Context) => void) =>
    app.post(`/webhooks/:id/${verb}`, (c) => {
      const id = c.req.param('id');
      const failed = /^\d{1,10}$/.test(id)
        ? attempt(() => run(Number(id), c))
        : Object.assign([{ field: '', message: 'no such webhook' }], { status: 404 });
      if (failed) return show(c, { errors: failed, status: failed.status ?? 400 });
      return c.redirect(`/staff/webhooks?done=webhook-${verb}d`, 303);
    });
  change('remove', (id, c) => void removeWebhook({ ctx, actor: actorOf(c), id }));
  change('enable', (id, c) => void setWebhookEnabled({ ctx, actor: actorOf(c), id, enabled: true }));
  change('disable', (id, c) => void setWebhookEnabled({ ctx, actor: actorOf(c), id, enabled: false }));
  return app;
}
