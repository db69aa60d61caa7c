// /task/<id> for a task in the section the MX nodes report for: an impact report per phase of its deployment plan,
// fed through the real POST /api/v1/telemetry and /telemetry/heartbeat of the same app. Exact sentences per phase,
// the week before the task opened, "No telemetry for this period" instead of zeros, a phase not started yet, phase
// titles escaped, no report outside the telemetry section, and a new batch reaching the cached page on refresh. The
// node is played as it ships: events by seq, a heartbeat's queue reading after the events before it, so the accounting
// line (0 lost, 1 lost, or not measured) is the real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createChangeCounter } from '#server/deps.ts';
import { runTelemetryRollup } from '#server/jobs/telemetry-rollup.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { prunedBefore } from '#server/store/telemetry-rollups.ts';
import { visibleText } from '../support/html-text.ts';
import { playNode, startSiteServer, type PlayedNode, type SiteServer, type UnnumberedEvent } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

/** Now: half a minute into 12:00 UTC (13:00 in Berlin, the display time zone). */
const T = Date.parse('2026-01-15T12:00:30.000Z');
const OPENED = '2026-01-14T00:00:00.000Z';
const EVIL = '<script>alert("x")</script> & <b>prep</b>';
const PHASES = [
  // No start: under way since the task opened, so measured from OPENED to its end; no node reported in it.
  { title: EVIL, startsAt: null, endsAt: '2026-01-14T05:59:59.999Z' },
  { title: 'deployment and parallel service new/old', startsAt: '2026-01-14T06:00:00.000Z', endsAt: '2026-01-15T05:59:59.999Z' },
  { title: 'monitoring', startsAt: '2026-01-15T06:00:00.000Z', endsAt: null },
  { title: 'deactivation of old inbound mailsystem', startsAt: '2026-01-16T00:00:00.000Z', endsAt: '2026-01-16T23:59:59.999Z' },
];

async function start(): Promise<{ site: SiteServer; node: PlayedNode; setNow(ms: number): void }> {
  let now = T;
  const site = await startSiteServer({ now: new Date(T).toISOString(), tz: 'Europe/Berlin' });
  const token = issueNodeToken({
    ctx: { db: site.db, clock: () => new Date(now), changes: createChangeCounter() },
    actor: { userId: null, name: 'test' },
    name: 'mx1',
  });
  const node = playNode(site, token);
  return {
    site,
    node,
    setNow(ms) {
      now = ms;
      site.setNow(new Date(ms).toISOString());
    },
  };
}

const accepted = (at: number, id: string, deliveries = 1) => ({ at, type: 'accepted' as const, messageId: id, deliveries });
const delivered = (at: number, id: string, latencyMs: number) => ({
  at,
  type: 'delivered' as const,
  messageId: id,
  route: 'maildir' as const,
  latencyMs,
});
const bounced = (at: number, id: string) => ({
  at,
  type: 'bounced' as const,
  messageId: id,
  route: 'forward' as const,
  reason: 'permanent' as const,
});
/** A heartbeat in a node's timeline: the queue depth it measures, paired with every event before it. */
const beat = (at: number, queueDepth: number) => ({ at, type: 'beat' as const, queueDepth });
type Item = UnnumberedEvent | ReturnType<typeof beat>;

/**
 * Ships a node's timeline as the node does: events in time order by seq, and at each heartbeat the events before it
 * first, then the reading with the seq it was taken at (the accounting line pairs the two).
 */
async function ship(node: PlayedNode, items: Item[]): Promise<void> {
  let pending: UnnumberedEvent[] = [];
  for (const item of [...items].sort((x, y) => x.at - y.at)) {
    if (item.type !== 'beat') {
      pending.push(item);
      continue;
    }
    if (pending.length > 0) await node.batch(pending);
    pending = [];
    await node.beat(item.at, { queueDepth: item.queueDepth });
  }
  if (pending.length > 0) await node.batch(pending);
}

/** The report's section of the page, or null when the page has none. */
function report(html: string): string | null {
  return /<section aria-labelledby="impact-h"[\s\S]*?<\/section>/.exec(html)?.[0] ?? null;
}

