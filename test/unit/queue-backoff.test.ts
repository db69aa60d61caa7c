// Retry schedule: first retry within minutes, exponential, capped, expiry at max age, one delayed DSN.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRY, decideRetry, dueForDelayedDsn, retryDelay } from '#mailsystem/queue/backoff.ts';
import { newQueueId } from '#mailsystem/queue/ids.ts';

const MIN = 60_000;

describe('backoff', () => {
  it('retries first within minutes, doubles, caps at an hour', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 7, 20].map((a) => retryDelay(DEFAULT_RETRY, a) / MIN),
      [1, 2, 4, 8, 60, 60],
    );
    assert.equal(retryDelay(DEFAULT_RETRY, 1, 0.5), 1.1 * MIN);
  });
  it('expires after five days and never schedules past the max age', () => {
    const t0 = 1_000_000;
    assert.deepEqual(decideRetry(DEFAULT_RETRY, t0, t0 + 5 * 24 * 60 * MIN, 50), { kind: 'expire' });
    const late = decideRetry(DEFAULT_RETRY, t0, t0 + 5 * 24 * 60 * MIN - MIN, 50);
    assert.deepEqual(late, { kind: 'retry', at: t0 + 5 * 24 * 60 * MIN });
  });
  it('sends the delayed DSN once after 4 h, never when set to 0', () => {
    assert.equal(dueForDelayedDsn(DEFAULT_RETRY, 0, 4 * 60 * MIN - 1, null), false);
    assert.equal(dueForDelayedDsn(DEFAULT_RETRY, 0, 4 * 60 * MIN, null), true);
    assert.equal(dueForDelayedDsn(DEFAULT_RETRY, 0, 5 * 60 * MIN, 4 * 60 * MIN), false);
    assert.equal(dueForDelayedDsn({ ...DEFAULT_RETRY, delayedDsnAfterMs: 0 }, 0, 10 * 60 * MIN, null), false);
  });
});

describe('queue ids', () => {
  it('sort by time, are 20 safe characters, and differ', () => {
    const a = newQueueId(1_700_000_000_000);
    const b = newQueueId(1_700_000_000_001);
    assert.match(a, /^[0-9A-HJKMNP-TV-Z]{20}$/);
    assert.ok(a.slice(0, 10) < b.slice(0, 10));
    assert.notEqual(newQueueId(5), newQueueId(5));
  });
});
