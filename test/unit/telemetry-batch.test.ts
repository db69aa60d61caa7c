// The ingest hot path against its references: the hand-written batch check (server/http/telemetry-batch.ts) takes
// exactly the batches the general path (control characters, 413, the zod schema) takes as they are, and returns what
// the schema returns; the integer-keyed rollUp and binary-search bucketOf count as the plain definitions do; the
// multi-row upserts add what one upsert per row adds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SHADOW_HEADER_MAX, SHADOW_PAIRS, SHADOW_VERDICTS } from '#data/contracts/shadow.ts';
import {
  BOUNCE_REASONS,
  LATENCY_BUCKETS_MS,
  REJECT_REASONS,
  ROUTE_KINDS,
  TELEMETRY_EVENT_TYPES,
  TELEMETRY_MAX_BATCH,
  TelemetryEvent,
  latencyBucket,
} from '#data/contracts/telemetry.ts';
import { QUARANTINE_REFUSALS, QUARANTINE_SUBJECT_MAX, QUARANTINE_SYMBOLS_MAX } from '#data/contracts/quarantine.ts';
import { Problem } from '#server/http/problem.ts';
import { QUICK_SHAPES, checkedBatch, quickBatch } from '#server/http/telemetry-batch.ts';
import { bucketOf, rollUp } from '#server/services/telemetry/ingestBatch.ts';
import { openBackendStore } from '#server/store/open.ts';
import { ROWS_PER_UPSERT, addLatencyCounts, addOutcomeCounts, minuteOf } from '#server/store/telemetry.ts';

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** The general path's verdict: the batch it returns, or the status of its refusal. */
function general(value: unknown): { ok: true; batch: unknown } | { ok: false; status: number } {
  try {
    return { ok: true, batch: checkedBatch(value) };
  } catch (err) {
    assert.ok(err instanceof Problem, `the general path refuses with a Problem, not ${String(err)}`);
    return { ok: false, status: err.status };
  }
}

/** Both paths on one value (as JSON.parse gives it): the property the route relies on. */
function compare(value: Json): { quick: boolean; general: boolean } {
  const parsed: unknown = JSON.parse(JSON.stringify(value));
  const quick = quickBatch(parsed);
  const g = general(parsed);
  if (quick !== null) {
    // Whatever the quick check takes, the general path takes too, with the same result.
    assert.ok(g.ok, `quick took what the general path refuses (${g.ok ? '' : g.status}): ${JSON.stringify(value).slice(0, 300)}`);
    assert.deepEqual(quick, g.batch);
  } else if (g.ok) {
    // The general path took it: the quick check may leave it only when the schema changed it (dropped a field).
    assert.notDeepEqual(
      g.batch,
      parsed,
      `the general path takes this as it is, the quick check did not: ${JSON.stringify(value).slice(0, 300)}`,
    );
  }
  return { quick: quick !== null, general: g.ok };
}

const rnd = prng(10);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

