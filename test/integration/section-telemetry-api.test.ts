// GET /api/v1/sections/:slug/telemetry (the data behind the /section/<slug> charts), fed through the real
// POST /api/v1/telemetry and /telemetry/heartbeat of the same app on a loopback port: exact counts per interval,
// p50/p95 from the merged histograms (null where nothing was delivered), gauges (null where no heartbeat), the
// deployment phases that overlap the range, the same answer before and after the rollup job, and its refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { SectionTelemetryResponse, type SectionCharts } from '#data/contracts/telemetry-charts.ts';
import { LATENCY_BUCKETS_MS, latencyBucket } from '#data/contracts/telemetry.ts';
import { createChangeCounter } from '#server/deps.ts';
import { runTelemetryRollup } from '#server/jobs/telemetry-rollup.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { openBackendStore } from '#server/store/open.ts';
import { playNode, startSiteServer, type PlayedNode, type SiteServer, type UnnumberedEvent } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

const MIN = 60_000;
const HOUR = 3_600_000;
/** Half past noon: the 24 h range is the hours 13:00 yesterday to 12:00 today (the last one up to 12:30). */
const NOW = '2026-01-15T12:30:00.000Z';
const T = Date.parse(NOW);
const bound = (ms: number) => LATENCY_BUCKETS_MS[latencyBucket(ms)];

interface Env {
  site: SiteServer;
  node(name: string): PlayedNode;
  charts(range?: string): Promise<SectionCharts>;
  rollup(): void;
}

async function start(): Promise<Env> {
  const db = openBackendStore(':memory:', () => new Date(T));
  const site = await startSiteServer({ now: NOW, db });
  const ctx = { db, clock: () => new Date(T), changes: createChangeCounter() };
  return {
    site,
    node(name) {
      return playNode(site, issueNodeToken({ ctx, actor: { userId: null, name: 'test' }, name }));
    },
    async charts(range) {
      const r = await site.get(`/api/v1/sections/email/telemetry${range ? `?range=${range}` : ''}`);
      assert.equal(r.status, 200);
      const body = SectionTelemetryResponse.parse(await r.json());
      assert.ok(body.charts, 'the email section has charts');
      return body.charts;
    },
    rollup() {
      // Minutes kept for one hour only: everything before 11:00 is then read from the rolled hours alone.
      const run = runTelemetryRollup(
        { db, clock: () => new Date(T), log: pino({ level: 'silent' }) },
        { minutesMs: HOUR, hoursMs: 400 * 24 * HOUR },
      );
      assert.ok(run.done && run.prunedMinuteRows > 0, `the job rolled and pruned: ${JSON.stringify(run)}`);
      const left = db.prepare('SELECT min(minute) AS m FROM telemetry_minutes').get() as { m: number };
      assert.equal(new Date(left.m).toISOString(), '2026-01-15T11:01:00.000Z', 'no minute before 11:00 is left');
    },
  };
}

/** What happened, per hour: the test's record of the truth the API must report. */
const at = (iso: string) => Date.parse(iso);
function mail(): UnnumberedEvent[] {
  const out: UnnumberedEvent[] = [];
  // 15:00-16:00 yesterday: 20 deliveries at 10 ms ... 200 ms; then nothing until 11:00 today.
  for (let i = 1; i <= 20; i++) {
    out.push({ at: at('2026-01-14T15:00:00.000Z') + i * MIN, type: 'accepted', messageId: `y${i}` });
    out.push({
      at: at('2026-01-14T15:00:00.000Z') + i * MIN + 1,
      type: 'delivered',
      messageId: `y${i}`,
      route: 'maildir',
      latencyMs: i * 10,
    });
  }
  // 11:00-12:00 today: a mix.
  const h = at('2026-01-15T11:00:00.000Z');
  out.push(
    { at: h + 1 * MIN, type: 'accepted', messageId: 'a1' },
    { at: h + 2 * MIN, type: 'accepted', messageId: 'a2' },
    { at: h + 3 * MIN, type: 'accepted', messageId: 'a3' },
    { at: h + 4 * MIN, type: 'rejected', reason: 'unknown-user' },
    { at: h + 5 * MIN, type: 'rejected', reason: 'unknown-user' },
    { at: h + 6 * MIN, type: 'rejected', reason: 'too-big' },
    { at: h + 7 * MIN, type: 'delivered', messageId: 'a1', route: 'maildir', latencyMs: 7 },
    { at: h + 8 * MIN, type: 'delivered', messageId: 'a2', route: 'lmtp', latencyMs: 2_000 },
    { at: h + 9 * MIN, type: 'deferred', messageId: 'a3', route: 'forward' },
    { at: h + 50 * MIN, type: 'bounced', messageId: 'a3', route: 'forward', reason: 'expired' },
    { at: h + 51 * MIN, type: 'quarantined', messageId: 'a4', reason: 'spam' },
  );
  // 12:00-12:30 (the current hour): one delivery past the histogram's last bucket.
  out.push(
    { at: at('2026-01-15T12:05:00.000Z'), type: 'accepted', messageId: 'b1' },
    { at: at('2026-01-15T12:06:00.000Z'), type: 'delivered', messageId: 'b1', route: 'maildir', latencyMs: 400_000_000 },
  );
  return out;
}

