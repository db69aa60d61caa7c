// Dates as the seed prints them, in the configured display time zone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLong, formatIsoDay, formatShort, formatDay } from '../../site/lib/format.ts';

test('UTC prints as the seed does, with "GMT"', () => {
  assert.equal(formatLong('2021-11-10T16:09:00.000Z', 'UTC'), 'Wednesday, 10 November 2021, 16:09 GMT');
  assert.equal(formatLong('2021-10-12T10:40:00.000Z', 'UTC'), 'Tuesday, 12 October 2021, 10:40 GMT');
  assert.equal(formatIsoDay('2021-10-08T00:00:00.000Z', 'UTC'), '2021-10-08');
  assert.equal(formatShort('2021-11-10T16:09:00.000Z', 'UTC'), '2021-11-10 16:09 GMT');
  assert.equal(formatDay('2021-10-12T23:59:59.999Z', 'UTC'), '12 October 2021');
});

test('another display zone shifts the clock and names the zone, summer time included', () => {
  assert.equal(formatLong('2021-11-10T16:09:00.000Z', 'Europe/Berlin'), 'Wednesday, 10 November 2021, 17:09 CET');
  assert.equal(formatLong('2021-10-12T10:40:00.000Z', 'Europe/Berlin'), 'Tuesday, 12 October 2021, 12:40 CEST');
  assert.equal(formatIsoDay('2021-10-07T23:30:00.000Z', 'Europe/Berlin'), '2021-10-08', 'the day is the local day');
  assert.equal(formatLong('2021-11-10T00:05:00.000Z', 'UTC'), 'Wednesday, 10 November 2021, 00:05 GMT', 'midnight is 00, not 24');
});
