// /api/v1/telemetry (nodeRoute): MX nodes ship their event log by cursor and send heartbeats; every refusal is counted.
import { Hono, type Context } from 'hono';
import { TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import { throttledBump, type ServerDeps } from '../deps.ts';
import type { AuthEnv } from '../http/auth.ts';
import { currentNode, nodeRoute } from '../http/api-access.ts';
import { readJson, readJsonValue } from '../http/validate.ts';
import { toBatch } from '../http/telemetry-batch.ts';
import { ingestBatch } from '../services/telemetry/ingestBatch.ts';
import { recordHeartbeat } from '../services/telemetry/recordHeartbeat.ts';
import { countRefusal, refusalReasonOf } from '../services/telemetry/refusals.ts';
import { TELEMETRY_REFRESH_MS } from '../services/telemetry/section-telemetry.ts';

export function telemetryRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  // Accepted telemetry moves the public snapshot (a section's telemetry summary), at most once per TELEMETRY_REFRESH_MS
  // however many batches flood in; in between, the snapshot's own refresh boundary picks the rest up.
  const telemetryChanged = throttledBump(deps.changes, deps.clock, TELEMETRY_REFRESH_MS);

  /** Runs a node's request; a refusal is counted against the node (in its own transaction) and answered as usual. */
  const counted = async (c: Context, run: () => Promise<Response>): Promise<Response> => {
    try {
      const res = await run();
      telemetryChanged();
      return res;
    } catch (err) {
      const reason = refusalReasonOf(err);
      if (reason) countRefusal(deps, currentNode(c).id, reason);
      throw err;
    }
  };

  app.post('/telemetry', nodeRoute, async (c) => {
    try {
      const res = await postBatch(c);
      deps.metrics?.batch('applied');
      return res;
    } catch (err) {
      deps.metrics?.batch(refusalReasonOf(err) ?? 'error');
      throw err;
    }
  });

  const postBatch = (c: Context): Promise<Response> =>
    counted(c, async () => {
      const node = currentNode(c);
      // Content type, size and JSON here; then the batch's own checks (server/http/telemetry-batch.ts): the shapes
      // a node sends in one hand-written pass, anything else through control characters, the 413 and the schema.
      const batch = toBatch(await readJsonValue(c));
      const ack = ingestBatch({ db: deps.db, clock: deps.clock, node, batch });
      deps.metrics?.eventsApplied(ack.applied);
      return c.json(ack, 200, { 'cache-control': 'no-store' });
    });

  app.post('/telemetry/heartbeat', nodeRoute, (c) =>
    counted(c, async () => {
      const node = currentNode(c);
      const heartbeat = await readJson(c, TelemetryHeartbeat);
      return c.json(recordHeartbeat({ db: deps.db, clock: deps.clock, node, heartbeat }), 200, { 'cache-control': 'no-store' });
    }),
  );
  return app;
}
