// The node's event log speaks the telemetry contract: every row the typed writer produces maps to a valid
// TelemetryEvent, a DSN is logged as 'dsn' (its origin a column, no longer JSON), migration 004 moves old
// rows over, and a 451 storage failure is recorded as a 'storage' refusal.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REJECT_REASONS, type TelemetryEvent } from '#data/contracts/telemetry.ts';
import { MIGRATIONS, migrate, openDatabase, type DB } from '#data/db.ts';
import { DEFAULT_INGRESS } from '#mailsystem/app.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { QueueStore, type RejectedEvent } from '#mailsystem/queue/store.ts';
import { Ingress } from '#mailsystem/smtp/ingress.ts';
import { type EventLogRow, eventLog, toTelemetryEvent } from '#mailsystem/telemetry/events.ts';
import { fakeDirectory, maildirUsers } from '../support/fake-directory.ts';
import { RawSmtp } from '../support/smtp-client.ts';

/** The rows as the shipper reads them. */
const rows = (db: DB): EventLogRow[] => eventLog(db).after(0, 100_000);

function mapAll(db: DB): TelemetryEvent[] {
  return rows(db).map((r) => {
    const m = toTelemetryEvent(r);
    assert.ok(m.ok, `row ${JSON.stringify(r)} maps: ${m.ok ? '' : m.error}`);
    return m.event;
  });
}

test('every event the store writes maps to the contract: accepted, dsn, every reject reason, delivered, deferred, bounced', () => {
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const store = new QueueStore(db);
  const now = 1_800_000_000_000;
  for (const reason of REJECT_REASONS) store.insertRejected({ at: now, reason, detail: { ip: '192.0.2.1' } });
  const message = (id: string, origin?: 'dsn') => ({
    id,
    receivedAt: now,
    envelopeFrom: origin ? '' : 's@remote.test',
    clientIp: '',
    helo: '',
    body: Buffer.from('x'),
    origin,
    deliveries: [
      { recipient: 'a@example.test', route: { kind: 'maildir', mailbox: 'a@example.test' } as const },
      { recipient: 'b@example.test', route: { kind: 'lmtp', mailbox: 'b@example.test', host: '127.0.0.1', port: 24 } as const },
      { recipient: 'c@example.test', route: { kind: 'forward', to: 'c@elsewhere.test' } as const },
    ],
  });
  store.insertAccepted(message('m1'));
  store.insertAccepted(message('d1', 'dsn'));
  const [a, b, c] = store.claimDue('t', now + 10, 60_000, 3).filter((d) => d.messageId === 'm1');
  store.recordDelivered(a, now + 1500, '250 ok');
  store.recordDeferred(b, now + 1600, now + 60_000, '451 later');
  store.recordBounced(c, now + 1700, '550 no', 'permanent');

  const events = mapAll(db);
  assert.deepEqual(
    events.filter((e) => e.type === 'rejected').map((e) => e.reason),
    [...REJECT_REASONS],
  );
  const rest = events.filter((e) => e.type !== 'rejected').map(({ seq: _s, at: _a, ...e }) => e);
  assert.deepEqual(rest, [
    { type: 'accepted', messageId: 'm1', deliveries: 3 },
    { type: 'dsn', messageId: 'd1', deliveries: 3 },
    { type: 'delivered', messageId: 'm1', route: 'maildir', latencyMs: 1500 },
    { type: 'deferred', messageId: 'm1', route: 'lmtp' },
    { type: 'bounced', messageId: 'm1', route: 'forward', reason: 'permanent' },
  ]);
  assert.deepEqual(db.prepare('SELECT id, origin FROM messages ORDER BY id').all(), [
    { id: 'd1', origin: 'dsn' },
    { id: 'm1', origin: 'smtp' },
  ]);
  db.close();
});

test('rows outside the contract do not map: a free-string reason, an unknown type, a delivery without its route', () => {
  const base = { seq: 1, at: 1, message_id: 'm', route_kind: null, latency_ms: null, reason: null, deliveries: null };
  assert.equal(toTelemetryEvent({ ...base, type: 'rejected', reason: 'tempfail' }).ok, false);
  assert.equal(toTelemetryEvent({ ...base, type: 'exploded' }).ok, false);
  assert.equal(toTelemetryEvent({ ...base, type: 'delivered', latency_ms: 5 }).ok, false);
  assert.equal(toTelemetryEvent({ ...base, type: 'bounced', route_kind: 'maildir', reason: 'tempfail' }).ok, false);
  assert.equal(toTelemetryEvent({ ...base, type: 'rejected', reason: 'storage' }).ok, true);
});

