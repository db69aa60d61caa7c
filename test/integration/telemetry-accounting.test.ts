// The accounting line (data/contracts/telemetry-accounting.ts) from a real node queue, shipped by the real shipper
// into the real ingest: it balances to unaccounted 0 when nothing is lost, and it can FAIL: an event lost on the way,
// a delivery logged twice, or a heartbeat reading that does not match the events all show as unaccounted != 0.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TelemetryBatch, type TelemetryEvent, TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import { MIGRATIONS, migrate, openDatabase, type DB } from '#data/db.ts';
import { silentLog } from '#mailsystem/deps.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import { QueueStore, type ClaimedDelivery } from '#mailsystem/queue/store.ts';
import { createShipper, type Shipper } from '#mailsystem/telemetry/shipper.ts';
import type { PostResult } from '#mailsystem/telemetry/http.ts';
import { accounting } from '#server/services/telemetry/accounting.ts';
import { ingestBatch, TelemetryGap } from '#server/services/telemetry/ingestBatch.ts';
import { recordHeartbeat } from '#server/services/telemetry/recordHeartbeat.ts';
import { findNodeByTokenHash, upsertNodeToken, type MxNode } from '#server/store/mail.ts';

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const MIN = 60_000;
const MAILDIR: Route = { kind: 'maildir', mailbox: 'a@example.test' } as Route;
const FORWARD: Route = { kind: 'forward', to: 'x@elsewhere.test' } as Route;

interface World {
  backend: DB;
  node: MxNode;
  nodeDb: DB;
  store: QueueStore;
  shipper: Shipper;
  clock: { t: number };
  /** Rewrites each batch on its way to the backend (to lose or alter events in transit). */
  transit: (events: TelemetryEvent[]) => TelemetryEvent[];
  /** Heartbeats the backend answered, and how many batch POSTs it saw. */
  posts: { batches: number; beats: number };
  /** How long a heartbeat POST takes to reach the backend (ms). */
  beatDelayMs: number;
}

function world(batchSize = 7): World {
  const backend = openDatabase(':memory:', { migrationsDir: MIGRATIONS.backend });
  upsertNodeToken(backend, 'mx1', 'hash-mx1', new Date(T0).toISOString());
  const node = findNodeByTokenHash(backend, 'hash-mx1') as MxNode;
  const nodeDb = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const clock = { t: T0 };
  const w = { backend, node, nodeDb, clock, transit: (e: TelemetryEvent[]) => e, posts: { batches: 0, beats: 0 }, beatDelayMs: 0 } as World;
  // The backend's services behind the shipper's one way out, as the HTTP routes call them (validated by the contract).
  const post = async (path: string, body: unknown): Promise<PostResult> => {
    const bclock = () => new Date(clock.t);
    if (path === '/api/v1/telemetry/heartbeat') {
      if (w.beatDelayMs > 0) await new Promise((r) => setTimeout(r, w.beatDelayMs));
      w.posts.beats++;
      recordHeartbeat({ db: backend, clock: bclock, node, heartbeat: TelemetryHeartbeat.parse(body) });
      return { status: 200, body: {} };
    }
    w.posts.batches++;
    const parsed = TelemetryBatch.parse(body);
    const events = w.transit(parsed.events);
    try {
      return { status: 200, body: ingestBatch({ db: backend, clock: bclock, node, batch: { after: parsed.after, events } }) };
    } catch (err) {
      if (err instanceof TelemetryGap) return { status: 409, body: { cursor: err.cursor } };
      throw err;
    }
  };
  w.store = new QueueStore(nodeDb);
  w.shipper = createShipper({ db: nodeDb, clock: { now: () => clock.t }, log: silentLog, post, batchSize });
  return w;
}

let ids = 0;
function accept(w: World, routes: Route[], origin?: 'dsn'): string {
  const id = `m${++ids}`;
  w.store.insertAccepted({
    id,
    receivedAt: w.clock.t,
    envelopeFrom: origin ? '' : 's@remote.test',
    clientIp: '192.0.2.1',
    helo: 'h',
    body: Buffer.from('x'),
    origin,
    deliveries: routes.map((route, i) => ({ recipient: `r${i}@example.test`, route })),
  });
  return id;
}

