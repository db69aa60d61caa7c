// /api/v1/sections/:slug/override (PUT set, DELETE clear) and /api/v1/overrides (list): staff only (the API's default), CSRF on writes.
import { Hono } from 'hono';
import { z } from 'zod';
import { SERVICE_STATES } from '#data/contracts/states.ts';
import type { ServerDeps } from '../deps.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { readJson } from '../http/validate.ts';
import { allOverrides, type OverrideRow } from '../store/overrides.ts';
import { isActive } from '../services/overrides/active.ts';
import { setOverride } from '../services/overrides/setOverride.ts';
import { clearOverride } from '../services/overrides/clearOverride.ts';

export const SetOverrideBody = z.strictObject({
  state: z.enum(SERVICE_STATES),
  note: z.string().trim().max(1000).default(''),
  /** Any ISO-8601 instant with an offset; stored as UTC. */
  expiresAt: z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString()),
});

const view = (r: OverrideRow, now: Date) => ({
  section: { slug: r.slug, name: r.sectionName },
  state: r.state,
  note: r.note,
  setBy: r.setBy,
  setAt: r.setAt,
  expiresAt: r.expiresAt,
  active: isActive(r, now),
});

export function overrideRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes, publicUrl: deps.config.publicUrl };
  const actorOf = staffActor;

  app.get('/overrides', (c) => {
    const now = deps.clock();
    return c.json({ items: allOverrides(deps.db).map((r) => view(r, now)) });
  });

  app.put('/sections/:slug/override', async (c) => {
    const input = await readJson(c, SetOverrideBody);
    const row = setOverride({ ctx, actor: actorOf(c), slug: c.req.param('slug'), input });
    return c.json(view(row, deps.clock()));
  });

  app.delete('/sections/:slug/override', (c) => {
    clearOverride({ ctx, actor: actorOf(c), slug: c.req.param('slug') });
    return c.body(null, 204);
  });
  return app;
}
