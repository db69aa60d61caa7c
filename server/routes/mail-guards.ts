// Who may read and change the mail configuration: staff, with CSRF protection on writes.
import type { Context, MiddlewareHandler } from 'hono';
import type { Actor } from '../services/context.ts';

const pass: MiddlewareHandler = async (_c, next) => { await next(); };

export function staffGuards(): { read: MiddlewareHandler; write: MiddlewareHandler } {
  // TODO(auth): swap in requireStaff / requireCsrf from ../http/auth.ts once it lands.
  return { read: pass, write: pass };
}

export function actorOf(_c: Context): Actor {
  return { userId: null, name: 'staff' };
}
