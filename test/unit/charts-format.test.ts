// The charts' words: interval labels in the display time zone (across a DST change), delays as bucket bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_BUCKETS_MS } from '#data/contracts/telemetry.ts';
import { formatCount, formatDuration, formatQuantile, intervalLabel } from '../../site/lib/charts-format.ts';

test('interval labels: hours and 6-hour blocks with their local time, days by weekday (with the time where a UTC day starts later)', () => {
  assert.equal(intervalLabel('2026-01-15T11:00:00.000Z', 'UTC', false), '15 Jan 11:00');
  assert.equal(intervalLabel('2026-01-15T11:00:00.000Z', 'Europe/Berlin', false), '15 Jan 12:00');
  assert.equal(intervalLabel('2026-01-15T06:00:00.000Z', 'Europe/Berlin', false), '15 Jan 07:00');
  assert.equal(intervalLabel('2026-01-15T00:00:00.000Z', 'UTC', true), 'Thu 15 Jan');
  assert.equal(intervalLabel('2026-01-15T00:00:00.000Z', 'Europe/Berlin', true), 'Thu 15 Jan 01:00');
  // The night Berlin moves to summer time: 00:00 and 01:00 UTC are 01:00 CET and 03:00 CEST.
  assert.equal(intervalLabel('2026-03-29T00:00:00.000Z', 'Europe/Berlin', false), '29 Mar 01:00');
  assert.equal(intervalLabel('2026-03-29T01:00:00.000Z', 'Europe/Berlin', false), '29 Mar 03:00');
  assert.equal(intervalLabel('2026-03-29T00:00:00.000Z', 'America/New_York', true), 'Sat 28 Mar 20:00');
});

test('delays read as people read them, quantiles as upper bounds, overflow as "more than", none as no delivery', () => {
  assert.deepEqual([56, 1_000, 1_778, 56_234, 100_000, 316_228, 5_623_413, 316_227_766].map(formatDuration), [
    '56 ms',
    '1 s',
    '1.8 s',
    '56 s',
    '1.7 min',
    '5.3 min',
    '1.6 h',
    '3.7 d',
  ]);
  assert.equal(formatQuantile(1_778, false), '≤ 1.8 s');
  assert.equal(formatQuantile(LATENCY_BUCKETS_MS.at(-1)!, true), '> 3.7 d');
  assert.equal(formatQuantile(null, false), 'no delivery');
  assert.equal(formatCount(41_220), '41,220');
});
