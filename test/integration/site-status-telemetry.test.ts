// /status.json carries the telemetry summary of the section the MX nodes report for (TIDINGS_TELEMETRY_SECTION, email
// by default), fed through the real POST /api/v1/telemetry and /telemetry/heartbeat of the same app: the last five
// minute buckets, p95 from the histogram, gauges from the latest heartbeats; the snapshot still spares the database
// per view, rebuilds on accepted telemetry (throttled) and on its refresh boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusJson, type SectionTelemetry } from '#data/contracts/status.ts';
import {
  LATENCY_BUCKETS_MS,
  latencyBucket,
  latencyQuantile,
  type TelemetryEvent,
  type TelemetryHeartbeat,
} from '#data/contracts/telemetry.ts';
import { createChangeCounter } from '#server/deps.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { openBackendStore } from '#server/store/open.ts';
import { countingPrepares, postAsNode, startSiteServer, type SiteServer } from '../support/site-server.ts';

const MIN = 60_000;
/** Half past 12:00: the window is the minutes 11:56 to 12:00 (the current one partial). */
const T = Date.parse('2026-01-15T12:00:30.000Z');
const SINCE = '2026-01-15T11:56:00.000Z';

interface Env {
  site: SiteServer;
  prepares: () => number;
  setNow(ms: number): void;
  node(name: string): {
    batch(after: number, events: TelemetryEvent[]): Promise<void>;
    beat(hb: Partial<TelemetryHeartbeat>): Promise<void>;
  };
  status(): Promise<StatusJson>;
}

async function start(opts: { env?: Record<string, string> } = {}): Promise<Env> {
  let now = T;
  let prepares = 0;
  const db = openBackendStore(':memory:', () => new Date(now));
  // Counts statements prepared through the app's handle: a view served from the snapshot prepares none.
  const counting = countingPrepares(db, () => {
    prepares++;
  });
  const site = await startSiteServer({ now: new Date(T).toISOString(), db: counting, env: opts.env });
  const ctx = { db, clock: () => new Date(now), changes: createChangeCounter() };
  const post = (path: string, token: string, body: unknown) => postAsNode(site, path, token, body);
  return {
    site,
    prepares: () => prepares,
    setNow(ms) {
      now = ms;
      site.setNow(new Date(ms).toISOString());
    },
    node(name) {
      const token = issueNodeToken({ ctx, actor: { userId: null, name: 'test' }, name });
      return {
        batch: (after, events) => post('/api/v1/telemetry', token, { after, events }),
        beat: (hb) =>
          post('/api/v1/telemetry/heartbeat', token, {
            at: now,
            queueDepth: 0,
            oldestQueuedMs: null,
            inRetry: 0,
            configVersion: 1,
            lastSyncAt: null,
            lastSeq: 0,
            ...hb,
          }),
      };
    },
    status: async () => {
      const r = await site.get('/status.json');
      assert.equal(r.status, 200);
      return StatusJson.parse(await r.json());
    },
  };
}

const telemetryOf = (s: StatusJson, slug: string): SectionTelemetry | undefined => s.sections.find((x) => x.slug === slug)?.telemetry;

