// Benchmark: backend telemetry ingest (POST /api/v1/telemetry, batches of 1,000 events with a node token) against
// the raw speed of writing the same rollup rows into SQLite with prepared statements, in the same run. See README.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LATENCY_BUCKETS_MS, type RejectReason, type RouteKind, type TelemetryEvent } from '#data/contracts/telemetry.ts';
import { loadConfig } from '#data/config.ts';
import { openDatabase, type DB } from '#data/db.ts';
import { createApp } from '#server/app.ts';
import { createChangeCounter } from '#server/deps.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { rollUp } from '#server/services/telemetry/ingestBatch.ts';
import { openBackendStore } from '#server/store/open.ts';
import { hourOf } from '#server/store/telemetry.ts';
import { startServerMain, type ServerMain } from '../../test/support/server-main.ts';

const BATCH = 1000;
const BATCHES = Number(process.env.BENCH_BATCHES ?? 50);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

// ── a realistic event mix ─────────────────────────────────────────────────

const ROUTES: RouteKind[] = ['maildir', 'maildir', 'maildir', 'lmtp', 'lmtp', 'forward', 'legacy'];
const REJECTS: RejectReason[] = [
  'unknown-user',
  'unknown-user',
  'unknown-user',
  'not-hosted',
  'too-big',
  'bare-newline',
  'too-many-recipients',
  'per-ip-connection-cap',
  'data-timeout',
];

/** A small deterministic PRNG (mulberry32), so every run ships the same events. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(2733);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
/** Latency log-uniform from 20 ms to ~10 min, so every histogram bucket in between gets counts. */
const latency = () => Math.round(20 * 30_000 ** rnd());

let nextSeq = 1;
let nextMsg = 1;
/**
 * One batch: about 45 % accepted, 38 % delivered (4 routes, latencies over the histogram), 12 % rejected by 9
 * reasons, 3 % deferred, 2 % bounced; timestamps spread over the 4 minutes before `now` (the backend refuses
 * events more than 5 minutes in its future, not past ones).
 */
function makeBatch(now: number): { after: number; events: TelemetryEvent[] } {
  const after = nextSeq - 1;
  const events: TelemetryEvent[] = [];
  for (let i = 0; i < BATCH; i++) {
    const seq = nextSeq++;
    const at = now - Math.floor(rnd() * 4 * 60_000);
    const messageId = `<bench.${nextMsg++}@mx1.bench.test>`;
    const r = rnd();
    if (r < 0.45) events.push({ seq, at, type: 'accepted', messageId });
    else if (r < 0.83) events.push({ seq, at, type: 'delivered', messageId, route: pick(ROUTES), latencyMs: latency() });
    else if (r < 0.95) events.push({ seq, at, type: 'rejected', reason: pick(REJECTS) });
    else if (r < 0.98) events.push({ seq, at, type: 'deferred', messageId, route: pick(ROUTES) });
    else events.push({ seq, at, type: 'bounced', messageId, route: pick(ROUTES), reason: rnd() < 0.8 ? 'permanent' : 'expired' });
  }
  return { after, events };
}

// ── the raw baseline: the same rows, prepared statements, one transaction per batch ────────────────────────────

/**
 * What ingest writes for a batch, precomputed outside the timing: the node's cursor, the minute outcome and latency
 * buckets (summed per batch, as ingest does), and the dirty hours for the rollup job.
 */
interface Rows {
  cursor: number;
  outcomes: ReturnType<typeof rollUp>['outcomes'];
  latency: ReturnType<typeof rollUp>['latency'];
  hours: number[];
}
function rowsOf(batch: { events: TelemetryEvent[] }): Rows {
  const { outcomes, latency } = rollUp(batch.events);
  const hours = [...new Set([...outcomes, ...latency].map((r) => hourOf(r.minute)))];
  return { cursor: batch.events[batch.events.length - 1].seq, outcomes, latency, hours };
}

