// Recipient resolution from the node replica: mailboxes, aliases, plus-addressing, catch-all, loops, postmaster, migration modes, SRS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, MIGRATIONS } from '#data/db.ts';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { createReplicaDirectory } from '#mailsystem/config/replica.ts';
import type { Directory, Resolution } from '#mailsystem/config/directory.ts';
import { createSrs } from '#mailsystem/srs/srs.ts';

const now = new Date('2026-11-30T12:00:00Z');
type Rec = Record<string, unknown>;
let v = 0;
const domain = (name: string, extra: Rec = {}): ConfigChange =>
  ({
    version: ++v,
    op: 'upsert',
    entity: 'domain',
    key: name,
    record: { name, mode: 'active', legacyHost: null, legacyPort: null, catchAll: null, ...extra },
  }) as ConfigChange;
const mailbox = (address: string, extra: Rec = {}): ConfigChange =>
  ({
    version: ++v,
    op: 'upsert',
    entity: 'mailbox',
    key: address,
    record: { address, domain: address.split('@')[1], delivery: 'maildir', lmtpHost: null, lmtpPort: null, ...extra },
  }) as ConfigChange;
const alias = (address: string, targets: string[], keepLocalCopy = false): ConfigChange => ({
  version: ++v,
  op: 'upsert',
  entity: 'alias',
  key: address,
  record: { address, domain: address.split('@')[1], targets, keepLocalCopy },
});

function setup(changes: ConfigChange[], extra: { postmaster?: string } = {}) {
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  applyConfigChanges(db, { since: 0, version: v, more: false, reset: false, changes }, now);
  let clock = now.getTime();
  const srs = createSrs({ domain: 'srs.tidings.test', secret: 'k' });
  const full = createReplicaDirectory({ db, clock: { now: () => clock }, srs, ...extra });
  // These tests are about routes; the policy each resolution carries is tested in replica-policy.test.ts.
  const dir: Directory = {
    isHostedDomain: full.isHostedDomain,
    resolve: (address, at) => {
      const r = full.resolve(address, at);
      if (r.status !== 'ok') return r;
      const { policy: _policy, ...routes } = r;
      // A shadow plan's policy likewise.
      if (routes.shadow?.next) routes.shadow = { ...routes.shadow, next: { routes: routes.shadow.next.routes } } as never;
      return routes as Resolution;
    },
  };
  return {
    db,
    dir,
    srs,
    setClock: (d: Date) => {
      clock = d.getTime();
    },
  };
}

test('mailboxes by delivery kind; unknown user; not hosted; case-insensitive', () => {
  const { dir } = setup([
    domain('example.com'),
    mailbox('anna@example.com'),
    mailbox('bob@example.com', { delivery: 'lmtp', lmtpHost: '127.0.0.1', lmtpPort: 2424 }),
  ]);
  assert.deepEqual(dir.resolve('Anna@EXAMPLE.com'), {
    status: 'ok',
    address: 'anna@example.com',
    routes: [{ kind: 'maildir', mailbox: 'anna@example.com' }],
  });
  assert.deepEqual(dir.resolve('bob@example.com'), {
    status: 'ok',
    address: 'bob@example.com',
    routes: [{ kind: 'lmtp', mailbox: 'bob@example.com', host: '127.0.0.1', port: 2424 }],
  });
  assert.deepEqual(dir.resolve('carol@example.com'), { status: 'unknown-user' });
  assert.deepEqual(dir.resolve('anna@elsewhere.test'), { status: 'not-hosted' });
  assert.equal(dir.isHostedDomain('EXAMPLE.COM'), true);
  assert.equal(dir.isHostedDomain('srs.tidings.test'), true);
  assert.equal(dir.isHostedDomain('elsewhere.test'), false);
});

