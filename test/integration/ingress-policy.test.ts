// The ingress as an adapter of the policy decision (issue 12): RCPT keeps one policy class per transaction (452 4.5.3
// for the others), DATA runs the checks and answers what decide() says, and each copy is stored with its fate.
// The checks here are a stand-in that reads a marker in the message (the real rspamd/clamd/mailauth clients have
// tests of their own); what is tested is the wiring: replies, events, queue rows and the delivered bytes.
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY, type EffectivePolicy, type MailPolicy } from '#data/contracts/mail-policy.ts';
import type { DB } from '#data/db.ts';
import { createMailSystem, type MailSystem } from '#mailsystem/app.ts';
import type { Checks } from '#mailsystem/checks/types.ts';
import type { Directory, Resolution, Route } from '#mailsystem/config/directory.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import type { Facts } from '#mailsystem/policy/decide.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { mailboxMessages, testDsn } from '../support/mx-harness.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

const users: Record<string, { routes: Route[]; policy: Partial<MailPolicy> }> = {
  'tag@example.test': { routes: [{ kind: 'maildir', mailbox: 'tag@example.test' }], policy: { spam: 'tag' } },
  'remove@example.test': { routes: [{ kind: 'maildir', mailbox: 'remove@example.test' }], policy: { spam: 'remove' } },
  'reject@example.test': { routes: [{ kind: 'maildir', mailbox: 'reject@example.test' }], policy: { spam: 'reject', virus: 'reject' } },
  'virusreject@example.test': { routes: [{ kind: 'maildir', mailbox: 'virusreject@example.test' }], policy: { virus: 'reject' } },
  'reject2@example.test': { routes: [{ kind: 'maildir', mailbox: 'reject2@example.test' }], policy: { spam: 'reject', virus: 'reject' } },
  // An alias with a local copy and an external forward.
  'alias@example.test': {
    routes: [
      { kind: 'maildir', mailbox: 'tag@example.test' },
      { kind: 'forward', to: 'someone@elsewhere.example' },
    ],
    policy: { spam: 'tag' },
  },
};

const directory: Directory = {
  isHostedDomain: (d) => d.toLowerCase() === 'example.test',
  resolve(address): Resolution {
    const u = users[address.toLowerCase()];
    if (!u) return address.toLowerCase().endsWith('@example.test') ? { status: 'unknown-user' } : { status: 'not-hosted' };
    const policy: EffectivePolicy = { policy: { ...DEFAULT_POLICY, ...u.policy }, source: {} as EffectivePolicy['source'] };
    return { status: 'ok', address: address.toLowerCase(), routes: u.routes, policy } as Resolution;
  },
};

const HAM: Facts = { spam: { status: 'scored', score: 0.5, action: 'no action' }, virus: { status: 'clean' }, dmarc: { status: 'off' } };
/** Reads the marker the test put in the message; the returned bytes get a header so the test sees they were used. */
const checks: Checks = async ({ message }) => {
  const text = message.toString('latin1');
  let facts = HAM;
  if (text.includes('MARK-SPAM')) facts = { ...HAM, spam: { status: 'scored', score: 15, requiredScore: 15, action: 'reject' } };
  if (text.includes('MARK-VIRUS')) facts = { ...HAM, virus: { status: 'infected', name: 'Test.EICAR' } };
  if (text.includes('MARK-DOWN')) facts = { ...HAM, virus: { status: 'error', reason: 'unavailable' } };
  return { facts, message: Buffer.concat([Buffer.from('Authentication-Results: mx.test; none\r\n'), message]), verdict: { marker: true } };
};

let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidings-ingress-policy-'));
  db = openNodeDatabase(join(dir, 'node.sqlite'));
  mx = createMailSystem(
    { smtpHost: '127.0.0.1', smtpPort: 0, maildirRoot: join(dir, 'mail'), serverName: 'mx.test', worker: { idlePollMs: 50 } },
    { db, directory, clock: systemClock, log: silentLog, buildDsn: testDsn, checks },
  );
  port = await mx.start();
});

