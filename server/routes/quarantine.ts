// /api/v1/mail/quarantine (staff, the API's default): the quarantine index, and release / delete requests for a copy;
// /api/v1/mx/quarantine/actions (nodeRoute): a node fetches the requests it has to apply (data/contracts/quarantine.ts).
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { QUARANTINE_ACTIONS_PAGE, type QuarantineActionsPayload, QuarantineReason, QuarantineStatus } from '#data/contracts/quarantine.ts';
import type { ServerDeps } from '../deps.ts';
import { DeliveryId, NodeName } from '../domain/mx-node.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { currentNode, nodeRoute } from '../http/api-access.ts';
import { parseQuery, parseWith } from '../http/validate.ts';
import type { ServiceContext } from '../services/context.ts';
import { listQuarantine, QUARANTINE_PAGE_MAX } from '../services/mail/listQuarantine.ts';
import { requestQuarantineDelete } from '../services/mail/requestQuarantineDelete.ts';
import { requestQuarantineRelease } from '../services/mail/requestQuarantineRelease.ts';
import { pendingActions } from '../store/quarantine.ts';

/** GET /api/v1/mail/quarantine's query. */
export const QuarantineQuery = z.strictObject({
  q: z.string().max(200).optional(),
  reason: QuarantineReason.optional(),
  status: QuarantineStatus.optional(),
  node: NodeName.optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(QUARANTINE_PAGE_MAX))
    .optional(),
  before: z.string().max(64).optional(),
});

export function quarantineRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx: ServiceContext = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const copyOf = (c: Context) => ({
    node: parseWith(NodeName, c.req.param('node'), 'node name', 'node'),
    deliveryId: parseWith(DeliveryId, c.req.param('delivery'), 'delivery id', 'delivery'),
  });

  app.get('/mail/quarantine', (c) => c.json(listQuarantine(deps.db, parseQuery(c, QuarantineQuery)), 200, { 'cache-control': 'no-store' }));
  // 202: the node applies the request on its next sync; the action's state says when it did.
  app.post('/mail/quarantine/:node/:delivery/release', (c) =>
    c.json(requestQuarantineRelease({ ctx, actor: staffActor(c), ...copyOf(c) }), 202),
  );
  app.post('/mail/quarantine/:node/:delivery/delete', (c) =>
    c.json(requestQuarantineDelete({ ctx, actor: staffActor(c), ...copyOf(c) }), 202),
  );

  app.get('/mx/quarantine/actions', nodeRoute, (c) => {
    const payload: QuarantineActionsPayload = { actions: pendingActions(deps.db, currentNode(c).id, QUARANTINE_ACTIONS_PAGE) };
    return c.json(payload, 200, { 'cache-control': 'no-store' });
  });
  return app;
}
