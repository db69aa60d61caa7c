// The shadow report (issue 13) over HTTP: 'shadow-verdict' events shipped by nodes (POST /api/v1/telemetry, the quick
// path) are counted per UTC day, domain, address, verdict and reason exactly once (a replayed batch adds nothing), the
// latest samples are kept per address, verdict and reason, GET /api/v1/mail/shadow reports them over a range of days,
// bad queries are 400 problems, the retention job prunes, and `mail shadow` prints the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '#data/config.ts';
import type { ShadowReason, ShadowReport, ShadowVerdictKind } from '#data/contracts/shadow.ts';
import { DEFAULT_SHADOW_REPORT_RETENTION_MS, runShadowReportPrune } from '#server/jobs/shadow-report-prune.ts';
import { startJobs } from '#server/jobs/schedule.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { runCliInProcess } from '../support/cli-in-process.ts';
import { makeHarness, type Session } from './api-harness.ts';

const H = 3_600_000;
const DAY = 24 * H;

/** One recipient's dry-run verdict as an event (before the shipper numbers it). */
function verdict(address: string, v: ShadowVerdictKind, reason: ShadowReason, at: number, subject: string, score: number | null = 1.5) {
  return {
    at,
    type: 'shadow-verdict',
    messageId: `q-${subject}`,
    verdict: {
      domain: address.split('@')[1],
      address,
      verdict: v,
      reason,
      score,
      sample: { from: 'sender@remote.test', subject, date: 'Thu, 15 Jan 2026 11:59:00 +0000', messageId: `<${subject}@remote.test>` },
    },
  };
}

async function setup() {
  const h = makeHarness();
  let session: Session = await h.admin();
  const tokens = {
    mx1: issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' }),
    mx2: issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx2' }),
  };
  const ship = async (node: 'mx1' | 'mx2', after: number, events: Record<string, unknown>[]) => {
    const batch = { after, events: events.map((e, i) => ({ seq: after + i + 1, ...e })) };
    const res = await h.request('POST', '/api/v1/telemetry', { body: batch, headers: { authorization: `Bearer ${tokens[node]}` } });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    return body as { cursor: number; applied: number };
  };
  const get = async (query = '', as: 'anyone' | null = 'anyone') => {
    const res = await h.request('GET', `/api/v1/mail/shadow${query}`, { session: as === null ? undefined : session });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Record<string, unknown> };
  };
  const report = async (query = '') => {
    const r = await get(query);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as unknown as ShadowReport;
  };
  const now = h.now().getTime(); // 2026-01-15T12:00:00Z
  // Two days earlier, one verdict (mx1's first batch).
  await ship('mx1', 0, [verdict('anna@a.test', 'deliver', 'clean', now - 2 * DAY, 'old')]);
  const batch = [
    { at: now - 10_000, type: 'accepted', messageId: 'q-x', deliveries: 1 },
    ...[1, 2, 3].map((i) => verdict('anna@a.test', 'deliver', 'clean', now - 9_000 + i, `clean ${i}`)),
    ...[1, 2, 3, 4, 5, 6, 7].map((i) => verdict('anna@a.test', 'quarantine', 'spam', now - 8_000 + i * 100, `spam ${i}`, 9 + i)),
    verdict('anna@a.test', 'reject', 'virus', now - 7_000, 'virus', null),
    verdict('anna@a.test', 'tag', 'spam', now - 6_000, 'tagged', 6.5),
    verdict('info@a.test', 'reject', 'unknown-user', now - 5_000, 'unknown 1'),
    verdict('info@a.test', 'reject', 'unknown-user', now - 4_000, 'unknown 2'),
    verdict('info@a.test', 'tempfail', 'scanner-unavailable', now - 3_000, 'tempfail'),
    verdict('bob@b.test', 'deliver', 'unscanned', now - 2_000, 'unscanned', null),
  ];
  assert.equal((await ship('mx1', 1, batch)).applied, batch.length);
  // Another node's verdicts add to the same rows.
  await ship(
    'mx2',
    0,
    [1, 2].map((i) => verdict('anna@a.test', 'deliver', 'clean', now - 1_000 + i, `mx2 ${i}`)),
  );
  /** A new session (the old one expires when a test moves the clock on by weeks). */
  const relogin = async () => {
    session = await h.login('alice');
  };
  return { h, ship, get, report, relogin, batch };
}

