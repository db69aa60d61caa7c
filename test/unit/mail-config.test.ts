// Mail configuration input rules: canonical spelling, what is refused, and the node payload contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Address, DomainInput, MailboxInput, AliasInput, DomainPatch } from '#data/contracts/mail-config.ts';
import { MxConfigPayload } from '#data/contracts/mx-config.ts';

test('addresses and domains are stored in one canonical spelling', () => {
  assert.equal(Address.parse('  Anna.Smith+Tag@Example.COM '), 'anna.smith+tag@example.com');
  assert.equal(DomainInput.parse({ name: 'Sub.Example.COM' }).name, 'sub.example.com');
  assert.deepEqual(
    AliasInput.parse({ address: 'a@x.test', targets: ['b@y.test', 'b@Y.test'] }).targets,
    ['b@y.test'],
    'duplicate targets collapse',
  );
});

test('alias targets: only the domain is lower-cased, the local part is kept as written', () => {
  assert.deepEqual(AliasInput.parse({ address: 'A@X.test', targets: [' Ext.User@Provider.Test '] }), {
    address: 'a@x.test',
    targets: ['Ext.User@provider.test'],
    keepLocalCopy: false,
  });
  assert.deepEqual(
    AliasInput.parse({ address: 'a@x.test', targets: ['B@y.test', 'b@y.test'] }).targets,
    ['B@y.test', 'b@y.test'],
    'local parts that differ in case are different targets',
  );
  assert.equal(AliasInput.safeParse({ address: 'a@x.test', targets: ['Not An@Address'] }).success, false);
});

test('bad addresses and domains are refused', () => {
  for (const bad of [
    '',
    'no-at',
    '@x.test',
    'a@',
    'a b@x.test',
    'a@x',
    'a@-x.test',
    'a..b@x.test',
    '.a@x.test',
    `${'a'.repeat(65)}@x.test`,
    'a@x_y.test',
    'a@[127.0.0.1]',
  ]) {
    assert.equal(Address.safeParse(bad).success, false, `refuses ${JSON.stringify(bad)}`);
  }
  for (const bad of ['localhost', 'x..test', 'x.test.', '-x.test', 'x.123', 'ex ample.com']) {
    assert.equal(DomainInput.safeParse({ name: bad }).success, false, `refuses domain ${JSON.stringify(bad)}`);
  }
});

test('mode and delivery need their hosts; unknown fields are refused', () => {
  // The shape alone takes shadow without a legacyHost: the backend fills in TIDINGS_LEGACY_HOST or refuses (legacyDefault.ts).
  assert.equal(DomainInput.safeParse({ name: 'x.test', mode: 'shadow' }).success, true);
  assert.equal(DomainInput.safeParse({ name: 'x.test', mode: 'shadow', legacyHost: 'mx.old.test' }).success, true);
  assert.equal(DomainInput.safeParse({ name: 'x.test', legacyPort: 70000, legacyHost: 'h' }).success, false);
  assert.equal(MailboxInput.safeParse({ address: 'a@x.test', delivery: 'lmtp', lmtpHost: '127.0.0.1' }).success, false);
  assert.equal(
    MailboxInput.safeParse({ address: 'a@x.test', lmtpHost: '127.0.0.1', lmtpPort: 24 }).success,
    false,
    'maildir takes no LMTP host',
  );
  assert.equal(MailboxInput.safeParse({ address: 'a@x.test', delivery: 'pop3' }).success, false);
  assert.equal(DomainPatch.safeParse({ owner: 'x' }).success, false);
  assert.equal(
    AliasInput.safeParse({ address: 'a@x.test', targets: Array.from({ length: 101 }, (_, i) => `t${i}@y.test`) }).success,
    false,
  );
});

test('the node payload contract refuses malformed changes', () => {
  const ok = { since: 0, version: 1, more: false, changes: [{ version: 1, op: 'delete', entity: 'mailbox', key: 'a@x.test' }] };
  assert.equal(MxConfigPayload.parse(ok).reset, false, 'reset defaults to false');
  assert.equal(
    MxConfigPayload.safeParse({ ...ok, changes: [{ version: 1, op: 'upsert', entity: 'mailbox', key: 'a@x.test' }] }).success,
    false,
    'an upsert carries its record',
  );
  assert.equal(
    MxConfigPayload.safeParse({
      ...ok,
      changes: [
        {
          version: 1,
          op: 'upsert',
          entity: 'alias',
          key: 'a@x.test',
          record: { address: 'a@x.test', domain: 'x.test', targets: [], keepLocalCopy: false },
        },
      ],
    }).success,
    false,
  );
  assert.equal(
    MxConfigPayload.safeParse({ ...ok, changes: [{ version: 0, op: 'delete', entity: 'domain', key: 'x.test' }] }).success,
    false,
  );
});
