// POST /api/v1/telemetry and /telemetry/heartbeat through the real app: batches counted exactly once per (node, seq),
// refusals (bad token, malformed, too large, gap, future) answered 4xx with nothing changed and counted, one transaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json } from './api-harness.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { telemetrySummary } from '#server/services/telemetry/summary.ts';
import {
  LATENCY_BUCKETS_MS,
  TELEMETRY_MAX_BATCH,
  latencyBucket,
  type TelemetryEvent,
  type TelemetryHeartbeat,
} from '#data/contracts/telemetry.ts';

type Harness = ReturnType<typeof makeHarness>;
const START = '2026-01-15T12:00:00.000Z';
const T0 = Date.parse(START);
const MIN = 60_000;

function setup() {
  const h = makeHarness({ start: START });
  const token = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'test' }, name: 'mx1' });
  const nodeId = (h.db.prepare("SELECT id FROM mx_nodes WHERE name = 'mx1'").get() as { id: number }).id;
  const send = (path: string, body: unknown, tok: string | null = token) =>
    h.request('POST', path, { body, headers: tok === null ? {} : { authorization: `Bearer ${tok}` } });
  return {
    h,
    token,
    nodeId,
    send,
    batch: (after: number, events: TelemetryEvent[], tok?: string | null) => send('/api/v1/telemetry', { after, events }, tok),
  };
}

/** Everything ingest may write, as plain rows, to compare before and after. */
function state(h: Harness) {
  const all = (sql: string) => h.db.prepare(sql).all();
  return {
    cursors: all('SELECT node_id, cursor FROM telemetry_cursors ORDER BY node_id'),
    minutes: all(
      'SELECT node_id, minute, route, outcome, reason, count FROM telemetry_minutes ORDER BY node_id, minute, route, outcome, reason',
    ),
    latency: all('SELECT node_id, minute, route, bucket, count FROM telemetry_latency_minutes ORDER BY node_id, minute, route, bucket'),
    heartbeats: all('SELECT * FROM telemetry_heartbeats ORDER BY node_id'),
    gauges: all('SELECT * FROM telemetry_gauge_minutes ORDER BY node_id, minute'),
  };
}
const refusals = (h: Harness) =>
  h.db.prepare('SELECT node_id AS nodeId, reason, count FROM telemetry_refusals ORDER BY ifnull(node_id, 0), reason').all() as {
    nodeId: number | null;
    reason: string;
    count: number;
  }[];

/** Twelve events over two minutes; seqs have holes (AUTOINCREMENT skips after a rollback), which is no gap. */
function sampleEvents(): TelemetryEvent[] {
  const a = T0 - 2 * MIN + 5_000; // minute T0-2min
  const b = T0 - MIN + 1_000; // minute T0-1min
  return [
    { seq: 1, at: a, type: 'accepted', messageId: 'm1' },
    { seq: 2, at: a + 1, type: 'accepted', messageId: 'm2' },
    { seq: 3, at: a + 2, type: 'rejected', reason: 'unknown-user' },
    { seq: 5, at: a + 3, type: 'delivered', messageId: 'm1', route: 'maildir', latencyMs: 7 },
    { seq: 6, at: a + 4, type: 'delivered', messageId: 'm2', route: 'maildir', latencyMs: 120 },
    { seq: 7, at: b, type: 'rejected', reason: 'unknown-user' },
    { seq: 8, at: b + 1, type: 'accepted', messageId: 'm3' },
    { seq: 9, at: b + 2, type: 'delivered', messageId: 'm3', route: 'lmtp', latencyMs: 2_000 },
    { seq: 10, at: b + 3, type: 'deferred', messageId: 'm4', route: 'forward' },
    { seq: 11, at: b + 4, type: 'bounced', messageId: 'm4', route: 'forward', reason: 'expired' },
    { seq: 12, at: b + 5, type: 'quarantined', messageId: 'm5', reason: 'spam' },
    { seq: 14, at: b + 6, type: 'discarded', messageId: 'm6' },
  ];
}