function claim(w: World, n = 1000): ClaimedDelivery[] {
  return w.store.claimDue('t', w.clock.t, 60_000, n);
}

async function shipAll(w: World): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const r = await w.shipper.shipOnce();
    if (r.kind === 'idle') return;
    assert.ok(r.kind === 'acked' || r.kind === 'rewound', `shipping: ${JSON.stringify(r)}`);
  }
  assert.fail('shipping did not end');
}

const everything = { from: T0 - 60 * MIN, to: T0 + 600 * MIN };
const line = (w: World, range = everything) => accounting(w.backend, range, new Date(w.clock.t));

/** A mix: multi-recipient messages, a DSN, deliveries delivered, deferred, bounced, some left queued. */
async function traffic(w: World): Promise<void> {
  accept(w, [MAILDIR, MAILDIR, FORWARD]);
  accept(w, [MAILDIR]);
  accept(w, [FORWARD, FORWARD]);
  w.clock.t += 1_000;
  const [a, b, c, d, e, f] = claim(w);
  w.store.recordDelivered(a, w.clock.t, '250');
  w.store.recordDelivered(b, w.clock.t, '250');
  w.store.recordDeferred(c, w.clock.t, w.clock.t + 5_000, '451');
  w.store.recordDelivered(d, w.clock.t, '250');
  w.store.recordBounced(e, w.clock.t, '550', 'permanent');
  accept(w, [FORWARD], 'dsn');
  w.store.recordDeferred(f, w.clock.t, w.clock.t + 5_000, '451');
}

test('a real queue shipped by the real shipper balances: unaccounted 0, queued as the node measured it', async (t) => {
  const w = world();
  t.after(() => w.shipper.stop());
  assert.equal(line(w), null, 'no reading yet: no line');
  await traffic(w);
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  const l = line(w);
  assert.ok(l);
  assert.deepEqual(
    { ...l, from: undefined, to: undefined },
    {
      from: undefined,
      to: undefined,
      measuredFrom: null, // the node's first event: the backend holds all of them
      measuredTo: new Date(T0 + 1_000).toISOString(),
      acceptedMessages: 3,
      carriedIn: 0,
      accepted: 6,
      dsn: 1,
      released: 0,
      delivered: 3,
      bounced: 1,
      quarantined: 0,
      discarded: 0,
      queued: 3, // two deferred, the DSN
      uncountedMessages: 0,
      unaccounted: 0,
    },
  );
});

test('a reading taken while shipping lags waits for the batch that reaches its seq; ranges run reading to reading', async (t) => {
  const w = world();
  t.after(() => w.shipper.stop());
  await traffic(w);
  await w.shipper.heartbeatOnce(); // nothing shipped yet: the reading waits
  const pending = w.backend.prepare('SELECT pending_seq AS s FROM telemetry_accounts').get() as { s: number };
  assert.ok(pending.s > 0);
  assert.equal(line(w), null, 'the reading is not a checkpoint until its events are in');
  // More mail after the reading, shipped together with what came before it.
  w.clock.t = T0 + 2 * MIN;
  accept(w, [MAILDIR, MAILDIR]);
  await shipAll(w);
  const first = line(w);
  assert.ok(first);
  assert.equal(first.queued, 3, 'the reading, paired with the events up to its seq (not the two accepted after it)');
  assert.equal(first.accepted, 6);
  assert.equal(first.unaccounted, 0);

  // Deliver everything later; a second reading.
  w.clock.t = T0 + 10 * MIN;
  for (const d of claim(w)) w.store.recordDelivered(d, w.clock.t, '250');
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  const later = line(w, { from: T0 + 5 * MIN, to: T0 + 20 * MIN });
  assert.ok(later);
  assert.equal(later.measuredFrom, new Date(T0 + 1_000).toISOString(), 'starts at the last reading at or before `from`');
  assert.equal(later.measuredTo, new Date(T0 + 10 * MIN).toISOString());
  assert.equal(later.carriedIn, 3, 'what the first reading measured');
  assert.equal(later.accepted, 2, 'the two accepted after the first reading');
  assert.equal(later.delivered, 5);
  assert.equal(later.queued, 0);
  assert.equal(later.unaccounted, 0);
  assert.equal(line(w, { from: T0 - 60 * MIN, to: T0 - 1 })?.unaccounted ?? null, null, 'no reading by `to`: no line');
});

