// SRS: rewriting and reversing, case-insensitivity, secret rotation, expiry, forgery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSrs } from '#mailsystem/srs/srs.ts';

const now = new Date('2026-11-30T12:00:00Z');
const days = (n: number) => new Date(now.getTime() + n * 86_400_000);

test('SRS0 round trip, and the null sender is never rewritten', () => {
  const srs = createSrs({ domain: 'srs.tidings.test', secret: 's3cret' });
  const rewritten = srs.forward('Alice@Origin.example', now);
  assert.match(rewritten, /^SRS0=[^=]{6}=[A-Z2-7]{2}=Origin\.example=Alice@srs\.tidings\.test$/);
  assert.deepEqual(srs.reverse(rewritten, now), { ok: true, address: 'Alice@Origin.example' });
  assert.equal(srs.forward('', now), '');
  assert.equal(srs.forward(rewritten, now), rewritten, 'our own SRS address is not wrapped again');
  assert.ok(srs.isSrsAddress(rewritten));
  assert.ok(!srs.isSrsAddress('alice@srs.tidings.test'));
});

test('reversal is case-insensitive (MTAs that lower- or upper-case local parts)', () => {
  const srs = createSrs({ domain: 'srs.tidings.test', secret: 's3cret' });
  const rewritten = srs.forward('alice@origin.example', now);
  assert.deepEqual(srs.reverse(rewritten.toLowerCase(), now), { ok: true, address: 'alice@origin.example' });
  assert.deepEqual(srs.reverse(rewritten.toUpperCase(), now), { ok: true, address: 'ALICE@ORIGIN.EXAMPLE' });
});

test('forged, wrongly signed, malformed and expired addresses are refused', () => {
  const srs = createSrs({ domain: 'srs.tidings.test', secret: 's3cret', maxAgeDays: 21 });
  const rewritten = srs.forward('alice@origin.example', now);
  const forged = rewritten.replace('alice', 'mallory');
  assert.deepEqual(srs.reverse(forged, now), { ok: false, reason: 'bad-hash' });
  const other = createSrs({ domain: 'srs.tidings.test', secret: 'other' });
  assert.deepEqual(other.reverse(rewritten, now), { ok: false, reason: 'bad-hash' });
  assert.deepEqual(srs.reverse('SRS0=abc@srs.tidings.test', now), { ok: false, reason: 'malformed' });
  assert.deepEqual(srs.reverse('SRS0=abcdef=!!=origin.example=alice@srs.tidings.test', now), { ok: false, reason: 'malformed' });
  assert.deepEqual(srs.reverse('alice@srs.tidings.test', now), { ok: false, reason: 'not-srs' });
  assert.deepEqual(srs.reverse(rewritten.replace('srs.tidings.test', 'elsewhere.test'), now), { ok: false, reason: 'not-srs' });
  assert.equal(srs.reverse(rewritten, days(21)).ok, true, 'valid on the last day');
  assert.deepEqual(srs.reverse(rewritten, days(22)), { ok: false, reason: 'expired' });
});

test('secret rotation: addresses signed with an old secret still reverse; new ones use the new secret', () => {
  const before = createSrs({ domain: 'srs.tidings.test', secret: 'old' });
  const signedOld = before.forward('alice@origin.example', now);
  const after = createSrs({ domain: 'srs.tidings.test', secret: 'new', oldSecrets: ['old'] });
  assert.deepEqual(after.reverse(signedOld, now), { ok: true, address: 'alice@origin.example' });
  const signedNew = after.forward('alice@origin.example', now);
  assert.notEqual(signedNew, signedOld);
  assert.equal(createSrs({ domain: 'srs.tidings.test', secret: 'new' }).reverse(signedNew, now).ok, true);
  assert.equal(
    createSrs({ domain: 'srs.tidings.test', secret: 'new' }).reverse(signedOld, now).ok,
    false,
    'dropping the old secret retires its addresses',
  );
});

test('SRS1: a sender already rewritten by another forwarder bounces back to that forwarder', () => {
  const first = createSrs({ domain: 'fwd1.example', secret: 'one' });
  const ours = createSrs({ domain: 'srs.tidings.test', secret: 's3cret' });
  const srs0 = first.forward('alice@origin.example', now);
  const srs1 = ours.forward(srs0, now);
  assert.match(srs1, /^SRS1=[^=]+=fwd1\.example==/);
  const back = ours.reverse(srs1, now);
  assert.deepEqual(back, { ok: true, address: srs0.replace(/@.*/, '@fwd1.example') });
  assert.deepEqual(first.reverse((back as { address: string }).address, now), { ok: true, address: 'alice@origin.example' });
  // A third hop keeps pointing at the first forwarder rather than growing the address.
  const third = createSrs({ domain: 'fwd3.example', secret: 'three' });
  const again = third.forward(srs1, now);
  assert.match(again, /^SRS1=[^=]+=fwd1\.example==.*@fwd3\.example$/);
  assert.deepEqual(third.reverse(again, now), { ok: true, address: (back as { address: string }).address });
  assert.equal(ours.reverse(srs1.replace('fwd1', 'evil'), now).ok, false);
});