/** The minute rows sampleEvents() gives, for node n, each count times k. */
function expectedMinutes(n: number) {
  const a = T0 - 2 * MIN;
  const b = T0 - MIN;
  return [
    { node_id: n, minute: a, route: '', outcome: 'accepted', reason: '', count: 2 },
    { node_id: n, minute: a, route: '', outcome: 'rejected', reason: 'unknown-user', count: 1 },
    { node_id: n, minute: a, route: 'maildir', outcome: 'delivered', reason: '', count: 2 },
    { node_id: n, minute: b, route: '', outcome: 'accepted', reason: '', count: 1 },
    { node_id: n, minute: b, route: '', outcome: 'discarded', reason: '', count: 1 },
    { node_id: n, minute: b, route: '', outcome: 'quarantined', reason: 'spam', count: 1 },
    { node_id: n, minute: b, route: '', outcome: 'rejected', reason: 'unknown-user', count: 1 },
    { node_id: n, minute: b, route: 'forward', outcome: 'bounced', reason: 'expired', count: 1 },
    { node_id: n, minute: b, route: 'forward', outcome: 'deferred', reason: '', count: 1 },
    { node_id: n, minute: b, route: 'lmtp', outcome: 'delivered', reason: '', count: 1 },
  ];
}
function expectedLatency(n: number) {
  return [
    { node_id: n, minute: T0 - 2 * MIN, route: 'maildir', bucket: latencyBucket(7), count: 1 },
    { node_id: n, minute: T0 - 2 * MIN, route: 'maildir', bucket: latencyBucket(120), count: 1 },
    { node_id: n, minute: T0 - MIN, route: 'lmtp', bucket: latencyBucket(2_000), count: 1 },
  ].sort((x, y) => x.minute - y.minute || x.route.localeCompare(y.route) || x.bucket - y.bucket);
}

test('a batch is counted into minute buckets and latency histograms exactly; a replay, an overlap and a retry count nothing twice', async () => {
  const { h, nodeId, batch } = setup();
  const events = sampleEvents();
  let r = await batch(0, events);
  assert.equal(r.status, 200);
  assert.deepEqual(await json(r), { cursor: 14, applied: 12 });
  const once = state(h);
  assert.deepEqual(once.cursors, [{ node_id: nodeId, cursor: 14 }]);
  assert.deepEqual(once.minutes, expectedMinutes(nodeId));
  assert.deepEqual(once.latency, expectedLatency(nodeId));

  // The same batch again (the ack was lost): nothing new.
  r = await batch(0, events);
  assert.deepEqual(await json(r), { cursor: 14, applied: 0 });
  assert.deepEqual(state(h), once);

  // Overlapping: half already held (seq 9..14), half new (15..20), all in one minute of the current one.
  const overlap: TelemetryEvent[] = [
    ...events.filter((e) => e.seq >= 9),
    ...[15, 16, 17, 18, 19, 20].map(
      (seq): TelemetryEvent => ({ seq, at: T0 + seq, type: 'delivered', messageId: `n${seq}`, route: 'lmtp', latencyMs: 2_000 }),
    ),
  ];
  r = await batch(8, overlap);
  assert.deepEqual(await json(r), { cursor: 20, applied: 6 });
  const after = state(h);
  assert.deepEqual(after.minutes, [
    ...expectedMinutes(nodeId),
    { node_id: nodeId, minute: T0, route: 'lmtp', outcome: 'delivered', reason: '', count: 6 },
  ]);
  assert.deepEqual(after.latency, [
    ...expectedLatency(nodeId),
    { node_id: nodeId, minute: T0, route: 'lmtp', bucket: latencyBucket(2_000), count: 6 },
  ]);

  // The overlapping batch retried, and the first batch replayed once more: still nothing new.
  assert.deepEqual(await json(await batch(8, overlap)), { cursor: 20, applied: 0 });
  assert.deepEqual(await json(await batch(0, events)), { cursor: 20, applied: 0 });
  assert.deepEqual(state(h), after);
  assert.deepEqual(refusals(h), [], 'a replay is no refusal');

  // The read side sums the same numbers: all of it, one minute, and one node (another node's counts stay apart).
  const all = telemetrySummary(h.db, { from: T0 - 10 * MIN, to: T0 + MIN }, h.now());
  const count = (s: typeof all, outcome: string, reason = '') =>
    s.outcomes.filter((o) => o.outcome === outcome && o.reason === reason).reduce((n, o) => n + o.count, 0);
  assert.equal(count(all, 'delivered'), 9);
  assert.equal(count(all, 'accepted'), 3);
  assert.equal(count(all, 'rejected', 'unknown-user'), 2);
  assert.equal(count(all, 'bounced', 'expired'), 1);
  assert.equal(all.latency.length, LATENCY_BUCKETS_MS.length + 1);
  assert.equal(
    all.latency.reduce((a, b) => a + b, 0),
    9,
  );
  assert.equal(all.latency[latencyBucket(2_000)], 7);
  assert.equal(all.latencyByRoute.maildir?.[latencyBucket(7)], 1);
  assert.equal(all.latencyByRoute.forward, undefined);
  const last = telemetrySummary(h.db, { from: T0 - MIN, to: T0 }, h.now());
  assert.equal(count(last, 'delivered'), 1, 'only the minute starting at T0-1min');
  assert.equal(count(last, 'accepted'), 1);
});

