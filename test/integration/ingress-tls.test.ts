// Ingress edges: STARTTLS and implicit TLS, plaintext injection, 451 on a failed commit, timeouts, drain.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import nodemailer from 'nodemailer';
import { ensureSelfSignedCert } from '#mailsystem/smtp/self-signed.ts';
import { RawSmtp, codeOf } from '../support/smtp-client.ts';
import { maildirUsers } from '../support/fake-directory.ts';
import { mailboxMessages, startHarness, type Harness } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';

const certDir = mkdtempSync(join(tmpdir(), 'tidings-cert-'));
after(() => rmSync(certDir, { recursive: true, force: true }));
const cert = ensureSelfSignedCert(certDir, 'mx.test');

function upgrade(c: RawSmtp): Promise<RawSmtp> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket: c.detach(), rejectUnauthorized: false, servername: 'mx.test' }, () => resolve(RawSmtp.over(s)));
    s.once('error', reject);
  });
}

describe('STARTTLS and implicit TLS', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(maildirUsers(3), { ingress: { tls: cert } });
  });
  after(async () => h.stop());

  it('offers STARTTLS with a certificate and stores mail received over TLS as ESMTPS', async () => {
    const c = await RawSmtp.connect(h.port);
    await c.read();
    assert.match((await c.cmd('EHLO client.test'))!, /STARTTLS/);
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: h.port, requireTLS: true, tls: { rejectUnauthorized: false } });
    await transport.sendMail({
      envelope: { from: 's@remote.test', to: ['user0@example.test'] },
      raw: 'Subject: over tls\r\n\r\nsecret\r\n',
    });
    transport.close();
    c.close();
    await waitFor(() => mailboxMessages(h.maildirRoot, 'user0@example.test').length === 1, 'delivery');
    assert.match(mailboxMessages(h.maildirRoot, 'user0@example.test')[0].toString(), /with ESMTPS id/);
  });

  it('discards commands pipelined after STARTTLS in plaintext', async () => {
    const c = await RawSmtp.connect(h.port);
    await c.read();
    await c.cmd('EHLO client.test');
    c.write('STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n');
    assert.match((await c.read())!, /^220 /);
    const s = await upgrade(c);
    assert.equal(codeOf(await s.cmd('EHLO client.test')), 250);
    assert.match((await s.cmd('RCPT TO:<user1@example.test>'))!, /^503 /, 'the injected MAIL FROM must not have run');
    s.close();
  });

  it('speaks TLS from the first byte on an implicit-TLS listener', async () => {
    const implicit = await startHarness(maildirUsers(1), { ingress: { tls: cert, implicitTls: true } });
    try {
      const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const sock = tls.connect({ port: implicit.port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(sock));
        sock.once('error', reject);
      });
      const c = RawSmtp.over(s);
      assert.match((await c.read())!, /^220 /);
      assert.ok(!/STARTTLS/.test((await c.cmd('EHLO client.test'))!), 'no STARTTLS inside TLS');
      c.close();
    } finally {
      await implicit.stop();
    }
  });
});

describe('commit failure, timeouts and draining', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(maildirUsers(4), { ingress: { socketTimeoutMs: 400, dataTimeoutMs: 600 }, shutdownDeadlineMs: 1500 });
  });
  after(async () => h.stop());

  it('answers 451 4.3.0 when the queue commit fails, delivers nothing, and recovers', async () => {
    const pages = h.db.pragma('page_count', { simple: true }) as number;
    h.db.pragma(`max_page_count = ${pages}`);
    const c = await RawSmtp.connect(h.port);
    await c.open('s@remote.test', ['user0@example.test']);
    await c.cmd('DATA');
    const part = `Subject: full disk\r\n\r\n${'z'.repeat(900)}\r\n`;
    c.write(`${part.repeat(80)}.\r\n`);
    const reply = (await c.read())!;
    assert.match(reply, /^451 4\.3\.0 /);
    assert.ok(!/sqlite|full|database/i.test(reply), `internal error text leaked: ${reply}`);
    c.close();
    h.db.pragma('max_page_count = 1073741823');
    const d = await RawSmtp.connect(h.port);
    await d.open('s@remote.test', ['user0@example.test']);
    await d.cmd('DATA');
    d.write('Subject: after\r\n\r\nok\r\n.\r\n');
    assert.match((await d.read())!, /^250 /);
    d.close();
    // The message after the failure is delivered; the failed one, never committed, is not there with it.
    await waitFor(() => mailboxMessages(h.maildirRoot, 'user0@example.test').length >= 1, 'the later message delivered');
    const box = mailboxMessages(h.maildirRoot, 'user0@example.test');
    assert.equal(box.length, 1, 'only the message accepted after the failure');
    assert.match(box[0].toString(), /Subject: after/);
  });

  it('closes an idle session with 421 after the idle timeout', async () => {
    const c = await RawSmtp.connect(h.port);
    await c.read();
    const t0 = Date.now();
    assert.match((await c.read(3000))!, /^421 /);
    assert.ok(Date.now() - t0 >= 350);
    assert.equal(await c.read(), null);
  });

  // A DATA transfer trickling past the DATA timeout (421 4.4.2, nothing stored, an event) is in ingress-rejections.test.ts.

  it('refuses an over-long command line', async () => {
    const c = await RawSmtp.connect(h.port);
    await c.read();
    const reply = await c.cmd(`EHLO ${'a'.repeat(5000)}`);
    assert.ok(codeOf(reply) >= 500 || codeOf(reply) === 421, String(reply));
    c.close();
  });

  it('drains on stop: a transaction in flight finishes with 250, then 421 4.3.2; idle sessions get 421 4.3.2', async () => {
    const busy = await RawSmtp.connect(h.port);
    await busy.open('s@remote.test', ['user2@example.test']);
    const idle = await RawSmtp.connect(h.port);
    await idle.read();
    const stopping = h.mx.ingress.drain(1500);
    assert.match((await idle.read())!, /^421 4\.3\.2 /);
    assert.match((await busy.cmd('DATA'))!, /^354 /);
    busy.write('Subject: in flight\r\n\r\nfinishes\r\n.\r\n');
    assert.match((await busy.read())!, /^250 /);
    assert.match((await busy.cmd('MAIL FROM:<s@remote.test>'))!, /^421 4\.3\.2 /);
    await stopping;
    await assert.rejects(RawSmtp.connect(h.port), 'no longer listening');
    await waitFor(() => mailboxMessages(h.maildirRoot, 'user2@example.test').length === 1, 'in-flight message delivered');
  });
});
