// End to end through the ingress to a real Dovecot: an LMTP mailbox configured through the node
// replica (as the backend feed configures it) → SMTP in → queue → LMTP out → Dovecot's Maildir,
// byte-exact. Fails when Dovecot (Debian dovecot-lmtpd) is missing: startDovecot throws.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, MIGRATIONS, type DB } from '#data/db.ts';
import { MailboxInput } from '#data/contracts/mail-config.ts';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { createMailSystem, type MailSystem } from '#mailsystem/app.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { createReplicaDirectory } from '#mailsystem/config/replica.ts';
import { buildDsn } from '#mailsystem/delivery/dsn.ts';
import { createLmtpTransport } from '#mailsystem/delivery/lmtp.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { startDovecot, type Dovecot } from '../support/dovecot.ts';
import { mailboxMessages } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';

let dovecot: Dovecot;
let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;

before(async () => {
  // Dovecot stores LF line ends unless told otherwise; keep CRLF so the stored copy can be compared byte for byte.
  dovecot = await startDovecot({ extraConfig: 'mail_save_crlf = yes' });
  dir = mkdtempSync(join(tmpdir(), 'tidings-lmtp-e2e-'));
  db = openDatabase(join(dir, 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
  // The mailbox record as the API would store it and the backend feed would carry it.
  const mailbox = MailboxInput.parse({ address: 'Anna@Example.com', delivery: 'lmtp', lmtpHost: '127.0.0.1', lmtpPort: dovecot.port });
  const changes: ConfigChange[] = [
    {
      version: 1,
      op: 'upsert',
      entity: 'domain',
      key: 'example.com',
      record: { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null },
    },
    { version: 2, op: 'upsert', entity: 'mailbox', key: mailbox.address, record: { ...mailbox, domain: 'example.com' } },
  ];
  applyConfigChanges(db, { since: 0, version: 2, more: false, reset: false, changes }, new Date());
  const clock = systemClock;
  mx = createMailSystem(
    { smtpHost: '127.0.0.1', smtpPort: 0, maildirRoot: join(dir, 'mail'), serverName: 'mx.tidings.test', worker: { idlePollMs: 50 } },
    {
      db,
      directory: createReplicaDirectory({ db, clock }),
      clock,
      log: silentLog,
      buildDsn,
      transports: { lmtp: createLmtpTransport({ heloName: 'mx.tidings.test', timeoutMs: 5000 }) },
    },
  );
  port = await mx.start();
});

after(async () => {
  await mx?.stop();
  db?.close();
  await dovecot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("SMTP to the ingress → queue → LMTP → the message is in Dovecot's Maildir, byte-exact", async () => {
  const message = Buffer.concat([
    Buffer.from(
      'From: Sender <sender@origin.test>\r\nTo: anna@example.com\r\nSubject: through to Dovecot\r\n' +
        'Message-ID: <lmtp-e2e@origin.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n' +
        'Content-Transfer-Encoding: 8bit\r\n\r\nHello Anna.\r\n',
      'latin1',
    ),
    Buffer.from('8-bit: \xe4\xf6\xfc and invalid UTF-8: ', 'latin1'),
    Buffer.from([0xc3, 0x28, 0xff]),
    Buffer.from('\r\n'),
    Buffer.from('.a line that starts with a dot\r\n\ttabbed   spaced  \r\n\r\nlast line\r\n'),
  ]);
  const c = await RawSmtp.connect(port);
  const [rcpt] = await c.open('sender@origin.test', ['ANNA@example.com']);
  assert.match(rcpt, /^250 /);
  assert.match((await c.cmd('DATA'))!, /^354 /);
  // Dot-stuff the line that starts with a dot, as any SMTP client must.
  const stuffed = Buffer.from(message.toString('latin1').replace(/^\./gm, '..'), 'latin1');
  c.write(Buffer.concat([stuffed, Buffer.from('.\r\n')]));
  const reply = (await c.read())!;
  assert.match(reply, /^250 2\.6\.0 Ok: queued as (\S+)$/);
  const id = /queued as (\S+)/.exec(reply)![1];
  await c.cmd('QUIT');
  c.close();

  await waitFor(() => dovecot.delivered('anna@example.com').length === 1, 'delivery into Dovecot', 10_000);
  const [stored] = dovecot.delivered('anna@example.com');
  // Dovecot puts Return-Path and Delivered-To on top, then our Received header, then the message as sent.
  const text = stored.toString('latin1');
  assert.match(text, /^Return-Path: <sender@origin\.test>\r\n/);
  assert.match(text, /\r\nReceived: from client\.test \(unknown \[127\.0\.0\.1\]\)\r\n\tby mx\.tidings\.test \(Tidings\) with ESMTP id /);
  assert.ok(
    stored.subarray(stored.length - message.length).equals(message),
    `stored copy differs:\n${JSON.stringify(text.slice(-message.length - 40))}`,
  );
  assert.equal(mailboxMessages(join(dir, 'mail'), 'anna@example.com').length, 0, 'an LMTP mailbox gets nothing in the built-in store');
  // The outcome is committed after Dovecot's reply, so the event may trail the file by a moment.
  const events = () =>
    db.prepare('SELECT type, route_kind FROM events WHERE message_id = ? ORDER BY seq').all(id) as {
      type: string;
      route_kind: string | null;
    }[];
  await waitFor(() => events().length >= 2, 'delivered event');
  assert.deepEqual(events(), [
    { type: 'accepted', route_kind: null },
    { type: 'delivered', route_kind: 'lmtp' },
  ]);
});
