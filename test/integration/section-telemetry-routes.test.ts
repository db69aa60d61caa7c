// Deliveries by mail system (issue 13): the section charts split each interval's deliveries into those the new system
// made (maildir, lmtp, forward) and those relayed to the old one (legacy), in GET /api/v1/sections/:slug/telemetry
// and in the section page's table, from events of both route kinds posted by two nodes through the real ingest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { RouteKind } from '#data/contracts/route.ts';
import { SectionTelemetryResponse, type SectionCharts } from '#data/contracts/telemetry-charts.ts';
import { createChangeCounter } from '#server/deps.ts';
import { runTelemetryRollup } from '#server/jobs/telemetry-rollup.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { chartTableRow } from '../support/chart-tables.ts';
import { visibleText } from '../support/html-text.ts';
import { playNode, startSiteServer, type SiteServer, type UnnumberedEvent } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

const MIN = 60_000;
const HOUR = 3_600_000;
const NOW = '2026-01-15T12:30:00.000Z';
const T = Date.parse(NOW);
const at = (iso: string) => Date.parse(iso);
let site: SiteServer;
let taskId: number;

/** A message accepted and delivered by `route` at `t`. */
const delivery = (t: number, id: string, route: RouteKind): UnnumberedEvent[] => [
  { at: t, type: 'accepted', messageId: id, deliveries: 1 },
  { at: t + 1, type: 'delivered', messageId: id, route, latencyMs: 50 },
];
const deliveries = (t: number, prefix: string, routes: RouteKind[]) => routes.flatMap((r, i) => delivery(t + i * MIN, `${prefix}${i}`, r));

/** The truth per hour (the interval's start): what the new system delivered, and what went to the old one. */
const HOURS: Record<string, { new: number; legacy: number }> = {
  '2026-01-14T22:00:00.000Z': { new: 0, legacy: 5 },
  '2026-01-15T09:00:00.000Z': { new: 3, legacy: 4 },
  '2026-01-15T11:00:00.000Z': { new: 7, legacy: 0 },
  '2026-01-15T12:00:00.000Z': { new: 0, legacy: 1 },
};

before(async () => {
  site = await startSiteServer({ now: NOW });
  taskId = insertTask(site.db, {
    summary: 'MX cutover',
    section: 'email',
    openedAt: '2026-01-10T08:00:00.000Z',
    phases: [
      { title: 'deployment and parallel service new/old', startsAt: '2026-01-15T08:00:00.000Z', endsAt: '2026-01-15T10:59:59.999Z' },
      { title: 'deactivation of old inbound mailsystem', startsAt: '2026-01-15T11:00:00.000Z', endsAt: null },
    ],
  });
  const ctx = { db: site.db, clock: () => new Date(T), changes: createChangeCounter() };
  const node = (name: string) => playNode(site, issueNodeToken({ ctx, actor: { userId: null, name: 'test' }, name }));
  const [mx1, mx2] = [node('mx1'), node('mx2')];
  const h9 = at('2026-01-15T09:00:00.000Z');
  await mx1.batch([
    // Before the migration: everything relayed to the old system.
    ...deliveries(at('2026-01-14T22:00:00.000Z'), 'y', ['legacy', 'legacy', 'legacy', 'legacy', 'legacy']),
    // Parallel service: some domains moved.
    ...deliveries(h9, 'p', ['legacy', 'maildir', 'legacy', 'maildir', 'legacy']),
    // A relay the old system deferred, then bounced: not a delivery by either system.
    { at: h9 + 20 * MIN, type: 'accepted', messageId: 'pb', deliveries: 1 },
    { at: h9 + 21 * MIN, type: 'deferred', messageId: 'pb', route: 'legacy' },
    { at: h9 + 50 * MIN, type: 'bounced', messageId: 'pb', route: 'legacy', reason: 'permanent' },
    // After the switch: the new system alone, by every route.
    ...deliveries(at('2026-01-15T11:00:00.000Z'), 'n', ['maildir', 'lmtp', 'maildir', 'forward', 'maildir', 'lmtp', 'maildir']),
  ]);
  await mx2.batch([
    ...deliveries(h9 + 30 * MIN, 'q', ['lmtp', 'legacy']),
    // A rolled-back domain relays again.
    ...deliveries(at('2026-01-15T12:10:00.000Z'), 'r', ['legacy']),
  ]);
  site.changes.bump();
});
after(async () => {
  await site?.close();
});

