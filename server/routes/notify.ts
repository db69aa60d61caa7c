// /api/v1/notify (staff, the API's default guard): the subscriber mail outbox (counts, latest failures, disabled
// subscribers) and enabling a disabled subscriber again.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { parseId } from '../http/validate.ts';
import { enableSubscriber } from '../services/notify/enableSubscriber.ts';
import { disabledSubscribers, latestFailures, outboxCounts } from '../store/notify-outbox.ts';

export const OUTBOX_FAILURES_SHOWN = 50;
export const DISABLED_SHOWN = 200;

export function notifyRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  app.get('/notify/outbox', (c) =>
    c.json(
      {
        relay: deps.config.notifySmtpUrl !== null,
        counts: outboxCounts(deps.db),
        failures: latestFailures(deps.db, OUTBOX_FAILURES_SHOWN),
        disabled: disabledSubscribers(deps.db, DISABLED_SHOWN),
      },
      200,
      { 'cache-control': 'no-store' },
    ),
  );
  app.post('/notify/subscribers/:id/enable', (c) =>
    c.json(enableSubscriber({ ctx, actor: staffActor(c), subscriberId: parseId(c.req.param('id')) })),
  );
  return app;
}