function rawWriter(db: DB, nodeId: number): (rows: Rows) => void {
  const cursor = db.prepare(`INSERT INTO telemetry_cursors (node_id, cursor, updated_at) VALUES (?, ?, ?)
    ON CONFLICT(node_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`);
  const outcome = db.prepare(`INSERT INTO telemetry_minutes (node_id, minute, route, outcome, reason, count) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT(node_id, minute, route, outcome, reason) DO UPDATE SET count = count + excluded.count`);
  const lat = db.prepare(`INSERT INTO telemetry_latency_minutes (node_id, minute, route, bucket, count) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(node_id, minute, route, bucket) DO UPDATE SET count = count + excluded.count`);
  const dirty = db.prepare('INSERT OR IGNORE INTO telemetry_dirty_hours (hour) VALUES (?)');
  const write = db.transaction((rows: Rows) => {
    for (const o of rows.outcomes) outcome.run(nodeId, o.minute, o.route, o.outcome, o.reason, o.count);
    for (const l of rows.latency) lat.run(nodeId, l.minute, l.route, l.bucket, l.count);
    for (const h of rows.hours) dirty.run(h);
    cursor.run(nodeId, rows.cursor, Date.now());
  });
  return (rows) => write.immediate(rows);
}

// ── helpers ───────────────────────────────────────────────────────────────

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => n.toFixed(0).padStart(8);

function nodeIdOf(db: DB, name: string): number {
  return (db.prepare('SELECT id FROM mx_nodes WHERE name = ?').get(name) as { id: number }).id;
}

/** The rollup tables as comparable text (node ids differ between the two databases, so they are left out). */
function rollupContent(db: DB): string {
  return JSON.stringify([
    db.prepare('SELECT minute, route, outcome, reason, count FROM telemetry_minutes ORDER BY 1, 2, 3, 4').all(),
    db.prepare('SELECT minute, route, bucket, count FROM telemetry_latency_minutes ORDER BY 1, 2, 3').all(),
    db.prepare('SELECT hour FROM telemetry_dirty_hours ORDER BY 1').all(),
    db.prepare('SELECT cursor FROM telemetry_cursors').all(),
  ]);
}

