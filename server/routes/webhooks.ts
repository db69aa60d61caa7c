// /api/v1/webhooks (staff, the API's default): webhook endpoints (the secret only in the answer that creates one),
// removing, disabling and enabling them, and each one's delivery log.
import { Hono } from 'hono';
import { AddWebhookInput } from '#data/contracts/webhooks.ts';
import type { ServerDeps } from '../deps.ts';
import type { ServiceContext } from '../services/context.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { parseId, readJson, requireFound } from '../http/validate.ts';
import { findWebhook, listWebhooks, webhookAttempts } from '../store/webhooks.ts';
import { addWebhook } from '../services/webhooks/addWebhook.ts';
import { removeWebhook, setWebhookEnabled } from '../services/webhooks/changeWebhook.ts';

const NO_STORE = { 'cache-control': 'no-store' };

export function webhookRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx: ServiceContext = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const allowPrivate = deps.config.webhookAllowPrivate;

  app.get('/webhooks', (c) => c.json({ webhooks: listWebhooks(deps.db) }, 200, NO_STORE));
  app.post('/webhooks', async (c) => {
    const input = await readJson(c, AddWebhookInput);
    const { webhook, secret } = addWebhook({ ctx, actor: staffActor(c), input, allowPrivate });
    return c.json({ ...webhook, secret }, 201, NO_STORE);
  });
  app.get('/webhooks/:id', (c) => {
    const id = parseId(c.req.param('id'));
    const w = requireFound(findWebhook(deps.db, id), `There is no webhook ${id}.`);
    return c.json({ ...w, attempts: webhookAttempts(deps.db, id) }, 200, NO_STORE);
  });
  app.delete('/webhooks/:id', (c) => c.json(removeWebhook({ ctx, actor: staffActor(c), id: parseId(c.req.param('id')) })));
  app.post('/webhooks/:id/enable', (c) =>
    c.json(setWebhookEnabled({ ctx, actor: staffActor(c), id: parseId(c.req.param('id')), enabled: true })),
  );
  app.post('/webhooks/:id/disable', (c) =>
    c.json(setWebhookEnabled({ ctx, actor: staffActor(c), id: parseId(c.req.param('id')), enabled: false })),
  );
  return app;
}
