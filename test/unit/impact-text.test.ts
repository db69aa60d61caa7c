// The impact report's words: delays shown as upper bounds that stay true, counts with separators, unknown in words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_BUCKETS_MS } from '#data/contracts/telemetry.ts';
import type { Accounting } from '#data/contracts/telemetry-accounting.ts';
import type { MeasuredPeriod } from '#data/contracts/telemetry-impact.ts';
import { accountingText, formatCount, formatDelay, lostText, measuredText, p95Text, weekBeforeP95 } from '../../site/lib/impact-text.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, min: 60_000, h: 3_600_000, days: 86_400_000 };

test('every histogram bound is shown rounded up, never below the bound, and close to it', () => {
  for (const bound of LATENCY_BUCKETS_MS) {
    const text = formatDelay(bound);
    const m = /^(\d+(?:\.\d)?) (ms|s|min|h|days)$/.exec(text);
    assert.ok(m, `${bound} ms shows as "${text}"`);
    const shown = Number(m[1]) * UNIT_MS[m[2]];
    assert.ok(shown >= bound, `${bound} ms shows as ${text}, below the bound`);
    // At most one step of the shown precision above (2 digits are shown; the step is under 10 % of the value).
    assert.ok(shown <= bound * 1.1, `${bound} ms shows as ${text}, far above the bound`);
  }
});

test('delays read as people say them', () => {
  assert.deepEqual(
    [10, 562, 1_000, 1_778, 2_100, 5_623, 17_783, 56_234, 100_000, 316_228, 1_778_279, 5_623_413, 56_234_133, 316_227_766].map(formatDelay),
    ['10 ms', '562 ms', '1 s', '1.8 s', '2.1 s', '5.7 s', '18 s', '57 s', '1.7 min', '5.3 min', '30 min', '1.6 h', '16 h', '3.7 days'],
  );
});

const measured = (over: Partial<MeasuredPeriod>): MeasuredPeriod => ({
  kind: 'measured',
  from: '2026-01-14T06:00:00.000Z',
  to: '2026-01-15T06:00:00.000Z',
  acceptedMessages: 41_220,
  lost: 0,
  delivered: 41_300,
  p95DelayMs: 3_162,
  p95DelayOverflow: false,
  reportedFrom: '2026-01-14T06:00:00.000Z',
  reportedTo: '2026-01-15T06:00:00.000Z',
  partial: false,
  accounting: null,
  ...over,
});

test('the accounting words: thousands separators, "0 lost" only when measured, unknown loss in words', () => {
  assert.equal(formatCount(41_220), '41,220');
  assert.equal(formatCount(1_234_567), '1,234,567');
  assert.equal(measuredText(measured({})), '41,220 messages accepted, 0 lost, p95 delay ≤ 3.2 s');
  assert.equal(lostText(measured({ lost: null })), 'loss not measured');
  assert.equal(lostText(measured({ lost: 1_002 })), '1,002 lost');
  assert.equal(lostText(measured({ lost: -3 })), 'the count does not balance (3 more outcomes than accepted deliveries)');
  assert.equal(measuredText(measured({ acceptedMessages: 1, lost: null })), '1 message accepted, loss not measured, p95 delay ≤ 3.2 s');
});

test('p95 with nothing delivered, and past the largest bound, is said in words', () => {
  assert.equal(p95Text(measured({ p95DelayMs: null })), 'no message delivered, so no delay to measure');
  assert.equal(p95Text(measured({ p95DelayMs: 316_227_766, p95DelayOverflow: true })), 'p95 delay over 3.7 days');
  assert.equal(weekBeforeP95(measured({ p95DelayMs: 1_778 })), 'the week before: ≤ 1.8 s');
  assert.equal(weekBeforeP95(measured({ p95DelayMs: null })), 'the week before: nothing delivered');
  assert.equal(
    weekBeforeP95({ kind: 'no-telemetry', from: '2026-01-07T00:00:00.000Z', to: '2026-01-14T00:00:00.000Z' }),
    'the week before: no telemetry',
  );
});

const line = (over: Partial<Accounting>): Accounting => ({
  from: '2026-01-14T06:00:00.000Z',
  to: '2026-01-15T06:00:00.000Z',
  measuredFrom: '2026-01-14T05:59:50.000Z',
  measuredTo: '2026-01-15T05:59:45.000Z',
  acceptedMessages: 40_000,
  carriedIn: 12,
  accepted: 41_220,
  dsn: 0,
  released: 0,
  delivered: 41_100,
  bounced: 100,
  quarantined: 20,
  discarded: 2,
  queued: 10,
  uncountedMessages: 0,
  unaccounted: 0,
  ...over,
});

test('the accounting line in deliveries: every term, notices only when sent, an imbalance either way said as it is', () => {
  assert.equal(
    accountingText(line({})),
    'In deliveries (one per recipient): 12 waiting at the start + 41,220 accepted = 41,100 delivered + 100 bounced + 20 quarantined + 2 discarded + 10 still waiting + 0 lost.',
  );
  assert.equal(
    accountingText(line({ dsn: 1, bounced: 101 })),
    'In deliveries (one per recipient): 12 waiting at the start + 41,220 accepted + 1 delivery status notice we sent = 41,100 delivered + 101 bounced + 20 quarantined + 2 discarded + 10 still waiting + 0 lost.',
  );
  assert.equal(
    accountingText(line({ released: 3, delivered: 41_103 })),
    'In deliveries (one per recipient): 12 waiting at the start + 41,220 accepted + 3 released from quarantine = 41,103 delivered + 100 bounced + 20 quarantined + 2 discarded + 10 still waiting + 0 lost.',
  );
  assert.match(accountingText(line({ delivered: 41_097, unaccounted: 3 })) ?? '', /41,097 delivered .* \+ 3 lost\.$/);
  assert.match(accountingText(line({ delivered: 41_102, unaccounted: -2 })) ?? '', /\+ 10 still waiting \+ 2 more than came in\.$/);
  assert.equal(accountingText(line({ queued: null, unaccounted: null })), null);
  assert.equal(accountingText(line({ uncountedMessages: 5, unaccounted: null })), null);
});
