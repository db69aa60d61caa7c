// LMTP transport against a real Dovecot: the message lands in Dovecot's Maildir; refusals and a dead server map to the right outcome.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLmtpTransport } from '#mailsystem/delivery/lmtp.ts';
import type { DeliveryJob } from '#mailsystem/delivery/transport.ts';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import { startDovecot, type Dovecot } from '../support/dovecot.ts';
import { reservePort } from '../support/ports.ts';
import { startSmtpSink } from '../support/smtp-sink.ts';

let dovecot: Dovecot;
before(async () => {
  dovecot = await startDovecot();
});
after(async () => {
  await dovecot?.stop();
});

const message = (subject: string) =>
  Buffer.from(
    `Received: from client.test by mx.tidings.test; Mon, 30 Nov 2026 10:00:00 +0000\r\n` +
      `From: sender@origin.test\r\nTo: anna@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@origin.test>\r\n\r\n` +
      `Hello over LMTP.\r\n.leading dot survives\r\n8-bit: \xe4\xf6\xfc\r\n`,
    'latin1',
  );

function job(subject: string, port: number, mailbox = 'anna@example.com'): DeliveryJob {
  return {
    queueId: `q-${subject}`,
    deliveryId: 1,
    envelopeFrom: 'sender@origin.test',
    recipient: mailbox,
    route: { kind: 'lmtp', mailbox, host: '127.0.0.1', port },
    message: message(subject),
    attempt: 1,
  };
}

test('a message delivered over LMTP is in the Dovecot Maildir, bytes intact', async () => {
  const lmtp = createLmtpTransport({ heloName: 'mx.tidings.test', timeoutMs: 5000 });
  const outcome = await lmtp.deliver(job('first', dovecot.port));
  assert.equal(outcome.kind, 'delivered', outcome.response);
  const files = dovecot.delivered('anna@example.com');
  assert.equal(files.length, 1);
  const text = files[0].toString('latin1');
  assert.match(text, /Subject: first/);
  assert.match(text, /\r?\n\.leading dot survives\r?\n/, 'dot-stuffing undone by the server');
  assert.ok(files[0].includes(Buffer.from('\xe4\xf6\xfc', 'latin1')), '8-bit bytes unchanged');
  assert.match(text, /^Return-Path: <sender@origin\.test>/m);
});

test('the null sender is delivered as <>', async () => {
  const lmtp = createLmtpTransport({ heloName: 'mx.tidings.test', timeoutMs: 5000 });
  const outcome = await lmtp.deliver({ ...job('bounce', dovecot.port, 'bob@example.com'), envelopeFrom: '' });
  assert.equal(outcome.kind, 'delivered', outcome.response);
  assert.match(dovecot.delivered('bob@example.com')[0].toString('latin1'), /^Return-Path: <>/m);
});

test('no LMTP server listening → deferred (retried later), never failed', async () => {
  const lmtp = createLmtpTransport({ heloName: 'mx.tidings.test', timeoutMs: 2000 });
  // A reserved port: nothing listens there, and no other test can bind it meanwhile.
  const nobody = await reservePort();
  const outcome = await lmtp.deliver(job('nobody-home', nobody.port)).finally(() => nobody.release());
  assert.equal(outcome.kind, 'deferred');
  assert.match(outcome.response, /^4\./);
});

test('per-recipient LMTP replies: one session, each recipient its own outcome', async () => {
  const server = await startSmtpSink({
    lmtp: true,
    starttls: false,
    refuseRcpt: (a) => (a.startsWith('gone@') ? [550, '5.1.1 unknown user'] : null),
    lmtpDataReply: (a) => (a.startsWith('full@') ? [452, '4.2.2 mailbox full'] : null),
  });
  try {
    const results = await sendMessage({
      host: '127.0.0.1',
      port: server.port,
      lmtp: true,
      heloName: 'mx.tidings.test',
      from: 'sender@origin.test',
      to: ['ok@example.com', 'gone@example.com', 'full@example.com'],
      message: message('multi'),
      timeoutMs: 5000,
    });
    assert.equal(results.get('ok@example.com')?.kind, 'delivered');
    assert.equal(results.get('gone@example.com')?.kind, 'failed');
    assert.match(results.get('gone@example.com')!.response, /^550 5\.1\.1/);
    assert.equal(results.get('full@example.com')?.kind, 'deferred');
    assert.match(results.get('full@example.com')!.response, /^452 4\.2\.2 mailbox full/);
  } finally {
    await server.close();
  }
});
