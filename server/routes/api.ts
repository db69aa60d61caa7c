// /api/v1: placeholder until the task API lands.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.ts';

export function apiRoutes(_deps: ServerDeps): Hono {
  return new Hono();
}