async function reportText(site: SiteServer, id: number): Promise<string> {
  const res = await site.get(`/task/${id}`);
  assert.equal(res.status, 200);
  const section = report(await res.text());
  assert.ok(section, `/task/${id} has an impact report`);
  return visibleText(section);
}

/**
 * The telemetry of the test task, with a queue reading at each end of each measured period: the week before it
 * opened, the deployment phase, the running phase; none in the first phase (00:00 to 06:00 on the 14th).
 */
async function feed(node: PlayedNode): Promise<void> {
  const week = Date.parse('2026-01-07T00:00:00.000Z');
  const deploy = Date.parse('2026-01-14T06:00:00.000Z');
  const monitor = Date.parse('2026-01-15T06:00:00.000Z');
  const at = (iso: string) => Date.parse(iso);
  // The deployment: 1,200 messages from its first minute to its last; 1,100 delivered in 300 ms and 95 in 2,100 ms
  // (the 1,140th delivery, its 95th percentile, is in the bucket up to 3,162 ms), 3 bounced, and the last 2 still
  // queued when it ends (delivered in the next phase).
  const deployment: Item[] = [];
  for (let i = 0; i < 1_200; i++) {
    const t = deploy + Math.floor((i * (monitor - deploy - 2_000)) / 1_199);
    deployment.push(accepted(t, `d${i}`));
    if (i < 1_100) deployment.push(delivered(t + 1, `d${i}`, 300));
    else if (i < 1_195) deployment.push(delivered(t + 1, `d${i}`, 2_100));
    else if (i < 1_198) deployment.push(bounced(t + 1, `d${i}`));
  }
  await ship(node, [
    // A message in the last minute before the week: not counted in it.
    accepted(week - 60_000, 'too-early'),
    delivered(week - 50_000, 'too-early', 10_000),
    beat(week - 30_000, 0),
    // The week's first instant (a bounce) and three messages delivered in 100, 150 and 1,500 ms: p95 is the third,
    // in the bucket up to 1,778 ms.
    accepted(week, 'w0'),
    bounced(week + 5_000, 'w0'),
    accepted(at('2026-01-10T10:00:00.000Z'), 'w1'),
    delivered(at('2026-01-10T10:00:01.000Z'), 'w1', 100),
    accepted(at('2026-01-10T10:00:02.000Z'), 'w2'),
    delivered(at('2026-01-10T10:00:03.000Z'), 'w2', 150),
    accepted(at('2026-01-13T23:59:00.000Z'), 'w3'),
    delivered(at('2026-01-13T23:59:10.000Z'), 'w3', 1_500),
    beat(at('2026-01-13T23:59:45.000Z'), 0),
    // The node is silent through the first phase; its next reading is the deployment's first instant.
    beat(deploy, 0),
    ...deployment,
    beat(monitor - 1, 2),
    // Monitoring: its first instant, the two carried in delivered after two minutes, and a message for two recipients
    // of which only one delivery ever shows: the accounting line cannot place the other (1 lost). p95 of the four
    // deliveries is the slowest, 120 s, in the bucket up to 177,828 ms.
    accepted(monitor, 'm0'),
    delivered(monitor + 1_000, 'm0', 1_000),
    delivered(monitor + 60_000, 'd1198', 120_000),
    delivered(monitor + 60_001, 'd1199', 120_000),
    accepted(T - 20_000, 'm1', 2),
    delivered(T - 19_000, 'm1', 500),
    beat(T, 0),
  ]);
}

test('each phase states its numbers next to the week before; no telemetry and not started are said in words', async () => {
  const { site, node } = await start();
  try {
    const id = insertTask(site.db, { summary: 'Scale inbound mail', section: 'email', openedAt: OPENED, phases: PHASES });
    await feed(node);
    assert.equal(await reportText(site, id), FED_REPORT);
  } finally {
    await site.close();
  }
});

