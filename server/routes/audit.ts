// GET /api/v1/audit: the global audit log of staff actions (logins and failed logins included), admin only.
import { Hono } from 'hono';
import { z } from 'zod';
import type { DB } from '#data/db.ts';
import type { ServerDeps } from '../deps.ts';
import type { AuthEnv } from '../http/auth.ts';
import { adminRoute } from '../http/api-access.ts';
import { parseQuery } from '../http/validate.ts';

export const AuditQuery = z.strictObject({
  /** Page backwards: entries older than this id. */
  before: z.coerce.number().pipe(z.int().min(1)).optional(),
  limit: z.coerce.number().pipe(z.int().min(1).max(500)).default(100),
  /** Prefix of the action, e.g. "auth." or "task.". */
  action: z.string().max(100).optional(),
  actor: z.string().max(200).optional(),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export interface AuditItem {
  id: number;
  at: string;
  actor: string;
  user: string | null;
  action: string;
  target: string | null;
  detail: string | null;
}

export function readAudit(db: DB, q: AuditQuery): { items: AuditItem[]; nextBefore: number | null } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.before !== undefined) {
    where.push('a.id < ?');
    args.push(q.before);
  }
  if (q.action) {
    where.push("a.action LIKE ? ESCAPE '\\'");
    args.push(`${q.action.replace(/[\\%_]/g, (m) => `\\${m}`)}%`);
  }
  if (q.actor) {
    where.push('a.actor = ?');
    args.push(q.actor);
  }
  const items = db
    .prepare(`SELECT a.id, a.at, a.actor, u.display_name AS user, a.action, a.target, a.detail
    FROM audit_log a LEFT JOIN users u ON u.id = a.user_id ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY a.id DESC LIMIT ?`)
    .all(...args, q.limit + 1) as AuditItem[];
  const more = items.length > q.limit;
  if (more) items.pop();
  return { items, nextBefore: more ? items[items.length - 1].id : null };
}

export function auditRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.get('/audit', adminRoute, (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json(readAudit(deps.db, parseQuery(c, AuditQuery)));
  });
  return app;
}