/** A batch around the window's start: two events just before it (not counted), the rest inside it. */
function events(): TelemetryEvent[] {
  let seq = 0;
  const e = (at: number, rest: Record<string, unknown>) => ({ seq: ++seq, at, ...rest }) as TelemetryEvent;
  const start = Date.parse(SINCE);
  return [
    // 11:54:30 and 11:55:59.999: older than the five minute buckets, not counted.
    e(T - 6 * MIN, { type: 'accepted', messageId: 'old' }),
    e(start - 1, { type: 'delivered', messageId: 'old', route: 'maildir', latencyMs: 900_000 }),
    // 11:56:00.000, the first instant of the window: counted.
    e(start, { type: 'delivered', messageId: 'a0', route: 'maildir', latencyMs: 50 }),
    e(T - 3 * MIN, { type: 'accepted', messageId: 'a1' }),
    e(T - 3 * MIN + 1, { type: 'accepted', messageId: 'a2' }),
    e(T - 3 * MIN + 2, { type: 'rejected', reason: 'unknown-user' }),
    e(T - 2 * MIN, { type: 'delivered', messageId: 'a1', route: 'maildir', latencyMs: 7 }),
    e(T - 2 * MIN + 1, { type: 'delivered', messageId: 'a2', route: 'lmtp', latencyMs: 120 }),
    e(T - MIN, { type: 'accepted', messageId: 'a3' }),
    e(T - MIN + 1, { type: 'rejected', reason: 'too-big' }),
    e(T - MIN + 2, { type: 'deferred', messageId: 'a4', route: 'forward' }),
    e(T - MIN + 3, { type: 'bounced', messageId: 'a4', route: 'forward', reason: 'permanent' }),
    e(T - 1_000, { type: 'delivered', messageId: 'a3', route: 'lmtp', latencyMs: 2_000 }),
    e(T - 500, { type: 'quarantined', messageId: 'a5', reason: 'spam' }),
  ];
}

test('status.json: the email section carries exactly the last five minutes of its nodes; other sections carry nothing', async () => {
  const t = await start();
  try {
    const mx1 = t.node('mx1');
    let body = await t.status();
    assert.ok(
      body.sections.every((s) => !('telemetry' in s)),
      'a node with a token that never reported: no section has telemetry',
    );

    await mx1.batch(0, events());
    await mx1.beat({ queueDepth: 4, lastSeq: 14 });
    body = await t.status();
    // Delivered in the window: 50, 7, 120 and 2,000 ms; the 95th of four is the fourth, in the bucket up to 3,162 ms.
    const latencies = [50, 7, 120, 2_000];
    const histogram = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    for (const ms of latencies) histogram[latencyBucket(ms)]++;
    assert.equal(latencyQuantile(histogram, 0.95), 3_162);
    assert.deepEqual(telemetryOf(body, 'email'), {
      window: '5m',
      since: SINCE,
      accepted: 3,
      delivered: 4,
      deferred: 1,
      bounced: 1,
      rejected: 2,
      p95LatencyMs: 3_162,
      p95LatencyOverflow: false,
      queueDepth: 4,
      nodes: 1,
      lastHeartbeatAt: new Date(T).toISOString(),
      freshestHeartbeatAgeMs: 0,
    });
    const others = body.sections.filter((s) => s.slug !== 'email');
    assert.deepEqual(
      others.map((s) => [s.slug, 'telemetry' in s]),
      others.map((s) => [s.slug, false]),
    );

    // Five minutes on, with no write: the refresh boundary rebuilt the snapshot, the events left the window, the
    // heartbeat is still the latest one (and shows its age); no delivery means no p95, not a zero.
    t.setNow(T + 5 * MIN);
    body = await t.status();
    assert.deepEqual(telemetryOf(body, 'email'), {
      window: '5m',
      since: '2026-01-15T12:01:00.000Z',
      accepted: 0,
      delivered: 0,
      deferred: 0,
      bounced: 0,
      rejected: 0,
      p95LatencyMs: null,
      p95LatencyOverflow: false,
      queueDepth: 4,
      nodes: 1,
      lastHeartbeatAt: new Date(T).toISOString(),
      freshestHeartbeatAgeMs: 5 * MIN,
    });
  } finally {
    await t.site.close();
  }
});

