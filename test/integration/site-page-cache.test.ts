// The live page cache: made-up query strings share the real page's entry, and a bounded LRU keeps pages in use
// while one-off URLs stream past. The signal is the "Status as of" time a page was rendered at (the clock is ours).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pageCacheKey, PAGE_CACHE_MAX } from '#server/routes/site.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';

const T0 = '2026-01-15T12:00:00.000Z';
let site: SiteServer;

before(async () => {
  site = await startSiteServer({ now: T0 });
});
after(async () => {
  await site?.close();
});

/** When the served page was rendered: the footer's "Status as of" time. */
async function renderedAt(path: string): Promise<string> {
  const res = await site.get(path);
  assert.equal(res.status, 200, path);
  const m = /Status as of <time datetime="([^"]+)"/.exec(await res.text());
  assert.ok(m, `${path} has the "Status as of" time`);
  return m[1];
}

async function inBatches(paths: string[], each: (path: string) => Promise<void>): Promise<void> {
  for (let i = 0; i < paths.length; i += 25) await Promise.all(paths.slice(i, i + 25).map(each));
}

test('cache keys: the path, plus for /tasks only the task query in canonical form', () => {
  const base = 'http://status.example.test';
  assert.equal(pageCacheKey(`${base}/`), '/');
  assert.equal(pageCacheKey(`${base}/?utm_source=x&_=123`), '/');
  assert.equal(pageCacheKey(`${base}/task/2733?v=1`), '/task/2733');
  assert.equal(pageCacheKey(`${base}/tasks?junk=1&page=abc&show=&dir=`), '/tasks');
  assert.equal(pageCacheKey(`${base}/tasks?dir=asc&x=1&sort=summary`), pageCacheKey(`${base}/tasks?sort=summary&dir=asc`));
  assert.equal(pageCacheKey(`${base}/tasks?section=email&q=%20mail%20&q=other`), '/tasks?section=email&q=mail');
  assert.equal(pageCacheKey(`${base}//evil.example/x?y=1`), '//evil.example/x');
});

test('2000 junk query strings neither evict nor re-render /, /tasks or /task/2733', async () => {
  const pages = ['/', '/tasks?sort=summary&dir=asc', '/task/2733'];
  const first = await Promise.all(pages.map(renderedAt));
  assert.deepEqual(first, [T0, T0, T0]);
  site.setNow('2026-01-15T12:00:05.000Z'); // within the page TTL, so a cached page still shows T0
  const junk = Array.from(
    { length: 2000 },
    (_, i) => [`/?cb=${i}`, `/tasks?dir=asc&utm_${i}=x&sort=summary`, `/task/2733?_=${i}`, `/?page=${i}&sort=${i}`][i % 4],
  );
  await inBatches(junk, async (path) => assert.equal(await renderedAt(path), T0, `${path} is served from the cached page`));
  assert.deepEqual(await Promise.all(pages.map(renderedAt)), [T0, T0, T0], 'the real pages are still the first renders');
});

test(`the cache is an LRU of ${PAGE_CACHE_MAX} pages: 2000 distinct searches push out old searches, not / in use`, async () => {
  site.setNow('2026-01-15T12:00:10.000Z');
  assert.equal(await renderedAt('/'), T0);
  const searches = Array.from({ length: 2000 }, (_, i) => `/tasks?q=word${i}`);
  for (let i = 0; i < searches.length; i += 100) {
    await inBatches(searches.slice(i, i + 100), async (path) => {
      await renderedAt(path);
    });
    assert.equal(await renderedAt('/'), T0, `/ is still cached after ${i + 100} searches`);
  }
  site.setNow('2026-01-15T12:00:15.000Z');
  assert.equal(await renderedAt(searches.at(-1)!), '2026-01-15T12:00:10.000Z', 'a recent search is cached');
  assert.equal(await renderedAt(searches[0]), '2026-01-15T12:00:15.000Z', 'the oldest search was evicted: the cache is bounded');
  assert.equal(await renderedAt('/'), T0);
});
