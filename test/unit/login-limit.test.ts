// The login limiter's reservations: written before the hash, kept across a restart, and a success forgives only
// settled failures, never other attempts still being checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackendStore } from '#server/store/open.ts';
import {
  reserveLoginAttempt,
  recordFailedAttempt,
  recordSucceededAttempt,
  LOGIN_LIMITS,
  type LoginAttempt,
} from '#server/http/ratelimit.ts';

const T0 = new Date('2026-01-15T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function reserved(a: LoginAttempt): { rows: readonly number[] } {
  assert.equal(a.kind, 'reserved');
  return a as { rows: readonly number[] };
}

test('attempts in flight when the process dies still count after a restart, until their window passes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-limit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const who = { account: 'alice', ip: '198.51.100.1' };
  let db = openBackendStore(dir);
  for (let i = 0; i < LOGIN_LIMITS.perAccount; i++) reserved(reserveLoginAttempt(db, { ...who, ip: `198.51.100.${i}` }, at(i)));
  db.close(); // mid-hash: none of them settled

  db = openBackendStore(dir);
  const refused = reserveLoginAttempt(db, who, at(1000));
  assert.equal(refused.kind, 'limited');
  assert.equal((refused as { retryAfterSeconds: number }).retryAfterSeconds, Math.ceil((LOGIN_LIMITS.windowMs - 1000) / 1000));
  assert.equal(reserveLoginAttempt(db, who, at(LOGIN_LIMITS.windowMs + 10)).kind, 'reserved', 'the window has passed');
  db.close();
});

test('a success forgives settled failures of the account but not attempts still being checked', () => {
  const db = openBackendStore(':memory:');
  const who = (i: number) => ({ account: 'alice', ip: `203.0.113.${i}` });
  const failed = reserved(reserveLoginAttempt(db, who(0), at(0)));
  recordFailedAttempt(db, failed);
  const inFlight = [1, 2, 3].map((i) => reserved(reserveLoginAttempt(db, who(i), at(i))));
  const ok = reserved(reserveLoginAttempt(db, who(9), at(10)));
  recordSucceededAttempt(db, ok, 'alice');
  // Left counting: the three in flight. Two more fit under the limit of five, the sixth does not.
  assert.equal(reserveLoginAttempt(db, who(20), at(20)).kind, 'reserved');
  assert.equal(reserveLoginAttempt(db, who(21), at(21)).kind, 'reserved');
  assert.equal(reserveLoginAttempt(db, who(22), at(22)).kind, 'limited');
  for (const a of inFlight) recordFailedAttempt(db, a);
  assert.equal(
    (db.prepare('SELECT count(*) AS n FROM login_failures WHERE scope = ? AND pending = 0').get('account') as { n: number }).n,
    3,
  );
  db.close();
});
