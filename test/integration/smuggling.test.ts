// SMTP smuggling: every end-of-data probe of the SEC Consult and smtpsmug lists, plus pipelining.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp } from '../support/smtp-client.ts';
import { maildirUsers } from '../support/fake-directory.ts';
import { mailboxMessages, startHarness, type Harness } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';

// Union of both public lists (../shared/docs/smtp-probes.md); the NUL one is CRLF-clean.
const PROBES: { name: string; seq: string }[] = [
  { name: 'LF.LF', seq: '\n.\n' },
  { name: 'LF.CR', seq: '\n.\r' },
  { name: 'CR.LF', seq: '\r.\n' },
  { name: 'CR.CR', seq: '\r.\r' },
  { name: 'LF.CRLF', seq: '\n.\r\n' },
  { name: 'CR.CRLF', seq: '\r.\r\n' },
  { name: 'CRLF.LF', seq: '\r\n.\n' },
  { name: 'CRLF.CR', seq: '\r\n.\r' },
  { name: 'CRLF NUL.CRLF', seq: '\r\n\x00.\r\n' },
  { name: 'CRLF.CR CRLF', seq: '\r\n.\r\r\n' },
  { name: 'CR CRLF.CR CRLF', seq: '\r\r\n.\r\r\n' },
];

describe('SMTP smuggling probes', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(maildirUsers(2 * PROBES.length * 2 + 4));
  });
  after(async () => h.stop());

  const settled = (): Promise<void> =>
    waitFor(() => h.db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() === 0, 'queue empty');

  async function sendProbe(seq: string, rcpt: string, victim: string, marker: string, split: boolean): Promise<string[]> {
    const c = await RawSmtp.connect(h.port);
    await c.read();
    await c.cmd('EHLO probe.test');
    await c.cmd('MAIL FROM:<sender@remote.test>');
    await c.cmd(`RCPT TO:<${rcpt}>`);
    await c.cmd('DATA');
    const payload =
      `From: <sender@remote.test>\r\nSubject: ${marker}\r\n\r\nfirst message` +
      seq +
      'mail FROM:<smuggled@remote.test>\r\n' +
      `rcpt TO:<${victim}>\r\n` +
      'data\r\n' +
      `From: <smuggled@remote.test>\r\nSubject: smuggled ${marker}\r\n\r\nsmuggled body\r\n.\r\nQUIT\r\n`;
    const bytes = Buffer.from(payload, 'latin1');
    if (!split) c.write(bytes);
    else {
      // Small segments so terminators straddle TCP reads the way an attacker can arrange.
      for (let i = 0; i < bytes.length; i += 3) {
        c.write(bytes.subarray(i, i + 3));
        await new Promise((r) => setImmediate(r));
      }
    }
    const replies: string[] = [];
    for (;;) {
      const r = await c.read();
      if (r === null) break;
      replies.push(r);
    }
    return replies;
  }

  PROBES.forEach((probe, i) => {
    for (const split of [false, true]) {
      it(`${probe.name}${split ? ' (3-byte segments)' : ''}: at most one message, nothing for the smuggled recipient`, async () => {
        const n = 2 * (2 * i + (split ? 1 : 0));
        const rcpt = `user${n}@example.test`;
        const victim = `user${n + 1}@example.test`;
        const marker = `probe-${n}`;
        const replies = await sendProbe(probe.seq, rcpt, victim, marker, split);
        await settled();
        const stored = mailboxMessages(h.maildirRoot, rcpt);
        assert.ok(stored.length <= 1, `${stored.length} messages stored`);
        assert.equal(mailboxMessages(h.maildirRoot, victim).length, 0, 'the smuggled recipient received mail');
        const fromSmuggler = h.db.prepare("SELECT count(*) FROM messages WHERE envelope_from = 'smuggled@remote.test'").pluck().get();
        assert.equal(fromSmuggler, 0, 'a smuggled MAIL FROM became a transaction');
        if (probe.seq.includes('\x00')) {
          // CRLF-clean: one message whose body carries the would-be commands as text.
          assert.equal(stored.length, 1);
          assert.ok(stored[0].includes(Buffer.from('\r\n\x00.\r\nmail FROM:<smuggled@remote.test>', 'latin1')));
        } else {
          assert.equal(stored.length, 0);
          assert.ok(
            replies.some((r) => /^550 5\.6\.0 .*smuggling/i.test(r)),
            `no 5.6.0 reply in ${JSON.stringify(replies)}`,
          );
        }
      });
    }
  });

  it('pipelining control: a second transaction sent right after <CRLF>.<CRLF> is a real, separate message', async () => {
    const first = 'user44@example.test';
    const second = 'user45@example.test';
    const c = await RawSmtp.connect(h.port);
    await c.read();
    await c.cmd('EHLO probe.test');
    await c.cmd('MAIL FROM:<sender@remote.test>');
    await c.cmd(`RCPT TO:<${first}>`);
    await c.cmd('DATA');
    c.write(
      `Subject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<sender@remote.test>\r\nRCPT TO:<${second}>\r\nDATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n`,
    );
    const replies: string[] = [];
    for (let r = await c.read(); r !== null; r = await c.read().catch(() => null)) replies.push(r);
    assert.deepEqual(
      replies.map((r) => r.slice(0, 3)),
      ['250', '250', '250', '354', '250', '221'],
    );
    await settled();
    assert.equal(mailboxMessages(h.maildirRoot, first).length, 1);
    assert.equal(mailboxMessages(h.maildirRoot, second).length, 1);
    assert.ok(!mailboxMessages(h.maildirRoot, first)[0].includes('second'), 'the second message leaked into the first');
  });
});