/** A valid event of every type the contract has, optional fields sometimes present. */
function validEvent(seq: number): Obj {
  const at = 1_800_000_000_000 + Math.floor(rnd() * 600_000);
  const messageId = pick(['<a@b>', 'x', 'tab\there', 'ünïcödé', '\u{1F600}', 'a'.repeat(500)]);
  // Every type of the contract: one it adds leaves this switch without a case, which the compiler refuses.
  switch (pick(TELEMETRY_EVENT_TYPES)) {
    case 'accepted':
      return rnd() < 0.5 ? { seq, at, type: 'accepted', messageId } : optional({ seq, at, type: 'accepted', messageId });
    case 'dsn':
      return rnd() < 0.5 ? { seq, at, type: 'dsn', messageId } : optional({ seq, at, type: 'dsn', messageId });
    case 'rejected':
      return { seq, at, type: 'rejected', reason: pick(REJECT_REASONS) };
    case 'delivered':
      return { seq, at, type: 'delivered', messageId, route: pick(ROUTE_KINDS), latencyMs: Math.floor(rnd() * 1e7) };
    case 'deferred':
      return { seq, at, type: 'deferred', messageId, route: pick(ROUTE_KINDS) };
    case 'bounced':
      return { seq, at, type: 'bounced', messageId, route: pick(ROUTE_KINDS), reason: pick(BOUNCE_REASONS) };
    case 'quarantined': {
      const e: Obj =
        rnd() < 0.5 ? { seq, at, type: 'quarantined', messageId } : { seq, at, type: 'quarantined', messageId, reason: 'spam' };
      return rnd() < 0.5 ? e : { ...e, entry: validEntry() };
    }
    case 'discarded':
      return rnd() < 0.5
        ? { seq, at, type: 'discarded', messageId }
        : { seq, at, type: 'discarded', messageId, reason: pick(REJECT_REASONS) };
    case 'released':
      return { seq, at, type: 'released', messageId, deliveryId: 1 + Math.floor(rnd() * 1e6), actionId: 1 + Math.floor(rnd() * 1e6) };
    case 'purged':
      return rnd() < 0.5
        ? { seq, at, type: 'purged', messageId, deliveryId: 1 + Math.floor(rnd() * 1e6), reason: 'retention' }
        : { seq, at, type: 'purged', messageId, deliveryId: 7, reason: 'staff', actionId: 1 + Math.floor(rnd() * 1e6) };
    case 'quarantine-refused': {
      const e: Obj = {
        seq,
        at,
        type: 'quarantine-refused',
        deliveryId: 1 + Math.floor(rnd() * 1e6),
        actionId: 3,
        why: pick(QUARANTINE_REFUSALS),
      };
      return rnd() < 0.5 ? e : { ...e, messageId };
    }
    case 'shadow-verdict': {
      const verdict = pick(SHADOW_VERDICTS);
      const sample = { from: pick(['a@b.test', null]), subject: pick(['hi', 'ünï', null]), date: null, messageId: pick(['<m@x>', null]) };
      return {
        seq,
        at,
        type: 'shadow-verdict',
        messageId,
        verdict: { domain: 'b.test', address: 'a@b.test', verdict, reason: pick(SHADOW_PAIRS[verdict]), score: pick([null, 7.5]), sample },
      };
    }
  }
}

/** A valid QuarantineEntry, its strings from mail-like text and at their limits now and then. */
function validEntry(): Obj {
  const text = (min: number, max: number) =>
    pick([
      'x'.repeat(Math.max(min, 1)),
      'a'.repeat(max),
      'tab\there',
      '<script>alert(1)</script>',
      'ünïcödé',
      '\u{1F600}',
      '\u00a0 nbsp',
      ...(min === 0 ? [''] : []),
    ]);
  return {
    deliveryId: 1 + Math.floor(rnd() * 1e6),
    recipient: text(1, 320),
    route: pick(ROUTE_KINDS),
    target: text(1, 320),
    sender: text(0, 320),
    subject: rnd() < 0.2 ? null : text(0, QUARANTINE_SUBJECT_MAX + 1),
    size: Math.floor(rnd() * 1e7),
    score: pick([null, 0, -3.5, 15, 1e300]),
    symbols: Array.from({ length: pick([0, 1, 3, QUARANTINE_SYMBOLS_MAX]) }, (_, i) => (i % 2 ? text(1, 128) : `S${i}`)),
    virus: rnd() < 0.7 ? null : text(1, 200),
  };
}

/** The event with the optional fields its shape has in QUICK_SHAPES, given valid values. */
function optional(e: Obj): Obj {
  const out = { ...e };
  for (const [name] of QUICK_SHAPES.get(e.type as string)?.optional ?? [])
    out[name] = name === 'reason' ? pick(REJECT_REASONS) : name === 'entry' ? validEntry() : 3;
  return out;
}

function validBatch(n: number): Obj {
  const after = Math.floor(rnd() * 1000);
  let seq = after;
  const events = Array.from({ length: n }, () => {
    seq += 1 + Math.floor(rnd() * 3);
    return validEvent(seq);
  });
  return { after, events };
}

