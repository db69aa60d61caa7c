// The public site: placeholder until the Astro site lands.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.ts';

export function siteRoutes(_deps: ServerDeps): Hono {
  return new Hono();
}
