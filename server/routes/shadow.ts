// /api/v1/mail/shadow (staff, the API's default): the shadow report, what the new mail system would have done with the
// mail to domains in shadow mode while the old system delivered it (data/contracts/shadow.ts).
import { Hono } from 'hono';
import { z } from 'zod';
import { DomainName } from '#data/contracts/mail-config.ts';
import { ShadowDay } from '#data/contracts/shadow.ts';
import type { ServerDeps } from '../deps.ts';
import type { AuthEnv } from '../http/auth.ts';
import { parseQuery } from '../http/validate.ts';
import { shadowReport } from '../services/mail/shadowReport.ts';

/** GET /api/v1/mail/shadow's query: UTC days as YYYY-MM-DD, both included; the last 7 days by default. */
export const ShadowQueryInput = z.strictObject({
  domain: DomainName.optional(),
  from: ShadowDay.optional(),
  to: ShadowDay.optional(),
});

export function shadowRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.get('/mail/shadow', (c) =>
    c.json(shadowReport(deps.db, deps.clock, parseQuery(c, ShadowQueryInput)), 200, { 'cache-control': 'no-store' }),
  );
  return app;
}
