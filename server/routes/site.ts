// The public site: hashed assets, live pages rendered by Astro from the in-memory snapshot, /status.json and feeds.
import { Hono, type Context } from 'hono';
import { join } from 'node:path';
import type { ServerDeps } from '../deps.ts';
import { Problem } from '../http/problem.ts';
import { CHART_PAGE_SECURITY, FILE_SECURITY, PUBLIC_PAGE_SECURITY } from '../http/security-headers.ts';
import { createStatusSnapshots, publicSignals, type SectionSignals, type StatusSnapshots } from '../services/status-snapshot.ts';
import { lazyAstroRenderer, SiteNotBuilt, type RenderPage } from '../site/astro-renderer.ts';
import { loadStaticAssets, type StaticAsset } from '../site/static-assets.ts';
import { buildFeeds, type Feeds } from '../site/feeds.ts';
import { SITE_OUT } from '../site/build.ts';
import { parseTaskQuery, taskListHref } from '#data/contracts/task-query.ts';
import type { TelemetryViews } from '#data/contracts/telemetry-views.ts';
import type { SubscriptionPage } from '#data/contracts/subscriptions.ts';
import { DEFAULT_CHART_RANGE, parseChartRange } from '#data/contracts/telemetry-charts.ts';
import { telemetryViews } from '../services/telemetry/views.ts';

export interface SiteOptions {
  /** Folder of the Astro build (server/ and client/); the repository's dist/site by default. */
  outDir?: string;
  /** Defaults to publicSignals: the staff overrides in the database and the MX nodes' telemetry summary. */
  signals?: SectionSignals;
  /** How long a rendered page is reused while the snapshot stays the same (the "now" marker moves meanwhile). */
  pageTtlMs?: number;
  snapshots?: StatusSnapshots;
  /** Defaults to the views over this server's telemetry rollups (server/services/telemetry/views.ts). */
  telemetryViews?: TelemetryViews;
}

/** Rendered pages kept, least recently used out first. */
export const PAGE_CACHE_MAX = 1000;
const CACHE = {
  assetImmutable: 'public, max-age=31536000, immutable',
  asset: 'public, max-age=3600',
  page: 'public, max-age=15, stale-while-revalidate=60',
  // A CDN may hold the snapshot briefly and keep serving it if this origin goes down.
  statusJson: 'public, max-age=15, s-maxage=15, stale-while-revalidate=60, stale-if-error=86400',
  feed: 'public, max-age=60, stale-while-revalidate=300',
} as const;

/** Bodies are kept encoded: writing a cached Buffer costs far less than re-encoding a 30 KB string per view. */
const PAGE_HEADERS = { 'content-type': 'text/html; charset=utf-8', 'cache-control': CACHE.page, ...PUBLIC_PAGE_SECURITY } as const;
const CHART_PAGE_HEADERS = { ...PAGE_HEADERS, ...CHART_PAGE_SECURITY } as const;

interface CachedPage {
  generation: number;
  at: number;
  status: number;
  body: Uint8Array<ArrayBuffer>;
}

/**
 * The page cache key, which is also the URL rendered: the raw path, plus for /tasks the task query in its canonical
 * form and for /section/<slug> its chart range (the only pages that read their query). Parameters the pages never read, repeats, order and invalid values
 * all map to the same key, so made-up query strings cannot add cache entries (or push the real pages out).
 */
export function pageCacheKey(url: string): string {
  // Path and query straight from the absolute URL: parsing a URL object per view costs measurable throughput.
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const q = url.indexOf('?', start);
  if (q < 0) return url.slice(start);
  const path = url.slice(start, q);
  if (path === '/tasks') return taskListHref(parseTaskQuery(new URLSearchParams(url.slice(q + 1))), {});
  // A section page reads its chart range: a valid one other than the default is kept, anything else is the default.
  if (SECTION_PAGE.test(path)) {
    const range = parseChartRange(new URLSearchParams(url.slice(q + 1)).get('range'));
    return range === null || range === DEFAULT_CHART_RANGE ? path : `${path}?range=${range}`;
  }
  return path;
}

