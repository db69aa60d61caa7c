// The policy decision (issue 12): facts × each recipient's effective policy → the DATA reply and each copy's fate.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY, effectivePolicy, type MailPolicy, PolicySettings, policyClass } from '#data/contracts/mail-policy.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import { type Decision, decide, type Facts, isSpam, type PolicyTarget } from '#mailsystem/policy/decide.ts';

const mailbox: Route = { kind: 'maildir', mailbox: 'anna@example.test' };
const lmtp: Route = { kind: 'lmtp', mailbox: 'bob@example.test', host: '127.0.0.1', port: 24 };
const external: Route = { kind: 'forward', to: 'anna@gmail.example' };
const policy = (p: Partial<MailPolicy> = {}): MailPolicy => ({ ...DEFAULT_POLICY, ...p });
const target = (route: Route, p: Partial<MailPolicy> = {}, recipient = 'anna@example.test'): PolicyTarget => ({
  recipient,
  route,
  policy: policy(p),
});

const clean: Facts = {
  spam: { status: 'scored', score: 1.2, requiredScore: 15, action: 'no action' },
  virus: { status: 'clean' },
  dmarc: { status: 'checked', result: 'pass', policy: 'reject' },
};
const spam: Facts = { ...clean, spam: { status: 'scored', score: 15, requiredScore: 15, action: 'reject' } };
const virus: Facts = { ...clean, virus: { status: 'infected', name: 'Test.EICAR' } };
const dmarcFail: Facts = { ...clean, dmarc: { status: 'checked', result: 'fail', policy: 'reject' } };

/** Each copy as "route kind → disposition", for compact expectations. */
function fates(d: Decision): string[] {
  assert.equal(d.kind, 'accept', JSON.stringify(d));
  if (d.kind !== 'accept') return [];
  return d.copies.map((c) => `${c.route.kind}:${c.disposition.kind === 'deliver' ? 'deliver' : `quarantine(${c.disposition.reason})`}`);
}

describe('effective policy', () => {
  it('inherits installation → domain → address, and says where each setting comes from', () => {
    const e = effectivePolicy({ installation: { spam: 'remove' }, domain: { virus: 'reject', spam: 'tag' }, address: { spam: 'reject' } });
    assert.deepEqual(e.policy, { ...DEFAULT_POLICY, spam: 'reject', virus: 'reject' });
    assert.equal(e.source.spam, 'address');
    assert.equal(e.source.virus, 'domain');
    assert.equal(e.source.dmarc, 'installation');
    assert.deepEqual(effectivePolicy({}).policy, DEFAULT_POLICY);
  });

  it('refuses settings that are not policies', () => {
    assert.equal(PolicySettings.safeParse({ spam: 'shred' }).success, false);
    assert.equal(PolicySettings.safeParse({ subjectPrefix: 'a\r\nBcc: x' }).success, false);
    assert.equal(PolicySettings.safeParse({ color: 'red' }).success, false);
    assert.equal(PolicySettings.safeParse({ spamThreshold: null, virus: 'remove' }).success, true);
  });

  it('puts recipients in one class only when nothing that can reject differs', () => {
    assert.equal(policyClass(policy({ spam: 'tag' })), policyClass(policy({ spam: 'remove', subjectPrefix: 'x' })));
    assert.notEqual(policyClass(policy({ spam: 'tag' })), policyClass(policy({ spam: 'reject' })));
    assert.notEqual(policyClass(policy({ spam: 'reject', spamThreshold: 5 })), policyClass(policy({ spam: 'reject' })));
    assert.notEqual(policyClass(policy({ virus: 'remove' })), policyClass(policy({ virus: 'reject' })));
    assert.notEqual(policyClass(policy({ dmarc: 'record' })), policyClass(policy({ dmarc: 'honour' })));
  });
});