/** The report of the task with PHASES after feed(). */
const FED_REPORT = [
  'Impact on mail delivery',
  'What the mail system measured during each phase of the deployment plan, next to the week before this task was opened.',
  `During ${EVIL}: No telemetry for this period.`,
  '2026-01-14 01:00 CET to 2026-01-14 07:00 CET',
  'During deployment and parallel service new/old: 1,200 messages accepted, 0 lost, p95 delay ≤ 3.2 s (the week before: ≤ 1.8 s).',
  '2026-01-14 07:00 CET to 2026-01-15 07:00 CET',
  'In deliveries (one per recipient): 0 waiting at the start + 1,200 accepted = 1,195 delivered + 3 bounced + 0 quarantined + 0 discarded + 2 still waiting + 0 lost.',
  'So far during monitoring: 2 messages accepted, 1 lost, p95 delay ≤ 3 min (the week before: ≤ 1.8 s).',
  '2026-01-15 07:00 CET to now (2026-01-15 13:00 CET)',
  'In deliveries (one per recipient): 2 waiting at the start + 3 accepted = 4 delivered + 0 bounced + 0 quarantined + 0 discarded + 0 still waiting + 1 lost.',
  'deactivation of old inbound mailsystem: not started yet (starts Friday, 16 January 2026, 01:00 CET).',
  'The week before the task opened (2026-01-07 01:00 CET to 2026-01-14 01:00 CET): 4 messages accepted, 0 lost, p95 delay ≤ 1.8 s.',
  'In deliveries (one per recipient): 0 waiting at the start + 4 accepted = 3 delivered + 1 bounced + 0 quarantined + 0 discarded + 0 still waiting + 0 lost.',
  'Accepted: messages our servers took on. Lost: deliveries (one per recipient) that were neither delivered, bounced, quarantined, discarded nor still waiting in the queue. p95 delay: 95 of 100 deliveries were made within this time after we accepted the message; delays are measured in steps, so each figure is the top of its step ("≤").',
].join(' ');

test('the same report once the rollup job has rolled and pruned: periods read from minutes, hours and days', async () => {
  const { site, node } = await start();
  try {
    const id = insertTask(site.db, { summary: 'Scale inbound mail', section: 'email', openedAt: OPENED, phases: PHASES });
    await feed(node);
    // Minutes kept 1 day (pruned before 2026-01-14 12:00), hours 3 days (pruned before 2026-01-12 00:00): the week
    // before reads days and hours, the deployment hours and minutes.
    const deps = { db: site.db, clock: () => new Date(T), log: { info() {}, warn() {}, error() {} } };
    while (!runTelemetryRollup(deps, { minutesMs: 86_400_000, hoursMs: 3 * 86_400_000 }).done);
    assert.equal(prunedBefore(site.db, 'minutes'), Date.parse('2026-01-14T12:00:00.000Z'));
    assert.equal(prunedBefore(site.db, 'hours'), Date.parse('2026-01-12T00:00:00.000Z'));
    site.changes.bump();
    assert.equal(await reportText(site, id), FED_REPORT);
  } finally {
    await site.close();
  }
});

test('phase titles are staff text: the report escapes them', async () => {
  const { site } = await start();
  try {
    const id = insertTask(site.db, { summary: 'Scale inbound mail', section: 'email', openedAt: OPENED, phases: PHASES });
    const html = report(await (await site.get(`/task/${id}`)).text()) ?? '';
    assert.match(html, /<em>&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &lt;b&gt;prep&lt;\/b&gt;<\/em>/);
    assert.doesNotMatch(html, /<script|<b>/);
  } finally {
    await site.close();
  }
});

test('with no node reporting at all, every period says "No telemetry", never a zero', async () => {
  const { site } = await start();
  try {
    const id = insertTask(site.db, { summary: 'Scale inbound mail', section: 'email', openedAt: OPENED, phases: PHASES });
    const text = await reportText(site, id);
    assert.equal(text.match(/No telemetry for this period\./g)?.length, 4, text);
    assert.doesNotMatch(text, /\d+ messages? accepted|\d+ lost|loss not measured|p95 delay [≤o]/);
    assert.match(text, /not started yet/);
  } finally {
    await site.close();
  }
});

