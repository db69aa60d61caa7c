// The telemetry rollup job with an injected clock: hours are the sums of their minutes and days of their hours (counts,
// latency histograms, gauge maxima); rolling again, after a restart, or with every period re-marked changes nothing; a
// late backlog corrects hours and days already rolled, before and after its minutes were pruned; pruning keeps to the
// retentions and never deletes a minute before its hour holds it; every granularity reads the same totals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cron from 'node-cron';
import pino from 'pino';
import { MIGRATIONS, migrate, openDatabase, type DB } from '#data/db.ts';
import { REJECT_REASONS, ROUTE_KINDS, type TelemetryEvent } from '#data/contracts/telemetry.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createChangeCounter } from '#server/deps.ts';
import type { MxNode } from '#server/store/mail.ts';
import { ingestBatch } from '#server/services/telemetry/ingestBatch.ts';
import { recordHeartbeat } from '#server/services/telemetry/recordHeartbeat.ts';
import { telemetrySummary } from '#server/services/telemetry/summary.ts';
import { runTelemetryRollup, type RollupOptions } from '#server/jobs/telemetry-rollup.ts';
import { JOB_NAMES, startJobs } from '#server/jobs/schedule.ts';
import {
  gaugeSeries,
  latencySeries,
  outcomeSeries,
  pruneSource,
  prunedBefore,
  sumLatencyAt,
  sumOutcomesAt,
} from '#server/store/telemetry-rollups.ts';
import { readCursor } from '#server/store/telemetry.ts';

const log = pino({ level: 'silent' });
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** A Monday, 00:00 UTC. */
const D0 = Date.parse('2026-03-02T00:00:00.000Z');
/** Retentions for a test; no time budget, so each run does all its work (the budget has a test of its own). */
const keep = (minutesMs: number, hoursMs: number): RollupOptions => ({ minutesMs, hoursMs, budgetMs: Number.POSITIVE_INFINITY });
const KEEP_ALL = keep(10_000 * DAY, 10_000 * DAY);

function makeClock(at: number) {
  let now = at;
  return {
    clock: () => new Date(now),
    set: (t: number) => {
      now = t;
    },
  };
}

function addNode(db: DB, name: string): MxNode {
  const r = db
    .prepare(`INSERT INTO mx_nodes (name, token_hash, created_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z')`)
    .run(name, `hash-${name}`);
  return { id: Number(r.lastInsertRowid), name, createdAt: '2026-01-01T00:00:00.000Z', lastSeenAt: null, lastVersion: null };
}

/** Deterministic events from `from` on, one per `stepMs` at a random offset inside the step, seqs from firstSeq. */
function makeEvents(seed: number, from: number, count: number, stepMs: number, firstSeq = 1): TelemetryEvent[] {
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
  const out: TelemetryEvent[] = [];
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    const at = from + i * stepMs + Math.floor(rnd() * stepMs);
    const messageId = `m${seed}-${seq}`;
    const r = rnd();
    if (r < 0.3) out.push({ seq, at, type: 'accepted', messageId });
    else if (r < 0.6)
      out.push({ seq, at, type: 'delivered', messageId, route: pick(ROUTE_KINDS), latencyMs: Math.floor(10 ** (rnd() * 7)) });
    else if (r < 0.7) out.push({ seq, at, type: 'rejected', reason: pick(REJECT_REASONS) });
    else if (r < 0.8) out.push({ seq, at, type: 'deferred', messageId, route: pick(ROUTE_KINDS) });
    else if (r < 0.85) out.push({ seq, at, type: 'bounced', messageId, route: pick(ROUTE_KINDS), reason: pick(['permanent', 'expired']) });
    else if (r < 0.9) out.push({ seq, at, type: 'quarantined', messageId, reason: 'spam' });
    else if (r < 0.95) out.push({ seq, at, type: 'discarded', messageId });
    else out.push({ seq, at, type: 'dsn', messageId });
  }
  return out;
}

/** Ships events through the real ingest path (which marks their hours), in batches of at most 1000. */
function ship(db: DB, clock: () => Date, node: MxNode, events: TelemetryEvent[]): void {
  for (let i = 0; i < events.length; i += 1000) {
    const chunk = events.slice(i, i + 1000);
    ingestBatch({ db, clock, node, batch: { after: readCursor(db, node.id), events: chunk } });
  }
}

