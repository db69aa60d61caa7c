// /section/<slug> with mail telemetry posted through the real ingest: the data tables carry the numbers per interval
// in the display time zone, the range links work without script (aria-current on the chosen one), the page cache
// keeps one entry per valid range, only section pages with charts get the chart script (script-src 'self', no inline
// code), and the JSON data block cannot be closed by a task summary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_BUCKETS_MS, latencyBucket, type TelemetryEvent } from '#data/contracts/telemetry.ts';
import type { SectionCharts } from '#data/contracts/telemetry-charts.ts';
import { createChangeCounter } from '#server/deps.ts';
import { pageCacheKey } from '#server/routes/site.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { chartTableRow as row } from '../support/chart-tables.ts';
import { decodeEntities, visibleText } from '../support/html-text.ts';
import { postAsNode, startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

const NOW = '2026-01-15T12:30:00.000Z';
const T = Date.parse(NOW);
const H11 = Date.parse('2026-01-15T11:00:00.000Z');
const MIN = 60_000;
let site: SiteServer;
let taskId: number;

before(async () => {
  // Berlin: the tables show local times (12:00 CET for 11:00 UTC).
  site = await startSiteServer({ now: NOW, tz: 'Europe/Berlin' });
  taskId = insertTask(site.db, {
    summary: 'MX move </script><script>alert(1)</script>',
    section: 'email',
    openedAt: '2026-01-10T08:00:00.000Z',
    phases: [
      { title: 'deployment and parallel service new/old', startsAt: '2026-01-15T06:00:00.000Z', endsAt: '2026-01-15T09:59:59.999Z' },
    ],
  });
  const token = issueNodeToken({
    ctx: { db: site.db, clock: () => new Date(T), changes: createChangeCounter() },
    actor: { userId: null, name: 'test' },
    name: 'mx1',
  });
  let seq = 0;
  const e = (at: number, rest: Record<string, unknown>) => ({ seq: ++seq, at, ...rest }) as TelemetryEvent;
  await postAsNode(site, '/api/v1/telemetry', token, {
    after: 0,
    events: [
      e(H11 + MIN, { type: 'accepted', messageId: 'a1', deliveries: 1 }),
      e(H11 + 2 * MIN, { type: 'accepted', messageId: 'a2', deliveries: 1 }),
      e(H11 + 2 * MIN + 1, { type: 'accepted', messageId: 'a3', deliveries: 1 }),
      e(H11 + 3 * MIN, { type: 'delivered', messageId: 'a1', route: 'maildir', latencyMs: 40 }),
      e(H11 + 4 * MIN, { type: 'delivered', messageId: 'a2', route: 'lmtp', latencyMs: 1_500 }),
      e(H11 + 5 * MIN, { type: 'rejected', reason: 'unknown-user' }),
      e(H11 + 6 * MIN, { type: 'rejected', reason: 'unknown-user' }),
      e(H11 + 7 * MIN, { type: 'rejected', reason: 'too-big' }),
      e(H11 + 8 * MIN, { type: 'deferred', messageId: 'a3', route: 'forward' }),
    ],
  });
  await postAsNode(site, '/api/v1/telemetry/heartbeat', token, {
    at: H11 + 10 * MIN,
    // a3, deferred, is the one delivery still queued.
    queueDepth: 1,
    oldestQueuedMs: 150_000,
    inRetry: 1,
    configVersion: 1,
    lastSyncAt: null,
    lastSeq: seq,
  });
  site.changes.bump();
});
after(async () => {
  await site?.close();
});

async function page(path: string): Promise<{ html: string; res: Response }> {
  const res = await site.get(path);
  assert.equal(res.status, 200, path);
  return { html: await res.text(), res };
}

test('cache keys: /section/<slug> keeps a valid range other than the default; anything else is the page itself', () => {
  const base = 'http://status.example.test';
  assert.equal(pageCacheKey(`${base}/section/email?range=7d`), '/section/email?range=7d');
  assert.equal(pageCacheKey(`${base}/section/email?x=1&range=30d&y=2`), '/section/email?range=30d');
  assert.equal(pageCacheKey(`${base}/section/email?range=24h`), '/section/email', 'the default range is the bare page');
  for (const junk of ['range=1y', 'range=', 'range=7D', 'utm=x', 'range=7d%20'])
    assert.equal(pageCacheKey(`${base}/section/email?${junk}`), '/section/email', junk);
  assert.equal(pageCacheKey(`${base}/section/email?range=7d&range=30d`), '/section/email?range=7d', 'the first value counts');
  // Only the section page itself reads a range.
  assert.equal(pageCacheKey(`${base}/section/email/feed.atom?range=7d`), '/section/email/feed.atom');
  assert.equal(pageCacheKey(`${base}/task/2733?range=7d`), '/task/2733');
});

test('the 24h tables carry the numbers of each hour in the display time zone, with the range links and the phases', async () => {
  const { html, res } = await page('/section/email');
  const text = visibleText(html);
  // Range links that work without script; the chosen one is marked.
  const links = [...html.matchAll(/<a href="([^"]+)"( aria-current="page")? data-range-link="(\w+)">([^<]+)<\/a>/g)].map((m) => [
    m[3],
    decodeEntities(m[1]),
    Boolean(m[2]),
    m[4],
  ]);
  assert.deepEqual(links, [
    ['24h', '/section/email#telemetry-h', true, '24 hours'],
    ['7d', '/section/email?range=7d#telemetry-h', false, '7 days'],
    ['30d', '/section/email?range=30d#telemetry-h', false, '30 days'],
  ]);
  assert.match(text, /Last 24 hours, per hour: 2026-01-14 14:00 CET to 2026-01-15 13:30 CET\. Times in CET\./);

  // 11:00 UTC is 12:00 in Berlin.
  const m = row(html, 'Messages per hour', '2026-01-15T11:00:00.000Z');
  assert.deepEqual(m, {
    label: '15 Jan 12:00',
    accepted: '3',
    delivered: '2',
    deferred: '1',
    bounced: '0',
    'rejected:unknown-user': '2',
    'rejected:too-big': '1',
  });
  assert.match(html, /<th scope="col">Rejected: unknown user<\/th><th scope="col">Rejected: too big<\/th>/);
  const bound = (ms: number) => LATENCY_BUCKETS_MS[latencyBucket(ms)];
  const l = row(html, 'Delivery delay per hour', '2026-01-15T11:00:00.000Z');
  // Two deliveries, 40 ms and 1.5 s: p50 is the first's bucket (≤ 56 ms), p95 the second's (≤ 1.8 s).
  assert.equal(bound(40), 56);
  assert.equal(bound(1_500), 1778);
  assert.deepEqual(l, { label: '15 Jan 12:00', delivered: '2', p50: '≤ 56 ms', p95: '≤ 1.8 s' });
  const q = row(html, 'Queue per hour', '2026-01-15T11:00:00.000Z');
  assert.deepEqual(q, { label: '15 Jan 12:00', nodes: '1', depth: '1', oldest: '2.5 min' });

  // An hour with nothing: zero messages, but no delay and no heartbeat, never a made-up 0.
  assert.deepEqual(row(html, 'Delivery delay per hour', '2026-01-15T10:00:00.000Z'), {
    label: '15 Jan 11:00',
    delivered: '0',
    p50: 'no delivery',
    p95: 'no delivery',
  });
  assert.deepEqual(row(html, 'Queue per hour', '2026-01-15T10:00:00.000Z'), {
    label: '15 Jan 11:00',
    nodes: '0',
    depth: 'no heartbeat',
    oldest: 'no heartbeat',
  });
  // Figures with accessible names, tables with captions and header scopes.
  assert.equal([...html.matchAll(/<figure class="chart" aria-labelledby="tc-(\w+)-cap" data-chart="\1">/g)].length, 4);
  assert.equal([...html.matchAll(/<canvas role="img" aria-label="[^"]+">/g)].length, 4);
  assert.equal([...html.matchAll(/<tr data-from=/g)].length, 4 * 24);
  // The phase, listed in words as well as shaded on the charts; the accounting line is there.
  assert.match(text, new RegExp(`FS#${taskId} deployment and parallel service new/old: 2026-01-15 07:00 CET to 2026-01-15 10:59 CET`));

  // The chart script: one file from our origin, allowed by the page's CSP; no inline code.
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map((s) => ({ attrs: s[1], body: s[2] }));
  assert.deepEqual(
    scripts.map((s) => s.attrs.trim().replace(/src="[^"]+"/, 'src')),
    ['type="application/json" data-chart-data', 'type="module" src'],
  );
  assert.match(scripts[1].attrs, /src="\/_astro\/[^"]+\.js"/);
  assert.equal(scripts[1].body, '');
  assert.match(res.headers.get('content-security-policy') ?? '', /(^|; )script-src 'self';/);
  assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /unsafe-inline'[^;]*;[^;]*script|script-src[^;]*unsafe/);
  const js = await site.get(/src="([^"]+)"/.exec(scripts[1].attrs)![1]);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);

  // The data block: the summary's "</script>" is escaped, and the block parses to the same charts the API answers.
  const data = JSON.parse(scripts[0].body) as { charts: SectionCharts; labels: string[] };
  assert.equal(data.charts.phases[0].taskSummary, 'MX move </script><script>alert(1)</script>');
  assert.doesNotMatch(scripts[0].body, /<\//);
  assert.equal(data.labels[22], '15 Jan 12:00');
  const api = (await (await site.get('/api/v1/sections/email/telemetry')).json()) as { charts: SectionCharts };
  assert.deepEqual(data.charts.intervals, api.charts.intervals);
  // The accounting line: three deliveries accepted, two delivered, one still queued at the 12:10 (local) reading.
  assert.deepEqual(
    { ...api.charts.accounting, from: undefined, to: undefined },
    {
      from: undefined,
      to: undefined,
      measuredFrom: null,
      measuredTo: '2026-01-15T11:10:00.000Z',
      acceptedMessages: 3,
      carriedIn: 0,
      accepted: 3,
      dsn: 0,
      released: 0,
      delivered: 2,
      bounced: 0,
      quarantined: 0,
      discarded: 0,
      queued: 1,
      uncountedMessages: 0,
      unaccounted: 0,
    },
  );
  assert.match(html, /<p class="accounting" data-accounting="balanced">/);
  assert.match(
    text,
    /Accounting, last 24 hours \(in deliveries, one per accepted recipient; 3 messages accepted\): accepted 3 = delivered 2 \+ queued 1 \+ quarantined 0 \+ bounced 0 \+ discarded 0, unaccounted 0\. Queue measured from the nodes' first events to 2026-01-15 12:10 CET\./,
  );
});

test('?range=7d and ?range=30d: their own intervals and aria-current; a bad range shows the 24h page from the same cache entry', async () => {
  const week = await page('/section/email?range=7d');
  assert.match(week.html, /<a href="\/section\/email\?range=7d#telemetry-h" aria-current="page" data-range-link="7d">/);
  assert.match(visibleText(week.html), /Last 7 days, per 6 hours:/);
  assert.equal([...week.html.matchAll(/<tr data-from=/g)].length, 4 * 28);
  // 06:00-12:00 UTC is 07:00-13:00 in Berlin.
  assert.deepEqual(row(week.html, 'Messages per 6 hours', '2026-01-15T06:00:00.000Z').label, '15 Jan 07:00');
  assert.equal(row(week.html, 'Messages per 6 hours', '2026-01-15T06:00:00.000Z').delivered, '2');

  const month = await page('/section/email?range=30d');
  assert.match(month.html, /aria-current="page" data-range-link="30d"/);
  assert.equal([...month.html.matchAll(/<tr data-from=/g)].length, 4 * 30);
  // A UTC day starts at 01:00 in Berlin, and says so.
  const today = row(month.html, 'Messages per day', '2026-01-15T00:00:00.000Z');
  assert.deepEqual([today.label, today.accepted, today['rejected:unknown-user']], ['Thu 15 Jan 01:00', '3', '2']);

  const asOf = (html: string) => /Status as of <time datetime="([^"]+)"/.exec(html)?.[1];
  const first = await page('/section/email');
  site.setNow('2026-01-15T12:30:05.000Z');
  try {
    // Within the page TTL, made-up ranges are served the cached 24h page: same render, same bytes.
    for (const junk of ['?range=1y', '?range=', '?utm=1', '?range=24h']) {
      const p = await page(`/section/email${junk}`);
      assert.equal(asOf(p.html), asOf(first.html), junk);
      assert.equal(p.html, first.html, junk);
    }
  } finally {
    site.setNow(NOW);
  }
});