const tally = (t: ShadowReport['domains'][number]['tally']) => ({
  ...t.verdicts,
  total: t.total,
  reasons: t.reasons.map((r) => `${r.verdict}/${r.reason}=${r.count}`),
});

test('shadow verdicts are counted per domain, address, verdict and reason, once (a replay adds nothing), with capped samples', async () => {
  const { ship, report, batch, h } = await setup();
  // The same batch again (the node did not get the answer): nothing is applied, nothing counted twice.
  assert.deepEqual(await ship('mx1', 1, batch), { cursor: batch.length + 1, applied: 0 });
  // ... and a batch that overlaps the cursor counts only its new tail.
  const tail = verdict('info@a.test', 'reject', 'dmarc', h.now().getTime() - 500, 'dmarc');
  assert.equal((await ship('mx1', 2, [...batch.slice(1), tail])).applied, 1);

  const r = await report();
  assert.deepEqual(r.range, { from: '2026-01-09', to: '2026-01-15' });
  assert.equal(r.samplesKept, 5);
  assert.deepEqual(
    r.domains.map((d) => d.domain),
    ['a.test', 'b.test'],
  );
  const [a, b] = r.domains;
  assert.deepEqual(tally(a.tally), {
    deliver: 6,
    tag: 1,
    quarantine: 7,
    reject: 4,
    tempfail: 1,
    total: 19,
    reasons: [
      'deliver/clean=6',
      'tag/spam=1',
      'quarantine/spam=7',
      'reject/virus=1',
      'reject/dmarc=1',
      'reject/unknown-user=2',
      'tempfail/scanner-unavailable=1',
    ],
  });
  assert.deepEqual(
    a.addresses.map((x) => [x.address, tally(x.tally)]),
    [
      [
        'anna@a.test',
        {
          deliver: 6,
          tag: 1,
          quarantine: 7,
          reject: 1,
          tempfail: 0,
          total: 15,
          reasons: ['deliver/clean=6', 'tag/spam=1', 'quarantine/spam=7', 'reject/virus=1'],
        },
      ],
      [
        'info@a.test',
        {
          deliver: 0,
          tag: 0,
          quarantine: 0,
          reject: 3,
          tempfail: 1,
          total: 4,
          reasons: ['reject/dmarc=1', 'reject/unknown-user=2', 'tempfail/scanner-unavailable=1'],
        },
      ],
    ],
  );
  assert.deepEqual(tally(b.tally), {
    deliver: 1,
    tag: 0,
    quarantine: 0,
    reject: 0,
    tempfail: 0,
    total: 1,
    reasons: ['deliver/unscanned=1'],
  });

  // Samples: the latest 5 per address, verdict and reason, newest first, headers and score as sent.
  const subjects = (v: string, reason: string) =>
    a.samples.filter((s) => s.verdict === v && s.reason === reason).map((s) => s.sample.subject);
  assert.deepEqual(subjects('quarantine', 'spam'), ['spam 7', 'spam 6', 'spam 5', 'spam 4', 'spam 3']);
  assert.deepEqual(subjects('deliver', 'clean'), ['mx2 2', 'mx2 1', 'clean 3', 'clean 2', 'clean 1']);
  assert.deepEqual(subjects('reject', 'unknown-user'), ['unknown 2', 'unknown 1']);
  assert.equal(a.samples.length, 5 + 5 + 1 + 1 + 1 + 2 + 1);
  assert.deepEqual(
    a.samples.find((s) => s.sample.subject === 'spam 7'),
    {
      address: 'anna@a.test',
      verdict: 'quarantine',
      reason: 'spam',
      at: new Date(h.now().getTime() - 8_000 + 700).toISOString(),
      queueId: 'q-spam 7',
      score: 16,
      sample: { from: 'sender@remote.test', subject: 'spam 7', date: 'Thu, 15 Jan 2026 11:59:00 +0000', messageId: '<spam 7@remote.test>' },
    },
  );
  assert.equal(a.samples.find((s) => s.verdict === 'reject' && s.reason === 'virus')?.score, null);
  // The store itself holds no more than 5 per key.
  const kept = h.db
    .prepare('SELECT domain, address, verdict, reason, count(*) AS n FROM shadow_samples GROUP BY 1, 2, 3, 4 HAVING n > 5')
    .all();
  assert.deepEqual(kept, []);

  // One domain (any case), and a range: the day two days back holds the first batch's one verdict; its sample was
  // trimmed by newer ones of the same address, verdict and reason.
  assert.deepEqual(
    (await report('?domain=B.TEST')).domains.map((d) => d.domain),
    ['b.test'],
  );
  const old = await report('?from=2026-01-13&to=2026-01-13');
  assert.deepEqual(
    old.domains.map((d) => [d.domain, tally(d.tally), d.samples.length]),
    [['a.test', { deliver: 1, tag: 0, quarantine: 0, reject: 0, tempfail: 0, total: 1, reasons: ['deliver/clean=1'] }, 0]],
  );
  assert.deepEqual((await report('?from=2026-01-14&to=2026-01-14')).domains, []);
  assert.deepEqual((await report('?to=2026-01-12')).range, { from: '2026-01-06', to: '2026-01-12' });
});