/** Heartbeats every `stepMs` from `from`, with gauges that go up and down (and an empty queue now and then). */
function beat(db: DB, clock: () => Date, node: MxNode, from: number, count: number, stepMs: number): void {
  for (let i = 0; i < count; i++) {
    const depth = (i * 7 + node.id * 3) % 23;
    recordHeartbeat({
      db,
      clock,
      node,
      heartbeat: {
        at: from + i * stepMs,
        queueDepth: depth,
        oldestQueuedMs: depth === 0 ? null : depth * 1_000,
        inRetry: depth % 5,
        configVersion: 1,
        lastSyncAt: null,
        lastSeq: 0,
      },
    });
  }
}

const rows = (db: DB, sql: string) => db.prepare(sql).all() as Record<string, number | string | null>[];

/** Every row of the hour and day tables, in a fixed order. */
function rolled(db: DB) {
  return {
    hours: rows(db, 'SELECT * FROM telemetry_hours ORDER BY node_id, hour, route, outcome, reason'),
    latencyHours: rows(db, 'SELECT * FROM telemetry_latency_hours ORDER BY node_id, hour, route, bucket'),
    gaugeHours: rows(db, 'SELECT * FROM telemetry_gauge_hours ORDER BY node_id, hour'),
    days: rows(db, 'SELECT * FROM telemetry_days ORDER BY node_id, day, route, outcome, reason'),
    latencyDays: rows(db, 'SELECT * FROM telemetry_latency_days ORDER BY node_id, day, route, bucket'),
    gaugeDays: rows(db, 'SELECT * FROM telemetry_gauge_days ORDER BY node_id, day'),
  };
}

/**
 * The rows of `to` computed in JavaScript from the rows of `from`: counts summed and gauges maxed per period, the
 * way the tables should hold them (same columns, same order as rolled()).
 */
function rollInJs(db: DB, from: 'minute' | 'hour', to: 'hour' | 'day') {
  const src = {
    minute: ['telemetry_minutes', 'telemetry_latency_minutes', 'telemetry_gauge_minutes'],
    hour: ['telemetry_hours', 'telemetry_latency_hours', 'telemetry_gauge_hours'],
  }[from];
  const ms = to === 'hour' ? HOUR : DAY;
  const sum = (table: string, keys: string[]) => {
    const out = new Map<string, Record<string, number | string | null>>();
    for (const r of rows(db, `SELECT * FROM ${table}`)) {
      const period = (r[from] as number) - ((r[from] as number) % ms);
      const k = [r.node_id, period, ...keys.map((c) => r[c])].join('|');
      const o = out.get(k);
      if (o) (o.count as number) += r.count as number;
      else out.set(k, { node_id: r.node_id, [to]: period, ...Object.fromEntries(keys.map((c) => [c, r[c]])), count: r.count });
    }
    return [...out.values()];
  };
  const gauges = new Map<string, Record<string, number | string | null>>();
  for (const r of rows(db, `SELECT * FROM ${src[2]}`)) {
    const period = (r[from] as number) - ((r[from] as number) % ms);
    const k = `${r.node_id}|${period}`;
    const g = gauges.get(k);
    const mx = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
    if (!g)
      gauges.set(k, {
        node_id: r.node_id,
        [to]: period,
        queue_depth_max: r.queue_depth_max,
        oldest_queued_ms_max: r.oldest_queued_ms_max,
        in_retry_max: r.in_retry_max,
      });
    else {
      g.queue_depth_max = mx(g.queue_depth_max as number, r.queue_depth_max as number);
      g.oldest_queued_ms_max = mx(g.oldest_queued_ms_max as number | null, r.oldest_queued_ms_max as number | null);
      g.in_retry_max = mx(g.in_retry_max as number, r.in_retry_max as number);
    }
  }
  const order = (a: Record<string, unknown>, b: Record<string, unknown>, keys: string[]) => {
    for (const c of ['node_id', to, ...keys]) {
      const x = a[c] as number | string;
      const y = b[c] as number | string;
      if (x < y) return -1;
      if (x > y) return 1;
    }
    return 0;
  };
  const ck = ['route', 'outcome', 'reason'];
  const lk = ['route', 'bucket'];
  return {
    counts: sum(src[0], ck).sort((a, b) => order(a, b, ck)),
    latency: sum(src[1], lk).sort((a, b) => order(a, b, lk)),
    gauges: [...gauges.values()].sort((a, b) => order(a, b, [])),
  };
}