async function charts(range: string): Promise<SectionCharts> {
  const r = await site.get(`/api/v1/sections/email/telemetry?range=${range}`);
  assert.equal(r.status, 200);
  const body = SectionTelemetryResponse.parse(await r.json());
  assert.ok(body.charts);
  return body.charts;
}

/** Each interval's split by its start; every interval's two parts add up to its delivered count. */
function split(c: SectionCharts): Record<string, { new: number; legacy: number }> {
  const out: Record<string, { new: number; legacy: number }> = {};
  for (const i of c.intervals) {
    assert.equal(i.deliveredBy.new + i.deliveredBy.legacy, i.delivered, `${c.range} ${i.from}: new + legacy = delivered`);
    if (i.delivered > 0) out[i.from] = i.deliveredBy;
  }
  return out;
}

test('the API splits each interval deliveries into the new and the old system, the same before and after the rollup job', async () => {
  const day = await charts('24h');
  assert.deepEqual(split(day), HOURS);
  // The old system's deferral and bounce are outcomes of their own, not deliveries.
  const parallel = day.intervals.find((i) => i.from === '2026-01-15T09:00:00.000Z');
  assert.deepEqual([parallel?.delivered, parallel?.deferred, parallel?.bounced], [7, 1, 1]);

  // Minutes kept for one hour: the hours before 11:00 are then read from the rolled hours and days alone.
  const run = runTelemetryRollup(
    { db: site.db, clock: () => new Date(T), log: pino({ level: 'silent' }) },
    { minutesMs: HOUR, hoursMs: 400 * 24 * HOUR },
  );
  assert.ok(run.done && run.prunedMinuteRows > 0, JSON.stringify(run));
  assert.deepEqual(await charts('24h'), day);

  assert.deepEqual(split(await charts('7d')), {
    '2026-01-14T18:00:00.000Z': { new: 0, legacy: 5 },
    '2026-01-15T06:00:00.000Z': { new: 10, legacy: 4 },
    '2026-01-15T12:00:00.000Z': { new: 0, legacy: 1 },
  });
  assert.deepEqual(split(await charts('30d')), {
    '2026-01-14T00:00:00.000Z': { new: 0, legacy: 5 },
    '2026-01-15T00:00:00.000Z': { new: 10, legacy: 5 },
  });
});

test('the section page shows the split in a table beside a chart of its own, with the phases in words', async () => {
  const r = await site.get('/section/email');
  assert.equal(r.status, 200);
  const html = await r.text();
  assert.match(html, /<figure class="chart" aria-labelledby="tc-systems-cap" data-chart="systems">/);
  assert.match(
    visibleText(html),
    /Deliveries per hour by mail system: the new mail system and the old mail system \(relayed\) Table: deliveries per hour by mail system/,
  );
  assert.match(
    html,
    /<th scope="col">From<\/th><th scope="col">Delivered<\/th><th scope="col">New mail system<\/th><th scope="col">Old mail system \(relayed\)<\/th>/,
  );
  const caption = 'Deliveries per hour by mail system';
  for (const [from, label, cells] of [
    ['2026-01-14T22:00:00.000Z', '14 Jan 22:00', { delivered: '5', new: '0', legacy: '5' }],
    ['2026-01-15T09:00:00.000Z', '15 Jan 09:00', { delivered: '7', new: '3', legacy: '4' }],
    ['2026-01-15T11:00:00.000Z', '15 Jan 11:00', { delivered: '7', new: '7', legacy: '0' }],
    ['2026-01-15T12:00:00.000Z', '15 Jan 12:00', { delivered: '1', new: '0', legacy: '1' }],
    ['2026-01-15T10:00:00.000Z', '15 Jan 10:00', { delivered: '0', new: '0', legacy: '0' }],
  ] as const)
    assert.deepEqual(chartTableRow(html, caption, from), { label, ...cells }, from);
  assert.match(
    visibleText(html),
    new RegExp(
      `FS#${taskId} deployment and parallel service new/old: 2026-01-15 08:00 GMT to 2026-01-15 10:59 GMT .*FS#${taskId} deactivation of old inbound mailsystem: 2026-01-15 11:00 GMT to now \\(running\\)`,
    ),
  );
});
