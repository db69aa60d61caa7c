// /api/v1/{sections,task-types,statuses,close-reasons,categories}: read by anyone (publicRoute), written by staff.
import { Hono } from 'hono';
import { z } from 'zod';
import type { ServerDeps } from '../deps.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { publicRoute } from '../http/api-access.ts';
import { parseId, readJson, requireFound } from '../http/validate.ts';
import { LIST_INFO, LIST_KINDS, type ListKind } from '../domain/lists.ts';
import { listEntries, entryById } from '../store/lists.ts';
import { createListEntry } from '../services/lists/createListEntry.ts';
import { updateListEntry } from '../services/lists/updateListEntry.ts';
import { deleteListEntry } from '../services/lists/deleteListEntry.ts';

const Name = z.string().trim().min(1).max(100);
const Position = z.int().min(0).max(1_000_000);
const Id = z.int().min(1).max(2_147_483_647);

const CREATE: Record<ListKind, z.ZodType<Record<string, unknown>>> = {
  sections: z.strictObject({
    slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,59}$/, 'lower-case letters, digits and dashes, at most 60'),
    name: Name,
    description: z.string().max(500).optional(),
    position: Position.optional(),
  }),
  'task-types': z.strictObject({ name: Name, position: Position.optional() }),
  statuses: z.strictObject({ name: Name, position: Position.optional() }),
  'close-reasons': z.strictObject({ name: Name, position: Position.optional() }),
  categories: z.strictObject({ name: Name, parentId: Id.nullable(), position: Position.optional() }),
};

const UPDATE: Record<ListKind, z.ZodType<Record<string, unknown>>> = {
  sections: z.strictObject({
    slug: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,59}$/)
      .optional(),
    name: Name.optional(),
    description: z.string().max(500).optional(),
    position: Position.optional(),
  }),
  'task-types': z.strictObject({ name: Name.optional(), position: Position.optional() }),
  statuses: z.strictObject({ name: Name.optional(), position: Position.optional() }),
  'close-reasons': z.strictObject({ name: Name.optional(), position: Position.optional() }),
  categories: z.strictObject({ name: Name.optional(), parentId: Id.nullable().optional(), position: Position.optional() }),
};

export function listRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const actorOf = staffActor;
  // One set of routes per list, so an unknown list name is a plain 404 and ids never match a list name.
  for (const kind of LIST_KINDS) {
    const path = `/${kind}`;
    const label = LIST_INFO[kind].label;

    app.get(path, publicRoute, (c) => c.json({ items: listEntries(deps.db, kind) }));

    app.get(`${path}/:id`, publicRoute, (c) => {
      const id = parseId(c.req.param('id'));
      return c.json(requireFound(entryById(deps.db, kind, id), `${label} ${id} does not exist.`));
    });

    app.post(path, async (c) => {
      const values = await readJson(c, CREATE[kind]);
      const entry = createListEntry({ ctx, actor: actorOf(c), kind, values });
      c.header('Location', `/api/v1/${kind}/${entry.id}`);
      return c.json(entry, 201);
    });

    app.patch(`${path}/:id`, async (c) => {
      const id = parseId(c.req.param('id'));
      const values = await readJson(c, UPDATE[kind]);
      return c.json(updateListEntry({ ctx, actor: actorOf(c), kind, id, values }));
    });

    app.delete(`${path}/:id`, (c) => {
      deleteListEntry({ ctx, actor: actorOf(c), kind, id: parseId(c.req.param('id')) });
      return c.body(null, 204);
    });
  }

  return app;
}
