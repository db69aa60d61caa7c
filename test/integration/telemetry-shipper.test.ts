// The MX node's telemetry shipper against a loopback HTTP server playing the backend in its failure modes
// (down, 500, a late answer, a 409 that moves the cursor back, a hung request at shutdown): the cursor moves
// only on an acknowledgement, nothing is skipped or reordered, pruning removes only shipped old events.
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { type RejectReason, TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import { MIGRATIONS, openDatabase, type DB } from '#data/db.ts';
import type { Clock, Log } from '#mailsystem/deps.ts';
import { silentLog } from '#mailsystem/deps.ts';
import { QueueStore } from '#mailsystem/queue/store.ts';
import { createBackendPost } from '#mailsystem/telemetry/http.ts';
import { createShipper as createRealShipper, nextBackoffMs, type Shipper, type ShipperOptions } from '#mailsystem/telemetry/shipper.ts';
import { FakeTelemetryBackend } from '../support/telemetry-backend.ts';
import { waitFor } from '../support/wait.ts';

const REASONS: RejectReason[] = ['unknown-user', 'not-hosted', 'too-big', 'bare-newline', 'storage'];

/** Shippers and databases a test made: stopped and closed after it, also when an assertion failed midway. */
const shippers: Shipper[] = [];
const dbs: DB[] = [];

function freshDb(): { db: DB; store: QueueStore } {
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  dbs.push(db);
  return { db, store: new QueueStore(db) };
}

function createShipper(opts: ShipperOptions): Shipper {
  const s = createRealShipper(opts);
  shippers.push(s);
  return s;
}

/** Appends n rejected events at `at` through the node's own writer; returns their seqs. */
function reject(store: QueueStore, db: DB, n: number, at: number): number[] {
  for (let i = 0; i < n; i++) store.insertRejected({ at, reason: REASONS[i % REASONS.length], recipient: `u${i}@example.test` });
  return (db.prepare('SELECT seq FROM events ORDER BY seq DESC LIMIT ?').pluck().all(n) as number[]).reverse();
}

const allSeqs = (db: DB): number[] => db.prepare('SELECT seq FROM events ORDER BY seq').pluck().all() as number[];

function shipperFor(db: DB, backend: FakeTelemetryBackend, extra: Partial<ShipperOptions> = {}, timeoutMs = 2000) {
  const clock: Clock = { now: () => Date.now() };
  return createShipper({
    db,
    clock,
    log: silentLog,
    post: createBackendPost({ backendUrl: backend.url, token: 'mxn_test', requestTimeoutMs: timeoutMs }),
    ...extra,
  });
}

describe('telemetry shipper', () => {
  let backend: FakeTelemetryBackend;
  before(async () => {
    backend = await FakeTelemetryBackend.start();
  });
  after(async () => backend.stop());
  afterEach(async () => {
    for (const s of shippers.splice(0)) await s.stop();
    for (const db of dbs.splice(0)) db.close();
  });

  it('moves the cursor only on a 200 ack; down, 500 and a late answer keep it; a 409 moves it back; every event lands once, in order', async () => {
    backend.rollBackTo(0);
    backend.mode = 'ok';
    const { db, store } = freshDb();
    const seqs = reject(store, db, 25, Date.now());
    const s = shipperFor(db, backend, { batchSize: 10 }, 300);

    await backend.down();
    assert.equal((await s.shipOnce()).kind, 'failed', 'connection refused');
    assert.equal(s.cursor(), 0);
    await backend.up();

    backend.mode = 'error500';
    const five = await s.shipOnce();
    assert.equal(five.kind, 'failed');
    assert.match((five as { error: string }).error, /HTTP 500/);
    assert.equal(s.cursor(), 0);

    // Applied by the backend but answered after the node gave up: the node keeps its cursor and resends.
    backend.mode = { slowMs: 800 };
    assert.equal((await s.shipOnce()).kind, 'failed', 'timed out');
    assert.equal(s.cursor(), 0);
    assert.equal(backend.cursor, seqs[9], 'the backend did apply the first batch');

    backend.mode = 'ok';
    const first = await s.shipOnce();
    assert.deepEqual(first, { kind: 'acked', cursor: seqs[9], applied: 0, sent: 10, more: true }, 'the replay counts nothing again');
    assert.equal((await s.shipOnce()).kind, 'acked');
    assert.equal(s.cursor(), seqs[19]);

    // The backend lost everything after seq 10 (restored from a backup): it answers 409 with its cursor.
    backend.rollBackTo(seqs[9]);
    assert.deepEqual(await s.shipOnce(), { kind: 'rewound', cursor: seqs[9] });
    assert.equal(s.cursor(), seqs[9], 'the cursor went back');
    assert.equal((await s.shipOnce()).kind, 'acked');
    assert.deepEqual(await s.shipOnce(), { kind: 'acked', cursor: seqs[24], applied: 5, sent: 5, more: false });
    assert.deepEqual(await s.shipOnce(), { kind: 'idle' });

    assert.deepEqual(
      backend.applied.map((e) => e.seq),
      seqs,
      'the backend holds every event exactly once, in seq order',
    );
    for (const b of backend.batches) assert.ok(b.seqs.length <= 10, 'no batch above the batch size');
    await s.stop();
    db.close();
  });

  it('keeps everything while the backend is down, backs off, and ships the backlog in order after recovery (its own timer)', async () => {
    backend.rollBackTo(0);
    backend.mode = 'ok';
    backend.batches = [];
    const { db, store } = freshDb();
    let attempts = 0;
    const post = createBackendPost({ backendUrl: backend.url, token: 'mxn_test', requestTimeoutMs: 1000 });
    const s = createShipper({
      db,
      clock: { now: () => Date.now() },
      log: silentLog,
      post: (path, body, signal) => {
        if (path === '/api/v1/telemetry') attempts++;
        return post(path, body, signal);
      },
      batchSize: 7,
      intervalMs: 20,
      heartbeatIntervalMs: 60_000,
      minBackoffMs: 10,
      maxBackoffMs: 40,
    });
    await backend.down();
    s.start();
    reject(store, db, 20, Date.now());
    await waitFor(() => attempts >= 4, 'several failed attempts while down');
    reject(store, db, 20, Date.now()); // the node keeps writing its log meanwhile
    assert.equal(s.cursor(), 0, 'nothing acknowledged, nothing moved');
    assert.equal(allSeqs(db).length, 40, 'nothing dropped');
    await backend.up();
    const seqs = allSeqs(db);
    await waitFor(
      () => backend.cursor === seqs[seqs.length - 1],
      () => `backlog shipped (backend at ${backend.cursor})`,
    );
    await waitFor(() => s.cursor() === seqs[seqs.length - 1], 'the node took the ack');
    assert.deepEqual(
      backend.applied.map((e) => e.seq),
      seqs,
    );
    // Bounded work per tick: every POST carried at most one batch of 7, in order, without overlap.
    assert.ok(backend.batches.length >= 6);
    for (const b of backend.batches) assert.ok(b.seqs.length <= 7, `a batch of ${b.seqs.length}`);
    await s.stop();
    db.close();
  });

  it('one tick ships one batch: the batch size bounds the work, the rest waits for the next tick', async () => {
    backend.rollBackTo(0);
    backend.mode = 'ok';
    backend.batches = [];
    const { db, store } = freshDb();
    const seqs = reject(store, db, 30, Date.now());
    const s = shipperFor(db, backend, { batchSize: 7 });
    const r = await s.shipOnce();
    assert.deepEqual(r, { kind: 'acked', cursor: seqs[6], applied: 7, sent: 7, more: true });
    assert.deepEqual(backend.batches, [{ after: 0, seqs: seqs.slice(0, 7) }]);
    // The configured size can never exceed the contract's maximum.
    const big = shipperFor(db, backend, { batchSize: 5000 });
    reject(store, db, 1200, Date.now());
    await big.shipOnce();
    assert.equal(backend.batches[1].seqs.length, 1000);
    await s.stop();
    await big.stop();
    db.close();
  });

  it('backs off from the minimum, doubling, up to the maximum', () => {
    const waits: number[] = [];
    let w = 0;
    for (let i = 0; i < 9; i++) {
      w = nextBackoffMs(w, 1000, 60_000);
      waits.push(w);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('a row that does not map to the contract stops shipping loudly; nothing after it is skipped', async () => {
    backend.rollBackTo(0);
    backend.mode = 'ok';
    backend.batches = [];
    const { db, store } = freshDb();
    reject(store, db, 3, Date.now());
    // A row the typed writer cannot produce (a free-string reason), as an old or buggy writer might leave.
    db.prepare("INSERT INTO events (at, type, reason) VALUES (?, 'rejected', 'tempfail')").run(Date.now());
    reject(store, db, 3, Date.now());
    const errors: object[] = [];
    const log: Log = { ...silentLog, error: (o) => void errors.push(o as object) };
    const s = createShipper({
      db,
      clock: { now: () => Date.now() },
      log,
      post: createBackendPost({ backendUrl: backend.url, token: 'mxn_test' }),
    });
    const r = await s.shipOnce();
    assert.equal(r.kind, 'broken');
    assert.equal((r as { seq: number }).seq, 4);
    assert.equal(s.broken, true);
    assert.equal(errors.length, 1, 'logged at error level');
    assert.match(JSON.stringify(errors[0]), /tempfail/);
    assert.equal((await s.shipOnce()).kind, 'broken', 'it stays stopped');
    assert.equal(backend.batches.length, 0, 'nothing was sent around the bad row');
    assert.equal(s.cursor(), 0);
    db.close();
  });

  it('prunes only shipped events older than the retention, a bounded number per step', async () => {
    backend.rollBackTo(0);
    backend.mode = 'ok';
    const { db, store } = freshDb();
    const day = 86_400_000;
    let now = Date.now();
    const clock: Clock = { now: () => now };
    const s = createShipper({
      db,
      clock,
      log: silentLog,
      post: createBackendPost({ backendUrl: backend.url, token: 'mxn_test' }),
      batchSize: 5,
      retentionMs: 7 * day,
      pruneBatch: 2,
    });
    const old = reject(store, db, 10, now - 8 * day);
    const recent = reject(store, db, 5, now - 1 * day);
    assert.equal(s.pruneOnce(), 0, 'nothing shipped, nothing pruned');
    now += 1; // a tick later
    const r = await s.shipOnce(); // ships 1..5, then one prune step of 2
    assert.equal(r.kind, 'acked');
    assert.deepEqual(allSeqs(db), [...old.slice(2), ...recent]);
    assert.equal(s.pruneOnce(), 2);
    assert.equal(s.pruneOnce(), 1);
    assert.equal(s.pruneOnce(), 0, 'old but unshipped events stay');
    assert.deepEqual(allSeqs(db), [...old.slice(5), ...recent]);
    while ((await s.shipOnce()).kind === 'acked');
    while (s.pruneOnce() > 0);
    assert.deepEqual(allSeqs(db), recent, 'shipped but recent events stay');
    assert.deepEqual(
      backend.applied.map((e) => e.seq),
      [...old, ...recent],
    );
    // Once they age past the retention they go too; the heartbeat's lastSeq still knows the highest seq.
    now += 7 * day;
    while (s.pruneOnce() > 0);
    assert.deepEqual(allSeqs(db), []);
    await s.heartbeatOnce();
    assert.equal(backend.heartbeats.at(-1)?.beat.lastSeq, recent[recent.length - 1]);
    await s.stop();
    db.close();
  });

  it('sends heartbeats on their interval with the queue, replica and log gauges, mail or no mail', async () => {
    backend.heartbeats = [];
    const { db, store } = freshDb();
    const t0 = Date.now() - 5000;
    store.insertAccepted({
      id: 'm1',
      receivedAt: t0,
      envelopeFrom: 's@remote.test',
      clientIp: '192.0.2.1',
      helo: 'remote.test',
      body: Buffer.from('Subject: x\r\n\r\nx\r\n'),
      deliveries: [
        { recipient: 'a@example.test', route: { kind: 'maildir', mailbox: 'a@example.test' } },
        { recipient: 'b@example.test', route: { kind: 'forward', to: 'b@elsewhere.test' } },
        { recipient: 'c@example.test', route: { kind: 'maildir', mailbox: 'c@example.test' } },
      ],
    });
    const claimed = store.claimDue('test', Date.now(), 60_000, 3);
    store.recordDeferred(claimed[1], Date.now(), Date.now() + 60_000, '451 try later');
    store.recordDelivered(claimed[2], Date.now(), '250 ok');
    db.prepare("UPDATE replica_state SET version = 7, synced_at = '2026-12-02T04:00:00.000Z' WHERE id = 1").run();
    const lastSeq = db.prepare('SELECT max(seq) FROM events').pluck().get() as number;

    const s = shipperFor(db, backend, { heartbeatIntervalMs: 100, intervalMs: 50 });
    s.start();
    while (backend.heartbeats.length < 4) await once(backend, 'heartbeat');
    await s.stop();
    const beats = backend.heartbeats.map((h) => h.beat);
    for (const b of beats) TelemetryHeartbeat.parse(b);
    const b = beats[beats.length - 1];
    assert.equal(b.queueDepth, 2, 'the deferred and the claimed-but-unfinished delivery are queued');
    assert.equal(b.inRetry, 1, 'the deferred one waits for a retry');
    assert.ok(b.oldestQueuedMs !== null && b.oldestQueuedMs >= 5000, `oldest queued ${b.oldestQueuedMs}`);
    assert.equal(b.configVersion, 7);
    assert.equal(b.lastSyncAt, Date.parse('2026-12-02T04:00:00.000Z'));
    assert.equal(b.lastSeq, lastSeq);
    const received = backend.heartbeats.map((h) => h.received);
    for (let i = 2; i < received.length; i++)
      assert.ok(received[i] - received[i - 1] >= 90, `heartbeats ${received[i] - received[i - 1]} ms apart, interval 100 ms`);
    db.close();
  });

  it('stop() aborts a POST in flight promptly and leaves the cursor where it was', { timeout: 10_000 }, async () => {
    backend.rollBackTo(0);
    backend.mode = 'hang';
    const { db, store } = freshDb();
    reject(store, db, 5, Date.now());
    const s = shipperFor(db, backend, { heartbeatIntervalMs: 60_000 }, 60_000);
    const hanging = once(backend, 'hanging');
    s.start();
    await hanging;
    const aborted = once(backend, 'aborted');
    await s.stop(); // with a 60 s request timeout, only the abort ends this before the test's 10 s timeout
    await aborted;
    assert.equal(s.cursor(), 0);
    backend.mode = 'ok';
    db.close();
  });
});