/** Values that are wrong somewhere for most fields; a few (a tab, 0, -0) are right. */
const ODD: Json[] = [
  null,
  true,
  '',
  '1',
  'x\u0000',
  'x\u001f',
  'x\u007f',
  'x\u009f',
  'x\t\r\n',
  0,
  -0,
  -1,
  1.5,
  2 ** 53 - 1,
  2 ** 53,
  1e21,
  [],
  {},
  [1],
  { a: 1 },
  'maildir',
  'unknown-user',
  'expired',
  'permanent',
  'accepted',
  'constructor',
  '__proto__',
];

/** One random change to a valid batch: a field set to an odd value, removed, added, or the order broken. */
function mutate(b: Obj): { kind: string; value: Json } {
  const c = JSON.parse(JSON.stringify(b)) as { after: Json; events: Obj[] } & Obj;
  const e = pick(c.events);
  const fields = Object.keys(e);
  switch (pick(['set', 'set', 'set', 'delete', 'add', 'add-top', 'order', 'top', 'event']) as string) {
    case 'set': {
      const f = pick([...fields, 'messageId', 'reason', 'route', 'latencyMs', 'deliveries', 'why']);
      e[f] = pick(ODD);
      return { kind: `set ${f}`, value: c };
    }
    case 'delete':
      delete e[pick(fields)];
      return { kind: 'delete', value: c };
    case 'add':
      e[pick(['extra', '__proto__', 'toString', 'x\u0001'])] = pick(ODD);
      return { kind: 'add', value: c };
    case 'add-top':
      c[pick(['extra', '__proto__', 'x\u0001'])] = pick(ODD);
      return { kind: 'add-top', value: c };
    case 'order': {
      const i = c.events.indexOf(e);
      e.seq = i === 0 ? (c.after as number) : (c.events[i - 1].seq as number);
      return { kind: 'order', value: c };
    }
    case 'top':
      c[pick(['after', 'events'])] = pick(ODD);
      return { kind: 'top', value: c };
    default:
      c.events[c.events.indexOf(e)] = pick(ODD) as Obj;
      return { kind: 'event', value: c };
  }
}

test('the quick check has every event shape of the contract, with the same required and optional fields', () => {
  const options = TelemetryEvent.options;
  assert.equal(QUICK_SHAPES.size, options.length);
  for (const option of options) {
    const type = option.shape.type.value;
    const quick = QUICK_SHAPES.get(type);
    assert.ok(quick, `no quick shape for ${type}`);
    const names = Object.keys(option.shape).filter((k) => k !== 'seq' && k !== 'at' && k !== 'type');
    const isOptional = (k: string) =>
      (option.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>)[k].safeParse(undefined).success;
    assert.deepEqual(quick.required.map(([n]) => n).sort(), names.filter((k) => !isOptional(k)).sort(), `${type}: required`);
    assert.deepEqual(quick.optional.map(([n]) => n).sort(), names.filter(isOptional).sort(), `${type}: optional`);
  }
});

test('valid batches: the quick check takes every one, and returns what the schema returns', () => {
  for (let i = 0; i < 300; i++) {
    const r = compare(validBatch(1 + Math.floor(rnd() * 40)));
    assert.deepEqual(r, { quick: true, general: true });
  }
  // The largest batch, and the smallest seqs and times.
  assert.deepEqual(compare(validBatch(TELEMETRY_MAX_BATCH)), { quick: true, general: true });
  assert.deepEqual(compare({ after: 0, events: [{ seq: 1, at: 0, type: 'accepted', messageId: 'm' }] }), { quick: true, general: true });
});

