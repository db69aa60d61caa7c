// The shipper's hand-written mapping (toTelemetryEvent) accepts and refuses exactly what the contract's zod
// TelemetryEvent schema does, for every kind of value the node's event log can hand it, and returns the same event.
// The reference below is the mapping as it was before it was hand-written: build the candidate, let zod judge it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PURGE_REASONS, QUARANTINE_REFUSALS } from '#data/contracts/quarantine.ts';
import { BOUNCE_REASONS, REJECT_REASONS, ROUTE_KINDS, TELEMETRY_EVENT_TYPES, TelemetryEvent } from '#data/contracts/telemetry.ts';
import { MIGRATIONS, openDatabase } from '#data/db.ts';
import { type EventLogRow, eventLog, toTelemetryEvent } from '#mailsystem/telemetry/events.ts';
import { seqOrderError } from '#mailsystem/telemetry/shipper.ts';

function viaZod(row: EventLogRow): { ok: boolean; event?: unknown } {
  const base = { seq: row.seq, at: row.at };
  const messageId = row.message_id ?? undefined;
  const route = row.route_kind ?? undefined;
  const reason = row.reason ?? undefined;
  const type = row.type;
  const deliveryId = row.delivery_id ?? undefined;
  const actionId = row.action_id ?? undefined;
  let entry: unknown;
  if (type === 'quarantined' && row.entry !== null && row.entry !== undefined) {
    try {
      entry = JSON.parse(row.entry);
    } catch {
      return { ok: false };
    }
  }
  const candidate: Record<string, unknown> =
    type === 'accepted' || type === 'dsn'
      ? { ...base, type, messageId, deliveries: row.deliveries ?? undefined }
      : type === 'rejected'
        ? { ...base, type, reason }
        : type === 'delivered'
          ? { ...base, type, messageId, route, latencyMs: row.latency_ms ?? undefined }
          : type === 'deferred'
            ? { ...base, type, messageId, route }
            : type === 'bounced'
              ? { ...base, type, messageId, route, reason }
              : type === 'released'
                ? { ...base, type, messageId, deliveryId, actionId }
                : type === 'purged'
                  ? { ...base, type, messageId, deliveryId, reason, actionId }
                  : type === 'quarantine-refused'
                    ? { ...base, type, messageId, deliveryId, actionId, why: reason }
                    : type === 'quarantined' && entry !== undefined
                      ? { ...base, type, messageId, reason, entry }
                      : { ...base, type, messageId, reason };
  const parsed = TelemetryEvent.safeParse(candidate);
  return parsed.success ? { ok: true, event: parsed.data } : { ok: false };
}

function same(row: EventLogRow): boolean {
  const mine = toTelemetryEvent(row);
  const ref = viaZod(row);
  assert.equal(
    mine.ok,
    ref.ok,
    `row ${show(row)}: hand-written ${mine.ok ? 'accepts' : `refuses (${(mine as { error: string }).error})`}, zod ${ref.ok ? 'accepts' : 'refuses'}`,
  );
  if (mine.ok) assert.deepStrictEqual(mine.event, ref.event, `row ${show(row)}: the same event`);
  else assert.ok(mine.error.length > 0, 'a refusal says why');
  return mine.ok;
}
const show = (row: EventLogRow) => JSON.stringify(row, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));

const numbers = [0, 1, -1, 7, 1.5, -0, 2 ** 53 - 1, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, '5', null] as unknown[];
const texts = ['', 'm1', 'x', 1, Buffer.from('m1'), null] as unknown[];
const reasons = [
  ...REJECT_REASONS,
  ...BOUNCE_REASONS,
  ...PURGE_REASONS,
  ...QUARANTINE_REFUSALS,
  'tempfail',
  'toString',
  '__proto__',
  'Storage',
  '',
  3,
  null,
] as unknown[];
const routes = [...ROUTE_KINDS, 'smtp', 'constructor', '', 2, null] as unknown[];
const types = [...TELEMETRY_EVENT_TYPES, 'exploded', 'Accepted', ''];
const goodEntry = {
  deliveryId: 3,
  recipient: 'anna@example.test',
  route: 'forward',
  target: 'bob@provider.test',
  sender: '',
  subject: null,
  size: 10,
  score: 15.5,
  symbols: ['GTUBE'],
  virus: null,
};
const entries = [
  JSON.stringify(goodEntry),
  JSON.stringify({ ...goodEntry, subject: 'x'.repeat(202) }),
  JSON.stringify({ ...goodEntry, symbols: [''] }),
  JSON.stringify({ ...goodEntry, deliveryId: 0 }),
  '{"deliveryId":3}',
  '"text"',
  'not json',
  3,
  null,
] as unknown[];