test('a delivered event lost on the way to the backend shows as unaccounted +1 (the queue says delivered)', async (t) => {
  const w = world();
  t.after(() => w.shipper.stop());
  await traffic(w);
  let lost = false;
  w.transit = (events) =>
    events.filter((e) => {
      if (lost || e.type !== 'delivered') return true;
      lost = true;
      return false;
    });
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  assert.ok(lost);
  const l = line(w);
  assert.equal(l?.delivered, 2);
  assert.equal(l?.unaccounted, 1);
});

test('an event row missing from the node log (deleted before shipping) shows as unaccounted', async (t) => {
  const w = world();
  t.after(() => w.shipper.stop());
  await traffic(w);
  w.nodeDb.prepare("DELETE FROM events WHERE seq = (SELECT min(seq) FROM events WHERE type = 'bounced')").run();
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  assert.equal(line(w)?.unaccounted, 1);
});

test('a delivery logged twice shows as unaccounted -1, an accepted message counted twice as +its deliveries', async (t) => {
  const w = world();
  t.after(() => w.shipper.stop());
  await traffic(w);
  w.nodeDb
    .prepare(`INSERT INTO events (at, type, message_id, delivery_id, recipient, route_kind, latency_ms)
              SELECT at, type, message_id, delivery_id, recipient, route_kind, latency_ms FROM events WHERE type = 'delivered' LIMIT 1`)
    .run();
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  assert.equal(line(w)?.unaccounted, -1);

  const v = world();
  t.after(() => v.shipper.stop());
  await traffic(v);
  v.nodeDb
    .prepare(`INSERT INTO events (at, type, message_id, detail)
              SELECT at, type, message_id, detail FROM events WHERE type = 'accepted' ORDER BY seq LIMIT 1`)
    .run();
  await shipAll(v);
  await v.shipper.heartbeatOnce();
  assert.equal(line(v)?.unaccounted, 3, 'the first message created three deliveries');
});

test('replays and overlapping batches do not change the line (ingest is idempotent by seq)', async (t) => {
  const w = world();
  t.after(() => w.shipper.stop());
  await traffic(w);
  const sent: TelemetryBatch[] = [];
  w.transit = (events) => {
    sent.push({ after: 0, events });
    return events;
  };
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  const before = line(w);
  for (const b of sent) ingestBatch({ db: w.backend, clock: () => new Date(w.clock.t), node: w.node, batch: b });
  const all = sent.flatMap((b) => b.events);
  ingestBatch({ db: w.backend, clock: () => new Date(w.clock.t), node: w.node, batch: { after: 0, events: all } });
  await w.shipper.heartbeatOnce();
  assert.deepEqual(line(w), before);
  assert.equal(before?.unaccounted, 0);
});

test('a node that does not say how many deliveries a message created: unaccounted is null, never a guess', async (t) => {
  const w = world();
  t.after(() => w.shipper.stop());
  await traffic(w);
  // An older node: its accepted events carry no count.
  w.transit = (events) => events.map((e) => (e.type === 'accepted' ? { ...e, deliveries: undefined } : e));
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  const l = line(w);
  assert.equal(l?.uncountedMessages, 3);
  assert.equal(l?.acceptedMessages, 3);
  assert.equal(l?.queued, 3, 'the queue is still measured');
  assert.equal(l?.unaccounted, null);
  // Once it is upgraded, ranges that start at a reading after its uncounted messages are exact again.
  w.transit = (events) => events;
  w.clock.t = T0 + 10 * MIN;
  accept(w, [MAILDIR]);
  for (const d of claim(w)) w.store.recordDelivered(d, w.clock.t, '250');
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  const after = line(w, { from: T0 + 5 * MIN, to: T0 + 20 * MIN });
  assert.equal(after?.uncountedMessages, 0);
  assert.equal(after?.carriedIn, 3);
  assert.equal(after?.accepted, 1);
  assert.equal(after?.delivered, 4);
  assert.equal(after?.unaccounted, 0);
});