test('changed batches: whatever the quick check takes the general path takes the same; what it leaves is refused or changed by the schema', () => {
  const seen = new Map<string, { quick: number; refused: number }>();
  for (let i = 0; i < 6000; i++) {
    const { kind, value } = mutate(validBatch(1 + Math.floor(rnd() * 6)));
    const r = compare(value);
    const s = seen.get(kind) ?? { quick: 0, refused: 0 };
    if (r.quick) s.quick++;
    if (!r.general) s.refused++;
    seen.set(kind, s);
  }
  // Every kind of change was tried and the general path refused some of each: the inputs reach the refusals.
  for (const kind of ['delete', 'add', 'add-top', 'order', 'top', 'event', 'set seq', 'set at', 'set type', 'set messageId', 'set reason'])
    assert.ok((seen.get(kind)?.refused ?? 0) > 0, `${kind}: ${JSON.stringify(seen.get(kind))}`);
});

test('a quarantined event with its entry takes the quick path, which agrees with the general path on valid and broken entries', () => {
  const entry = {
    deliveryId: 4,
    recipient: 'anna@example.net',
    route: 'forward',
    target: 'bob@provider.test',
    sender: '',
    subject: '<script>alert(1)</script>',
    size: 812,
    score: 15.5,
    symbols: ['GTUBE'],
    virus: null,
  };
  const batchOf = (e: Json) => ({ after: 0, events: [{ seq: 1, at: 1, type: 'quarantined', messageId: 'm', reason: 'spam', entry: e }] });
  // Under a 'remove' policy nearly every batch holds an entry: it no longer sends the batch down the general path.
  assert.deepEqual(compare(batchOf(entry)), { quick: true, general: true });
  assert.deepEqual(compare(batchOf({ ...entry, subject: null, score: null, virus: 'Eicar', symbols: [] })), { quick: true, general: true });
  // Each field through odd values, limits and control characters; a field missing, an extra one, a wrong container.
  const fieldValues: Record<string, Json[]> = {
    deliveryId: [0, -1, 1.5, 2 ** 53, '4', null],
    recipient: ['', 'a'.repeat(320), 'a'.repeat(321), 'a\u0007b', 'a\u0085', 3, null],
    route: ['smtp', '', null, 'Forward'],
    target: ['', 't'.repeat(320), 't'.repeat(321), 'b\u0000@x', null, 1],
    sender: ['', 's'.repeat(320), 's'.repeat(321), '\u001b[31m', null],
    subject: ['', 'x'.repeat(QUARANTINE_SUBJECT_MAX + 1), 'x'.repeat(QUARANTINE_SUBJECT_MAX + 2), 'a\u0001', 5],
    size: [0, -1, 1.5, '812', null],
    score: [0, -0, 1e300, '15', true],
    symbols: [
      [],
      [''],
      ['x'.repeat(128)],
      ['x'.repeat(129)],
      Array.from({ length: QUARANTINE_SYMBOLS_MAX }, (_, i) => `S${i}`),
      Array.from({ length: QUARANTINE_SYMBOLS_MAX + 1 }, (_, i) => `S${i}`),
      ['A\u009f'],
      [1],
      [null],
      'GTUBE',
      { 0: 'GTUBE' },
      null,
    ],
    virus: ['', 'v'.repeat(200), 'v'.repeat(201), 'E\u007f', 0],
  };
  let quick = 0;
  let refused = 0;
  for (const [field, values] of Object.entries(fieldValues))
    for (const v of values) {
      const r = compare(batchOf({ ...entry, [field]: v }));
      if (r.quick) quick++;
      if (!r.general) refused++;
    }
  for (const field of Object.keys(entry)) {
    const { [field]: _gone, ...rest } = entry as Record<string, Json>;
    assert.deepEqual(compare(batchOf(rest)), { quick: false, general: false }, `without ${field}`);
  }
  // An unknown field: the schema drops it (so the quick check leaves the batch to it); a control character in a key is refused.
  assert.equal(compare(batchOf({ ...entry, extra: 1 })).quick, false);
  assert.deepEqual(compare(batchOf({ ...entry, 'x\u0001': 1 })), { quick: false, general: false });
  for (const odd of [null, 'entry', [], [entry], 3]) assert.equal(compare(batchOf(odd)).quick, false);
  assert.ok(quick > 10 && refused > 30, `quick ${quick}, refused ${refused}`);
});