test('hand-written mapping = zod TelemetryEvent on a grid of valid and broken values for every field and type', () => {
  const ok = {
    seq: 1,
    at: 1_800_000_000_000,
    message_id: 'm1',
    route_kind: 'maildir',
    latency_ms: 5,
    reason: null,
    deliveries: 2,
    delivery_id: 3,
    action_id: 4,
    entry: null,
  };
  let accepted = 0;
  let refused = 0;
  const count = (row: EventLogRow) => void (same(row) ? accepted++ : refused++);
  for (const type of types) {
    // Each field through all its values with the others valid for the type, then pairs of fields.
    const reason =
      type === 'rejected'
        ? 'storage'
        : type === 'bounced'
          ? 'permanent'
          : type === 'purged'
            ? 'staff'
            : type === 'quarantine-refused'
              ? 'not-quarantined'
              : null;
    const valid = { ...ok, type, reason } as EventLogRow;
    const fields: [keyof EventLogRow, unknown[]][] = [
      ['seq', numbers],
      ['at', numbers],
      ['message_id', texts],
      ['route_kind', routes],
      ['latency_ms', numbers],
      ['reason', reasons],
      ['deliveries', numbers],
      ['delivery_id', numbers],
      ['action_id', numbers],
      ['entry', entries],
    ];
    for (const [f, values] of fields) for (const v of values) count({ ...valid, [f]: v } as EventLogRow);
    for (const [i, [f, fv]] of fields.entries())
      for (const [g, gv] of fields.slice(i + 1)) for (const a of fv) for (const b of gv) count({ ...valid, [f]: a, [g]: b } as EventLogRow);
  }
  // Both outcomes are well represented, so neither side can pass by answering one way.
  assert.ok(accepted > 1000 && refused > 10_000, `accepted ${accepted}, refused ${refused}`);
});

test('hand-written mapping = zod TelemetryEvent on rows as SQLite hands them back, odd values included', () => {
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const insert = db.prepare(
    'INSERT INTO events (at, type, message_id, route_kind, latency_ms, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const ats: unknown[] = [1_800_000_000_000, 0, -5, 1.25, '17', 'soon', 2 ** 53];
  const details: unknown[] = [
    '{"deliveries":3}',
    '{"deliveries":0}',
    '{"deliveries":-1}',
    '{"deliveries":2.5}',
    '{"deliveries":"3"}',
    '{"deliveries":[1]}',
    '{"deliveries":null}',
    '{"size":1}',
    'not json',
    null,
  ];
  const latencies: unknown[] = [0, 12, -3, 1.5, '40', 'slow', null];
  for (const type of TELEMETRY_EVENT_TYPES)
    for (const at of ats)
      for (const mid of ['m1', '', null, 42])
        for (const route of ['lmtp', 'pigeon', null])
          for (const latency of latencies)
            for (const reason of ['expired', 'spam', 'permanent', 'tempfail', null])
              for (const detail of type === 'accepted' || type === 'dsn' ? details : [null])
                insert.run(at, type, mid, route, latency, reason, detail);
  // The quarantine's events read the delivery id column and their detail JSON (actionId, entry).
  const withDelivery = db.prepare('INSERT INTO events (at, type, message_id, delivery_id, reason, detail) VALUES (?, ?, ?, ?, ?, ?)');
  const entry = {
    deliveryId: 7,
    recipient: 'a@example.test',
    route: 'maildir',
    target: 'a@example.test',
    sender: 's@x.test',
    subject: 'Hi',
    size: 9,
    score: 1,
    symbols: [],
    virus: null,
  };
  const quarantineDetails: unknown[] = [
    '{"actionId":5}',
    '{"actionId":0}',
    '{"actionId":"5"}',
    '{"actionId":1.5}',
    '{}',
    JSON.stringify({ entry }),
    JSON.stringify({ entry: { ...entry, subject: null, virus: 'Eicar' } }),
    JSON.stringify({ entry: { ...entry, recipient: '' } }),
    JSON.stringify({ entry: { ...entry, symbols: ['A\u0001'.repeat(100)] } }),
    '{"entry":"text"}',
    '{"entry":null}',
    'not json',
    null,
  ];
  for (const type of ['quarantined', 'released', 'purged', 'quarantine-refused'])
    for (const mid of ['m1', '', null])
      for (const deliveryId of [7, 0, -1, 2.5, 'x', null])
        for (const reason of ['spam', 'staff', 'retention', 'expired', 'not-quarantined', 'virus', null])
          for (const detail of quarantineDetails) withDelivery.run(1_800_000_000_000, type, mid, deliveryId, reason, detail);
  const rows = eventLog(db).after(0, 1_000_000);
  assert.ok(rows.length > 10_000);
  let accepted = 0;
  for (const row of rows) if (same(row)) accepted++;
  assert.ok(accepted > 100 && accepted < rows.length, `accepted ${accepted} of ${rows.length}`);
  db.close();
});

test("the shipper still checks the batch's seq order (the one rule of TelemetryBatch beyond each event)", () => {
  const ev = (seq: number) => ({ seq, at: 1, type: 'rejected', reason: 'storage' }) as const;
  assert.equal(seqOrderError(0, [ev(1), ev(2), ev(5)]), null);
  assert.equal(seqOrderError(4, [ev(5)]), null);
  assert.equal(seqOrderError(5, [ev(5)])?.seq, 5, 'not after "after"');
  assert.equal(seqOrderError(0, [ev(1), ev(3), ev(3)])?.seq, 3, 'a repeated seq');
  assert.match(seqOrderError(0, [ev(2), ev(1)])?.error ?? '', /seq 1 is not after 2/);
  assert.match(seqOrderError(-1, [ev(2)])?.error ?? '', /cursor -1/);
  assert.match(seqOrderError(0.5, [ev(2)])?.error ?? '', /cursor 0.5/);
});
