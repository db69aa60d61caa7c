// End to end through the ingress: SMTP in → queue → forward out with SRS; the provider's bounce to the SRS address → the original sender.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, MIGRATIONS, type DB } from '#data/db.ts';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { AliasInput } from '#data/contracts/mail-config.ts';
import { createMailSystem, type MailSystem } from '#mailsystem/app.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { createReplicaDirectory } from '#mailsystem/config/replica.ts';
import { buildDsn } from '#mailsystem/delivery/dsn.ts';
import { createForwardTransport } from '#mailsystem/delivery/forward.ts';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { createSrs } from '#mailsystem/srs/srs.ts';
import { zoneResolver } from '../support/dns-zone.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;
let provider: SmtpSink; // the external provider an alias forwards to
let origin: SmtpSink; // the original sender's own mail server

before(async () => {
  provider = await startSmtpSink();
  origin = await startSmtpSink();
  dir = mkdtempSync(join(tmpdir(), 'tidings-fwd-e2e-'));
  db = openDatabase(join(dir, 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
  const changes: ConfigChange[] = [
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
      entity: 'alias',
      key: 'info@example.com',
      record: { address: 'info@example.com', domain: 'example.com', targets: ['customer@provider.test'], keepLocalCopy: false },
    },
    // As the API stores it: the staff member typed the provider's spelling of the mailbox.
    {
      version: 3,
      op: 'upsert',
      entity: 'alias',
      key: 'ext@example.com',
      record: {
        address: 'ext@example.com',
        domain: 'example.com',
        targets: AliasInput.parse({ address: 'ext@example.com', targets: ['Ext.User@Provider.Test'] }).targets,
        keepLocalCopy: false,
      },
    },
  ];
  applyConfigChanges(db, { since: 0, version: 3, more: false, reset: false, changes }, new Date());
  const clock = systemClock;
  const srs = createSrs({ domain: 'srs.tidings.test', secret: 'e2e-secret' });
  const resolver = zoneResolver({
    mx: {
      'provider.test': [{ exchange: 'mx.provider.test', priority: 10 }],
      'origin.test': [{ exchange: 'mx.origin.test', priority: 10 }],
    },
    a: { 'mx.provider.test': ['127.0.0.1'], 'mx.origin.test': ['127.0.0.1'] },
  });
  const ports: Record<string, number> = { 'mx.provider.test': provider.port, 'mx.origin.test': origin.port };
  mx = createMailSystem(
    { smtpHost: '127.0.0.1', smtpPort: 0, maildirRoot: join(dir, 'mail'), serverName: 'mx.tidings.test', worker: { idlePollMs: 50 } },
    {
      db,
      directory: createReplicaDirectory({ db, clock, srs }),
      clock,
      log: silentLog,
      buildDsn,
      transports: {
        forward: createForwardTransport({
          resolver,
          srs,
          clock,
          heloName: 'mx.tidings.test',
          port: (host) => ports[host],
          timeoutMs: 5000,
        }),
      },
    },
  );
  port = await mx.start();
});

after(async () => {
  await mx?.stop();
  db?.close();
  await provider?.close();
  await origin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a forwarded message leaves with an SRS sender, and the bounce to it reaches the original sender', async () => {
  const message = Buffer.from(
    'From: Sender <sender@origin.test>\r\nTo: info@example.com\r\nSubject: hello via alias\r\nMessage-ID: <e2e@origin.test>\r\n\r\nhi\r\n',
  );
  const accepted = await sendMessage({
    host: '127.0.0.1',
    port,
    heloName: 'client.origin.test',
    from: 'sender@origin.test',
    to: ['info@example.com'],
    message,
    timeoutMs: 5000,
  });
  assert.equal(accepted.get('info@example.com')?.kind, 'delivered', accepted.get('info@example.com')?.response);

  const [forwarded] = await provider.waitFor(1);
  assert.deepEqual(forwarded.to, ['customer@provider.test']);
  assert.match(forwarded.from, /^SRS0=[^=]+=[A-Z2-7]{2}=origin\.test=sender@srs\.tidings\.test$/i);
  assert.match(forwarded.data.toString(), /^Delivered-To: info@example\.com\r\n/);
  assert.match(forwarded.data.toString(), /Subject: hello via alias/);

  // The provider cannot deliver after all and bounces to the envelope sender it saw: our SRS address.
  const bounce = Buffer.from(
    `From: MAILER-DAEMON@provider.test\r\nTo: ${forwarded.from}\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nmailbox full\r\n`,
  );
  const back = await sendMessage({
    host: '127.0.0.1',
    port,
    heloName: 'mx.provider.test',
    from: '',
    to: [forwarded.from],
    message: bounce,
    timeoutMs: 5000,
  });
  assert.equal(back.get(forwarded.from)?.kind, 'delivered', back.get(forwarded.from)?.response);
  const [returned] = await origin.waitFor(1);
  assert.equal(returned.from, '', 'the bounce keeps the null sender');
  assert.deepEqual(returned.to, ['sender@origin.test']);
  assert.match(returned.data.toString(), /mailbox full/);
});

test('a forged or unsigned SRS address is refused at RCPT with 550 5.1.1', async () => {
  const before = origin.messages.length;
  const queued = (): number => db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
  const queuedBefore = queued();
  const forged = await sendMessage({
    host: '127.0.0.1',
    port,
    heloName: 'evil.test',
    from: '',
    to: ['SRS0=abcdef=AA=origin.test=victim@srs.tidings.test'],
    message: Buffer.from('Subject: x\r\n\r\nx\r\n'),
    timeoutMs: 5000,
  });
  const r = forged.get('SRS0=abcdef=AA=origin.test=victim@srs.tidings.test')!;
  assert.equal(r.kind, 'failed');
  assert.match(r.response, /^550 5\.1\.1/);
  // The session is over and nothing was queued, so nothing can reach the origin later either.
  assert.equal(queued(), queuedBefore, 'nothing was queued for the forged address');
  assert.equal(origin.messages.length, before, 'nothing more reached the origin');
});

test('a forward keeps the local part of the external target as configured; only the domain is lower-cased', async () => {
  const before = provider.messages.length;
  const message = Buffer.from('From: sender@origin.test\r\nTo: ext@example.com\r\nSubject: case kept\r\n\r\nhi\r\n');
  const accepted = await sendMessage({
    host: '127.0.0.1',
    port,
    heloName: 'client.origin.test',
    from: 'sender@origin.test',
    to: ['ext@example.com'],
    message,
    timeoutMs: 5000,
  });
  assert.equal(accepted.get('ext@example.com')?.kind, 'delivered', accepted.get('ext@example.com')?.response);
  const all = await provider.waitFor(before + 1);
  const forwarded = all[before];
  assert.deepEqual(forwarded.to, ['Ext.User@provider.test']);
  assert.match(forwarded.data.toString(), /Subject: case kept/);
});
