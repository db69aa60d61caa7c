// /staff/notify: subscriber mail without JavaScript (issue 14): the outbox's counts, the latest failures with the
// relay's words (mail data: every string goes through html``, escaped), and the subscribers the sender disabled after
// permanent failures, each with a POST form (session + CSRF) to enable them again.
import { Hono, type Context } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { parseId } from '../../http/validate.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { enableSubscriber } from '../../services/notify/enableSubscriber.ts';
import { disabledSubscribers, latestFailures, outboxCounts } from '../../store/notify-outbox.ts';
import { DISABLED_SHOWN, OUTBOX_FAILURES_SHOWN } from '../notify.ts';
import { csrfField, html, noticeOf, page, send } from './layout.ts';
import { actorOf, authOf } from './guard.ts';
import { attempt } from './tasks.ts';

export function notifyPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const tz = () => deps.config.displayTimeZone;
  const time = (iso: string) => utcToWallTime(iso, tz()).replace('T', ' ');
  const timeMs = (ms: number) => time(new Date(ms).toISOString());

  const show = (c: Context, errors: FieldError[] = [], status = 200) => {
    const auth = authOf(c);
    const n = outboxCounts(deps.db);
    const failures = latestFailures(deps.db, OUTBOX_FAILURES_SHOWN);
    const disabled = disabledSubscribers(deps.db, DISABLED_SHOWN);
    const body = html`<p class="muted">Mail to subscribers, one message per event and subscriber, sent through the outbound
    relay (TIDINGS_NOTIFY_SMTP_URL), not through our own MX. Times in ${tz()}.</p>
    ${
      deps.config.notifySmtpUrl === null
        ? html`<div class="error"><p><strong>No relay is configured</strong>: messages are queued and wait until TIDINGS_NOTIFY_SMTP_URL is set.</p></div>`
        : ''
    }
    <h2 id="outbox">Outbox</h2>
    <table><caption>Messages by state</caption><thead><tr><th scope="col">State</th><th scope="col">Messages</th></tr></thead><tbody>
      <tr><th scope="row">Queued</th><td>${n.queued}${n.retrying > 0 ? html` (${n.retrying} waiting to be tried again)` : ''}</td></tr>
      <tr><th scope="row">Sent</th><td>${n.sent}</td></tr>
      <tr><th scope="row">Failed</th><td>${n.failed}</td></tr>
      <tr><th scope="row">Events not fanned out yet</th><td>${n.eventsWaiting}</td></tr>
    </tbody></table>
    ${n.oldestDueAt !== null ? html`<p>Oldest queued message due since ${timeMs(n.oldestDueAt)}.</p>` : ''}
    <h2 id="failures">Latest failures</h2>
    ${
      failures.length === 0
        ? html`<p>No failures.</p>`
        : html`<table><caption>Failed messages and messages waiting after an error, newest first</caption><thead><tr>
      <th scope="col">Event</th><th scope="col">Subscriber</th><th scope="col">State</th><th scope="col">Attempts</th>
      <th scope="col">Failed, or next try</th><th scope="col">Relay's answer or error</th></tr></thead><tbody>${failures.map(
        (
          f,
        ) => html`<tr><td>${f.eventId}</td><th scope="row">${f.email}</th><td>${f.state === 'failed' ? 'failed' : 'will be tried again'}</td>
        <td>${f.attempts}</td><td>${timeMs(f.at)}</td><td>${f.error}</td></tr>`,
      )}</tbody></table>`
    }
    <h2 id="disabled">Disabled subscribers</h2>
    ${
      disabled.length === 0
        ? html`<p>No subscriber is disabled.</p>`
        : html`<table><caption>Subscribers disabled after permanent failures</caption><thead><tr>
      <th scope="col">Address</th><th scope="col">Failures in a row</th><th scope="col">Disabled</th><th scope="col">Why</th>
      <th scope="col">Action</th></tr></thead><tbody>${disabled.map(
        (s) => html`<tr><th scope="row">${s.email}</th><td>${s.failures}</td><td>${time(s.disabledAt)}</td><td>${s.reason ?? ''}</td>
        <td><form method="post" action="/staff/notify/subscribers/${s.id}/enable">${csrfField(auth)}<button type="submit" aria-label="Enable again: ${s.email}">Enable again</button></form></td></tr>`,
      )}</tbody></table>`
    }`;
    return send(c, page({ title: 'Subscriber mail', auth, notice: noticeOf(c), errors, body }), status);
  };

  app.get('/notify', (c) => show(c));
  app.post('/notify/subscribers/:id/enable', (c) => {
    const errors = attempt(() => {
      enableSubscriber({ ctx, actor: actorOf(c), subscriberId: parseId(c.req.param('id')) });
    });
    if (errors) return show(c, errors, errors.status ?? 400);
    return c.redirect('/staff/notify?done=subscriber-enabled', 303);
  });
  return app;
}