test('a shadow-verdict event takes the quick path, which agrees with the general path on valid and broken verdicts', () => {
  const sample = {
    from: '"Eve" <eve@x.test>',
    subject: '<script>alert(1)</script>',
    date: 'Tue, 1 Dec 2026 10:00:00 +0000',
    messageId: '<m@x>',
  };
  const verdict = { domain: 'example.com', address: 'anna@example.com', verdict: 'quarantine', reason: 'spam', score: 9.5, sample };
  const batchOf = (v: Json) => ({ after: 0, events: [{ seq: 1, at: 1, type: 'shadow-verdict', messageId: 'm', verdict: v }] });
  assert.deepEqual(compare(batchOf(verdict)), { quick: true, general: true });
  for (const [v, reasons] of Object.entries(SHADOW_PAIRS))
    for (const reason of reasons) assert.deepEqual(compare(batchOf({ ...verdict, verdict: v, reason })), { quick: true, general: true });
  const h = SHADOW_HEADER_MAX;
  const fieldValues: Record<string, Json[]> = {
    domain: ['', 'd'.repeat(253), 'd'.repeat(254), 'a\u0007', null, 3],
    address: ['', 'a'.repeat(320), 'a'.repeat(321), 'a\u0085', null],
    verdict: ['Deliver', '', null, 'constructor', '__proto__', 'tag'],
    reason: ['clean', 'virus', 'unknown-user', 'scanner-unavailable', '', null, 'toString'],
    score: [null, 0, -0, -3.5, 1e300, '9.5', true],
    sample: [null, [], {}, { ...sample, extra: 'x' }, 'headers'],
  };
  for (const key of Object.keys(sample))
    fieldValues[`sample.${key}`] = [null, '', 'x'.repeat(h + 1), 'x'.repeat(h + 2), 'a\u0000', 'a\u009f', 'tab\there', 5];
  let quick = 0;
  let refused = 0;
  for (const [field, values] of Object.entries(fieldValues))
    for (const v of values) {
      const [top, sub] = field.split('.');
      const changed = sub === undefined ? { ...verdict, [top]: v } : { ...verdict, sample: { ...sample, [sub]: v } };
      const r = compare(batchOf(changed));
      if (r.quick) quick++;
      if (!r.general) refused++;
    }
  for (const field of Object.keys(verdict)) {
    const { [field]: _gone, ...rest } = verdict as Record<string, Json>;
    assert.deepEqual(compare(batchOf(rest)), { quick: false, general: false }, `without ${field}`);
  }
  for (const key of Object.keys(sample)) {
    const { [key]: _gone, ...rest } = sample as Record<string, Json>;
    assert.deepEqual(compare(batchOf({ ...verdict, sample: rest })), { quick: false, general: false }, `without sample.${key}`);
  }
  assert.equal(compare(batchOf({ ...verdict, extra: 1 })).quick, false);
  assert.ok(quick > 10 && refused > 30, `quick ${quick}, refused ${refused}`);
});