const SECTION_PAGE = /^\/section\/[^/]+$/;
/** Section pages carry the telemetry charts, drawn by our own bundled script; every other public page runs none. */
const headersOf = (key: string) => (key.startsWith('/section/') ? CHART_PAGE_HEADERS : PAGE_HEADERS);

/** A cached page ready to write: the same status, headers and bytes the page route answers with. */
export interface CachedPageResponse {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: Uint8Array<ArrayBuffer> | null;
}
/** Synchronous look-up of a fresh cached page for an absolute URL; null whenever the route itself has to run. */
export type LookupCachedPage = (method: string, url: string) => CachedPageResponse | null;

/** Renders the site page at `path` (no query) with a subscription page's content; the body, never cached. */
export type RenderUncached = (path: string, subscription: SubscriptionPage) => Promise<Uint8Array<ArrayBuffer>>;

export function siteRoutes(deps: ServerDeps, opts: SiteOptions = {}): Hono {
  return createSite(deps, opts).routes;
}

export function createSite(
  deps: ServerDeps,
  opts: SiteOptions = {},
): { routes: Hono; lookupCachedPage: LookupCachedPage; snapshots: StatusSnapshots; renderUncached: RenderUncached } {
  const outDir = opts.outDir ?? SITE_OUT;
  const snapshots =
    opts.snapshots ??
    createStatusSnapshots({
      db: deps.db,
      clock: deps.clock,
      changes: deps.changes,
      displayTimeZone: deps.config.displayTimeZone,
      publicUrl: deps.config.publicUrl,
      // Read only when the snapshot rebuilds; overrides bump the change counter and their expiry is a boundary;
      // accepted telemetry bumps it (throttled) and a section showing telemetry refreshes every TELEMETRY_REFRESH_MS.
      signals: opts.signals ?? publicSignals(deps),
      // A build that finds a section's state changed stores it (section_state_changes).
      recordStateChanges: true,
    });
  const pageTtl = opts.pageTtlMs ?? 30_000;
  const views = opts.telemetryViews ?? telemetryViews(deps.db, deps.config);
  const renderer = lazyAstroRenderer(outDir);
  let assets: Map<string, StaticAsset> | null = null;
  const pages = new Map<string, CachedPage>();
  const feedCache = new Map<string, { generation: number; feeds: Feeds | null }>();

  const app = new Hono();

  app.get('/status.json', (c) => {
    const built = snapshots.current();
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': CACHE.statusJson,
      etag: built.statusJsonEtag,
      'access-control-allow-origin': '*',
      vary: 'accept-encoding',
      ...FILE_SECURITY,
    };
    if (c.req.header('if-none-match') === built.statusJsonEtag) return c.body(null, 304, headers);
    return c.body(built.statusJson, 200, headers);
  });

  const feed = (c: Context, slug: string | undefined, kind: 'atom' | 'rss') => {
    const built = snapshots.current();
    const key = slug ?? '';
    let hit = feedCache.get(key);
    if (!hit || hit.generation !== built.generation) {
      hit = { generation: built.generation, feeds: buildFeeds(built.snapshot, deps.config.publicUrl, slug, built.stateChanges) };
      // Only real sections are kept (an unknown slug costs a lookup), so the keys stay as few as the sections.
      if (hit.feeds) {
        if (feedCache.size > 100) feedCache.clear();
        feedCache.set(key, hit);
      }
    }
    if (!hit.feeds) return renderPage(c);
    return c.body(kind === 'atom' ? hit.feeds.atom : hit.feeds.rss, 200, {
      'content-type': kind === 'atom' ? 'application/atom+xml; charset=utf-8' : 'application/rss+xml; charset=utf-8',
      'cache-control': CACHE.feed,
      ...FILE_SECURITY,
    });
  };
  app.get('/feed.atom', (c) => feed(c, undefined, 'atom'));
  app.get('/feed.rss', (c) => feed(c, undefined, 'rss'));
  app.get('/section/:slug/feed.atom', (c) => feed(c, c.req.param('slug'), 'atom'));
  app.get('/section/:slug/feed.rss', (c) => feed(c, c.req.param('slug'), 'rss'));

  // Flyspray's short task URL.
  app.get('/:fs{FS[0-9]{1,15}}', (c) => c.redirect(`/task/${c.req.param('fs').slice(2)}`, 301));

  async function loadRenderer(): Promise<RenderPage> {
    try {
      return await renderer();
    } catch (err) {
      if (err instanceof SiteNotBuilt) throw new Problem(503, 'Service Unavailable', 'The status site has not been built yet.');
      throw err;
    }
  }

  /** A page rendered for one request and never cached: the subscription pages, personal or carrying a secret. */
  const renderUncached: RenderUncached = async (path, subscription) => {
    const render = await loadRenderer();
    const res = await render(new Request(`http://tidings.local${path}`), {
      snapshot: snapshots.current().snapshot,
      now: deps.clock().toISOString(),
      subscription,
    });
    if (res.status >= 500) throw new Error(`site page ${path} rendered ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };

  async function renderPage(c: Context): Promise<Response> {
    const built = snapshots.current();
    const key = pageCacheKey(c.req.url);
    const now = deps.clock();
    let page = freshPage(key, built.generation, now);
    if (!page) {
      const render = await loadRenderer();
      // Concatenated, not resolved: a path starting with // must not become another host.
      const res = await render(new Request(`http://tidings.local${key}`), {
        snapshot: built.snapshot,
        now: now.toISOString(),
        telemetry: views,
      });
      page = { generation: built.generation, at: now.getTime(), status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
      if (res.status >= 500) throw new Error(`site page ${c.req.path} rendered ${res.status}`);
      pages.delete(key);
      pages.set(key, page);
      // A Map iterates in insertion order: the first key is the least recently used one.
      if (pages.size > PAGE_CACHE_MAX) pages.delete(pages.keys().next().value!);
    }
    return c.body(page.body, page.status as 200, headersOf(key));
  }

  /** The cached page for key if it is still fresh (same snapshot, younger than the TTL), moved to the recent end. */
  function freshPage(key: string, generation: number, now: Date): CachedPage | null {
    const page = pages.get(key);
    if (!page || page.generation !== generation || now.getTime() - page.at >= pageTtl) return null;
    if (pages.size > 1) {
      // A hit moves the page to the recent end, so pages in use outlive a stream of one-off URLs.
      pages.delete(key);
      pages.set(key, page);
    }
    return page;
  }

  /**
   * What the routes above answer for a GET or HEAD of a page already in the cache, without building a Request.
   * Only rendered pages are ever cached, and which handler a GET reaches depends on the path alone (feeds fall back
   * to a page only for an unknown section, which is part of the snapshot generation), so a fresh hit is exactly the
   * route's answer. HEAD mirrors Hono's: the GET's status and headers, no body.
   */
  const lookupCachedPage: LookupCachedPage = (method, url) => {
    if (method !== 'GET' && method !== 'HEAD') return null;
    const key = pageCacheKey(url);
    const page = freshPage(key, snapshots.current().generation, deps.clock());
    if (!page) return null;
    return { status: page.status, headers: headersOf(key), body: method === 'HEAD' ? null : page.body };
  };

  app.get('*', (c) => {
    const path = c.req.path;
    // The API answers its own 404s as problem JSON.
    if (path === '/api' || path.startsWith('/api/')) return c.notFound();
    assets ??= loadStaticAssets(join(outDir, 'client'));
    const asset = assets.get(path);
    if (asset) {
      const headers = {
        'content-type': asset.type,
        'cache-control': asset.immutable ? CACHE.assetImmutable : CACHE.asset,
        etag: asset.etag,
        ...FILE_SECURITY,
      };
      if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers);
      return c.body(asset.body, 200, headers);
    }
    return renderPage(c);
  });

  return { routes: app, lookupCachedPage, snapshots, renderUncached };
}