test('a heartbeat alone is telemetry: 0 messages accepted is then a measured zero; reports missing an end are said', async () => {
  const { site, node } = await start();
  try {
    const id = insertTask(site.db, {
      summary: 'Quiet change',
      section: 'email',
      openedAt: OPENED,
      phases: [{ title: 'switch', startsAt: '2026-01-15T10:00:00.000Z', endsAt: null }],
    });
    // The node reported from 11:00 on only (heartbeats, no mail), and in the week before not at all.
    for (let at = Date.parse('2026-01-15T11:00:00.000Z'); at <= T; at += 15_000) await node.beat(at);
    const text = await reportText(site, id);
    assert.match(
      text,
      /So far during switch: 0 messages accepted, 0 lost, no message delivered, so no delay to measure \(the week before: no telemetry\)\. 2026-01-15 11:00 CET to now \(2026-01-15 13:00 CET\) · Telemetry covers only 2026-01-15 12:00 CET to 2026-01-15 13:00 CET of this period\./,
    );
    assert.match(text, /The week before the task opened \(2026-01-07 01:00 CET to 2026-01-14 01:00 CET\): No telemetry for this period\./);
  } finally {
    await site.close();
  }
});

test('a node silent before a phase ended: its loss is not measured and the report says which part telemetry covers', async () => {
  const { site, node } = await start();
  try {
    const id = insertTask(site.db, {
      summary: 'Cutover',
      section: 'email',
      openedAt: OPENED,
      phases: [{ title: 'cutover', startsAt: '2026-01-15T08:00:00.000Z', endsAt: '2026-01-15T09:59:59.999Z' }],
    });
    const at = (iso: string) => Date.parse(iso);
    // Readings at 08:00 and 08:20, then nothing until now: the line's last reading before 10:00 is 100 minutes old.
    await ship(node, [
      beat(at('2026-01-15T08:00:00.000Z'), 0),
      accepted(at('2026-01-15T08:10:00.000Z'), 'c0'),
      delivered(at('2026-01-15T08:10:00.050Z'), 'c0', 50),
      beat(at('2026-01-15T08:20:00.000Z'), 0),
      beat(T, 0),
    ]);
    assert.match(
      await reportText(site, id),
      /During cutover: 1 message accepted, loss not measured, p95 delay ≤ 56 ms \(the week before: no telemetry\)\. 2026-01-15 09:00 CET to 2026-01-15 11:00 CET · Telemetry covers only 2026-01-15 09:00 CET to 2026-01-15 09:21 CET of this period\./,
    );
  } finally {
    await site.close();
  }
});

test('only tasks of the telemetry section with a deployment plan have a report', async () => {
  const { site, node } = await start();
  try {
    await feed(node);
    const other = insertTask(site.db, { summary: 'PHP rollout', section: 'webhosting', openedAt: OPENED, phases: PHASES });
    const noPlan = insertTask(site.db, { summary: 'Webmail login fails', type: 'Incident', section: 'email', openedAt: OPENED });
    for (const id of [other, noPlan]) {
      const res = await site.get(`/task/${id}`);
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.match(html, /<h1>FS#\d+ - /);
      assert.equal(report(html), null, `/task/${id} has no impact report`);
      assert.doesNotMatch(html, /data-impact/);
    }
  } finally {
    await site.close();
  }
});

test('a batch accepted after the page was cached shows on the page at the next refresh (TELEMETRY_REFRESH_MS)', async () => {
  const { site, node, setNow } = await start();
  try {
    const id = insertTask(site.db, { summary: 'Scale inbound mail', section: 'email', openedAt: OPENED, phases: PHASES });
    await feed(node);
    assert.match(await reportText(site, id), /So far during monitoring: 2 messages accepted/);
    // Five seconds on, a new message; 15 s after the first render (the page itself is kept 30 s) the page shows it.
    setNow(T + 5_000);
    await node.batch([accepted(T + 4_000, 'm2')]);
    setNow(T + 15_000);
    const text = await reportText(site, id);
    assert.match(text, /So far during monitoring: 3 messages accepted/);
    assert.match(text, /to now \(2026-01-15 13:00 CET\)/);
  } finally {
    await site.close();
  }
});