test('the read side: ranges, one node or all, latest heartbeat per node with its age by the backend clock', async () => {
  const { h, nodeId, send, batch } = setup();
  const other = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'test' }, name: 'mx2' });
  const otherId = (h.db.prepare("SELECT id FROM mx_nodes WHERE name = 'mx2'").get() as { id: number }).id;
  assert.equal((await batch(0, sampleEvents())).status, 200);
  assert.equal((await batch(0, [{ seq: 1, at: T0 - MIN, type: 'accepted', messageId: 'x' }], other)).status, 200);
  const beat: TelemetryHeartbeat = {
    at: T0,
    queueDepth: 3,
    oldestQueuedMs: 4_000,
    inRetry: 1,
    configVersion: 9,
    lastSyncAt: T0 - 5_000,
    lastSeq: 14,
  };
  assert.equal((await send('/api/v1/telemetry/heartbeat', beat)).status, 200);
  h.advance(90_000);
  const range = { from: T0 - 10 * MIN, to: T0 + MIN };
  const accepted = (nodeIdFilter?: number) =>
    telemetrySummary(h.db, { ...range, nodeId: nodeIdFilter }, h.now())
      .outcomes.filter((o) => o.outcome === 'accepted')
      .reduce((n, o) => n + o.count, 0);
  assert.equal(accepted(), 4);
  assert.equal(accepted(nodeId), 3);
  assert.equal(accepted(otherId), 1);
  const s = telemetrySummary(h.db, range, h.now());
  assert.deepEqual(s.nodes, [{ nodeId, nodeName: 'mx1', receivedAt: T0, ageMs: 90_000, ...beat }], 'mx2 sent no heartbeat');
  assert.deepEqual(telemetrySummary(h.db, { ...range, nodeId: otherId }, h.now()).nodes, []);
  const empty = telemetrySummary(h.db, { from: T0 + MIN, to: T0 + 2 * MIN }, h.now());
  assert.deepEqual(empty.outcomes, []);
  assert.ok(empty.latency.every((n) => n === 0));
});

test('a wrong, missing or revoked token: 401, no event counted, the node-less bad-token refusal counted (on /mx/config too)', async () => {
  const { h, token, batch, send } = setup();
  const events = sampleEvents();
  const r = await batch(0, events, 'mxn_not-a-token');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="tidings-mx"');
  assert.equal((await batch(0, events, null)).status, 401);
  assert.equal((await send('/api/v1/telemetry/heartbeat', { at: T0 }, 'wrong')).status, 401);
  // The same gate guards the config feed: a bad token there is counted on the same node-less counter.
  assert.equal((await h.request('GET', '/api/v1/mx/config', { headers: { authorization: 'Bearer wrong' } })).status, 401);
  // Rotating the node's token revokes the old one.
  const fresh = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'test' }, name: 'mx1' });
  assert.equal((await batch(0, events, token)).status, 401);
  const empty = { cursors: [], minutes: [], latency: [], heartbeats: [], gauges: [] };
  assert.deepEqual(state(h), empty);
  assert.deepEqual(refusals(h), [{ nodeId: null, reason: 'bad-token', count: 5 }]);
  assert.deepEqual(await json(await batch(0, events, fresh)), { cursor: 14, applied: 12 });
});