test('aliases: internal and external targets, keep-local-copy, recursion, dead targets skipped, loops cut', () => {
  const { dir } = setup([
    domain('example.com'),
    mailbox('anna@example.com'),
    mailbox('bob@example.com'),
    alias('team@example.com', ['anna@example.com', 'sales@example.com', 'partner@other.test', 'gone@example.com']),
    alias('sales@example.com', ['bob@example.com', 'anna@example.com']),
    alias('anna@example.com', ['anna@gmail.test'], true),
    alias('bob@example.com', ['bob@gmail.test']),
    alias('ping@example.com', ['pong@example.com']),
    alias('pong@example.com', ['ping@example.com']),
  ]);
  const team = dir.resolve('team@example.com');
  assert.equal(team.status, 'ok');
  assert.deepEqual((team as { routes: unknown[] }).routes, [
    { kind: 'forward', to: 'anna@gmail.test' },
    { kind: 'maildir', mailbox: 'anna@example.com' },
    { kind: 'forward', to: 'bob@gmail.test' },
    { kind: 'forward', to: 'partner@other.test' },
  ]);
  // an alias without keep-local-copy replaces the mailbox
  assert.deepEqual(dir.resolve('bob@example.com'), {
    status: 'ok',
    address: 'bob@example.com',
    routes: [{ kind: 'forward', to: 'bob@gmail.test' }],
  });
  assert.deepEqual(dir.resolve('ping@example.com'), { status: 'unknown-user' }, 'a loop with no final target resolves to nothing');
});

test('alias targets keep the local part of an external target and resolve internal ones case-insensitively', () => {
  const { dir } = setup([
    domain('example.com'),
    mailbox('anna@example.com'),
    alias('fwd@example.com', ['Ext.User@provider.test', 'Anna@example.com', 'ext.user@provider.test']),
  ]);
  assert.deepEqual(dir.resolve('FWD@example.com'), {
    status: 'ok',
    address: 'fwd@example.com',
    routes: [
      { kind: 'forward', to: 'Ext.User@provider.test' },
      { kind: 'maildir', mailbox: 'anna@example.com' },
      { kind: 'forward', to: 'ext.user@provider.test' },
    ],
  });
});

test('plus-addressing and catch-all', () => {
  const { dir } = setup([
    domain('example.com', { catchAll: 'inbox@example.com' }),
    mailbox('inbox@example.com'),
    mailbox('anna@example.com'),
    mailbox('anna+exact@example.com'),
    domain('strict.test'),
    mailbox('anna@strict.test'),
  ]);
  assert.deepEqual(dir.resolve('anna+news@example.com'), {
    status: 'ok',
    address: 'anna@example.com',
    routes: [{ kind: 'maildir', mailbox: 'anna@example.com' }],
  });
  assert.deepEqual(dir.resolve('anna+exact@example.com'), {
    status: 'ok',
    address: 'anna+exact@example.com',
    routes: [{ kind: 'maildir', mailbox: 'anna+exact@example.com' }],
  });
  assert.deepEqual(dir.resolve('whoever@example.com'), {
    status: 'ok',
    address: 'whoever@example.com',
    routes: [{ kind: 'maildir', mailbox: 'inbox@example.com' }],
  });
  assert.deepEqual(dir.resolve('anna+x@strict.test'), {
    status: 'ok',
    address: 'anna@strict.test',
    routes: [{ kind: 'maildir', mailbox: 'anna@strict.test' }],
  });
  assert.deepEqual(dir.resolve('nobody+x@strict.test'), { status: 'unknown-user' });
});

test('postmaster@ is always accepted for hosted domains; an explicit one wins', () => {
  const { dir } = setup([
    domain('example.com'),
    domain('second.test'),
    mailbox('postmaster@second.test', { delivery: 'lmtp', lmtpHost: '127.0.0.1', lmtpPort: 24 }),
  ]);
  assert.deepEqual(dir.resolve('PostMaster@example.com'), {
    status: 'ok',
    address: 'postmaster@example.com',
    routes: [{ kind: 'maildir', mailbox: 'postmaster@example.com' }],
  });
  assert.equal((dir.resolve('postmaster@second.test') as { routes: { kind: string }[] }).routes[0].kind, 'lmtp');
  assert.deepEqual(dir.resolve('postmaster@unhosted.test'), { status: 'not-hosted' });
  const { dir: central } = setup([domain('example.com'), mailbox('noc@example.com'), domain('third.test')], {
    postmaster: 'noc@example.com',
  });
  assert.deepEqual(central.resolve('postmaster@third.test'), {
    status: 'ok',
    address: 'postmaster@third.test',
    routes: [{ kind: 'maildir', mailbox: 'noc@example.com' }],
  });
});

