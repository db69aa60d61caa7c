// /api/v1: the task tracker's REST API (tasks, lists, auth, users), JSON in and out, problem details on error.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.ts';
import type { AuthEnv } from '../http/auth.ts';
import { taskRoutes } from './tasks.ts';
import { listRoutes } from './lists.ts';
import { authRoutes } from './auth.ts';
import { userRoutes } from './users.ts';

export function apiRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.route('/', authRoutes(deps));
  app.route('/', taskRoutes(deps));
  app.route('/', listRoutes(deps));
  app.route('/', userRoutes(deps));
  return app;
}
