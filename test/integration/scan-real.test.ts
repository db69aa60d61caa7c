// The MX node with its real checks (issue 12): Debian's rspamd and clamd started by the test, mailauth over a test
// zone, the ingress deciding per recipient policy. Fails, not skips, when rspamd or clamd is missing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DB } from '#data/db.ts';
import { createForwardTransport } from '#mailsystem/delivery/forward.ts';
import { createSrs } from '#mailsystem/srs/srs.ts';
import { systemClock } from '#mailsystem/deps.ts';
import { type Clamd, EICAR, mimeWithAttachment, startClamd, storedZip } from '../support/clamd.ts';
import { zoneResolver } from '../support/dns-zone.ts';
import { gtubeMessage, HAM_ZONE, hamMessage, sendFromHamSender } from '../support/mail-corpus.ts';
import { type Harness, mailboxMessages, startHarness } from '../support/mx-harness.ts';
import { type Rspamd, startRspamd } from '../support/rspamd.ts';
import { realChecks } from '../support/real-checks.ts';
import { type ReservedPort, reservePort } from '../support/ports.ts';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';

const MAILBOXES = ['tag', 'remove', 'reject', 'deliver', 'strict', 'lax'].map((p) => `${p}@example.test`);
/** A sender domain that publishes DMARC p=reject and allows no server to send for it (SPF -all), with no DKIM key. */
const STRICT = 'strict-bank.example';
const ZONE = {
  ...HAM_ZONE,
  txt: { [STRICT]: ['v=spf1 -all'], [`_dmarc.${STRICT}`]: ['v=DMARC1; p=reject'] },
  mx: { ...HAM_ZONE.mx, 'provider.example': [{ exchange: 'mx.provider.example', priority: 10 }] },
  a: { ...HAM_ZONE.a, 'mx.provider.example': ['127.0.0.1'] },
};

let rspamd: Rspamd;
let clamd: Clamd;
let h: Harness;
let dir: string;
let db: DB;
let port: number;
/** clamd's port, kept across its restart so the client's address stays right. */
let clamdPort: ReservedPort;
/** The external provider an alias forwards to (a loopback SMTP server). */
let provider: SmtpSink;

before(async () => {
  clamdPort = await reservePort();
  [rspamd, clamd, provider] = await Promise.all([startRspamd({ zone: HAM_ZONE }), startClamd({ reserved: clamdPort }), startSmtpSink()]);
  const checks = realChecks({ rspamd, clamd, zone: ZONE, mtaName: 'mx.test' });
  h = await startHarness(
    {
      domains: ['example.test'],
      addresses: {
        ...Object.fromEntries(MAILBOXES.map((m) => [m, [{ kind: 'maildir', mailbox: m }]])),
        // An alias with a local copy and a copy at an external provider.
        'alias@example.test': [
          { kind: 'maildir', mailbox: 'tag@example.test' },
          { kind: 'forward', to: 'someone@provider.example' },
        ],
      },
      policies: {
        'alias@example.test': { spam: 'tag' },
        'strict@example.test': { dmarc: 'honour' },
        'lax@example.test': { dmarc: 'record' },
        'tag@example.test': { spam: 'tag' },
        'remove@example.test': { spam: 'remove' },
        'reject@example.test': { spam: 'reject', virus: 'reject' },
        'deliver@example.test': { spam: 'deliver' },
      },
    },
    { worker: { idlePollMs: 50 } },
    {
      checks,
      transports: {
        forward: createForwardTransport({
          resolver: zoneResolver(ZONE),
          srs: createSrs({ domain: 'srs.example.test', secret: 'scan-real-secret' }),
          clock: systemClock,
          heloName: 'mx.test',
          port: () => provider.port,
          timeoutMs: 5000,
        }),
      },
    },
  );
  ({ db, port, dir } = h);
});

after(async () => {
  await h?.stop();
  await Promise.all([rspamd?.stop(), clamd?.stop(), provider?.close()]);
  clamdPort?.release();
});