test('legacy and shadow domains without imported addresses: every address goes to the old MX once it confirms it', () => {
  const { dir } = setup([
    domain('old.test', { mode: 'legacy', legacyHost: '127.0.0.1', legacyPort: 2526 }),
    domain('moving.test', { mode: 'shadow', legacyHost: 'mx.old.test', legacyPort: null }),
    domain('example.com'),
    alias('x@example.com', ['someone@old.test']),
  ]);
  assert.deepEqual(dir.resolve('anyone@old.test'), {
    status: 'ok',
    address: 'anyone@old.test',
    routes: [{ kind: 'legacy', host: '127.0.0.1', port: 2526 }],
    verify: { host: '127.0.0.1', port: 2526 },
    mode: 'legacy',
  });
  // Shadow: the same relay, and the new system's answer for the dry run: without imported configuration it knows nobody.
  assert.deepEqual(dir.resolve('anyone@moving.test'), {
    status: 'ok',
    address: 'anyone@moving.test',
    routes: [{ kind: 'legacy', host: 'mx.old.test', port: 25 }],
    verify: { host: 'mx.old.test', port: 25 },
    mode: 'shadow',
    shadow: { domain: 'moving.test', address: 'anyone@moving.test', next: null },
  });
  // An alias target is our own configuration: relayed without asking.
  assert.deepEqual(dir.resolve('x@example.com'), {
    status: 'ok',
    address: 'x@example.com',
    routes: [{ kind: 'legacy', host: '127.0.0.1', port: 2526 }],
  });
});

test('legacy and shadow domains with imported addresses: known ones go to the old MX unasked, unknown ones are refused', () => {
  const { dir } = setup([
    domain('old.test', { mode: 'legacy', legacyHost: '127.0.0.1', legacyPort: 2526 }),
    domain('moving.test', { mode: 'shadow', legacyHost: 'mx.old.test', legacyPort: null, catchAll: 'info@moving.test' }),
    mailbox('anna@old.test'),
    alias('sales@old.test', ['anna@old.test']),
    alias('info@moving.test', ['boss@elsewhere.test']),
  ]);
  const legacy = [{ kind: 'legacy', host: '127.0.0.1', port: 2526 }];
  const mode = 'legacy';
  assert.deepEqual(dir.resolve('Anna@old.test'), { status: 'ok', address: 'anna@old.test', routes: legacy, mode });
  assert.deepEqual(dir.resolve('sales@old.test'), { status: 'ok', address: 'sales@old.test', routes: legacy, mode });
  assert.deepEqual(dir.resolve('anna+news@old.test'), { status: 'ok', address: 'anna@old.test', routes: legacy, mode });
  assert.deepEqual(dir.resolve('nobody@old.test'), { status: 'unknown-user' });
  // A catch-all of a legacy domain takes every address (to the old MX, as it is).
  // Shadow: the dry run sees what the new system would do, here the catch-all's forward.
  assert.deepEqual(dir.resolve('whoever@moving.test'), {
    status: 'ok',
    address: 'whoever@moving.test',
    routes: [{ kind: 'legacy', host: 'mx.old.test', port: 25 }],
    mode: 'shadow',
    shadow: { domain: 'moving.test', address: 'whoever@moving.test', next: { routes: [{ kind: 'forward', to: 'boss@elsewhere.test' }] } },
  });
});

test('a shadow dry run resolves as the new system would: aliases within the domain reach its mailboxes, not the old MX', () => {
  const { dir } = setup([
    domain('moving.test', { mode: 'shadow', legacyHost: '127.0.0.1', legacyPort: 2526 }),
    mailbox('anna@moving.test'),
    alias('team@moving.test', ['anna@moving.test', 'ext@provider.test']),
  ]);
  const r = dir.resolve('team@moving.test');
  assert.deepEqual(r, {
    status: 'ok',
    address: 'team@moving.test',
    routes: [{ kind: 'legacy', host: '127.0.0.1', port: 2526 }],
    mode: 'shadow',
    shadow: {
      domain: 'moving.test',
      address: 'team@moving.test',
      next: {
        routes: [
          { kind: 'maildir', mailbox: 'anna@moving.test' },
          { kind: 'forward', to: 'ext@provider.test' },
        ],
      },
    },
  });
  assert.deepEqual(dir.resolve('nobody@moving.test'), { status: 'unknown-user' }, 'imported configuration: unknown is refused');
});