async function feed(env: Env): Promise<void> {
  const mx1 = env.node('mx1');
  const mx2 = env.node('mx2');
  await mx1.batch(mail());
  await mx1.beat(at('2026-01-15T11:10:00.000Z'), { queueDepth: 5, oldestQueuedMs: 30_000 });
  await mx1.beat(at('2026-01-15T11:40:00.000Z'), { queueDepth: 3, oldestQueuedMs: 90_000 });
  await mx2.beat(at('2026-01-15T11:20:00.000Z'), { queueDepth: 2, oldestQueuedMs: null });
  await mx1.beat(at('2026-01-15T12:05:00.000Z'), { queueDepth: 0, oldestQueuedMs: null });
}

function checkDay(c: SectionCharts): void {
  assert.equal(c.range, '24h');
  assert.equal(c.stepMs, HOUR);
  assert.equal(c.from, '2026-01-14T13:00:00.000Z');
  assert.equal(c.to, NOW);
  assert.equal(c.reporting, true);
  assert.equal(c.intervals.length, 24);
  assert.deepEqual(
    c.intervals.map((i) => i.from),
    Array.from({ length: 24 }, (_, k) => new Date(at('2026-01-14T13:00:00.000Z') + k * HOUR).toISOString()),
  );
  assert.equal(c.intervals[23].to, NOW, 'the last interval ends now');
  assert.equal(c.intervals[22].to, '2026-01-15T12:00:00.000Z');
  assert.deepEqual(c.rejectReasons, ['unknown-user', 'too-big'], 'only the reasons present, in REJECT_REASONS order');

  // 15:00 yesterday (index 2): 20 delivered at 10..200 ms: p50 is the 10th (100 ms), p95 the 19th (190 ms), as bucket bounds.
  const y = c.intervals[2];
  assert.deepEqual(
    { accepted: y.accepted, delivered: y.delivered, deferred: y.deferred, bounced: y.bounced, rejected: y.rejected },
    { accepted: 20, delivered: 20, deferred: 0, bounced: 0, rejected: [0, 0] },
  );
  assert.deepEqual([y.p50Ms, y.p50Overflow, y.p95Ms, y.p95Overflow], [bound(100), false, bound(190), false]);
  assert.deepEqual([y.nodes, y.queueDepth, y.oldestQueuedMs], [0, null, null], 'no heartbeat that hour: gauges unknown, not 0');

  // 11:00 today (index 22): the mix, and two nodes' heartbeats.
  const m = c.intervals[22];
  assert.deepEqual(
    {
      accepted: m.accepted,
      delivered: m.delivered,
      deferred: m.deferred,
      bounced: m.bounced,
      quarantined: m.quarantined,
      discarded: m.discarded,
      rejected: m.rejected,
    },
    { accepted: 3, delivered: 2, deferred: 1, bounced: 1, quarantined: 1, discarded: 0, rejected: [2, 1] },
  );
  // Two deliveries (7 ms, 2 s): p50 is the first, p95 the second.
  assert.deepEqual([m.p50Ms, m.p95Ms, m.p95Overflow], [bound(7), bound(2_000), false]);
  // mx1's peak 5 plus mx2's 2; the oldest age is mx1's largest reading.
  assert.deepEqual([m.nodes, m.queueDepth, m.oldestQueuedMs], [2, 7, 90_000]);

  // 12:00 (index 23, partial): one delivery past the last bucket; one node, an empty queue.
  const n = c.intervals[23];
  assert.deepEqual([n.accepted, n.delivered], [1, 1]);
  const last = LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
  assert.deepEqual([n.p50Ms, n.p50Overflow, n.p95Ms, n.p95Overflow], [last, true, last, true]);
  assert.deepEqual([n.nodes, n.queueDepth, n.oldestQueuedMs], [1, 0, null]);

  // Every other hour: nothing counted, no latency (null, never 0), no heartbeat.
  for (const [k, i] of c.intervals.entries()) {
    if (k === 2 || k === 22 || k === 23) continue;
    assert.deepEqual(
      [i.accepted, i.delivered, i.deferred, i.bounced, i.rejected, i.p50Ms, i.p95Ms, i.nodes, i.queueDepth],
      [0, 0, 0, 0, [0, 0], null, null, 0, null],
      `hour ${i.from}`,
    );
  }
}

