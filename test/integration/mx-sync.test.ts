// Config sync over real HTTP: a node fetches only what changed since its version, applies it live, and keeps resolving when the backend is gone.
import { effectivePolicy } from '#data/contracts/mail-policy.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, MIGRATIONS } from '#data/db.ts';
import { addMailbox } from '#server/services/mail/addMailbox.ts';
import { MX_CONFIG_PAGE } from '#data/contracts/mx-config.ts';
import { createConfigSync } from '#mailsystem/config/sync.ts';
import { createReplicaDirectory, replicaVersion } from '#mailsystem/config/replica.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { startSyncBackend } from '../support/sync-backend.ts';

test('node syncs incrementally, applies without restart, and serves from the replica when the backend is down', async () => {
  const backend = await startSyncBackend();
  const nodeDb = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const requested: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    requested.push(new URL(String(input)).search);
    return fetch(input, init);
  };
  const warnings: unknown[] = [];
  const log = {
    ...silentLog,
    warn: (o: object | string) => {
      warnings.push(o);
    },
  };
  const sync = createConfigSync({
    db: nodeDb,
    backendUrl: backend.url,
    token: backend.token,
    clock: systemClock,
    log,
    fetch: countingFetch,
    requestTimeoutMs: 2000,
  });
  const dir = createReplicaDirectory({ db: nodeDb, clock: systemClock });

  await backend.api('POST', '/api/v1/mail/domains', { name: 'example.com' });
  await backend.api('POST', '/api/v1/mail/mailboxes', { address: 'anna@example.com' });
  let r = await sync.syncOnce();
  assert.deepEqual(r, { ok: true, applied: 2, version: 2 });
  assert.equal(dir.resolve('anna@example.com').status, 'ok');

  await backend.api('POST', '/api/v1/mail/aliases', { address: 'info@example.com', targets: ['anna@example.com', 'ext@provider.test'] });
  await backend.api('DELETE', '/api/v1/mail/mailboxes/anna@example.com');
  r = await sync.syncOnce();
  assert.deepEqual(r, { ok: true, applied: 2, version: 4 });
  assert.deepEqual(requested, ['?since=0', '?since=2'], 'the second poll asks only for changes after version 2');
  assert.deepEqual(dir.resolve('anna@example.com'), { status: 'unknown-user' }, 'the delete took effect in the running directory');
  assert.deepEqual(dir.resolve('info@example.com'), {
    status: 'ok',
    address: 'info@example.com',
    routes: [{ kind: 'forward', to: 'ext@provider.test' }],
    policy: effectivePolicy({}),
  });

  r = await sync.syncOnce();
  assert.deepEqual(r, { ok: true, applied: 0, version: 4 });

  await new Promise<void>((resolve) => backend.server.close(() => resolve()));
  r = await sync.syncOnce();
  assert.equal(r.ok, false);
  assert.equal(r.version, 4);
  assert.equal(warnings.length, 1);
  assert.deepEqual(dir.resolve('info@example.com').status, 'ok', 'still resolving from the replica');
  assert.deepEqual(dir.resolve('nobody@example.com'), { status: 'unknown-user' });
  const state = nodeDb.prepare('SELECT version, last_error FROM replica_state').get() as { version: number; last_error: string | null };
  assert.equal(state.version, 4);
  assert.ok(state.last_error);
});

test('a wrong token changes nothing; a page fetched twice is applied once', async () => {
  const backend = await startSyncBackend();
  await backend.api('POST', '/api/v1/mail/domains', { name: 'example.com' });
  const nodeDb = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const log = silentLog;
  const bad = createConfigSync({ db: nodeDb, backendUrl: backend.url, token: 'mxn_not-the-token', clock: systemClock, log });
  const r = await bad.syncOnce();
  assert.equal(r.ok, false);
  assert.match(r.error!, /401/);
  assert.equal(replicaVersion(nodeDb), 0);

  // A fetch whose reply is "lost" after the replica applied it: the retry sees the same changes and skips them.
  let calls = 0;
  const replaying: typeof fetch = async (input, init) => {
    calls++;
    const url = new URL(String(input));
    if (calls === 2) url.searchParams.set('since', '0');
    return fetch(url, init);
  };
  const sync = createConfigSync({ db: nodeDb, backendUrl: backend.url, token: backend.token, clock: systemClock, log, fetch: replaying });
  assert.deepEqual(await sync.syncOnce(), { ok: true, applied: 1, version: 1 });
  assert.deepEqual(await sync.syncOnce(), { ok: true, applied: 0, version: 1 });
  assert.equal(calls, 2);
});

test('more changes than one page: the node keeps asking until it has them all', async () => {
  const backend = await startSyncBackend();
  await backend.api('POST', '/api/v1/mail/domains', { name: 'bulk.test' });
  const ctx = { db: backend.db, clock: () => new Date(), changes: { bump() {}, version: () => 0 } };
  for (let i = 0; i < MX_CONFIG_PAGE + 20; i++)
    addMailbox({
      ctx,
      actor: { userId: null, name: 'test' },
      input: { address: `user${i}@bulk.test`, delivery: 'maildir', lmtpHost: null, lmtpPort: null },
    });
  const nodeDb = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const requested: string[] = [];
  const sync = createConfigSync({
    db: nodeDb,
    backendUrl: backend.url,
    token: backend.token,
    clock: systemClock,
    log: silentLog,
    fetch: (input, init) => {
      requested.push(new URL(String(input)).search);
      return fetch(input, init);
    },
  });
  const r = await sync.syncOnce();
  assert.deepEqual(r, { ok: true, applied: MX_CONFIG_PAGE + 21, version: MX_CONFIG_PAGE + 21 });
  assert.deepEqual(requested, ['?since=0', `?since=${MX_CONFIG_PAGE}`]);
  const dir = createReplicaDirectory({ db: nodeDb, clock: systemClock });
  assert.equal(dir.resolve(`user${MX_CONFIG_PAGE + 19}@bulk.test`).status, 'ok');
});
