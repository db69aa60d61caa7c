// /api/v1/mail (staff mail configuration) and /api/v1/mx (MX node config and telemetry): placeholder.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.ts';

export function mailRoutes(_deps: ServerDeps): Hono {
  return new Hono();
}