after(async () => {
  await mx?.stop();
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One transaction: the RCPT replies and the final reply. */
async function send(rcpts: string[], marker: string): Promise<{ rcpt: string[]; data: string | null }> {
  const c = await RawSmtp.connect(port);
  const rcpt = await c.open('sender@origin.test', rcpts);
  let data: string | null = null;
  if (rcpt.some((r) => r.startsWith('250'))) {
    await c.cmd('DATA');
    c.write(`From: sender@origin.test\r\nTo: x@example.test\r\nSubject: Hello\r\n\r\n${marker}\r\n.\r\n`);
    data = await c.read();
  }
  c.write('QUIT\r\n');
  c.close();
  return { rcpt, data };
}

const rows = (sql: string): unknown[] => db.prepare(sql).all();
const events = (reason: string): number =>
  db.prepare("SELECT count(*) FROM events WHERE type = 'rejected' AND reason = ?").pluck().get(reason) as number;

describe('ingress with checks and policies', () => {
  it('RCPT: a recipient of another policy class gets 452 4.5.3, those of the same class are accepted', async () => {
    const r = await send(['reject@example.test', 'tag@example.test', 'reject2@example.test'], 'ham');
    assert.match(r.rcpt[0], /^250/);
    assert.match(r.rcpt[1], /^452 4\.5\.3 /);
    assert.match(r.rcpt[2], /^250/);
    assert.match(r.data ?? '', /^250 /);
    await waitFor(() => events('policy-class') === 1, 'the 452 recorded as a policy-class refusal');
  });

  it('spam to a rejecting recipient: 550 5.7.1, nothing stored', async () => {
    const before = rows('SELECT id FROM messages').length;
    const r = await send(['reject@example.test'], 'MARK-SPAM');
    assert.match(r.data ?? '', /^550 5\.7\.1 /);
    assert.equal(rows('SELECT id FROM messages').length, before);
    await waitFor(() => events('spam') === 1, 'the refusal recorded as spam');
  });

  it('a virus to a rejecting recipient: 554 5.7.1; a scanner fault: 451 4.7.1; neither stored', async () => {
    const before = rows('SELECT id FROM messages').length;
    assert.match((await send(['reject@example.test'], 'MARK-VIRUS')).data ?? '', /^554 5\.7\.1 /);
    assert.match((await send(['tag@example.test'], 'MARK-DOWN')).data ?? '', /^451 4\.7\.1 /);
    assert.equal(rows('SELECT id FROM messages').length, before);
    await waitFor(() => events('virus') === 1 && events('scanner-unavailable') === 1, 'both refusals recorded');
  });

  it('spam to an alias under tag: the mailbox copy is tagged, the external forward is quarantined, and remove quarantines', async () => {
    const r = await send(['alias@example.test', 'remove@example.test'], 'MARK-SPAM');
    assert.match(r.data ?? '', /^250 /);
    const id = /queued as (\S+)/.exec(r.data ?? '')?.[1];
    assert.ok(id);
    assert.deepEqual(
      db
        .prepare('SELECT route_kind, recipient, state FROM deliveries WHERE message_id = ? AND state = ? ORDER BY id')
        .all(id, 'quarantined'),
      [
        { route_kind: 'forward', recipient: 'alias@example.test', state: 'quarantined' },
        { route_kind: 'maildir', recipient: 'remove@example.test', state: 'quarantined' },
      ],
    );
    await waitFor(() => mailboxMessages(join(dir, 'mail'), 'tag@example.test').some((m) => m.includes('MARK-SPAM')), 'the tagged copy');
    const copy = mailboxMessages(join(dir, 'mail'), 'tag@example.test')
      .find((m) => m.includes('MARK-SPAM'))
      ?.toString('latin1');
    assert.match(copy ?? '', /^X-Spam-Flag: YES\r\nX-Spam-Score: 15\.00\r\n/);
    assert.match(copy ?? '', /\r\nSubject: \[SPAM\] Hello\r\n/);
    assert.match(copy ?? '', /\r\nAuthentication-Results: mx\.test; none\r\n/, 'the checked bytes are what is stored');
    assert.deepEqual(rows(`SELECT reason FROM quarantine q JOIN deliveries d ON d.id = q.delivery_id WHERE d.message_id = '${id}'`), [
      { reason: 'spam' },
      { reason: 'spam' },
    ]);
    assert.equal(db.prepare('SELECT is_spam FROM messages WHERE id = ?').pluck().get(id), 1, 'no DSN is ever sent about spam');
  });

  it('a virus under remove is quarantined for every copy, the forward included', async () => {
    const r = await send(['alias@example.test'], 'MARK-VIRUS');
    const id = /queued as (\S+)/.exec(r.data ?? '')?.[1];
    assert.ok(id, r.data ?? '');
    assert.deepEqual(db.prepare('SELECT route_kind, state FROM deliveries WHERE message_id = ? ORDER BY id').all(id), [
      { route_kind: 'maildir', state: 'quarantined' },
      { route_kind: 'forward', state: 'quarantined' },
    ]);
  });

  it('nodemailer: three policy classes in one send, the others come back 452 and each retry gets its own right reply', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
    const raw = (to: string) => `From: sender@origin.test\r\nTo: ${to}\r\nSubject: mixed\r\n\r\nMARK-SPAM nodemailer\r\n`;
    const first = ['tag@example.test', 'reject@example.test', 'virusreject@example.test'];
    const info = await transport.sendMail({ envelope: { from: 'sender@origin.test', to: first }, raw: raw(first.join(', ')) });
    assert.deepEqual(info.accepted, ['tag@example.test']);
    assert.deepEqual(info.rejected, ['reject@example.test', 'virusreject@example.test']);
    for (const err of (info as unknown as { rejectedErrors: { responseCode: number; response: string }[] }).rejectedErrors) {
      assert.equal(err.responseCode, 452);
      assert.match(err.response, /^452 4\.5\.3 /);
    }
    // The sender retries each refused recipient in a transaction of its own: spam to a rejecting one is refused at
    // DATA (550, no bounce from us); the third (spam tagged, viruses rejected) accepts it.
    await assert.rejects(
      transport.sendMail({ envelope: { from: 'sender@origin.test', to: ['reject@example.test'] }, raw: raw('reject@example.test') }),
      (err: { responseCode?: number; response?: string }) => err.responseCode === 550 && /^550 5\.7\.1 /.test(err.response ?? ''),
    );
    const retry = await transport.sendMail({
      envelope: { from: 'sender@origin.test', to: ['virusreject@example.test'] },
      raw: raw('virusreject@example.test'),
    });
    assert.deepEqual(retry.accepted, ['virusreject@example.test']);
    transport.close();
    await waitFor(
      () => mailboxMessages(join(dir, 'mail'), 'tag@example.test').some((m) => m.includes('MARK-SPAM nodemailer')),
      'the tagged copy',
    );
    assert.equal(db.prepare("SELECT count(*) FROM messages WHERE origin = 'dsn'").pluck().get(), 0, 'nothing bounced');
  });
});