test("migration 004 moves a DSN's origin out of the accepted event's JSON into messages.origin and a 'dsn' event", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-mig4-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['001_queue.sql', '002_replica.sql', '003_message_bodies.sql']) cpSync(join(MIGRATIONS.node, f), join(dir, f));
  const db = openDatabase(':memory:');
  migrate(db, dir);
  const msg = db.prepare(`INSERT INTO messages (id, received_at, envelope_from, size) VALUES (?, 1, '', 1)`);
  const ev = db.prepare(`INSERT INTO events (at, type, message_id, detail) VALUES (1, 'accepted', ?, ?)`);
  msg.run('m1');
  ev.run('m1', JSON.stringify({ size: 1, deliveries: 1, origin: 'smtp' }));
  msg.run('d1');
  ev.run('d1', JSON.stringify({ size: 1, deliveries: 1, origin: 'dsn' }));
  // Exactly 004, whatever later migrations add.
  cpSync(join(MIGRATIONS.node, '004_telemetry.sql'), join(dir, '004_telemetry.sql'));
  assert.equal(migrate(db, dir), 1);
  assert.deepEqual(db.prepare('SELECT id, origin FROM messages ORDER BY id').all(), [
    { id: 'd1', origin: 'dsn' },
    { id: 'm1', origin: 'smtp' },
  ]);
  assert.deepEqual(db.prepare('SELECT type, message_id, detail FROM events ORDER BY seq').all(), [
    { type: 'accepted', message_id: 'm1', detail: '{"size":1,"deliveries":1}' },
    { type: 'dsn', message_id: 'd1', detail: '{"size":1,"deliveries":1}' },
  ]);
  assert.deepEqual(db.prepare('SELECT acked_seq, updated_at FROM telemetry_cursor').all(), [{ acked_seq: 0, updated_at: null }]);
  assert.throws(() => db.prepare(`UPDATE messages SET origin = 'carrier-pigeon'`).run(), /CHECK/);
  db.close();
});

test("a 451 because the queue could not store the message is recorded as a 'storage' refusal", async (t) => {
  const recorded: RejectedEvent[] = [];
  const ingress = new Ingress(
    { ...DEFAULT_INGRESS, serverName: 'mx.test' },
    {
      directory: fakeDirectory(maildirUsers(1)),
      clock: systemClock,
      log: silentLog,
      newId: () => 'q1',
      enqueue: () => Promise.reject(new Error('disk full')),
      recordRejected: (e) => void recorded.push(e),
    },
  );
  const port = await ingress.listen(0, '127.0.0.1');
  t.after(() => ingress.drain(100));
  const c = await RawSmtp.connect(port);
  await c.open('s@remote.test', ['user0@example.test']);
  await c.cmd('DATA');
  c.write('Subject: x\r\n\r\nx\r\n.\r\n');
  assert.match((await c.read())!, /^451 4\.3\.0 /);
  c.close();
  assert.deepEqual(
    recorded.map((e) => [e.reason, e.detail?.queueId]),
    [['storage', 'q1']],
  );
});

test('prune: by seq from the front of the shipped log, never unshipped; a clock stepped back is pruned a step later', () => {
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const store = new QueueStore(db);
  const log = eventLog(db);
  const hour = 3_600_000;
  const t0 = 1_800_000_000_000;
  const seqs = (): number[] => db.prepare('SELECT seq FROM events ORDER BY seq').pluck().all() as number[];
  // seq 1..2 old; seq 3 young (clock ahead); seq 4..5 old again (clock stepped back); seq 6 old but unshipped.
  for (const at of [t0, t0, t0 + 10 * hour, t0 + hour, t0 + hour, t0]) store.insertRejected({ at, reason: 'unknown-user' });
  log.setCursor(5, t0);
  const cutoff = t0 + 5 * hour;
  assert.equal(log.prune(cutoff, 2), 2, 'the two oldest seqs');
  assert.deepEqual(seqs(), [3, 4, 5, 6]);
  assert.equal(log.prune(cutoff, 2), 1, 'seq 4 in the window beside the young seq 3; seq 5 is beyond it');
  assert.deepEqual(seqs(), [3, 5, 6]);
  assert.equal(log.prune(cutoff, 2), 1, 'seq 5 on the next step');
  assert.equal(log.prune(cutoff, 2), 0, 'the young seq 3 stays, the old unshipped seq 6 stays');
  assert.deepEqual(seqs(), [3, 6]);
  assert.equal(log.prune(t0 + 11 * hour, 2), 1, 'seq 3 once it ages');
  assert.deepEqual(seqs(), [6], 'never an unshipped event');
  // The prune's statement (as in events.ts) reads the primary key, not an index on at (migration 004 has none).
  const plan = db
    .prepare(`EXPLAIN QUERY PLAN DELETE FROM events WHERE seq IN
                (SELECT seq FROM events WHERE seq <= 5 ORDER BY seq LIMIT 2) AND at < 0`)
    .all()
    .map((r) => (r as { detail: string }).detail)
    .join('; ');
  assert.match(plan, /SEARCH events USING INTEGER PRIMARY KEY/, plan);
  assert.doesNotMatch(plan, /SCAN/, plan);
  assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'events_at_seq'").pluck().get(), 0);
  db.close();
});