test('scheduled switches take effect at their time from the replica alone, in order, without a sync', () => {
  const hour = 3_600_000;
  const t = now.getTime();
  const { dir, setClock } = setup([
    domain('moving.test', {
      mode: 'legacy',
      legacyHost: '127.0.0.1',
      legacyPort: 2526,
      // Out of order on purpose: the latest one whose time has come wins.
      switches: [
        { mode: 'active', at: t + 2 * hour },
        { mode: 'shadow', at: t + hour },
      ],
    }),
    mailbox('anna@moving.test'),
  ]);
  const modeAt = (ms: number) => {
    setClock(new Date(ms));
    const r = dir.resolve('anna@moving.test');
    return r.status === 'ok' ? [r.mode ?? 'active', r.routes[0].kind] : r.status;
  };
  assert.deepEqual(modeAt(t), ['legacy', 'legacy']);
  assert.deepEqual(modeAt(t + hour - 1), ['legacy', 'legacy']);
  assert.deepEqual(modeAt(t + hour), ['shadow', 'legacy']);
  assert.deepEqual(modeAt(t + 2 * hour), ['active', 'maildir']);
  // The clock going back (a switch not yet due again) follows the clock too: the mode is a function of the time.
  assert.deepEqual(modeAt(t), ['legacy', 'legacy']);
  // A transaction resolves all its recipients at its own instant, whatever the clock says by then.
  const r = dir.resolve('anna@moving.test', t + 2 * hour);
  assert.deepEqual(r.status === 'ok' && [r.mode ?? 'active', r.routes[0].kind], ['active', 'maildir']);
});

test('SRS bounces: valid → forward to the original sender; forged, unsigned or expired → unknown user', () => {
  const { dir, srs, setClock } = setup([domain('example.com'), mailbox('anna@example.com')]);
  const rewritten = srs.forward('Sender@Origin.test', now);
  assert.deepEqual(dir.resolve(rewritten), {
    status: 'ok',
    address: rewritten.toLowerCase(),
    routes: [{ kind: 'forward', to: 'Sender@Origin.test' }],
  });
  assert.deepEqual(dir.resolve(rewritten.toLowerCase()).status, 'ok');
  const local = srs.forward('anna@example.com', now);
  assert.deepEqual(
    (dir.resolve(local) as { routes: unknown[] }).routes,
    [{ kind: 'maildir', mailbox: 'anna@example.com' }],
    'a hosted original sender is delivered locally',
  );
  assert.deepEqual(dir.resolve(rewritten.replace('Sender', 'Victim')), { status: 'unknown-user' });
  assert.deepEqual(dir.resolve('SRS0=xxxxxx=AB=origin.test=sender@srs.tidings.test'), { status: 'unknown-user' });
  assert.deepEqual(dir.resolve('random@srs.tidings.test'), { status: 'unknown-user' });
  assert.equal(dir.resolve('postmaster@srs.tidings.test').status, 'ok');
  setClock(new Date(now.getTime() + 30 * 86_400_000));
  assert.deepEqual(dir.resolve(rewritten), { status: 'unknown-user' }, 'expired');
});

test('changes apply without a restart: the same Directory sees deletes and new entries', () => {
  const { db, dir } = setup([domain('example.com'), mailbox('anna@example.com')]);
  assert.equal(dir.resolve('anna@example.com').status, 'ok');
  applyConfigChanges(
    db,
    {
      since: v,
      version: v + 2,
      more: false,
      reset: false,
      changes: [{ version: ++v, op: 'delete', entity: 'mailbox', key: 'anna@example.com' }, mailbox('bert@example.com')],
    },
    now,
  );
  assert.deepEqual(dir.resolve('anna@example.com'), { status: 'unknown-user' });
  assert.equal(dir.resolve('bert@example.com').status, 'ok');
});

test('a reset payload replaces the whole replica', () => {
  const { db, dir } = setup([domain('example.com'), mailbox('anna@example.com'), domain('gone.test')]);
  applyConfigChanges(
    db,
    {
      since: 0,
      version: 2,
      more: false,
      reset: true,
      changes: [
        {
          version: 1,
          op: 'upsert',
          entity: 'domain',
          key: 'example.com',
          record: { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null },
        },
        {
          version: 2,
          op: 'upsert',
          entity: 'mailbox',
          key: 'bert@example.com',
          record: { address: 'bert@example.com', domain: 'example.com', delivery: 'maildir', lmtpHost: null, lmtpPort: null },
        },
      ],
    },
    now,
  );
  assert.deepEqual(dir.resolve('anna@example.com'), { status: 'unknown-user' });
  assert.equal(dir.resolve('bert@example.com').status, 'ok');
  assert.equal(dir.isHostedDomain('gone.test'), false);
  assert.equal((db.prepare('SELECT version FROM replica_state').get() as { version: number }).version, 2);
});
