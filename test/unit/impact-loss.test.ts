// The impact report takes the accounting line's unaccounted as a period's loss only when the line measures that period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Accounting } from '#data/contracts/telemetry-accounting.ts';
import { lossOf } from '#server/services/telemetry/impact.ts';

const FROM = Date.parse('2026-01-14T06:00:00.000Z');
const TO = Date.parse('2026-01-15T06:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const line = (over: Partial<Accounting>): Accounting => ({
  from: iso(FROM),
  to: iso(TO),
  measuredFrom: iso(FROM - 40_000),
  measuredTo: iso(TO - 50_000),
  acceptedMessages: 10,
  carriedIn: 1,
  accepted: 12,
  dsn: 0,
  released: 0,
  delivered: 12,
  bounced: 0,
  quarantined: 0,
  discarded: 0,
  queued: 1,
  uncountedMessages: 0,
  unaccounted: 0,
  ...over,
});

test('readings within a minute of both ends: the line is the period, its unaccounted is the loss', () => {
  assert.equal(lossOf(line({}), FROM, TO), 0);
  assert.equal(lossOf(line({ unaccounted: 3 }), FROM, TO), 3);
  assert.equal(lossOf(line({ unaccounted: -2 }), FROM, TO), -2);
  // From the nodes' first event (nothing queued before it).
  assert.equal(lossOf(line({ measuredFrom: null }), FROM, TO), 0);
  // Exactly five minutes before an end still measures the period.
  assert.equal(lossOf(line({ measuredFrom: iso(FROM - 300_000), measuredTo: iso(TO - 300_000) }), FROM, TO), 0);
});

test('no line, no queue reading, uncounted deliveries, or readings far from an end: the loss is not measured', () => {
  assert.equal(lossOf(null, FROM, TO), null);
  assert.equal(lossOf(line({ queued: null, unaccounted: null, measuredTo: null }), FROM, TO), null);
  assert.equal(lossOf(line({ uncountedMessages: 4, unaccounted: null }), FROM, TO), null);
  // A node that stopped reporting an hour before the period ended, or whose last reading before it is old.
  assert.equal(lossOf(line({ measuredTo: iso(TO - 3_600_000) }), FROM, TO), null);
  assert.equal(lossOf(line({ measuredTo: iso(TO - 300_001) }), FROM, TO), null);
  assert.equal(lossOf(line({ measuredFrom: iso(FROM - 300_001) }), FROM, TO), null);
});