test('malformed and oversized batches: 400 naming the field, 413 over the batch size; nothing changes; each counted for the node', async () => {
  const { h, nodeId, token, batch, send } = setup();
  const bad = async (body: unknown, status: number, field: string) => {
    const r = await send('/api/v1/telemetry', body);
    assert.equal(r.status, status, JSON.stringify(body).slice(0, 200));
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const p = await json<{ errors?: { field: string }[] }>(r);
    assert.ok(
      p.errors?.some((e) => e.field === field),
      `${field} in ${JSON.stringify(p.errors)}`,
    );
  };
  await bad({ after: 0, events: [{ seq: 1, at: T0, type: 'rejected', reason: 'no-such-reason' }] }, 400, 'events.0.reason');
  await bad({ after: 0, events: [{ seq: 1, at: T0, type: 'delivered', messageId: 'm', route: 'maildir' }] }, 400, 'events.0.latencyMs');
  await bad(
    {
      after: 0,
      events: [
        { seq: 2, at: T0, type: 'accepted', messageId: 'a' },
        { seq: 2, at: T0, type: 'accepted', messageId: 'b' },
      ],
    },
    400,
    'events.1.seq',
  );
  await bad({ after: 0, events: [{ seq: 1, at: T0, type: 'accepted', messageId: 'm\u0000' }] }, 400, 'events.0.messageId');
  await bad({ after: 3, events: [] }, 400, 'events');
  await bad({ events: [{ seq: 1, at: T0, type: 'accepted', messageId: 'a' }] }, 400, 'after');
  const many = Array.from(
    { length: TELEMETRY_MAX_BATCH + 1 },
    (_, i): TelemetryEvent => ({ seq: i + 1, at: T0, type: 'accepted', messageId: `m${i}` }),
  );
  await bad({ after: 0, events: many }, 413, 'events');
  const raw = await h.request('POST', '/api/v1/telemetry', {
    raw: '{"after": 0, "events": [',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(raw.status, 400);
  assert.deepEqual(state(h), { cursors: [], minutes: [], latency: [], heartbeats: [], gauges: [] });
  assert.deepEqual(refusals(h), [
    { nodeId, reason: 'malformed', count: 7 },
    { nodeId, reason: 'too-large', count: 1 },
  ]);
  // Exactly the maximum is a batch like any other.
  assert.deepEqual(await json(await batch(0, many.slice(0, TELEMETRY_MAX_BATCH))), {
    cursor: TELEMETRY_MAX_BATCH,
    applied: TELEMETRY_MAX_BATCH,
  });
});

test('an event more than 5 minutes ahead of the backend clock: 422 naming its seq, nothing of the batch applied', async () => {
  const { h, nodeId, batch } = setup();
  const events = sampleEvents();
  events.push({ seq: 15, at: T0 + 5 * MIN + 1, type: 'accepted', messageId: 'late' });
  const r = await batch(0, events);
  assert.equal(r.status, 422);
  const p = await json<{ detail: string; seq: number }>(r);
  assert.match(p.detail, /seq 15\b/);
  assert.equal(p.seq, 15);
  assert.deepEqual(state(h), { cursors: [], minutes: [], latency: [], heartbeats: [], gauges: [] });
  assert.deepEqual(refusals(h), [{ nodeId, reason: 'future', count: 1 }]);
  // Exactly 5 minutes ahead is clock skew the backend takes.
  events[events.length - 1] = { seq: 15, at: T0 + 5 * MIN, type: 'accepted', messageId: 'late' };
  assert.deepEqual(await json(await batch(0, events)), { cursor: 15, applied: 13 });
});

test('a batch that would skip events: 409 with the cursor to resend from, nothing changed; resending from it applies', async () => {
  const { h, nodeId, batch } = setup();
  const events = sampleEvents();
  assert.deepEqual(await json(await batch(0, events.slice(0, 4))), { cursor: 5, applied: 4 });
  const before = state(h);
  // The node thinks seq 9 was acknowledged: seqs 6..9 would never be counted.
  let r = await batch(9, events.slice(8));
  assert.equal(r.status, 409);
  const p = await json<{ cursor: number; detail: string; status: number }>(r);
  assert.equal(p.cursor, 5);
  assert.equal(p.status, 409);
  assert.match(p.detail, /resend from 5/);
  assert.deepEqual(state(h), before);
  // A fresh node's cursor is 0: any after > 0 is a gap too.
  const other = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'test' }, name: 'mx2' });
  r = await batch(3, [{ seq: 4, at: T0, type: 'accepted', messageId: 'x' }], other);
  assert.equal(r.status, 409);
  assert.equal((await json<{ cursor: number }>(r)).cursor, 0);
  const otherId = (h.db.prepare("SELECT id FROM mx_nodes WHERE name = 'mx2'").get() as { id: number }).id;
  assert.deepEqual(refusals(h), [
    { nodeId, reason: 'gap', count: 1 },
    { nodeId: otherId, reason: 'gap', count: 1 },
  ]);
  // Resending from the cursor the 409 gave: everything counted once.
  assert.deepEqual(
    await json(
      await batch(
        p.cursor,
        events.filter((e) => e.seq > p.cursor),
      ),
    ),
    { cursor: 14, applied: 8 },
  );
  assert.deepEqual(state(h).minutes, expectedMinutes(nodeId));
  assert.deepEqual(state(h).latency, expectedLatency(nodeId));
});

