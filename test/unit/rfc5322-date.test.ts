// The one header date formatter: RFC 5322 §3.3 date-time in UTC, from a Date or from the Clock's milliseconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rfc5322Date } from '#mailsystem/rfc5322-date.ts';

test('day name, unpadded day, month name, padded time, +0000', () => {
  assert.equal(rfc5322Date(Date.UTC(2026, 10, 30, 2, 16, 54)), 'Mon, 30 Nov 2026 02:16:54 +0000');
  assert.equal(rfc5322Date(Date.UTC(2026, 0, 5, 0, 0, 0)), 'Mon, 5 Jan 2026 00:00:00 +0000');
  assert.equal(
    rfc5322Date(Date.UTC(2028, 1, 29, 23, 59, 59, 999)),
    'Tue, 29 Feb 2028 23:59:59 +0000',
    'milliseconds are dropped, not rounded up',
  );
  assert.equal(rfc5322Date(0), 'Thu, 1 Jan 1970 00:00:00 +0000');
});

test('a Date and its milliseconds give the same text, whatever the local time zone', () => {
  const ms = Date.UTC(2026, 11, 31, 23, 30, 0);
  assert.equal(rfc5322Date(new Date(ms)), rfc5322Date(ms));
  assert.equal(rfc5322Date(ms), 'Thu, 31 Dec 2026 23:30:00 +0000');
  // UTC even where the local date is already the next year.
  const zone = process.env.TZ;
  try {
    process.env.TZ = 'Pacific/Kiritimati';
    assert.equal(new Date(ms).getFullYear(), 2027, 'the test zone is ahead of UTC');
    assert.equal(rfc5322Date(ms), 'Thu, 31 Dec 2026 23:30:00 +0000');
  } finally {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  }
});
