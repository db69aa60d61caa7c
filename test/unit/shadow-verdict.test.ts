// The shadow dry run's verdict per recipient (mailsystem/policy/shadow.ts): the normal decision, recorded, never acted on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectivePolicy, type PolicySettings } from '#data/contracts/mail-policy.ts';
import { ShadowVerdict } from '#data/contracts/shadow.ts';
import type { Route, ShadowPlan } from '#mailsystem/config/directory.ts';
import type { Facts } from '#mailsystem/policy/decide.ts';
import { shadowRecords, shadowSample, shadowVerdict, UNCHECKED } from '#mailsystem/policy/shadow.ts';

const clean: Facts = {
  spam: { status: 'scored', score: 0.5, requiredScore: 15, action: 'no action' },
  virus: { status: 'clean' },
  dmarc: { status: 'checked', result: 'pass', policy: 'none' },
};
const spammy: Facts = { ...clean, spam: { status: 'scored', score: 1000, requiredScore: 15, action: 'reject' } };
const infected: Facts = { ...clean, virus: { status: 'infected', name: 'Eicar-Signature' } };
const broken: Facts = { ...clean, virus: { status: 'error', reason: 'clamd: connection refused' } };
const dmarcFail: Facts = { ...clean, dmarc: { status: 'checked', result: 'fail', policy: 'reject' } };

const mailbox: Route = { kind: 'maildir', mailbox: 'anna@moving.test' };
const forward: Route = { kind: 'forward', to: 'ext@provider.test' };
const plan = (routes: Route[], settings: PolicySettings = {}): ShadowPlan => ({
  domain: 'moving.test',
  address: 'anna@moving.test',
  next: { routes, policy: effectivePolicy({ address: settings }) },
});
const sample = { from: null, subject: null, date: null, messageId: null };
const verdictOf = (facts: Facts, p: ShadowPlan) => {
  const v = shadowVerdict(facts, 'anna@moving.test', p, sample);
  assert.ok(ShadowVerdict.safeParse(v).success, 'every verdict fits the contract');
  return [v.verdict, v.reason];
};

test('each policy outcome becomes its verdict and reason', () => {
  assert.deepEqual(verdictOf(clean, plan([mailbox])), ['deliver', 'clean']);
  assert.deepEqual(verdictOf(UNCHECKED, plan([mailbox])), ['deliver', 'unscanned']);
  assert.deepEqual(verdictOf(spammy, plan([mailbox])), ['tag', 'spam'], 'the default policy tags spam');
  assert.deepEqual(verdictOf(spammy, plan([mailbox], { spam: 'remove' })), ['quarantine', 'spam']);
  assert.deepEqual(verdictOf(spammy, plan([mailbox], { spam: 'reject' })), ['reject', 'spam']);
  assert.deepEqual(verdictOf(spammy, plan([forward])), ['quarantine', 'spam'], 'no spam is forwarded, whatever the policy');
  assert.deepEqual(verdictOf(infected, plan([mailbox])), ['quarantine', 'virus']);
  assert.deepEqual(verdictOf(infected, plan([mailbox], { virus: 'reject' })), ['reject', 'virus']);
  assert.deepEqual(verdictOf(broken, plan([mailbox])), ['tempfail', 'scanner-unavailable']);
  assert.deepEqual(verdictOf(dmarcFail, plan([mailbox], { dmarc: 'honour' })), ['reject', 'dmarc']);
  assert.deepEqual(verdictOf(dmarcFail, plan([mailbox])), ['deliver', 'clean'], 'recorded, not honoured');
  const unknown: ShadowPlan = { domain: 'moving.test', address: 'nobody@moving.test', next: null };
  assert.deepEqual(verdictOf(clean, unknown), ['reject', 'unknown-user']);
});

test('a verdict carries the score and a headers-only sample, decoded, cleaned and cut', () => {
  const body = Buffer.from(
    'From: =?UTF-8?B?w4RsaWNl?= <alice@sender.test>\r\nSubject: hello\x07 there\r\n  folded\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n' +
      `Message-ID: <${'x'.repeat(300)}@sender.test>\r\n\r\nBody: not a header\r\n`,
  );
  const s = shadowSample(body);
  assert.equal(s.from, 'Älice <alice@sender.test>');
  assert.equal(s.subject, 'hello there  folded');
  assert.equal(s.date, 'Tue, 1 Dec 2026 10:00:00 +0000');
  assert.equal(s.messageId?.length, 201, 'cut to 200 characters and an ellipsis');
  assert.deepEqual(shadowSample(Buffer.from('Subject: only\r\n\r\nFrom: in the body\r\n')), {
    from: null,
    subject: 'only',
    date: null,
    messageId: null,
  });
  const [r] = shadowRecords(spammy, [{ recipient: 'Anna@moving.test', plan: plan([mailbox]) }], body);
  assert.equal(r.recipient, 'Anna@moving.test');
  assert.deepEqual([r.verdict, r.reason], ['tag', 'spam']);
  const parsed = ShadowVerdict.parse(JSON.parse(r.detail).verdict);
  assert.equal(parsed.score, 1000);
  assert.equal(parsed.sample.subject, 'hello there  folded');
});