const work = mkdtempSync(join(tmpdir(), 'tidings-bench-telemetry-'));
let server: ServerMain | undefined;
try {
  // The backend's state folder with a node token, as `cli mail node-token` makes it.
  const state = join(work, 'state');
  const setup = openBackendStore(state);
  const ctx = { db: setup, clock: () => new Date(), changes: createChangeCounter() };
  const token = issueNodeToken({ ctx, actor: { userId: null, name: 'bench' }, name: 'mx-bench' });
  setup.close();

  // The raw peer: another backend database (same schema, pragmas and seed: openBackendStore → openDatabase).
  const rawDb = openBackendStore(join(work, 'raw'));
  issueNodeToken({ ctx: { ...ctx, db: rawDb }, actor: { userId: null, name: 'bench' }, name: 'mx-bench' });
  const writeRaw = rawWriter(rawDb, nodeIdOf(rawDb, 'mx-bench'));

  // In-process: the same app over a third database, through app.request (no sockets, no HTTP parsing).
  const inDb = openBackendStore(join(work, 'inproc'));
  const inToken = issueNodeToken({ ctx: { ...ctx, db: inDb }, actor: { userId: null, name: 'bench' }, name: 'mx-bench' });
  const inApp = createApp({
    db: inDb,
    config: loadConfig({ TIDINGS_PUBLIC_URL: 'http://localhost:8080', TIDINGS_STATE_DIR: join(work, 'inproc') }, '/'),
    clock: () => new Date(),
    log: pino({ level: 'silent' }),
    changes: createChangeCounter(),
  });

  // The backend as `npm start` runs it (backend role: no MX node of its own shipping into the same tables).
  server = await startServerMain({ TIDINGS_STATE_DIR: state, TIDINGS_ROLE: 'backend' });
  const url = `${server.url}/api/v1/telemetry`;

  const post = async (body: string, viaHttp: boolean): Promise<void> => {
    const init = { method: 'POST', body, headers: { 'content-type': 'application/json' } as Record<string, string> };
    init.headers.authorization = `Bearer ${viaHttp ? token : inToken}`;
    const res = viaHttp
      ? await fetch(url, init)
      : await inApp.request('/api/v1/telemetry', init, { incoming: { socket: { remoteAddress: '127.0.0.1' } } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`batch refused: ${res.status} ${text}`);
    const ack = JSON.parse(text) as { applied: number };
    if (ack.applied !== BATCH) throw new Error(`batch applied ${ack.applied} of ${BATCH} events`);
  };

  /** One round: the same batches through HTTP, in-process and raw, each timed on its own; returns events/s each. */
  const round = async (n: number) => {
    const batches = Array.from({ length: n }, () => makeBatch(Date.now()));
    const bodies = batches.map((b) => JSON.stringify(b));
    const rows = batches.map(rowsOf);
    let t = performance.now();
    for (const body of bodies) await post(body, true);
    const http = (n * BATCH) / ((performance.now() - t) / 1000);
    t = performance.now();
    for (const body of bodies) await post(body, false);
    const inproc = (n * BATCH) / ((performance.now() - t) / 1000);
    t = performance.now();
    for (const r of rows) writeRaw(r);
    const raw = (n * BATCH) / ((performance.now() - t) / 1000);
    return { http, inproc, raw };
  };

  console.log(
    `telemetry ingest benchmark: ${BATCHES} batches of ${BATCH} events per run (after ${WARMUP} warm-up batches), ${REPEATS} runs, median; ${availableParallelism()} CPUs, Node ${process.versions.node}`,
  );
  console.log(
    `latency histogram: ${LATENCY_BUCKETS_MS.length + 1} buckets; mix ≈ 45% accepted, 38% delivered, 12% rejected, 3% deferred, 2% bounced`,
  );
  await round(WARMUP);
  const runs: { http: number; inproc: number; raw: number }[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const r = await round(BATCHES);
    runs.push(r);
    console.log(
      `run ${i + 1}: http ${fmt(r.http)} ev/s   in-process ${fmt(r.inproc)} ev/s   raw SQLite ${fmt(r.raw)} ev/s   http/raw ${(r.http / r.raw).toFixed(2)}`,
    );
  }

  // The three databases must hold the same rollups: the raw peer wrote exactly what ingest wrote.
  const served = openDatabase(join(state, 'backend.sqlite'));
  const same = rollupContent(served) === rollupContent(rawDb) && rollupContent(inDb) === rollupContent(rawDb);
  const rowCount = (served.prepare('SELECT count(*) AS n FROM telemetry_minutes').get() as { n: number }).n;
  const latCount = (served.prepare('SELECT count(*) AS n FROM telemetry_latency_minutes').get() as { n: number }).n;
  served.close();
  if (!same) throw new Error('the raw peer and the ingest wrote different rollup rows: the comparison is not like for like');
  const sumEvents = (db: DB) => (db.prepare('SELECT sum(count) AS n FROM telemetry_minutes').get() as { n: number }).n;
  const expected = (WARMUP + BATCHES * REPEATS) * BATCH;
  if (sumEvents(rawDb) !== expected) throw new Error(`raw peer counted ${sumEvents(rawDb)} events, expected ${expected}`);
  console.log(
    `rollup rows identical in all three databases (${rowCount} outcome rows, ${latCount} latency rows, ${expected} events counted)`,
  );

  const http = median(runs.map((r) => r.http));
  const inproc = median(runs.map((r) => r.inproc));
  const raw = median(runs.map((r) => r.raw));
  console.log('');
  console.log(`${'ingest over HTTP (server/main.ts process)'.padEnd(45)}${fmt(http)} events/s`);
  console.log(`${'ingest in-process (app.request, same app)'.padEnd(45)}${fmt(inproc)} events/s`);
  console.log(`${'raw SQLite (same rows, prepared, 1 tx/batch)'.padEnd(45)}${fmt(raw)} events/s`);
  console.log(`ratio      http/raw ${(http / raw).toFixed(2)}   in-process/raw ${(inproc / raw).toFixed(2)}   (goal ≥ 0.50 over HTTP)`);
  console.log(`goal: ${http / raw >= 0.5 ? 'met' : 'NOT met'}`);
  rawDb.close();
  inDb.close();
} finally {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}
