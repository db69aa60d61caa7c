// The telemetry section's light follows its nodes (issue 10), through the real POST /api/v1/telemetry and
// /telemetry/heartbeat of the app and an injected clock: silence turns it unknown at exactly the stale instant with no
// write (a snapshot boundary), a backlog, a tempfail ratio or a sustained p95 turn it to active issues and back, a
// staff override still wins, each change is stored once with its reason, and a site whose nodes never reported keeps
// the tasks' state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { StatusJson } from '#data/contracts/status.ts';
import type { TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import { loadConfig } from '#data/config.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { setOverride } from '#server/services/overrides/setOverride.ts';
import { createStatusSnapshots, publicSignals } from '#server/services/status-snapshot.ts';
import { stateChanges } from '#server/store/state-changes.ts';
import { playNode, startSiteServer, type PlayedNode, type SiteServer, type UnnumberedEvent } from '../support/site-server.ts';

const MIN = 60_000;
const T = Date.parse('2026-01-15T12:00:30.000Z');
const LEGEND = 'service status unknown or not updated yet';

interface Env {
  site: SiteServer;
  now(): number;
  setNow(ms: number): void;
  beat(hb?: Partial<TelemetryHeartbeat>, node?: string): Promise<void>;
  batch(events: UnnumberedEvent[]): Promise<void>;
  email(): Promise<StatusJson['sections'][number]>;
  changes(): { state: string; source: string; at: string; reason: string }[];
}

async function start(env: Record<string, string> = {}, slug = 'email'): Promise<Env> {
  let now = T;
  const site = await startSiteServer({ now: new Date(T).toISOString(), env });
  const nodes = new Map<string, PlayedNode>();
  const nodeOf = (name: string): PlayedNode => {
    let node = nodes.get(name);
    if (!node) {
      const ctx = { db: site.db, clock: () => new Date(now), changes: site.changes };
      node = playNode(site, issueNodeToken({ ctx, actor: { userId: null, name: 'test' }, name }));
      nodes.set(name, node);
    }
    return node;
  };
  return {
    site,
    now: () => now,
    setNow(ms) {
      now = ms;
      site.setNow(new Date(ms).toISOString());
    },
    beat: (hb = {}, node = 'mx1') => nodeOf(node).beat(now, hb),
    batch: (events) => nodeOf('mx1').batch(events),
    email: async () => {
      const r = await site.get('/status.json');
      assert.equal(r.status, 200);
      const s = StatusJson.parse(await r.json()).sections.find((x) => x.slug === slug);
      assert.ok(s);
      return s;
    },
    changes: () => stateChanges(site.db, slug).map(({ state, source, at, reason }) => ({ state, source, at, reason })),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The feed's entries as [title, content text, link] (Atom) or [title, description, link] (RSS), newest first. */
async function feed(site: SiteServer, path: string): Promise<[string, string, string][]> {
  const r = await site.get(path);
  assert.equal(r.status, 200, path);
  const xml = await r.text();
  assert.equal(XMLValidator.validate(xml), true, `${path} is well-formed XML`);
  const doc = new XMLParser({ ignoreAttributes: false }).parse(xml);
  const text = (x: unknown) => String(typeof x === 'object' && x !== null ? (x as Record<string, unknown>)['#text'] : (x ?? ''));
  if (path.endsWith('.atom'))
    return [doc.feed.entry ?? []]
      .flat()
      .map((e: Record<string, unknown>) => [text(e.title), text(e.content), (e.link as Record<string, string>)['@_href']]);
  return [doc.rss.channel.item ?? []].flat().map((i: Record<string, unknown>) => [text(i.title), text(i.description), text(i.link)]);
}

test('heartbeat then silence: unknown at exactly the stale instant, with no write; a new heartbeat brings it back', async () => {
  const t = await start();
  try {
    // 12:00:37.001: stale at 12:05:37.001, which is no 15 s refresh instant.
    t.setNow(T + 7_001);
    await t.beat();
    assert.equal((await t.email()).state, 'operational');
    const version = t.site.changes.version();
    t.setNow(T + 5 * MIN + 7_000);
    const before = await t.email();
    assert.equal(before.state, 'operational', 'one millisecond before the stale instant');
    t.setNow(T + 5 * MIN + 7_001);
    const stale = await t.email();
    assert.equal(stale.state, 'unknown', 'at the stale instant, rebuilt by the boundary alone');
    assert.equal(stale.legend, LEGEND);
    assert.equal(stale.reason, `${LEGEND}: no heartbeat from any mail node for 5 min`);
    assert.equal(t.site.changes.version(), version, 'nothing was written meanwhile');
    // Views while stale store nothing more.
    t.setNow(T + 20 * MIN);
    assert.equal((await t.email()).state, 'unknown');
    await t.beat();
    assert.equal((await t.email()).state, 'operational');
    assert.deepEqual(t.changes(), [
      { state: 'operational', source: 'tasks', at: iso(T + 7_001), reason: 'no open incidents or announced work' },
      { state: 'unknown', source: 'telemetry', at: iso(T + 5 * MIN + 7_001), reason: stale.reason },
      { state: 'operational', source: 'tasks', at: iso(T + 20 * MIN), reason: 'no open incidents or announced work' },
    ]);
    // The feeds carry the changes (the first stored state, when recording began, is none), newest first.
    const section = 'http://status.example.test/section/email';
    const entries = [
      ['Email: normal work for all services', '<p>no open incidents or announced work</p>', section],
      [`Email: ${LEGEND}`, `<p>${stale.reason}</p>`, section],
    ];
    for (const path of ['/section/email/feed.atom', '/section/email/feed.rss'])
      assert.deepEqual(
        (await feed(t.site, path)).filter(([title]) => title.startsWith('Email: ')),
        entries,
        path,
      );
    const all = (await feed(t.site, '/feed.atom')).filter(([title]) => title.startsWith('Email: '));
    assert.deepEqual(all, entries, 'the all-updates feed has them too');
    assert.deepEqual(await feed(t.site, '/section/dns/feed.atom'), [], 'the DNS feed has none of them');
  } finally {
    await t.site.close();
  }
});

test('a backlog older than 30 minutes turns it to active issues as it ages, with no write; it returns when it drains', async () => {
  const t = await start();
  try {
    await t.beat({ queueDepth: 3, oldestQueuedMs: 29 * MIN });
    assert.equal((await t.email()).state, 'operational');
    // Older than 30 minutes one minute and one millisecond after the heartbeat that reported 29 minutes.
    t.setNow(T + MIN);
    assert.equal((await t.email()).state, 'operational', 'exactly 30 minutes is not older than 30');
    t.setNow(T + MIN + 1);
    const late = await t.email();
    assert.equal(late.state, 'issues');
    assert.equal(late.reason, 'the oldest queued delivery on mx1 is older than 30 min');
    t.setNow(T + 2 * MIN);
    await t.beat({ queueDepth: 0, oldestQueuedMs: null });
    assert.equal((await t.email()).state, 'operational');
    assert.deepEqual(
      t.changes().map((c) => [c.state, c.source, c.at]),
      [
        ['operational', 'tasks', iso(T)],
        ['issues', 'telemetry', iso(T + MIN + 1)],
        ['operational', 'tasks', iso(T + 2 * MIN)],
      ],
    );
  } finally {
    await t.site.close();
  }
});

test("a stale node's last backlog is not believed while another node is fresh", async () => {
  const t = await start();
  try {
    await t.beat({ queueDepth: 9, oldestQueuedMs: 31 * MIN }, 'mx2');
    await t.beat({ queueDepth: 0, oldestQueuedMs: null });
    assert.equal((await t.email()).reason, 'the oldest queued delivery on mx2 is older than 30 min');
    t.setNow(T + 4 * MIN);
    await t.beat();
    assert.equal((await t.email()).state, 'issues', 'mx2 is still fresh');
    t.setNow(T + 5 * MIN);
    assert.equal((await t.email()).state, 'operational', 'mx2 went stale at 12:05:30; mx1 (12:04:30) is fresh');
  } finally {
    await t.site.close();
  }
});

test('tempfail ratio: over 5 % of attempts deferred in the last ten whole minutes is active issues', async () => {
  const t = await start();
  try {
    await t.beat();
    const delivered = (i: number) => ({ at: T - 2 * MIN, type: 'delivered', messageId: `d${i}`, route: 'maildir', latencyMs: 10 }) as const;
    // 19 delivered, 1 deferred: exactly 5 %, not over.
    await t.batch([
      ...Array.from({ length: 19 }, (_, i) => delivered(i)),
      { at: T - 2 * MIN, type: 'deferred', messageId: 'x', route: 'forward' },
    ]);
    assert.equal((await t.email()).state, 'operational');
    await t.batch([{ at: T - MIN, type: 'deferred', messageId: 'y', route: 'forward' }]);
    // Accepted telemetry shows within the 15 s refresh (its change-counter bump is throttled).
    t.setNow(T + 15_000);
    const bad = await t.email();
    assert.equal(bad.state, 'issues');
    assert.equal(bad.reason, '9.5 % of delivery attempts deferred in the last 10 min');
    // Ten minutes on (node still beating) the deferrals have left the window.
    t.setNow(T + 9 * MIN);
    await t.beat();
    assert.equal((await t.email()).state, 'issues', '11:59 is still in the window 11:59-12:09');
    t.setNow(T + 10 * MIN);
    await t.beat();
    assert.equal((await t.email()).state, 'operational');
  } finally {
    await t.site.close();
  }
});

test('p95: deliveries known to be slower than 5 minutes at the 95th percentile of the last ten minutes', async () => {
  const t = await start();
  try {
    await t.beat();
    const d = (i: number, latencyMs: number) =>
      ({ at: T - 3 * MIN, type: 'delivered', messageId: `m${i}`, route: 'lmtp', latencyMs }) as const;
    // 19 fast and one slow: the p95 is fast.
    await t.batch([...Array.from({ length: 19 }, (_, i) => d(i, 50)), d(19, 400_000)]);
    assert.equal((await t.email()).state, 'operational');
    // 200 s falls in the bucket 177.8 s-316.2 s, which straddles 5 min: not known to be over, no alarm.
    await t.batch(Array.from({ length: 20 }, (_, i) => d(100 + i, 200_000)));
    t.setNow(T + 15_000);
    assert.equal((await t.email()).state, 'operational');
    await t.batch(Array.from({ length: 40 }, (_, i) => d(200 + i, 400_000)));
    t.setNow(T + 30_000);
    const slow = await t.email();
    assert.equal(slow.state, 'issues');
    assert.equal(slow.reason, 'p95 delivery delay over 5 min for the last 10 min');
    t.setNow(T + 7 * MIN);
    await t.beat();
    assert.equal((await t.email()).state, 'issues', 'the slow minute (11:57) is still in the window 11:57-12:07');
    t.setNow(T + 8 * MIN);
    await t.beat();
    assert.equal((await t.email()).state, 'operational', 'the slow minute (11:57) left the window 11:58-12:08');
  } finally {
    await t.site.close();
  }
});

test('a staff override wins over the telemetry verdict until it expires; each change is stored once', async () => {
  const t = await start();
  try {
    await t.beat();
    assert.equal((await t.email()).state, 'operational');
    const ctx = { db: t.site.db, clock: () => new Date(t.now()), changes: t.site.changes, publicUrl: 'http://localhost' };
    setOverride({
      ctx,
      actor: { userId: null, name: 'test' },
      slug: 'email',
      input: { state: 'operational', note: 'all fine, nodes moving', expiresAt: iso(T + 10 * MIN) },
    });
    t.setNow(T + 6 * MIN);
    const held = await t.email();
    assert.deepEqual([held.state, held.reason], ['operational', 'all fine, nodes moving']);
    t.setNow(T + 10 * MIN);
    assert.equal((await t.email()).state, 'unknown', 'the expiry hands over to the telemetry verdict');
    assert.deepEqual(
      t.changes().map((c) => [c.state, c.source, c.at]),
      [
        ['operational', 'tasks', iso(T)],
        ['unknown', 'telemetry', iso(T + 10 * MIN)],
      ],
      'the override kept the state operational: no change stored, whatever the source',
    );
  } finally {
    await t.site.close();
  }
});

test('a change an override makes is stored with the override as its source', async () => {
  const t = await start();
  try {
    await t.beat();
    assert.equal((await t.email()).state, 'operational');
    const ctx = { db: t.site.db, clock: () => new Date(t.now()), changes: t.site.changes, publicUrl: 'http://localhost' };
    setOverride({
      ctx,
      actor: { userId: null, name: 'test' },
      slug: 'email',
      input: { state: 'issues', note: 'mail delayed at a provider', expiresAt: iso(T + 2 * MIN) },
    });
    assert.equal((await t.email()).state, 'issues');
    t.setNow(T + 2 * MIN);
    await t.beat();
    assert.equal((await t.email()).state, 'operational');
    assert.deepEqual(
      t.changes().map((c) => [c.state, c.source, c.reason]),
      [
        ['operational', 'tasks', 'no open incidents or announced work'],
        ['issues', 'override', 'mail delayed at a provider'],
        ['operational', 'tasks', 'no open incidents or announced work'],
      ],
    );
  } finally {
    await t.site.close();
  }
});

test('restarts store nothing new: a second snapshot over the same database finds the stored state', async () => {
  const t = await start();
  try {
    await t.beat();
    assert.equal((await t.email()).state, 'operational');
    t.setNow(T + 5 * MIN);
    assert.equal((await t.email()).state, 'unknown');
    const stored = t.changes();
    const config = loadConfig({ TIDINGS_STATE_DIR: '/nonexistent' }, '/');
    const again = createStatusSnapshots({
      db: t.site.db,
      clock: () => new Date(t.now()),
      changes: t.site.changes,
      displayTimeZone: 'UTC',
      publicUrl: 'http://x.test',
      signals: publicSignals({ db: t.site.db, config }),
      recordStateChanges: true,
    });
    assert.equal(again.current().snapshot.sections.find((s) => s.slug === 'email')?.state, 'unknown');
    assert.deepEqual(t.changes(), stored);
    assert.equal(stored.length, 2);
  } finally {
    await t.site.close();
  }
});

test('no node ever reported: the section never goes unknown and keeps the tasks state', async () => {
  const t = await start();
  try {
    assert.equal((await t.email()).state, 'operational');
    t.setNow(T + 6 * 3_600_000);
    const e = await t.email();
    assert.equal(e.state, 'operational');
    assert.equal('telemetry' in e, false);
    assert.deepEqual(
      t.changes().map((c) => c.state),
      ['operational'],
    );
  } finally {
    await t.site.close();
  }
});

test('shortened thresholds and TIDINGS_TELEMETRY_SECTION apply: another section follows the nodes', async () => {
  const t = await start(
    { TIDINGS_TELEMETRY_SECTION: 'dns', TIDINGS_TELEMETRY_STALE_AFTER: '30s', TIDINGS_TELEMETRY_OLDEST_QUEUED_THRESHOLD: '1m' },
    'dns',
  );
  try {
    await t.beat({ queueDepth: 1, oldestQueuedMs: 61_000 });
    assert.equal((await t.email()).state, 'issues');
    t.setNow(T + 30_000);
    assert.equal((await t.email()).state, 'unknown');
    const r = await t.site.get('/status.json');
    const email = StatusJson.parse(await r.json()).sections.find((s) => s.slug === 'email');
    assert.equal(email?.state, 'operational', 'the email section no longer follows the nodes');
  } finally {
    await t.site.close();
  }
});