const send = (to: string, message: Buffer, mailFrom?: string): Promise<string> => sendFromHamSender(port, to, message, mailFrom);

const queueId = (reply: string): string => /queued as (\S+)/.exec(reply)?.[1] ?? '';
const stateOf = (id: string): string[] =>
  db.prepare('SELECT state FROM deliveries WHERE message_id = ? ORDER BY id').pluck().all(id) as string[];
const inMailbox = (mailbox: string, marker: string): Buffer[] =>
  mailboxMessages(join(dir, 'mail'), mailbox).filter((m) => m.includes(marker));

describe('real rspamd, clamd and mailauth behind the ingress', () => {
  it('ham is delivered to every policy, with our Authentication-Results and no forged one', async () => {
    for (const mailbox of MAILBOXES) {
      const marker = `ham-${mailbox}`;
      const reply = await send(
        mailbox,
        hamMessage({ headers: [`X-Test-Marker: ${marker}`, 'Authentication-Results: mx.test; dkim=pass header.d=forged.example'] }),
      );
      assert.match(reply, /^250 /, `${mailbox}: ${reply}`);
      await waitFor(() => inMailbox(mailbox, marker).length === 1, `${mailbox} got the ham`);
      const text = inMailbox(mailbox, marker)[0].toString();
      assert.match(text, /\r\nAuthentication-Results: mx\.test;/, 'ours is there');
      assert.doesNotMatch(text, /forged\.example/, 'the forged one is gone');
      if (mailbox === 'tag@example.test') assert.match(text, /^X-Spam-Flag: NO\r\n/);
    }
  });

  it('GTUBE: tagged under tag, delivered as is under deliver, quarantined under remove, 550 under reject', async () => {
    const tag = await send('tag@example.test', gtubeMessage({ headers: ['X-Test-Marker: gtube-tag'] }));
    assert.match(tag, /^250 /);
    await waitFor(() => inMailbox('tag@example.test', 'gtube-tag').length === 1, 'the tagged spam');
    const tagged = inMailbox('tag@example.test', 'gtube-tag')[0].toString();
    assert.match(tagged, /^X-Spam-Flag: YES\r\n/);
    assert.match(tagged, /\r\nSubject: \[SPAM\] Quarterly figures\r\n/);

    assert.match(await send('deliver@example.test', gtubeMessage({ headers: ['X-Test-Marker: gtube-deliver'] })), /^250 /);
    await waitFor(() => inMailbox('deliver@example.test', 'gtube-deliver').length === 1, 'the untouched spam');
    assert.doesNotMatch(inMailbox('deliver@example.test', 'gtube-deliver')[0].toString(), /X-Spam-Flag/);

    const removed = await send('remove@example.test', gtubeMessage({ headers: ['X-Test-Marker: gtube-remove'] }));
    assert.match(removed, /^250 /);
    assert.deepEqual(stateOf(queueId(removed)), ['quarantined']);
    const verdict = JSON.parse(
      db
        .prepare('SELECT q.verdict FROM quarantine q JOIN deliveries d ON d.id = q.delivery_id WHERE d.message_id = ?')
        .pluck()
        .get(queueId(removed)) as string,
    );
    assert.equal(verdict.spam.action, 'reject');
    assert.ok(
      verdict.spam.symbols.some((s: { name: string }) => s.name === 'GTUBE'),
      JSON.stringify(verdict.spam.symbols),
    );

    assert.match(await send('reject@example.test', gtubeMessage()), /^550 5\.7\.1 /);
  });

  it('EICAR, attached or inside a zip: quarantined under remove, 554 under reject, never delivered', async () => {
    const attached = mimeWithAttachment(Buffer.from(EICAR), 'readme.com');
    const zipped = mimeWithAttachment(storedZip([{ name: 'invoice.com', data: Buffer.from(EICAR) }]), 'invoice.zip', 'application/zip');
    for (const message of [attached, zipped]) {
      const r = await send('tag@example.test', message);
      assert.match(r, /^250 /);
      assert.deepEqual(stateOf(queueId(r)), ['quarantined']);
      assert.match(await send('reject@example.test', message), /^554 5\.7\.1 /);
    }
  });

  it('clamd down: 451 4.7.1 and nothing stored; after it is back, the retry is delivered once', async () => {
    await clamd.stop();
    const before = db.prepare('SELECT count(*) FROM messages').pluck().get();
    const message = hamMessage({ headers: ['X-Test-Marker: while-down'] });
    assert.match(await send('tag@example.test', message), /^451 4\.7\.1 /);
    assert.equal(db.prepare('SELECT count(*) FROM messages').pluck().get(), before);
    clamd = await startClamd({ reserved: clamdPort });
    assert.match(await send('tag@example.test', message), /^250 /);
    await waitFor(() => inMailbox('tag@example.test', 'while-down').length === 1, 'delivered after the retry');
    assert.equal(inMailbox('tag@example.test', 'while-down').length, 1);
  });

  it('no spam forwarding: under tag the alias keeps a tagged local copy, the external provider gets ham and never spam or a virus', async () => {
    const ham = await send('alias@example.test', hamMessage({ headers: ['X-Test-Marker: alias-ham'] }));
    assert.match(ham, /^250 /);
    await provider.waitFor(1, 15_000);
    assert.ok(provider.messages[0].data.includes('alias-ham'), 'the provider got the ham');
    const spam = await send('alias@example.test', gtubeMessage({ headers: ['X-Test-Marker: alias-spam'] }));
    assert.match(spam, /^250 /);
    await waitFor(() => inMailbox('tag@example.test', 'alias-spam').length === 1, 'the local tagged copy');
    assert.match(inMailbox('tag@example.test', 'alias-spam')[0].toString(), /^X-Spam-Flag: YES\r\n/);
    // The file is in new/ (fsynced) before its delivery is recorded: wait for the record, not only the file.
    await waitFor(
      () => db.prepare(`SELECT count(*) FROM deliveries WHERE message_id = ? AND state = 'queued'`).pluck().get(queueId(spam)) === 0,
      'the local copy recorded',
    );
    assert.deepEqual(db.prepare('SELECT route_kind, state FROM deliveries WHERE message_id = ? ORDER BY id').all(queueId(spam)), [
      { route_kind: 'maildir', state: 'delivered' },
      { route_kind: 'forward', state: 'quarantined' },
    ]);
    const virus = await send('alias@example.test', mimeWithAttachment(Buffer.from(EICAR), 'x.com'));
    assert.deepEqual(stateOf(queueId(virus)), ['quarantined', 'quarantined']);
    // Whatever is still queued has gone out by now; the provider holds the ham alone.
    await waitFor(
      () => (db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number) === 0,
      'queue empty',
    );
    assert.deepEqual(
      provider.messages.map((m) => (m.data.includes('alias-ham') ? 'ham' : m.data.toString().slice(0, 200))),
      ['ham'],
    );
  });

  it('DMARC p=reject failing: 550 5.7.1 where the domain honours it, only recorded where it does not', async () => {
    const forged = hamMessage({ from: { name: 'Bank', address: `alerts@${STRICT}` }, headers: ['X-Test-Marker: dmarc-fail'] });
    const honoured = await send('strict@example.test', forged, `alerts@${STRICT}`);
    assert.match(honoured, /^550 5\.7\.1 /);
    const recorded = await send('lax@example.test', forged, `alerts@${STRICT}`);
    assert.match(recorded, /^250 /);
    await waitFor(() => inMailbox('lax@example.test', 'dmarc-fail').length === 1, 'delivered where DMARC is only recorded');
    assert.match(inMailbox('lax@example.test', 'dmarc-fail')[0].toString(), /dmarc=fail/);
  });
});