test('24h: exact counts, p50/p95 and gauges per hour, null where nothing was measured; the same after the rollup job', async () => {
  const env = await start();
  try {
    await feed(env);
    const before = await env.charts();
    checkDay(before);
    assert.deepEqual(await env.charts('24h'), before, 'range=24h is the default');
    // The job rolls the ended hours (and yesterday's day) and prunes the minutes before 11:00: those hours are now read
    // from the rollups alone.
    env.rollup();
    const after = await env.charts();
    checkDay(after);
    assert.deepEqual(after, before);
  } finally {
    await env.site.close();
  }
});

test('7d and 30d: the same events in 6-hour and daily intervals; p95 merges the histograms of the hours in one day', async () => {
  const env = await start();
  try {
    await feed(env);
    env.rollup();
    const week = await env.charts('7d');
    assert.equal(week.stepMs, 6 * HOUR);
    assert.equal(week.intervals.length, 28);
    assert.equal(week.from, '2026-01-08T18:00:00.000Z');
    // 12:00-12:30 is its own 6-hour interval; 06:00-12:00 holds the 11:00 mix; 12:00-18:00 yesterday the 20.
    const [y, m, n] = [week.intervals[23], week.intervals[26], week.intervals[27]];
    assert.deepEqual([y.from, m.from, n.from], ['2026-01-14T12:00:00.000Z', '2026-01-15T06:00:00.000Z', '2026-01-15T12:00:00.000Z']);
    assert.deepEqual([y.delivered, m.delivered, n.delivered], [20, 2, 1]);
    assert.deepEqual([m.rejected, m.queueDepth, n.queueDepth], [[2, 1], 7, 0]);
    assert.deepEqual([week.intervals[24].queueDepth, week.intervals[25].queueDepth], [null, null]);

    const month = await env.charts('30d');
    assert.equal(month.stepMs, 24 * HOUR);
    assert.equal(month.intervals.length, 30);
    assert.equal(month.from, '2025-12-17T00:00:00.000Z');
    const [yesterday, today] = month.intervals.slice(-2);
    assert.deepEqual([yesterday.accepted, yesterday.delivered, today.accepted, today.delivered], [20, 20, 4, 3]);
    // Today's three deliveries (7 ms, 2 s, past the last bucket): p50 is 2 s, p95 overflows.
    assert.deepEqual([today.p50Ms, today.p50Overflow, today.p95Overflow], [bound(2_000), false, true]);
    assert.deepEqual([today.nodes, today.queueDepth, today.oldestQueuedMs], [2, 7, 90_000]);
    const total = (c: SectionCharts) =>
      c.intervals.reduce((s, i) => s + i.accepted + i.delivered + i.rejected.reduce((a, b) => a + b, 0), 0);
    assert.equal(total(week), total(month), 'both ranges count every event once');
    assert.equal(total(week), 20 + 20 + 4 + 3 + 3);
  } finally {
    await env.site.close();
  }
});

