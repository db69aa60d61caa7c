// Loads the built Astro app and renders a page for a request, handing it the snapshot through `locals`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StatusSnapshot } from '#data/contracts/status.ts';
import type { TelemetryViews } from '#data/contracts/telemetry-views.ts';
import type { SubscriptionPage } from '#data/contracts/subscriptions.ts';
import { SITE_OUT } from './build.ts';

export interface PageLocals {
  snapshot: StatusSnapshot;
  now: string;
  /** Mail telemetry for the section charts and task impact reports. */
  telemetry?: TelemetryViews;
  /** What a subscription page shows (server/routes/subscribe.ts); such pages are never cached. */
  subscription?: SubscriptionPage;
}
export type RenderPage = (request: Request, locals: PageLocals) => Promise<Response>;

export class SiteNotBuilt extends Error {}

/** The import happens once, on first use; a missing build is reported, never half-served. */
export function lazyAstroRenderer(outDir = SITE_OUT): () => Promise<RenderPage> {
  let loading: Promise<RenderPage> | null = null;
  return () => {
    loading ??= (async () => {
      const entry = join(outDir, 'server', 'entry.mjs');
      if (!existsSync(entry)) throw new SiteNotBuilt(`no site build at ${entry}; run npm start (it builds) or npx astro build`);
      const mod = (await import(pathToFileURL(entry).href)) as { renderPage: RenderPage };
      return mod.renderPage;
    })();
    loading.catch(() => {
      loading = null;
    });
    return loading;
  };
}