test('a heartbeat that arrives after events past its seq is not paired (counted as skipped), never mispaired', () => {
  const w = world();
  const beat = { at: T0, queueDepth: 5, oldestQueuedMs: 1, inRetry: 0, configVersion: 0, lastSyncAt: null, lastSeq: 1 };
  ingestBatch({
    db: w.backend,
    clock: () => new Date(T0),
    node: w.node,
    batch: {
      after: 0,
      events: [
        { seq: 1, at: T0, type: 'accepted', messageId: 'a', deliveries: 1 },
        { seq: 2, at: T0, type: 'accepted', messageId: 'b', deliveries: 1 },
      ],
    },
  });
  recordHeartbeat({ db: w.backend, clock: () => new Date(T0), node: w.node, heartbeat: beat });
  assert.equal((w.backend.prepare('SELECT skipped FROM telemetry_accounts').get() as { skipped: number }).skipped, 1);
  assert.equal(line(w), null);
  recordHeartbeat({ db: w.backend, clock: () => new Date(T0), node: w.node, heartbeat: { ...beat, lastSeq: 2, queueDepth: 2 } });
  assert.equal(line(w)?.unaccounted, 0);
});

test('the shipper sends batches and heartbeats one at a time, so a reading never trails the events the backend holds', async (t) => {
  const w = world(500);
  t.after(() => w.shipper.stop());
  await traffic(w);
  // A heartbeat on the wire (slow), then more mail and a shipping tick: were they sent side by side, the batch (read
  // after the heartbeat, so holding events past its seq) would reach the backend first and the reading could not pair.
  w.beatDelayMs = 30;
  const beat = w.shipper.heartbeatOnce();
  accept(w, [MAILDIR]);
  const shipped = w.shipper.shipOnce();
  await Promise.all([beat, shipped]);
  w.beatDelayMs = 0;
  await shipAll(w);
  await w.shipper.heartbeatOnce();
  assert.equal((w.backend.prepare('SELECT skipped FROM telemetry_accounts').get() as { skipped: number }).skipped, 0);
  const l = line(w);
  assert.equal(l?.accepted, 7);
  assert.equal(l?.unaccounted, 0);
});