test('phases: the section own tasks that overlap the range, open ends at now, other sections and future phases left out', async () => {
  const env = await start();
  try {
    const db = env.site.db;
    const rollout = insertTask(db, {
      summary: 'MX rollout',
      section: 'email',
      openedAt: '2026-01-10T08:00:00.000Z',
      phases: [
        { title: 'preparation', startsAt: null, endsAt: '2026-01-12T23:59:59.999Z' },
        { title: 'deployment and parallel service new/old', startsAt: '2026-01-14T20:00:00.000Z', endsAt: '2026-01-15T02:00:00.000Z' },
        { title: 'switch-over', startsAt: '2026-01-15T10:00:00.000Z', endsAt: null },
        { title: 'deactivation', startsAt: '2026-01-16T00:00:00.000Z', endsAt: '2026-01-16T23:59:59.999Z' },
      ],
    });
    insertTask(db, {
      summary: 'DNS move',
      section: 'dns',
      openedAt: '2026-01-14T08:00:00.000Z',
      phases: [{ title: 'dns phase', startsAt: '2026-01-14T20:00:00.000Z', endsAt: '2026-01-15T02:00:00.000Z' }],
    });
    await env.node('mx1').beat(T - MIN, {});
    const day = await env.charts('24h');
    assert.deepEqual(day.phases, [
      {
        taskId: rollout,
        taskSummary: 'MX rollout',
        title: 'deployment and parallel service new/old',
        start: '2026-01-14T20:00:00.000Z',
        end: '2026-01-15T02:00:00.000Z',
        running: false,
      },
      { taskId: rollout, taskSummary: 'MX rollout', title: 'switch-over', start: '2026-01-15T10:00:00.000Z', end: NOW, running: true },
    ]);
    const week = await env.charts('7d');
    assert.deepEqual(
      week.phases.map((p) => [p.title, p.start, p.end]),
      [
        ['preparation', '2026-01-10T08:00:00.000Z', '2026-01-12T23:59:59.999Z'],
        ['deployment and parallel service new/old', '2026-01-14T20:00:00.000Z', '2026-01-15T02:00:00.000Z'],
        ['switch-over', '2026-01-15T10:00:00.000Z', NOW],
      ],
    );
  } finally {
    await env.site.close();
  }
});

test('refusals and markers: bad range 400, unknown section 404 (problem JSON); no telemetry, no node yet; cache headers', async () => {
  const env = await start();
  try {
    for (const bad of ['1y', '', '24H', '7d%20']) {
      const r = await env.site.get(`/api/v1/sections/email/telemetry?range=${bad}`);
      assert.equal(r.status, 400, `range=${bad}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const p = (await r.json()) as { detail: string; errors: { field: string }[] };
      assert.match(p.detail, /range must be one of 24h, 7d, 30d/);
      assert.equal(p.errors[0].field, 'range');
    }
    const missing = await env.site.get('/api/v1/sections/nope/telemetry');
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.match(((await missing.json()) as { detail: string }).detail, /no section "nope"/);

    // A section no node reports for: 200 with charts null.
    const dns = await env.site.get('/api/v1/sections/dns/telemetry?range=7d');
    assert.equal(dns.status, 200);
    assert.deepEqual(SectionTelemetryResponse.parse(await dns.json()), { section: 'dns', range: '7d', charts: null });

    // The telemetry section before any node reported: charts that say so, every gauge and latency unknown.
    const none = await env.charts();
    assert.equal(none.reporting, false);
    assert.ok(none.intervals.every((i) => i.accepted === 0 && i.p95Ms === null && i.queueDepth === null && i.nodes === 0));

    const r = await env.site.get('/api/v1/sections/email/telemetry?range=30d');
    assert.equal(r.headers.get('cache-control'), 'public, max-age=15, s-maxage=15, stale-while-revalidate=60, stale-if-error=86400');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
  } finally {
    await env.site.close();
  }
});
