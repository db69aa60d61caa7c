// POST /api/v1/subscriptions: the subscribe form's JSON twin (issue 14). Anyone may call it; every accepted request is
// answered 202 with the same body whatever the address's state. Bad input is a 400 problem, too many requests from one
// client a 429 problem with Retry-After.
import { Hono } from 'hono';
import { SUBSCRIBE_ANSWER, SubscribeRequest } from '#data/contracts/subscriptions.ts';
import type { ServerDeps } from '../deps.ts';
import type { AuthEnv } from '../http/auth.ts';
import { publicRoute } from '../http/api-access.ts';
import { Problem, problemResponse } from '../http/problem.ts';
import { clientIp } from '../http/session.ts';
import { readJson } from '../http/validate.ts';
import { requestSubscription } from '../services/subscriptions/subscribe.ts';

export function subscriptionApiRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  app.post('/subscriptions', publicRoute, async (c) => {
    const input = await readJson(c, SubscribeRequest);
    // No honeypot here: the form's trap is for robots that fill in every field of a page.
    const r = requestSubscription({ ctx, input, ip: clientIp(c, deps.config), honeypot: '' });
    if (r.kind === 'limited') {
      const res = problemResponse(
        c,
        new Problem(429, 'Too Many Requests', `Too many subscription requests; try again in ${r.retryAfterSeconds} seconds.`),
      );
      res.headers.set('Retry-After', String(r.retryAfterSeconds));
      return res;
    }
    return c.json(SUBSCRIBE_ANSWER, 202);
  });
  return app;
}