/** Totals of a range as the summary reads them (heartbeats left out: they are no rollup). */
function totals(db: DB, from: number, to: number, now: number) {
  const s = telemetrySummary(db, { from, to }, new Date(now));
  return { outcomes: s.outcomes, latency: s.latency, latencyByRoute: s.latencyByRoute };
}

/** Counts per outcome straight from the events shipped, for the summary to match. */
function eventTotal(events: TelemetryEvent[]): number {
  return events.length;
}
const summaryTotal = (t: ReturnType<typeof totals>) => t.outcomes.reduce((a, o) => a + o.count, 0);

function tempStore(at: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-rollup-'));
  const c = makeClock(at);
  return {
    dir,
    c,
    open: () => openBackendStore(dir, c.clock),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

test('hours are the sums of their minutes and days of their hours; re-rolling, a restart and re-marking every period change nothing', () => {
  const t = tempStore(D0 + 3 * DAY + 2 * HOUR);
  let db = t.open();
  try {
    const a = addNode(db, 'mx1');
    const b = addNode(db, 'mx2');
    // Three days of mail for two nodes, and heartbeats every 10 minutes.
    const ea = makeEvents(1, D0, 1440, 3 * MIN);
    const eb = makeEvents(2, D0 + 7 * MIN, 860, 5 * MIN);
    ship(db, t.c.clock, a, ea);
    ship(db, t.c.clock, b, eb);
    beat(db, t.c.clock, a, D0, 3 * 144, 10 * MIN);
    beat(db, t.c.clock, b, D0 + 5 * MIN, 3 * 144, 10 * MIN);
    const before = totals(db, D0, D0 + 3 * DAY, t.c.clock().getTime());
    assert.equal(summaryTotal(before), eventTotal(ea) + eventTotal(eb), 'the minutes hold every event');

    const run = runTelemetryRollup({ db, clock: t.c.clock, log }, KEEP_ALL);
    assert.equal(run.hours, 3 * 24, 'every hour with data, all ended');
    assert.equal(run.days, 3);
    const once = rolled(db);
    const hoursJs = rollInJs(db, 'minute', 'hour');
    assert.deepEqual(once.hours, hoursJs.counts, 'hour = sum of its minutes');
    assert.deepEqual(once.latencyHours, hoursJs.latency, 'hour histogram = sum of its minutes');
    assert.deepEqual(once.gaugeHours, hoursJs.gauges, 'hour gauges = max of its minutes');
    const daysJs = rollInJs(db, 'hour', 'day');
    assert.deepEqual(once.days, daysJs.counts, 'day = sum of its hours');
    assert.deepEqual(once.latencyDays, daysJs.latency);
    assert.deepEqual(once.gaugeDays, daysJs.gauges);
    assert.ok(once.latencyDays.length > 50 && once.gaugeDays.length === 6, 'the sample fills many buckets');

    // Same counts and histogram from each granularity over the three whole days.
    const range = { from: D0, to: D0 + 3 * DAY };
    for (const g of ['hour', 'day'] as const) {
      assert.deepEqual(sumOutcomesAt(db, g, range), sumOutcomesAt(db, 'minute', range), `${g}s count what the minutes count`);
      assert.deepEqual(sumLatencyAt(db, g, range), sumLatencyAt(db, 'minute', range), `${g}s histogram = minutes' histogram`);
    }

    // The series the charts read: per bucket, the hours' and days' totals are those of their minutes.
    for (const [g, ms] of [
      ['hour', HOUR],
      ['day', DAY],
    ] as const) {
      const perBucket = (series: { at: number; count: number }[], bucketMs: number) => {
        const m = new Map<number, number>();
        for (const r of series) m.set(r.at - (r.at % bucketMs), (m.get(r.at - (r.at % bucketMs)) ?? 0) + r.count);
        return [...m.entries()];
      };
      assert.deepEqual(perBucket(outcomeSeries(db, g, range), ms), perBucket(outcomeSeries(db, 'minute', range), ms), `${g} series`);
      assert.deepEqual(perBucket(latencySeries(db, g, range), ms), perBucket(latencySeries(db, 'minute', range), ms));
      const gauges = gaugeSeries(db, g, range).map((r) => [r.nodeId, r.at, r.queueDepthMax, r.oldestQueuedMsMax, r.inRetryMax]);
      const table = g === 'hour' ? once.gaugeHours : once.gaugeDays;
      assert.deepEqual(
        gauges.sort((x, y) => (x[0] as number) - (y[0] as number) || (x[1] as number) - (y[1] as number)),
        table.map((r) => [r.node_id, r[g], r.queue_depth_max, r.oldest_queued_ms_max, r.in_retry_max]),
      );
    }

    // Again: nothing is marked, nothing changes.
    assert.deepEqual(runTelemetryRollup({ db, clock: t.c.clock, log }, KEEP_ALL), {
      hours: 0,
      days: 0,
      prunedMinuteRows: 0,
      prunedHourRows: 0,
      done: true,
    });
    assert.deepEqual(rolled(db), once);
    // A restart: a new handle on the same file, an hour later.
    db.close();
    t.c.set(t.c.clock().getTime() + HOUR);
    db = t.open();
    runTelemetryRollup({ db, clock: t.c.clock, log }, KEEP_ALL);
    assert.deepEqual(rolled(db), once, 'after a restart');
    // Every period marked again (as if the job crashed after rolling and before clearing the marks): re-rolled, same rows.
    db.exec(`INSERT OR IGNORE INTO telemetry_dirty_hours (hour) SELECT DISTINCT hour FROM telemetry_hours;
             INSERT OR IGNORE INTO telemetry_dirty_days (day) SELECT DISTINCT day FROM telemetry_days`);
    const again = runTelemetryRollup({ db, clock: t.c.clock, log }, KEEP_ALL);
    assert.equal(again.hours, 3 * 24);
    assert.deepEqual(rolled(db), once, 'a period rolled twice is not counted twice');
    assert.deepEqual(totals(db, D0, D0 + 3 * DAY, t.c.clock().getTime()), before);
    // Rolled hours inside the minutes' retention are read from the hours; the partial hours at the ends from minutes.
    const [from, to] = [D0 + 17 * MIN, D0 + 2 * DAY + 43 * MIN];
    const inRange = [...ea, ...eb].filter((e) => e.at >= from && e.at < to).length;
    assert.equal(summaryTotal(totals(db, from, to, t.c.clock().getTime())), inRange);
  } finally {
    db.close();
    t.cleanup();
  }
});

test('an open hour is not rolled until it has ended', () => {
  const t = tempStore(D0 + 30 * MIN);
  const db = t.open();
  try {
    const a = addNode(db, 'mx1');
    ship(db, t.c.clock, a, makeEvents(3, D0, 20, MIN));
    assert.equal(runTelemetryRollup({ db, clock: t.c.clock, log }, KEEP_ALL).hours, 0);
    assert.deepEqual(rolled(db).hours, []);
    t.c.set(D0 + HOUR);
    assert.equal(runTelemetryRollup({ db, clock: t.c.clock, log }, KEEP_ALL).hours, 1, 'rolled once it ended');
    assert.deepEqual(rolled(db).hours, rollInJs(db, 'minute', 'hour').counts);
  } finally {
    db.close();
    t.cleanup();
  }
});

test('a backlog shipped after an outage corrects hours and days already rolled, also once their minutes were pruned', () => {
  const t = tempStore(D0 + DAY + HOUR);
  const db = t.open();
  try {
    const a = addNode(db, 'mx1');
    const b = addNode(db, 'mx2');
    const ea = makeEvents(4, D0, 24 * 20, 3 * MIN);
    ship(db, t.c.clock, a, ea);
    runTelemetryRollup({ db, clock: t.c.clock, log }, KEEP_ALL);
    const day0 = { from: D0, to: D0 + DAY };
    const dayCount = () => sumOutcomesAt(db, 'day', day0).reduce((n, r) => n + r.count, 0);
    assert.equal(dayCount(), ea.length);

    // mx2 could not reach the backend all day; it recovers now and ships its backlog, in order.
    const eb = makeEvents(5, D0 + 10 * MIN, 200, 7 * MIN);
    ship(db, t.c.clock, b, eb);
    assert.equal(dayCount(), ea.length, 'the day is stale until the job runs');
    const count = (from: number, to: number) => summaryTotal(totals(db, from, to, t.c.clock().getTime()));
    const inRange = (from: number, to: number) => [...ea, ...eb].filter((e) => e.at >= from && e.at < to).length;
    assert.equal(count(D0, D0 + DAY), ea.length + eb.length, 'the summary is not stale: it reads the marked hours from their minutes');
    assert.equal(count(D0 + 17 * MIN, D0 + 5 * HOUR + 43 * MIN), inRange(D0 + 17 * MIN, D0 + 5 * HOUR + 43 * MIN), 'partial hours');
    const run = runTelemetryRollup({ db, clock: t.c.clock, log }, KEEP_ALL);
    assert.ok(run.hours >= 20 && run.days === 1, `the backlog's hours and their day were rolled again (${JSON.stringify(run)})`);
    const hoursJs = rollInJs(db, 'minute', 'hour');
    assert.deepEqual(rolled(db).hours, hoursJs.counts, 'hours hold the backlog');
    assert.deepEqual(rolled(db).latencyHours, hoursJs.latency);
    assert.deepEqual(rolled(db).days, rollInJs(db, 'hour', 'day').counts, 'and so does the day');
    assert.equal(dayCount(), ea.length + eb.length);

    // Fifteen days later the minutes of day 0 are pruned (14 days by default) ...
    t.c.set(D0 + 16 * DAY);
    const pruned = runTelemetryRollup({ db, clock: t.c.clock, log }, keep(14 * DAY, 400 * DAY));
    assert.ok(pruned.prunedMinuteRows > 0);
    assert.equal(rows(db, `SELECT 1 FROM telemetry_minutes WHERE minute < ${D0 + DAY}`).length, 0);
    const hoursBefore = rolled(db).hours;
    // ... and a third node, cut off for over two weeks, ships day 0 now: its hours had no minutes left to re-sum.
    const c = addNode(db, 'mx3');
    const ec = makeEvents(6, D0 + 3 * HOUR, 50, 11 * MIN);
    ship(db, t.c.clock, c, ec);
    const all = { from: D0, to: D0 + DAY };
    const expected = ea.length + eb.length + ec.length;
    const summaryCount = () => summaryTotal(totals(db, all.from, all.to, t.c.clock().getTime()));
    assert.equal(summaryCount(), expected, 'the summary counts the backlog before the job folds it in');
    runTelemetryRollup({ db, clock: t.c.clock, log }, keep(14 * DAY, 400 * DAY));
    assert.equal(rows(db, `SELECT 1 FROM telemetry_minutes WHERE minute < ${D0 + DAY}`).length, 0, 'the late minutes were folded in');
    const hoursAfter = rolled(db).hours;
    assert.deepEqual(
      hoursAfter.filter((r) => r.node_id !== c.id),
      hoursBefore,
      "the other nodes' hours are untouched (not re-summed from the few minutes left)",
    );
    assert.equal(
      hoursAfter.filter((r) => r.node_id === c.id).reduce((n, r) => n + (r.count as number), 0),
      ec.length,
      "mx3's hours hold its backlog",
    );
    assert.equal(dayCount(), expected, 'the day holds all three nodes');
    assert.equal(summaryCount(), expected);
    assert.deepEqual(rolled(db).days, rollInJs(db, 'hour', 'day').counts);
  } finally {
    db.close();
    t.cleanup();
  }
});

test('pruning keeps to the retentions, never deletes an unrolled minute, and a 30-day range reads the same totals after it', () => {
  const t = tempStore(D0 + 31 * DAY);
  const db = t.open();
  try {
    const a = addNode(db, 'mx1');
    // Thirty days, one event every 20 minutes, and a heartbeat an hour.
    const events = makeEvents(7, D0, 30 * 72, 20 * MIN);
    ship(db, t.c.clock, a, events);
    beat(db, t.c.clock, a, D0, 30 * 24, HOUR);
    const now = t.c.clock().getTime();
    const before = totals(db, D0, D0 + 30 * DAY, now);
    assert.equal(summaryTotal(before), events.length);

    // 3 days of minutes, 10 days of hours (the clock sits at a day boundary: D0 + 31 d).
    const run = runTelemetryRollup({ db, clock: t.c.clock, log }, keep(3 * DAY, 10 * DAY));
    assert.ok(run.prunedMinuteRows > 0 && run.prunedHourRows > 0);
    const oldest = (table: string, col: string) => (db.prepare(`SELECT min(${col}) AS m FROM ${table}`).get() as { m: number }).m;
    assert.equal(prunedBefore(db, 'minutes'), now - 3 * DAY);
    assert.equal(prunedBefore(db, 'hours'), now - 10 * DAY);
    for (const table of ['telemetry_minutes', 'telemetry_latency_minutes', 'telemetry_gauge_minutes'])
      assert.ok(oldest(table, 'minute') >= now - 3 * DAY && oldest(table, 'minute') < now - 3 * DAY + HOUR, `${table} kept 3 days`);
    for (const table of ['telemetry_hours', 'telemetry_latency_hours', 'telemetry_gauge_hours'])
      assert.ok(oldest(table, 'hour') >= now - 10 * DAY && oldest(table, 'hour') < now - 10 * DAY + HOUR, `${table} kept 10 days`);
    assert.equal(oldest('telemetry_days', 'day'), D0, 'days are kept');
    assert.equal(rows(db, 'SELECT DISTINCT day FROM telemetry_gauge_days').length, 30);

    // The 30-day range reads days, then hours, then minutes: the same totals and histograms as before pruning.
    assert.deepEqual(totals(db, D0, D0 + 30 * DAY, now), before);
    // Ranges inside each region, and one cut mid-day inside the days: whole buckets starting in the range.
    for (const [from, to] of [
      [now - 2 * DAY, now],
      [now - 6 * DAY, now - 4 * DAY],
      [D0 + 2 * DAY, D0 + 5 * DAY],
    ] as const) {
      const inRange = events.filter((e) => e.at >= from && e.at < to).length;
      assert.equal(summaryTotal(totals(db, from, to, now)), inRange, `[${from}, ${to})`);
    }
    const midHour = summaryTotal(totals(db, now - 6 * DAY + 30 * MIN, now - 5 * DAY, now));
    assert.equal(midHour, events.filter((e) => e.at >= now - 6 * DAY + HOUR && e.at < now - 5 * DAY).length, 'hours starting in the range');
    const midDay = summaryTotal(totals(db, D0 + 2 * DAY - HOUR, D0 + 5 * DAY - HOUR, now));
    assert.equal(midDay, events.filter((e) => e.at >= D0 + 2 * DAY && e.at < D0 + 5 * DAY).length, 'days starting in the range');

    // An hour below the next boundary that was never rolled (its minutes are marked): pruning rolls it first.
    t.c.set(now + 2 * HOUR);
    const late = makeEvents(8, now - 3 * DAY + 10 * MIN, 30, MIN, events.length + 1);
    ship(db, t.c.clock, a, late);
    const hour = now - 3 * DAY;
    assert.deepEqual(
      rows(db, `SELECT hour FROM telemetry_dirty_hours WHERE hour = ${hour}`),
      [{ hour }],
      'the backlog marked its (already rolled) hour',
    );
    const hourCount = () => sumOutcomesAt(db, 'hour', { from: hour, to: hour + HOUR }).reduce((n, r) => n + r.count, 0);
    const minutesOfHour = sumOutcomesAt(db, 'minute', { from: hour, to: hour + HOUR }).reduce((n, r) => n + r.count, 0);
    assert.equal(hourCount(), minutesOfHour - late.length, 'not rolled yet');
    // Prune straight away, without the job's rolling pass in front.
    db.transaction(() => pruneSource(db, 'hour', hour + HOUR)).immediate();
    assert.equal(rows(db, `SELECT 1 FROM telemetry_minutes WHERE minute < ${hour + HOUR}`).length, 0);
    assert.equal(hourCount(), minutesOfHour, 'the hour holds every minute it lost, the backlog included');
    assert.equal(summaryTotal(totals(db, D0, D0 + 31 * DAY, t.c.clock().getTime())), events.length + late.length);
  } finally {
    db.close();
    t.cleanup();
  }
});

test('with a time budget a long catch-up is spread over runs, one period or pruning step at least per run, to the same end', () => {
  const now = D0 + 5 * DAY;
  const build = () => {
    const t = tempStore(now);
    const db = t.open();
    const a = addNode(db, 'mx1');
    ship(db, t.c.clock, a, makeEvents(9, D0, 5 * 144, 10 * MIN));
    beat(db, t.c.clock, a, D0, 5 * 24, HOUR);
    return { t, db };
  };
  const state = (db: DB) => ({
    ...rolled(db),
    minutes: rows(db, 'SELECT * FROM telemetry_minutes ORDER BY node_id, minute, route, outcome, reason'),
    watermarks: rows(db, 'SELECT * FROM telemetry_rollup_watermarks ORDER BY source'),
  });
  const whole = build();
  const slow = build();
  try {
    const opts = keep(2 * DAY, 3 * DAY);
    assert.equal(runTelemetryRollup({ db: whole.db, clock: whole.t.c.clock, log }, opts).done, true);
    const runs: ReturnType<typeof runTelemetryRollup>[] = [];
    for (let r = runTelemetryRollup({ db: slow.db, clock: slow.t.c.clock, log }, { ...opts, budgetMs: 0 }); ; ) {
      runs.push(r);
      if (r.done || runs.length > 1000) break;
      r = runTelemetryRollup({ db: slow.db, clock: slow.t.c.clock, log }, { ...opts, budgetMs: 0 });
    }
    assert.ok(runs.at(-1)?.done, 'it gets there');
    assert.ok(
      runs.every((r) => r.hours + r.days <= 1),
      'at most one period per run',
    );
    assert.equal(runs.filter((r) => r.hours === 1).length, 5 * 24, 'each hour rolled once');
    assert.ok(runs.filter((r) => r.prunedMinuteRows > 0).length >= 2, 'minutes pruned in several steps');
    assert.deepEqual(state(slow.db), state(whole.db), 'the same rows and watermarks as one unbounded run');
  } finally {
    for (const s of [whole, slow]) {
      s.db.close();
      s.t.cleanup();
    }
  }
});

test('the rollup job is scheduled with node-cron and unscheduled on stop', async () => {
  const db = openBackendStore(':memory:');
  const named = () => [...cron.getTasks().values()].filter((task) => task.name === JOB_NAMES.telemetryRollup);
  const before = named().length;
  const jobs = startJobs(
    { db, clock: () => new Date(D0), log, changes: createChangeCounter(), publicUrl: 'http://localhost' },
    { telemetryRollup: KEEP_ALL },
  );
  try {
    const mine = named();
    assert.equal(mine.length, before + 1);
    assert.equal(mine[mine.length - 1].getPattern(), '* * * * *', 'every minute');
    assert.ok((mine[mine.length - 1].msToNext() ?? Infinity) <= MIN);
  } finally {
    await jobs.stop();
  }
  assert.equal(named().length, before, 'stop() destroys it');
  db.close();
});

test('minutes written before the rollup migration are marked, so the first run rolls them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-rollup-migration-'));
  try {
    // The backend's migrations up to 006 (telemetry ingest, no rollups).
    const upTo6 = join(dir, 'migrations');
    mkdirSync(upTo6);
    for (const name of readdirSync(MIGRATIONS.backend).filter((n) => /^00[1-6]_/.test(n)))
      copyFileSync(join(MIGRATIONS.backend, name), join(upTo6, name));
    const db = openDatabase(join(dir, 'backend.sqlite'), { migrationsDir: upTo6 });
    const node = addNode(db, 'mx1');
    db.prepare(`INSERT INTO telemetry_minutes VALUES (?, ?, '', 'accepted', '', 3)`).run(node.id, D0 + 5 * MIN);
    db.prepare(`INSERT INTO telemetry_latency_minutes VALUES (?, ?, 'lmtp', 4, 2)`).run(node.id, D0 + HOUR + 5 * MIN);
    db.prepare('INSERT INTO telemetry_gauge_minutes VALUES (?, ?, 7, NULL, 1)').run(node.id, D0 + 2 * HOUR + 5 * MIN);
    assert.equal(migrate(db, MIGRATIONS.backend), readdirSync(MIGRATIONS.backend).length - 6);
    assert.deepEqual(rows(db, 'SELECT hour FROM telemetry_dirty_hours ORDER BY hour'), [
      { hour: D0 },
      { hour: D0 + HOUR },
      { hour: D0 + 2 * HOUR },
    ]);
    const run = runTelemetryRollup({ db, clock: () => new Date(D0 + DAY), log }, KEEP_ALL);
    assert.deepEqual([run.hours, run.days], [3, 1]);
    const r = rolled(db);
    assert.deepEqual(
      [r.hours.length, r.latencyHours.length, r.gaugeHours.length, r.days[0]?.count],
      [1, 1, 1, 3],
      'each table rolled its old rows',
    );
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
