// Policies reach a node through the config sync: each level set through the API comes out of the node's Directory.resolve
// as the right effective policy (with each setting's source); removals fall back to the level above; no restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, MIGRATIONS } from '#data/db.ts';
import { DEFAULT_POLICY, effectivePolicy, type EffectivePolicy } from '#data/contracts/mail-policy.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { createConfigSync } from '#mailsystem/config/sync.ts';
import { createReplicaDirectory } from '#mailsystem/config/replica.ts';
import type { Directory } from '#mailsystem/config/directory.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { startSyncBackend } from '../support/sync-backend.ts';

function policyOf(dir: Directory, address: string): EffectivePolicy {
  const r = dir.resolve(address);
  assert.equal(r.status, 'ok', `${address} resolves`);
  return (r as { policy: EffectivePolicy }).policy;
}

test('a policy set at each level reaches the node as the right effective policy; removal falls back', async () => {
  const backend = await startSyncBackend();
  const nodeDb = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const sync = createConfigSync({ db: nodeDb, backendUrl: backend.url, token: backend.token, clock: systemClock, log: silentLog });
  const dir = createReplicaDirectory({ db: nodeDb, clock: systemClock });
  const synced = async () => assert.equal((await sync.syncOnce()).ok, true);

  await backend.api('POST', '/api/v1/mail/domains', { name: 'example.com', catchAll: 'anna@example.com' });
  await backend.api('POST', '/api/v1/mail/domains', { name: 'other.test' });
  await backend.api('POST', '/api/v1/mail/mailboxes', { address: 'anna@example.com' });
  await backend.api('POST', '/api/v1/mail/mailboxes', { address: 'bob@other.test' });
  await backend.api('POST', '/api/v1/mail/aliases', { address: 'info@example.com', targets: ['anna@example.com', 'ext@provider.test'] });
  await synced();
  assert.deepEqual(policyOf(dir, 'anna@example.com'), effectivePolicy({}));
  assert.deepEqual(policyOf(dir, 'anna@example.com').policy, DEFAULT_POLICY);

  await backend.api('PUT', '/api/v1/mail/policies/installation/*', { spam: 'remove', spamThreshold: 9 });
  await backend.api('PUT', '/api/v1/mail/policies/domain/example.com', { dmarc: 'honour', subjectPrefix: '[junk] ' });
  await backend.api('PUT', '/api/v1/mail/policies/address/anna@example.com', { spam: 'reject', virus: 'reject' });
  await backend.api('PUT', '/api/v1/mail/policies/address/info@example.com', { spam: 'deliver' });
  await synced();

  assert.deepEqual(policyOf(dir, 'Anna@Example.COM'), {
    policy: { spam: 'reject', spamThreshold: 9, subjectPrefix: '[junk] ', virus: 'reject', dmarc: 'honour' },
    source: { spam: 'address', spamThreshold: 'installation', subjectPrefix: 'domain', virus: 'address', dmarc: 'domain' },
  });
  assert.deepEqual(policyOf(dir, 'anna+lists@example.com'), policyOf(dir, 'anna@example.com'), 'plus-addressing: the base address');
  // An alias has its own settings, not its targets'.
  assert.deepEqual(policyOf(dir, 'info@example.com'), {
    policy: { spam: 'deliver', spamThreshold: 9, subjectPrefix: '[junk] ', virus: 'remove', dmarc: 'honour' },
    source: { spam: 'address', spamThreshold: 'installation', subjectPrefix: 'domain', virus: 'installation', dmarc: 'domain' },
  });
  // A catch-all hit takes the domain's settings, not the catch-all mailbox's.
  assert.deepEqual(policyOf(dir, 'whoever@example.com'), {
    policy: { spam: 'remove', spamThreshold: 9, subjectPrefix: '[junk] ', virus: 'remove', dmarc: 'honour' },
    source: { spam: 'installation', spamThreshold: 'installation', subjectPrefix: 'domain', virus: 'installation', dmarc: 'domain' },
  });
  assert.deepEqual(policyOf(dir, 'bob@other.test').policy, { ...DEFAULT_POLICY, spam: 'remove', spamThreshold: 9 });
  // Between syncs the same effective policy object is served from the cache.
  assert.equal(policyOf(dir, 'anna@example.com'), policyOf(dir, 'anna@example.com'));

  // Removal falls back to the level above, in the running Directory.
  await backend.api('DELETE', '/api/v1/mail/policies/address/anna@example.com');
  await backend.api('PUT', '/api/v1/mail/policies/domain/example.com', {});
  await synced();
  assert.deepEqual(policyOf(dir, 'anna@example.com'), effectivePolicy({ installation: { spam: 'remove', spamThreshold: 9 } }));
  assert.equal(policyOf(dir, 'info@example.com').source.spam, 'address');
  await backend.api('DELETE', '/api/v1/mail/policies/installation/*');
  await backend.api('DELETE', '/api/v1/mail/aliases/info@example.com');
  await backend.api('POST', '/api/v1/mail/aliases', { address: 'info@example.com', targets: ['anna@example.com'] });
  await synced();
  assert.deepEqual(policyOf(dir, 'info@example.com'), effectivePolicy({}), 'a re-created alias does not inherit its old policy');
  assert.equal(nodeDb.prepare('SELECT count(*) FROM replica_policies').pluck().get(), 0);
});

test("a reset payload drops the replica's policies with everything else", () => {
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const now = new Date();
  const domain = { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null } as const;
  const mailbox = { address: 'anna@example.com', domain: 'example.com', delivery: 'maildir', lmtpHost: null, lmtpPort: null } as const;
  applyConfigChanges(
    db,
    {
      since: 0,
      version: 3,
      more: false,
      reset: false,
      changes: [
        { version: 1, op: 'upsert', entity: 'domain', key: 'example.com', record: domain },
        { version: 2, op: 'upsert', entity: 'mailbox', key: 'anna@example.com', record: mailbox },
        {
          version: 3,
          op: 'upsert',
          entity: 'policy',
          key: 'example.com',
          record: { scope: 'domain', key: 'example.com', settings: { spam: 'reject' } },
        },
      ],
    },
    now,
  );
  const dir = createReplicaDirectory({ db, clock: systemClock });
  assert.equal(policyOf(dir, 'anna@example.com').policy.spam, 'reject');
  applyConfigChanges(
    db,
    {
      since: 0,
      version: 2,
      more: false,
      reset: true,
      changes: [
        { version: 1, op: 'upsert', entity: 'domain', key: 'example.com', record: domain },
        { version: 2, op: 'upsert', entity: 'mailbox', key: 'anna@example.com', record: mailbox },
      ],
    },
    now,
  );
  assert.deepEqual(policyOf(dir, 'anna@example.com'), effectivePolicy({}));
});