test('edges: control characters, number limits, the size limit, unknown fields, and what is not an object', () => {
  const one = (e: Obj, after: Json = 0) => ({ after, events: [e] });
  const acc = { seq: 1, at: 1, type: 'accepted', messageId: 'm' };
  const cases: [Json, { quick: boolean; general: boolean }][] = [
    [one(acc), { quick: true, general: true }],
    [one({ ...acc, messageId: 'm\u0000' }), { quick: false, general: false }],
    [one({ ...acc, messageId: 'm\u0085' }), { quick: false, general: false }],
    [one({ ...acc, messageId: 'm\u00a0' }), { quick: true, general: true }],
    [one({ ...acc, messageId: '' }), { quick: false, general: false }],
    [one({ ...acc, seq: 2 ** 53 - 1 }), { quick: true, general: true }],
    [one({ ...acc, seq: 2 ** 53 }), { quick: false, general: false }],
    [one({ ...acc, seq: 0 }), { quick: false, general: false }],
    [one({ ...acc, at: -1 }), { quick: false, general: false }],
    [one({ ...acc, at: 1.5 }), { quick: false, general: false }],
    [one(acc, -1), { quick: false, general: false }],
    [one(acc, 1), { quick: false, general: false }],
    [one({ seq: 1, at: 1, type: 'delivered', messageId: 'm', route: 'maildir', latencyMs: 0 }), { quick: true, general: true }],
    [one({ seq: 1, at: 1, type: 'delivered', messageId: 'm', route: 'maildir', latencyMs: 1.5 }), { quick: false, general: false }],
    [one({ seq: 1, at: 1, type: 'bounced', messageId: 'm', route: 'lmtp', reason: 'unknown-user' }), { quick: false, general: false }],
    [one({ seq: 1, at: 1, type: 'rejected', reason: 'expired' }), { quick: true, general: true }],
    [one({ seq: 1, at: 1, type: 'quarantined', messageId: 'm', reason: 'permanent' }), { quick: false, general: false }],
    [one({ seq: 1, at: 1, type: 'quarantined', messageId: 'm', reason: null }), { quick: false, general: false }],
    // An unknown field: the schema drops it and takes the batch; the quick check leaves it to the schema.
    [one({ ...acc, extra: 1 }), { quick: false, general: true }],
    [
      { ...one(acc), extra: 1 },
      { quick: false, general: true },
    ],
    // ... but not one holding a control character, even in its name.
    [one({ ...acc, 'x\u0001': 1 }), { quick: false, general: false }],
    [one({ ...acc, extra: 'x\u0001' }), { quick: false, general: false }],
    [
      { after: 0, events: [] },
      { quick: false, general: false },
    ],
    [
      { after: 0, events: [[]] },
      { quick: false, general: false },
    ],
    [[], { quick: false, general: false }],
    [null, { quick: false, general: false }],
    ['batch', { quick: false, general: false }],
  ];
  for (const [value, expected] of cases) assert.deepEqual(compare(value), expected, JSON.stringify(value));
  // "__proto__" from JSON is an own field like any other: unknown, so the schema decides.
  const proto = JSON.parse('{"after":0,"events":[{"seq":1,"at":1,"type":"accepted","messageId":"m","__proto__":{"x":1}}]}');
  assert.equal(quickBatch(proto), null);
  assert.equal(general(proto).ok, true);
  // Over the size limit: the quick check leaves it, the general path answers 413.
  const big = validBatch(TELEMETRY_MAX_BATCH + 1);
  assert.equal(quickBatch(JSON.parse(JSON.stringify(big))), null);
  assert.deepEqual(general(JSON.parse(JSON.stringify(big))), { ok: false, status: 413 });
});

test('bucketOf is latencyBucket: at, around and between every bound, and far beyond', () => {
  const probes = new Set<number>([0, 1, 2, 1e9, 1e12, Number.MAX_SAFE_INTEGER]);
  for (const b of LATENCY_BUCKETS_MS) for (const d of [-1, 0, 1]) probes.add(Math.max(0, b + d));
  for (let ms = 0; ms <= 200_000; ms++) probes.add(ms);
  for (const ms of probes) assert.equal(bucketOf(ms), latencyBucket(ms), `${ms} ms`);
});

/**
 * rollUp as the contract defines it, with string keys: one row per (minute, route, type, reason). The quarantine's
 * 'released' and 'purged' are not rolled into the minutes (the accounting line and the quarantine index count them),
 * nor is 'shadow-verdict' (the shadow report counts it).
 */
function referenceRollUp(events: TelemetryEvent[]) {
  const outcomes = new Map<string, number>();
  const latency = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'released' || e.type === 'purged' || e.type === 'quarantine-refused' || e.type === 'shadow-verdict') continue;
    const route = 'route' in e ? e.route : '';
    const reason = 'reason' in e ? (e.reason ?? '') : '';
    const k = JSON.stringify([minuteOf(e.at), route, e.type, reason]);
    outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    if (e.type === 'delivered') {
      const l = JSON.stringify([minuteOf(e.at), e.route, latencyBucket(e.latencyMs)]);
      latency.set(l, (latency.get(l) ?? 0) + 1);
    }
  }
  return {
    outcomes: [...outcomes].map(([k, count]) => [...JSON.parse(k), count]).sort(),
    latency: [...latency].map(([k, count]) => [...JSON.parse(k), count]).sort(),
  };
}