test('one transaction: a batch failing midway leaves neither cursor nor buckets changed; sent again it applies whole', async () => {
  const { h, nodeId, batch } = setup();
  const events = sampleEvents();
  assert.deepEqual(await json(await batch(0, events.slice(0, 2))), { cursor: 2, applied: 2 });
  const before = state(h);
  // A fault in the store on a bucket written after others of the same batch (the quarantined one comes late).
  h.db.exec(`CREATE TRIGGER fault BEFORE INSERT ON telemetry_minutes WHEN NEW.outcome = 'quarantined'
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
  const r = await batch(2, events.slice(2));
  assert.equal(r.status, 500);
  assert.deepEqual(state(h), before, 'no bucket of the failed batch, and the cursor where it was');
  assert.deepEqual(refusals(h), [], 'a failure on our side is no refusal of the batch');
  h.db.exec('DROP TRIGGER fault');
  assert.deepEqual(await json(await batch(2, events.slice(2))), { cursor: 14, applied: 10 });
  assert.deepEqual(state(h).minutes, expectedMinutes(nodeId));
});

test('heartbeats: the latest reading per node, gauges folded per minute as maxima; bad ones refused, counted, nothing changed', async () => {
  const { h, nodeId, send } = setup();
  const beat = (over: Partial<TelemetryHeartbeat>): TelemetryHeartbeat => ({
    at: T0,
    queueDepth: 0,
    oldestQueuedMs: null,
    inRetry: 0,
    configVersion: 4,
    lastSyncAt: null,
    lastSeq: 0,
    ...over,
  });
  const hb = (b: unknown) => send('/api/v1/telemetry/heartbeat', b);
  let r = await hb(beat({ at: T0 + 1_000, queueDepth: 7, oldestQueuedMs: 30_000, inRetry: 2 }));
  assert.equal(r.status, 200);
  assert.deepEqual(await json(r), { receivedAt: T0 });
  h.advance(15_000);
  assert.equal(
    (await hb(beat({ at: T0 + 16_000, queueDepth: 2, oldestQueuedMs: null, inRetry: 3, lastSyncAt: T0, lastSeq: 40 }))).status,
    200,
  );
  // A late retry of a reading older than the one held does not replace it (but still counts for its minute).
  assert.equal((await hb(beat({ at: T0 + 500, queueDepth: 9, oldestQueuedMs: 1_000 }))).status, 200);
  h.advance(60_000);
  assert.equal((await hb(beat({ at: T0 + 76_000, queueDepth: 1, oldestQueuedMs: 500 }))).status, 200);
  const s = state(h);
  assert.deepEqual(s.heartbeats, [
    {
      node_id: nodeId,
      received_at: T0 + 75_000,
      at: T0 + 76_000,
      queue_depth: 1,
      oldest_queued_ms: 500,
      in_retry: 0,
      config_version: 4,
      last_sync_at: null,
      last_seq: 0,
      scanning: null, // the node did not say (a node older than the field)
    },
  ]);
  assert.deepEqual(s.gauges, [
    { node_id: nodeId, minute: T0, queue_depth_max: 9, oldest_queued_ms_max: 30_000, in_retry_max: 3 },
    { node_id: nodeId, minute: T0 + MIN, queue_depth_max: 1, oldest_queued_ms_max: 500, in_retry_max: 0 },
  ]);
  assert.deepEqual(s.cursors, [], 'a heartbeat moves no cursor');

  r = await hb(beat({ at: T0 + 75_000 + 5 * MIN + 1 }));
  assert.equal(r.status, 422);
  assert.match((await json<{ detail: string }>(r)).detail, /in the future|after the backend's clock/);
  r = await hb({ ...beat({}), queueDepth: -1 });
  assert.equal(r.status, 400);
  assert.ok((await json<{ errors: { field: string }[] }>(r)).errors.some((e) => e.field === 'queueDepth'));
  assert.deepEqual(refusals(h), [
    { nodeId, reason: 'future', count: 1 },
    { nodeId, reason: 'malformed', count: 1 },
  ]);
  assert.deepEqual(state(h).heartbeats, s.heartbeats, 'refused heartbeats change nothing');
});
