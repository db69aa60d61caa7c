// The public subscription pages (issue 14), without JavaScript: the subscribe form's POST, the double opt-in link
// (GET shows a button, POST confirms), the manage page and the unsubscribe link (RFC 8058 one-click POST). Forms need
// no session: a subscribe request only ever sends a confirmation, and every other POST is authorized by the secret in
// its link, so a forged request without it changes nothing. The pages are never cached and send no Referer.
import { Hono, type Context } from 'hono';
import { HONEYPOT_FIELD, SubscribeRequest, type SubscriptionPage } from '#data/contracts/subscriptions.ts';
import type { ServerDeps } from '../deps.ts';
import { DomainError } from '../domain/errors.ts';
import { Problem, problemOf } from '../http/problem.ts';
import { PUBLIC_PAGE_SECURITY } from '../http/security-headers.ts';
import { clientIp } from '../http/session.ts';
import { parseId, parseWith, refuseControlCharacters } from '../http/validate.ts';
import { subscriptionLinks } from '../domain/subscription-links.ts';
import { confirmSubscription, pendingFollow } from '../services/subscriptions/confirm.ts';
import { deleteSubscriberByToken, manageView, unfollow } from '../services/subscriptions/manage.ts';
import { requestSubscription } from '../services/subscriptions/subscribe.ts';
import type { RenderUncached } from './site.ts';

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  ...PUBLIC_PAGE_SECURITY,
  // The links carry secrets: never passed on to another site, never indexed.
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex',
} as const;

/** A link token as we make them (base64url of 32 bytes); anything else matches nobody without a look-up. */
const TOKEN = /^[A-Za-z0-9_-]{20,100}$/;
const tokenOf = (c: Context): string => {
  const t = c.req.query('token') ?? '';
  return TOKEN.test(t) ? t : '';
};

/** A form body's text fields, control characters refused (a 400 naming the field). */
async function formFields(c: Context): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type))
    throw new Problem(415, 'Unsupported Media Type', 'Send the form as application/x-www-form-urlencoded.');
  const body = await c.req.parseBody();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  refuseControlCharacters(out);
  return out;
}

export function subscribeRoutes(deps: ServerDeps, render: RenderUncached): Hono {
  const app = new Hono();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const page = async (c: Context, path: string, p: SubscriptionPage, status = 200, extra: Record<string, string> = {}) =>
    c.body(await render(path, p), status as 200, { ...PAGE_HEADERS, ...extra });

  app.post('/subscribe', async (c) => {
    try {
      const fields = await formFields(c);
      const { [HONEYPOT_FIELD]: honeypot = '', ...rest } = fields;
      const input = parseWith(SubscribeRequest, rest, 'subscription request');
      const r = requestSubscription({ ctx, input, ip: clientIp(c, deps.config), honeypot });
      if (r.kind === 'limited') return page(c, '/subscribe', r, 429, { 'retry-after': String(r.retryAfterSeconds) });
      return page(c, '/subscribe', { kind: 'requested' });
    } catch (err) {
      const p = problemOf(err);
      if (!p || p.status >= 500 || !(err instanceof Problem || err instanceof DomainError)) throw err;
      const errors = p.errors.length ? p.errors : [{ field: '(form)', message: p.detail }];
      return page(c, '/subscribe', { kind: 'invalid', errors }, p.status);
    }
  });

  const confirmAction = (token: string) => `/subscriptions/confirm?token=${token}`;
  app.get('/subscriptions/confirm', (c) => {
    const token = tokenOf(c);
    const follow = token ? pendingFollow(ctx, token) : null;
    if (!follow) return page(c, '/subscriptions/confirm', { kind: 'unknown-link' }, 404);
    return page(c, '/subscriptions/confirm', { kind: 'confirm', action: confirmAction(token), follow });
  });
  app.post('/subscriptions/confirm', async (c) => {
    await formFields(c);
    const done = confirmSubscription({ ctx, secret: tokenOf(c) });
    if (!done) return page(c, '/subscriptions/confirm', { kind: 'unknown-link' }, 404);
    const manageUrl = subscriptionLinks('', done.manageToken).manageUrl;
    return page(c, '/subscriptions/confirm', { kind: 'confirmed', follow: done.follow, manageUrl });
  });

  const manageAction = (token: string) => `/subscriptions/manage?token=${token}`;
  const managePage = (c: Context, token: string, notice: string | null) => {
    const view = token ? manageView(ctx, token) : null;
    if (!view) return page(c, '/subscriptions/manage', { kind: 'unknown-link' }, 404);
    return page(c, '/subscriptions/manage', {
      kind: 'manage',
      action: manageAction(token),
      email: view.email,
      follows: view.follows,
      notice,
    });
  };
  app.get('/subscriptions/manage', (c) => managePage(c, tokenOf(c), null));
  app.post('/subscriptions/manage', async (c) => {
    const fields = await formFields(c);
    const token = tokenOf(c);
    if (fields.action === 'delete') {
      if (!deleteSubscriberByToken({ ctx, token })) return page(c, '/subscriptions/manage', { kind: 'unknown-link' }, 404);
      return page(c, '/subscriptions/manage', { kind: 'deleted' });
    }
    if (fields.action !== 'unfollow')
      throw new Problem(400, 'Bad Request', 'Choose unfollow or delete.', [{ field: 'action', message: 'must be unfollow or delete' }]);
    const id = parseId(fields.follow, 'follow');
    const done = unfollow({ ctx, token, followId: id });
    return managePage(c, token, done ? 'Unfollowed. You get no more mail about it.' : 'That was not one of your subscriptions.');
  });

  app.get('/subscriptions/unsubscribe', (c) => {
    const token = tokenOf(c);
    if (!token || !manageView(ctx, token)) return page(c, '/subscriptions/unsubscribe', { kind: 'unknown-link' }, 404);
    return page(c, '/subscriptions/unsubscribe', { kind: 'unsubscribe', action: `/subscriptions/unsubscribe?token=${token}` });
  });
  // RFC 8058: a mail client POSTs "List-Unsubscribe=One-Click" to the link in List-Unsubscribe; the page's button
  // sends the same. The token is the authorization; the answer is never a redirect.
  app.post('/subscriptions/unsubscribe', async (c) => {
    await formFields(c);
    if (!deleteSubscriberByToken({ ctx, token: tokenOf(c) })) return page(c, '/subscriptions/unsubscribe', { kind: 'unknown-link' }, 404);
    return page(c, '/subscriptions/unsubscribe', { kind: 'deleted' });
  });
  return app;
}