test('bad queries are 400 problems with a message; no session is 401', async () => {
  const { get } = await setup();
  for (const query of [
    '?from=2026-02-30',
    '?to=15.01.2026',
    '?from=2026-01-15&to=2026-01-14',
    '?from=2024-01-01&to=2026-01-15',
    '?domain=not_a_domain',
    '?domain=a.test%00',
    '?node=mx1',
  ]) {
    const r = await get(query);
    assert.equal(r.status, 400, `${query}: ${JSON.stringify(r.body)}`);
    assert.match(r.type, /application\/problem\+json/);
    assert.ok(typeof r.body.detail === 'string' && r.body.detail.length > 10, JSON.stringify(r.body));
  }
  assert.match(String((await get('?from=2026-01-15&to=2026-01-14')).body.detail), /starts \(2026-01-15\) after it ends \(2026-01-14\)/);
  assert.match(String((await get('?from=2024-01-01&to=2026-01-15')).body.detail), /at most 400 days/);
  assert.equal((await get('', null)).status, 401);
});

test('the retention job prunes day counts past TIDINGS_SHADOW_REPORT_RETENTION and samples recorded before it', async () => {
  assert.equal(loadConfig({}, '/').shadowReportRetentionMs, DEFAULT_SHADOW_REPORT_RETENTION_MS);
  assert.equal(loadConfig({ TIDINGS_SHADOW_REPORT_RETENTION: '7d' }, '/').shadowReportRetentionMs, 7 * DAY);
  assert.throws(() => loadConfig({ TIDINGS_SHADOW_REPORT_RETENTION: 'soon' }, '/'), ConfigError);

  const { h, report, relogin } = await setup();
  const deps = { db: h.db, clock: () => h.now(), log: { info() {} } as never };
  const rows = (table: string) => (h.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  const counts = rows('shadow_counts');
  const samples = rows('shadow_samples');
  assert.equal(runShadowReportPrune(deps, DEFAULT_SHADOW_REPORT_RETENTION_MS), 0);
  // 30 days and an hour later: 2026-01-13's counts are past it; 2026-01-15's day is not over past it yet, its samples are.
  h.advance(30 * DAY + H);
  assert.equal(runShadowReportPrune(deps, DEFAULT_SHADOW_REPORT_RETENTION_MS), 1 + samples);
  assert.equal(rows('shadow_counts'), counts - 1);
  assert.equal(rows('shadow_samples'), 0);
  await relogin();
  const r = await report('?from=2026-01-13&to=2026-01-15');
  assert.deepEqual(
    r.domains.map((d) => [d.domain, d.tally.total, d.samples.length]),
    [
      ['a.test', 17, 0],
      ['b.test', 1, 0],
    ],
  );
  // A day later the rest goes too.
  h.advance(DAY);
  assert.equal(runShadowReportPrune(deps, DEFAULT_SHADOW_REPORT_RETENTION_MS), counts - 1);
  assert.equal(rows('shadow_counts'), 0);
});

test("the backend's jobs run the prune with the configured retention", async () => {
  const { h } = await setup();
  const rows = () =>
    (h.db.prepare('SELECT (SELECT count(*) FROM shadow_counts) + (SELECT count(*) FROM shadow_samples) AS n').get() as { n: number }).n;
  const deps = {
    db: h.db,
    clock: () => h.now(),
    log: { info() {}, error() {}, warn() {} } as never,
    changes: h.changes,
    publicUrl: 'http://localhost',
  };
  const keep = startJobs(deps, { shadowReportRetentionMs: 7 * DAY });
  keep.runNow();
  await keep.stop();
  assert.ok(rows() > 0);
  h.advance(9 * DAY);
  const jobs = startJobs(deps, { shadowReportRetentionMs: 7 * DAY });
  jobs.runNow();
  await jobs.stop();
  assert.equal(rows(), 0);
});

test('`mail shadow` prints the counts per domain and address, and the samples; bad options exit 2', async () => {
  const { h } = await setup();
  const run = (...argv: string[]) => runCliInProcess({ db: h.db, config: h.config, clock: () => h.now() }, ['mail', 'shadow', ...argv]);
  const out = await run('--domain', 'a.test');
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /2026-01-09 to 2026-01-15 \(UTC\); the old system delivered it/);
  const lines = out.stdout.split('\n');
  const row = (first: string) => lines.find((l) => l.startsWith(first))?.split(/\s{2,}/);
  assert.deepEqual(row('(all)')?.slice(0, 6), ['(all)', '6', '1', '7', '3', '1']);
  assert.deepEqual(row('info@a.test')?.slice(0, 6), ['info@a.test', '0', '0', '0', '2', '1']);
  assert.ok(out.stdout.includes('quarantine/spam=7'));
  assert.ok(out.stdout.includes('<spam 7@remote.test>'));
  assert.doesNotMatch(out.stdout, /b\.test/);
  assert.equal((await run('--from', 'yesterday')).code, 2);
  const backwards = await run('--from', '2026-01-15', '--to', '2026-01-01');
  assert.equal(backwards.code, 2);
  assert.match(backwards.stderr, /after it ends/);
  assert.equal((await run('--bogus')).code, 2);
  assert.match((await run('--domain', 'nowhere.test')).stdout, /No shadow verdict in this range/);
});

test('a report shows at most 20 samples per domain, verdict and reason (the latest); the counts take every verdict', async () => {
  const { ship, report, h } = await setup();
  const at = h.now().getTime() - 60_000;
  await ship(
    'mx2',
    2,
    Array.from({ length: 25 }, (_, i) => verdict(`u${i}@c.test`, 'reject', 'spam', at + i, `many ${i}`)),
  );
  const [c] = (await report('?domain=c.test')).domains;
  assert.equal(c.tally.verdicts.reject, 25);
  assert.equal(c.addresses.length, 25);
  assert.deepEqual(
    c.samples.map((s) => s.sample.subject),
    Array.from({ length: 20 }, (_, i) => `many ${24 - i}`),
  );
});