test('status.json sums every node: queue depths of the latest heartbeats, the freshest one, a p95 past the last bucket', async () => {
  const t = await start();
  try {
    const mx1 = t.node('mx1');
    const mx2 = t.node('mx2');
    await mx1.beat({ queueDepth: 4 });
    await mx1.batch(0, [{ seq: 1, at: T - 10_000, type: 'delivered', messageId: 'x', route: 'legacy', latencyMs: 10 * 86_400_000 }]);
    let email = telemetryOf(await t.status(), 'email');
    assert.equal(email?.p95LatencyOverflow, true, 'ten days is past the last bound');
    assert.equal(email?.p95LatencyMs, LATENCY_BUCKETS_MS.at(-1));
    assert.deepEqual([email?.nodes, email?.queueDepth], [1, 4]);
    t.setNow(T + 20_000);
    await mx2.beat({ queueDepth: 3 });
    await mx1.batch(1, [{ seq: 2, at: T + 20_000, type: 'delivered', messageId: 'y', route: 'maildir', latencyMs: 20 }]);
    email = telemetryOf(await t.status(), 'email');
    assert.deepEqual(
      [email?.nodes, email?.queueDepth, email?.delivered, email?.lastHeartbeatAt, email?.freshestHeartbeatAgeMs],
      [2, 7, 2, new Date(T + 20_000).toISOString(), 0],
    );
  } finally {
    await t.site.close();
  }
});

test('accepted telemetry bumps the change counter at most once per 15 s; the refresh boundary shows what a flood held back', async () => {
  const t = await start();
  try {
    const mx1 = t.node('mx1');
    await mx1.beat({ queueDepth: 1 });
    assert.equal(telemetryOf(await t.status(), 'email')?.accepted, 0);
    const v0 = t.site.changes.version();
    // Twenty batches between 12:00:31 and 12:00:44.3, all within 15 s of the heartbeat's bump at 12:00:30: no bump.
    for (let i = 1; i <= 20; i++) {
      t.setNow(T + 1_000 + (i - 1) * 700);
      await mx1.batch(i - 1, [{ seq: i, at: T, type: 'accepted', messageId: `m${i}` }]);
    }
    assert.equal(t.site.changes.version(), v0, 'no bump for twenty batches within 15 s of the last one');
    assert.equal(telemetryOf(await t.status(), 'email')?.accepted, 0, 'the snapshot of 12:00:30 is still served');
    // The refresh boundary at 12:00:45 catches up without a bump: what the page shows is at most 15 s old.
    t.setNow(T + 15_000);
    assert.equal(telemetryOf(await t.status(), 'email')?.accepted, 20);
    // 15 s after the last bump, the next accepted batch bumps again, and the view shows it at once.
    t.setNow(T + 16_000);
    await mx1.batch(20, [{ seq: 21, at: T + 16_000, type: 'accepted', messageId: 'm21' }]);
    assert.equal(t.site.changes.version(), v0 + 1);
    assert.equal(telemetryOf(await t.status(), 'email')?.accepted, 21);
  } finally {
    await t.site.close();
  }
});

test('page views between refreshes do no database work, with telemetry shown; the refresh boundary reads it once', async () => {
  const t = await start();
  try {
    const mx1 = t.node('mx1');
    await mx1.beat({ queueDepth: 2 });
    for (const p of ['/', '/section/email', '/status.json']) await t.site.get(p);
    const before = t.prepares();
    // 12:00:30 to 12:00:44.9: the same snapshot (its refresh boundary is 12:00:45).
    for (let i = 0; i < 10; i++) {
      t.setNow(T + i * 1_490);
      for (const p of ['/', '/section/email', '/status.json']) assert.equal((await t.site.get(p)).status, 200, p);
    }
    assert.equal(t.prepares(), before, 'no statement prepared before the refresh boundary');
    t.setNow(T + 15_000);
    const body = await t.status();
    assert.ok(t.prepares() > before, 'the boundary rebuilt the snapshot from the database');
    assert.equal(telemetryOf(body, 'email')?.freshestHeartbeatAgeMs, 15_000);
  } finally {
    await t.site.close();
  }
});

test('TIDINGS_TELEMETRY_SECTION moves the summary to the section named, and only there', async () => {
  const t = await start({ env: { TIDINGS_TELEMETRY_SECTION: 'dns' } });
  try {
    await t.node('mx1').beat({ queueDepth: 5 });
    const body = await t.status();
    assert.equal(telemetryOf(body, 'dns')?.queueDepth, 5);
    assert.deepEqual(
      body.sections.filter((s) => 'telemetry' in s).map((s) => s.slug),
      ['dns'],
    );
  } finally {
    await t.site.close();
  }
});
