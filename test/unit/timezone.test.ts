// Display time zone conversions around both daylight-saving changes, in Berlin and elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wallTimeToUtc, utcToWallTime, offsetLabel, isValidTimeZone } from '#server/domain/timezone.ts';

const B = 'Europe/Berlin';

test('UTC is the identity', () => {
  assert.deepEqual(wallTimeToUtc('2021-10-12T10:40', 'UTC'), { instant: '2021-10-12T10:40:00.000Z', kind: 'ok' });
  assert.equal(utcToWallTime('2021-10-12T10:40:00.000Z', 'UTC'), '2021-10-12T10:40');
});

test('Berlin summer and winter offsets', () => {
  assert.equal(wallTimeToUtc('2021-10-12T12:40', B).instant, '2021-10-12T10:40:00.000Z');
  assert.equal(wallTimeToUtc('2021-11-10T17:09', B).instant, '2021-11-10T16:09:00.000Z');
  assert.equal(utcToWallTime('2021-10-12T10:40:00.000Z', B), '2021-10-12T12:40');
  assert.equal(utcToWallTime('2021-11-10T16:09:00.000Z', B), '2021-11-10T17:09');
  assert.equal(offsetLabel('2021-10-12T10:40:00Z', B), '+02:00');
  assert.equal(offsetLabel('2021-11-10T16:09:00Z', B), '+01:00');
});

test('spring forward: the skipped hour moves forward by the jump', () => {
  // 2021-03-28 02:00 CET → 03:00 CEST; 02:30 never happened on a Berlin wall clock.
  const r = wallTimeToUtc('2021-03-28T02:30', B);
  assert.equal(r.kind, 'skipped');
  assert.equal(r.instant, '2021-03-28T01:30:00.000Z');
  assert.equal(utcToWallTime(r.instant, B), '2021-03-28T03:30');
  // Either side of the gap is ordinary.
  assert.deepEqual(wallTimeToUtc('2021-03-28T01:59', B), { instant: '2021-03-28T00:59:00.000Z', kind: 'ok' });
  assert.deepEqual(wallTimeToUtc('2021-03-28T03:00', B), { instant: '2021-03-28T01:00:00.000Z', kind: 'ok' });
});

test('fall back: the repeated hour takes the earlier instant and names the later', () => {
  // 2021-10-31 03:00 CEST → 02:00 CET; 02:30 happened twice.
  const r = wallTimeToUtc('2021-10-31T02:30', B);
  assert.equal(r.kind, 'repeated');
  assert.equal(r.instant, '2021-10-31T00:30:00.000Z');
  assert.equal(r.alternative, '2021-10-31T01:30:00.000Z');
  assert.equal(utcToWallTime('2021-10-31T00:30:00Z', B), '2021-10-31T02:30');
  assert.equal(utcToWallTime('2021-10-31T01:30:00Z', B), '2021-10-31T02:30');
  assert.deepEqual(wallTimeToUtc('2021-10-31T03:00', B), { instant: '2021-10-31T02:00:00.000Z', kind: 'ok' });
  assert.deepEqual(wallTimeToUtc('2021-10-31T01:59', B), { instant: '2021-10-30T23:59:00.000Z', kind: 'ok' });
});

test('every five minutes of a DST day round-trips (except the skipped hour)', () => {
  for (const day of ['2021-03-28', '2021-10-31']) {
    for (let m = 0; m < 24 * 60; m += 5) {
      const wall = `${day}T${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
      const r = wallTimeToUtc(wall, B);
      if (r.kind === 'skipped') continue;
      assert.equal(utcToWallTime(r.instant, B), wall, wall);
      if (r.alternative) assert.equal(utcToWallTime(r.alternative, B), wall, wall);
    }
  }
});

test('southern hemisphere and half-hour zones', () => {
  // Sydney: DST ends 2021-04-04 03:00 AEDT → 02:00 AEST; begins 2021-10-03 02:00 → 03:00.
  assert.equal(wallTimeToUtc('2021-04-04T02:30', 'Australia/Sydney').kind, 'repeated');
  assert.equal(wallTimeToUtc('2021-10-03T02:30', 'Australia/Sydney').kind, 'skipped');
  assert.deepEqual(wallTimeToUtc('2021-10-12T10:40', 'Asia/Kolkata'), { instant: '2021-10-12T05:10:00.000Z', kind: 'ok' });
  assert.equal(offsetLabel('2021-10-12T05:10:00Z', 'America/St_Johns'), '-02:30');
});

test('malformed and impossible wall times are refused, bad zones detected', () => {
  assert.throws(() => wallTimeToUtc('12.10.2021 10:40', B), RangeError);
  assert.throws(() => wallTimeToUtc('2021-02-30T10:00', B), RangeError);
  assert.throws(() => wallTimeToUtc('2021-10-12T24:00', B), RangeError);
  assert.throws(() => utcToWallTime('yesterday', B), RangeError);
  assert.equal(isValidTimeZone('Europe/Berlin'), true);
  assert.equal(isValidTimeZone('Mars/Olympus'), false);
});