describe('decide', () => {
  it('fails closed: a scanner error refuses the message whatever the policy', () => {
    for (const facts of [
      { ...clean, spam: { status: 'error' as const, reason: 'timeout' } },
      { ...clean, virus: { status: 'error' as const, reason: 'unavailable' } },
    ]) {
      const d = decide(facts, [target(mailbox, { spam: 'deliver' })]);
      assert.equal(d.kind, 'tempfail');
    }
    // No authentication answer: only recipients that honour DMARC need one.
    const noAuth: Facts = { ...clean, dmarc: { status: 'error', reason: 'timeout' } };
    assert.equal(decide(noAuth, [target(mailbox, { dmarc: 'honour' })]).kind, 'tempfail');
    assert.deepEqual(fates(decide(noAuth, [target(mailbox, { dmarc: 'record' })])), ['maildir:deliver']);
  });

  it('never delivers or forwards a virus: quarantined under remove, 554 under reject', () => {
    assert.deepEqual(decide(virus, [target(mailbox, { virus: 'reject' })]), { kind: 'reject', reason: 'virus' });
    assert.deepEqual(fates(decide(virus, [target(mailbox, { spam: 'deliver' }), target(external, { spam: 'deliver' })])), [
      'maildir:quarantine(virus)',
      'forward:quarantine(virus)',
    ]);
  });

  it('rejects a DMARC p=reject failure only where the domain honours it', () => {
    assert.deepEqual(decide(dmarcFail, [target(mailbox, { dmarc: 'honour' })]), { kind: 'reject', reason: 'dmarc' });
    assert.deepEqual(fates(decide(dmarcFail, [target(mailbox, { dmarc: 'record' })])), ['maildir:deliver']);
    const quarantinePolicy: Facts = { ...clean, dmarc: { status: 'checked', result: 'fail', policy: 'quarantine' } };
    assert.deepEqual(fates(decide(quarantinePolicy, [target(mailbox, { dmarc: 'honour' })])), ['maildir:deliver']);
  });

  it('spam: reject answers 550; remove quarantines; tag delivers with headers and the prefix; deliver leaves it alone', () => {
    assert.deepEqual(decide(spam, [target(mailbox, { spam: 'reject' })]), { kind: 'reject', reason: 'spam' });
    assert.deepEqual(fates(decide(spam, [target(mailbox, { spam: 'remove' })])), ['maildir:quarantine(spam)']);
    const tagged = decide(spam, [target(lmtp, { spam: 'tag', subjectPrefix: '[SPAM] ' })]);
    assert.equal(tagged.kind, 'accept');
    if (tagged.kind === 'accept') {
      assert.deepEqual(tagged.copies[0].disposition, {
        kind: 'deliver',
        headers: [
          ['X-Spam-Flag', 'YES'],
          ['X-Spam-Score', '15.00'],
          ['X-Spam-Status', 'Yes, score=15.00 required=15.00 action=reject'],
        ],
        subjectPrefix: '[SPAM] ',
      });
    }
    const plain = decide(spam, [target(mailbox, { spam: 'deliver' })]);
    assert.deepEqual(plain.kind === 'accept' && plain.copies[0].disposition, { kind: 'deliver', headers: [], subjectPrefix: null });
  });

  it('ham is delivered under every policy; tag marks it as not spam, without a prefix', () => {
    for (const spamPolicy of ['deliver', 'tag', 'remove', 'reject'] as const) {
      assert.deepEqual(fates(decide(clean, [target(mailbox, { spam: spamPolicy }), target(external, { spam: spamPolicy })])), [
        'maildir:deliver',
        'forward:deliver',
      ]);
    }
    const d = decide(clean, [target(mailbox, { spam: 'tag' })]);
    assert.deepEqual(d.kind === 'accept' && d.copies[0].disposition, {
      kind: 'deliver',
      headers: [
        ['X-Spam-Flag', 'NO'],
        ['X-Spam-Score', '1.20'],
        ['X-Spam-Status', 'No, score=1.20 required=15.00 action=no_action'],
      ],
      subjectPrefix: null,
    });
  });

  it('no spam forwarding: the external copy of an alias is quarantined whatever its policy; local copies follow the policy', () => {
    for (const spamPolicy of ['deliver', 'tag', 'remove'] as const) {
      const d = decide(spam, [target(mailbox, { spam: spamPolicy }), target(external, { spam: spamPolicy })]);
      assert.deepEqual(fates(d), [`maildir:${spamPolicy === 'remove' ? 'quarantine(spam)' : 'deliver'}`, 'forward:quarantine(spam)']);
    }
  });

  it("a policy's own threshold overrides rspamd's verdict, both ways", () => {
    const mild: Facts = { ...clean, spam: { status: 'scored', score: 6, action: 'no action' } };
    assert.equal(isSpam(mild.spam, policy({ spamThreshold: 5 })), true);
    assert.equal(isSpam(mild.spam, policy({ spamThreshold: null })), false);
    assert.equal(isSpam(spam.spam, policy({ spamThreshold: 20 })), false);
    assert.deepEqual(fates(decide(mild, [target(mailbox, { spam: 'remove', spamThreshold: 5 })])), ['maildir:quarantine(spam)']);
  });

  it('scanning switched off: every copy says so, nothing is quarantined', () => {
    const off: Facts = { spam: { status: 'off' }, virus: { status: 'off' }, dmarc: { status: 'off' } };
    const d = decide(off, [target(mailbox, { spam: 'tag' }), target(external)]);
    assert.equal(d.kind, 'accept');
    if (d.kind !== 'accept') return;
    for (const c of d.copies) {
      assert.deepEqual(c.disposition, {
        kind: 'deliver',
        headers: [['X-Tidings-Scan', 'off: not scanned for spam or viruses']],
        subjectPrefix: null,
      });
    }
  });

  it('two aliases of one mailbox are one copy when their fate is the same, two when it differs', () => {
    const same = decide(spam, [target(mailbox, { spam: 'tag' }, 'a@example.test'), target(mailbox, { spam: 'tag' }, 'b@example.test')]);
    assert.equal(same.kind === 'accept' && same.copies.length, 1);
    const differ = decide(spam, [
      target(mailbox, { spam: 'tag' }, 'a@example.test'),
      target(mailbox, { spam: 'deliver' }, 'b@example.test'),
    ]);
    assert.equal(differ.kind === 'accept' && differ.copies.length, 2);
  });
});