test('readings: each distinct one is kept, the latest where the seq did not move in a minute; past 14 days the last of each hour', () => {
  const w = world();
  const beat = (at: number, queueDepth: number, lastSeq: number) =>
    recordHeartbeat({
      db: w.backend,
      clock: () => new Date(at),
      node: w.node,
      heartbeat: { at, queueDepth, oldestQueuedMs: null, inRetry: 0, configVersion: 0, lastSyncAt: null, lastSeq },
    });
  const events = (after: number, at: number, list: Record<string, unknown>[]) =>
    ingestBatch({
      db: w.backend,
      clock: () => new Date(at),
      node: w.node,
      batch: { after, events: list.map((e, i) => ({ ...e, seq: after + i + 1, at }) as TelemetryEvent) },
    });
  const H = 60 * MIN;
  const D0 = T0 - (T0 % (24 * H)) - 20 * 24 * H; // a UTC midnight 20 days back
  // Hour 0: a message accepted and delivered within minute 1, readings before, between and after.
  beat(D0, 0, 0);
  events(0, D0 + MIN, [{ type: 'accepted', messageId: 'a', deliveries: 1 }]);
  beat(D0 + MIN + 1, 1, 1);
  beat(D0 + MIN + 20_000, 1, 1); // nothing happened since: the same reading, later
  events(1, D0 + MIN + 30_000, [{ type: 'delivered', messageId: 'a', route: 'maildir', latencyMs: 5 }]);
  beat(D0 + MIN + 40_000, 0, 2);
  beat(D0 + 2 * MIN, 0, 2);
  // Hour 1: two readings of an idle node.
  beat(D0 + H + MIN, 0, 2);
  beat(D0 + H + 2 * MIN, 0, 2);
  const rows = () =>
    (w.backend.prepare('SELECT at, seq FROM telemetry_checkpoints ORDER BY at').all() as { at: number; seq: number }[]).map((r) => [
      (r.at - D0) / 1000,
      r.seq,
    ]);
  assert.deepEqual(rows(), [
    [0, 0],
    [80, 1],
    [100, 2],
    [120, 2],
    [3660, 2],
    [3720, 2],
  ]);
  // A range starting between the two readings of minute 1 starts at the one before it.
  const between = line(w, { from: D0 + MIN + 25_000, to: D0 + 2 * H });
  assert.equal(between?.measuredFrom, new Date(D0 + MIN + 20_000).toISOString());
  assert.deepEqual([between?.carriedIn, between?.accepted, between?.delivered, between?.unaccounted], [1, 0, 1, 0]);
  // 15 days later, the first reading of a new hour thins what is older than 14 days to the last reading of each hour.
  beat(D0 + 15 * 24 * H + 5 * MIN, 0, 2);
  assert.deepEqual(rows(), [
    [120, 2],
    [3720, 2],
    [15 * 24 * 3600 + 300, 2],
  ]);
  const l = line(w, { from: D0 - MIN, to: D0 + 16 * 24 * H });
  assert.equal(l?.accepted, 1);
  assert.equal(l?.delivered, 1);
  assert.equal(l?.unaccounted, 0);
});

test('a node that shipped before the accounting existed: its line starts at its first reading after the upgrade', (t) => {
  // The backend as it was before migration 009, with a node that has shipped events 1..3 (one message still queued).
  const dir = mkdtempSync(join(tmpdir(), 'tidings-acc-mig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of readdirSync(MIGRATIONS.backend).filter((f) => f < '009')) cpSync(join(MIGRATIONS.backend, f), join(dir, f));
  const db = openDatabase(':memory:', { migrationsDir: dir });
  upsertNodeToken(db, 'old', 'hash-old', new Date(T0).toISOString());
  const node = findNodeByTokenHash(db, 'hash-old') as MxNode;
  const clock = () => new Date(T0 + 10 * MIN);
  // What the old ingest left: the node's cursor at seq 3 (two messages accepted, one delivered).
  db.prepare('INSERT INTO telemetry_cursors (node_id, cursor, updated_at) VALUES (?, 3, ?)').run(node.id, T0);
  migrate(db, MIGRATIONS.backend);
  assert.deepEqual(db.prepare('SELECT seq, origin_seq AS originSeq FROM telemetry_accounts').get(), { seq: 3, originSeq: 3 });
  const beat = (at: number, queueDepth: number, lastSeq: number) =>
    recordHeartbeat({
      db,
      clock,
      node,
      heartbeat: { at, queueDepth, oldestQueuedMs: null, inRetry: 0, configVersion: 0, lastSyncAt: null, lastSeq },
    });
  beat(T0 + 2 * MIN, 1, 3);
  ingestBatch({
    db,
    clock,
    node,
    batch: { after: 3, events: [{ seq: 4, at: T0 + 3 * MIN, type: 'delivered', messageId: 'b', route: 'maildir', latencyMs: 9 }] },
  });
  beat(T0 + 4 * MIN, 0, 4);
  const l = accounting(db, { from: T0 - 60 * MIN, to: T0 + 60 * MIN }, clock());
  assert.equal(l?.measuredFrom, new Date(T0 + 2 * MIN).toISOString(), 'not from its first event: those were counted before');
  assert.equal(l?.carriedIn, 1);
  assert.equal(l?.accepted, 0);
  assert.equal(l?.delivered, 1);
  assert.equal(l?.queued, 0);
  assert.equal(l?.unaccounted, 0);
  db.close();
});