test('rollUp counts every event once in its minute, route, type and reason, and every delivery in its latency bucket', () => {
  for (let i = 0; i < 50; i++) {
    const events = (validBatch(1 + Math.floor(rnd() * 2000)).events as unknown as TelemetryEvent[]).slice(0, TELEMETRY_MAX_BATCH);
    const from = Math.floor(rnd() * events.length);
    const got = rollUp(events, from);
    const want = referenceRollUp(events.slice(from));
    assert.deepEqual(
      {
        outcomes: got.outcomes.map((o) => [o.minute, o.route, o.outcome, o.reason, o.count]).sort(),
        latency: got.latency.map((l) => [l.minute, l.route, l.bucket, l.count]).sort(),
      },
      want,
    );
  }
});

test('the multi-row upserts add what one upsert per row adds, for any number of rows, repeated buckets included', () => {
  for (const n of [0, 1, ROWS_PER_UPSERT - 1, ROWS_PER_UPSERT, ROWS_PER_UPSERT + 1, 3 * ROWS_PER_UPSERT + 5]) {
    const db = openBackendStore(':memory:');
    db.prepare("INSERT INTO mx_nodes (name, token_hash, created_at) VALUES ('n', 'h', '2026-01-01')").run();
    const node = (db.prepare('SELECT id FROM mx_nodes').get() as { id: number }).id;
    const want = new Map<string, number>();
    const wantLatency = new Map<string, number>();
    for (let round = 0; round < 3; round++) {
      // Few distinct buckets, so rows repeat within a statement and across calls.
      const outcomes = Array.from({ length: n }, () => ({
        minute: 60_000 * Math.floor(rnd() * 3),
        route: pick(['', 'maildir'] as const),
        outcome: pick(['accepted', 'deferred'] as const),
        reason: '',
        count: 1 + Math.floor(rnd() * 5),
      }));
      const latency = Array.from({ length: n }, () => ({
        minute: 60_000 * Math.floor(rnd() * 3),
        route: pick(['maildir', 'lmtp'] as const),
        bucket: Math.floor(rnd() * 4),
        count: 1 + Math.floor(rnd() * 5),
      }));
      addOutcomeCounts(db, node, outcomes);
      addLatencyCounts(db, node, latency);
      for (const o of outcomes) {
        const k = JSON.stringify([o.minute, o.route, o.outcome, o.reason]);
        want.set(k, (want.get(k) ?? 0) + o.count);
      }
      for (const l of latency) {
        const k = JSON.stringify([l.minute, l.route, l.bucket]);
        wantLatency.set(k, (wantLatency.get(k) ?? 0) + l.count);
      }
    }
    const got = db.prepare('SELECT minute, route, outcome, reason, count FROM telemetry_minutes').all() as {
      minute: number;
      route: string;
      outcome: string;
      reason: string;
      count: number;
    }[];
    assert.deepEqual(new Map(got.map((r) => [JSON.stringify([r.minute, r.route, r.outcome, r.reason]), r.count])), want, `${n} rows`);
    const gotLatency = db.prepare('SELECT minute, route, bucket, count FROM telemetry_latency_minutes').all() as {
      minute: number;
      route: string;
      bucket: number;
      count: number;
    }[];
    assert.deepEqual(new Map(gotLatency.map((r) => [JSON.stringify([r.minute, r.route, r.bucket]), r.count])), wantLatency);
    const hours = db.prepare('SELECT hour FROM telemetry_dirty_hours').all();
    assert.deepEqual(hours, n === 0 ? [] : [{ hour: 0 }]);
    db.close();
  }
});