test('pages without charts run no script: the overview, a task, and a section no node reports for', async () => {
  for (const path of ['/', '/tasks', '/task/2733', '/section/dns']) {
    const { html, res } = await page(path);
    assert.doesNotMatch(html, /<script/i, path);
    assert.doesNotMatch(html, /data-telemetry/, path);
    if (path !== '/section/dns') assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /script-src/, path);
  }
});

test('not Email-only: with TIDINGS_TELEMETRY_SECTION=dns the DNS page has the charts and the Email page has none', async () => {
  const other = await startSiteServer({ now: NOW, env: { TIDINGS_TELEMETRY_SECTION: 'dns' } });
  try {
    const token = issueNodeToken({
      ctx: { db: other.db, clock: () => new Date(T), changes: createChangeCounter() },
      actor: { userId: null, name: 'test' },
      name: 'mx1',
    });
    await postAsNode(other, '/api/v1/telemetry/heartbeat', token, {
      at: T - MIN,
      queueDepth: 6,
      oldestQueuedMs: 1_000,
      inRetry: 0,
      configVersion: 1,
      lastSyncAt: null,
      lastSeq: 0,
    });
    other.changes.bump();
    const dns = await (await other.get('/section/dns')).text();
    assert.match(dns, /<section aria-labelledby="telemetry-h" class="telemetry" data-telemetry="dns" data-range="24h">/);
    assert.deepEqual(row(dns, 'Queue per hour', '2026-01-15T12:00:00.000Z'), {
      label: '15 Jan 12:00',
      nodes: '1',
      depth: '6',
      oldest: '1 s',
    });
    assert.match(dns, /<script type="module" src="\/_astro\/[^"]+\.js"><\/script>/);
    const email = await (await other.get('/section/email')).text();
    assert.doesNotMatch(email, /data-telemetry|<script/);
    const api = (await (await other.get('/api/v1/sections/email/telemetry')).json()) as { charts: unknown };
    assert.equal(api.charts, null);
  } finally {
    await other.close();
  }
});
