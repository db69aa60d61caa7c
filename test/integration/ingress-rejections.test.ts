// Every refusal of the ingress leaves a "rejected" event with its reason, including the ones
// smtp-server would answer before our hooks: the 101st recipient, MAIL ... SIZE= over the limit,
// input before the greeting, and a DATA transfer that stalls or trickles past its timeout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp } from '../support/smtp-client.ts';
import { maildirUsers } from '../support/fake-directory.ts';
import { mailboxMessages, startHarness, type Harness } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';

const LIMIT = 16 * 1024;

interface RejectedRow {
  reason: string;
  recipient: string | null;
  detail: string | null;
}

describe('rejected events for every refusal', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(maildirUsers(110), { ingress: { maxMessageBytes: LIMIT, socketTimeoutMs: 400, dataTimeoutMs: 700 } });
  });
  after(async () => h.stop());

  const rejected = (reason: string): RejectedRow[] =>
    h.db
      .prepare("SELECT reason, recipient, detail FROM events WHERE type = 'rejected' AND reason = ? ORDER BY seq")
      .all(reason) as RejectedRow[];

  /**
   * A refusal of a later session, waited for in the event log. Events are committed in the order they
   * were recorded, so once this one is there, everything the sessions before it caused is there too:
   * what is missing then will not come.
   */
  async function laterEvent(): Promise<void> {
    const before = rejected('not-hosted').length;
    const c = await RawSmtp.connect(h.port);
    const [reply] = await c.open('s@remote.test', ['marker@elsewhere.test']);
    assert.match(reply, /^550 /);
    c.close();
    await waitFor(() => rejected('not-hosted').length === before + 1, "the later session's not-hosted event");
  }

  it('the 101st recipient: 452 4.5.3 from our RCPT hook, one rejected event naming the recipient', async () => {
    const c = await RawSmtp.connect(h.port);
    await c.read();
    await c.cmd('EHLO client.test');
    await c.cmd('MAIL FROM:<s@remote.test>');
    c.write(Array.from({ length: 100 }, (_, i) => `RCPT TO:<user${i}@example.test>\r\n`).join(''));
    for (let i = 0; i < 100; i++) assert.match((await c.read())!, /^250 /);
    // A repeated recipient is not a new one: still 250 at the cap.
    assert.match((await c.cmd('RCPT TO:<USER7@example.test>'))!, /^250 /);
    assert.match((await c.cmd('RCPT TO:<user100@example.test>'))!, /^452 4\.5\.3 /);
    assert.match((await c.cmd('RCPT TO:<user101@example.test>'))!, /^452 4\.5\.3 /);
    c.close();
    await waitFor(() => rejected('too-many-recipients').length === 2, 'two too-many-recipients events');
    assert.deepEqual(
      rejected('too-many-recipients').map((r) => r.recipient),
      ['user100@example.test', 'user101@example.test'],
    );
    assert.equal(JSON.parse(rejected('too-many-recipients')[0].detail!).limit, 100);
  });

  it('MAIL FROM with SIZE= over the limit: 552 5.3.4 and a rejected event with the declared size', async () => {
    const c = await RawSmtp.connect(h.port);
    await c.read();
    await c.cmd('EHLO client.test');
    assert.match((await c.cmd(`MAIL FROM:<s@remote.test> SIZE=${LIMIT + 1}`))!, /^552 5\.3\.4 /);
    assert.match((await c.cmd(`MAIL FROM:<s@remote.test> SIZE=${LIMIT}`))!, /^250 /, 'a size at the limit is fine');
    c.close();
    await waitFor(() => rejected('too-big-declared').length === 1, 'too-big-declared event');
    const detail = JSON.parse(rejected('too-big-declared')[0].detail!);
    assert.equal(detail.declared, LIMIT + 1);
    assert.equal(detail.limit, LIMIT);
    assert.equal(detail.ip, '127.0.0.1');
  });

  it('an early talker: 421, nothing stored, one rejected event however many commands it sent', async () => {
    const c = await RawSmtp.connect(h.port);
    c.write('EHLO early.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<user0@example.test>\r\nDATA\r\n');
    assert.match((await c.read())!, /^421 /);
    assert.equal(await c.read(), null);
    await waitFor(() => rejected('early-talker').length === 1, 'early-talker event');
    await laterEvent();
    assert.equal(rejected('early-talker').length, 1);
    assert.equal(JSON.parse(rejected('early-talker')[0].detail!).ip, '127.0.0.1');
  });

  it('a DATA transfer trickling past the DATA timeout: 421 4.4.2 and a data-timeout event', async () => {
    const before = rejected('data-timeout').length;
    const c = await RawSmtp.connect(h.port);
    await c.open('s@remote.test', ['user1@example.test']);
    await c.cmd('DATA');
    const trickle = setInterval(() => c.write('x'), 100);
    try {
      assert.match((await c.read(3000))!, /^421 4\.4\.2 /);
    } finally {
      clearInterval(trickle);
    }
    await waitFor(() => rejected('data-timeout').length === before + 1, 'data-timeout event');
    assert.equal(mailboxMessages(h.maildirRoot, 'user1@example.test').length, 0);
  });

  it('a DATA transfer that goes silent (idle timeout inside DATA): 421 and a data-timeout event', async () => {
    const before = rejected('data-timeout').length;
    const c = await RawSmtp.connect(h.port);
    await c.open('s@remote.test', ['user2@example.test']);
    await c.cmd('DATA');
    c.write('Subject: stalls\r\n\r\nthen nothing');
    assert.match((await c.read(3000))!, /^421 /);
    await waitFor(() => rejected('data-timeout').length === before + 1, 'idle data-timeout event');
    const detail = JSON.parse(rejected('data-timeout').at(-1)!.detail!);
    assert.equal(detail.idle, true);
    assert.equal(mailboxMessages(h.maildirRoot, 'user2@example.test').length, 0);
  });

  it('an idle session outside DATA is closed without a rejected event', async () => {
    const before = h.db.prepare("SELECT count(*) FROM events WHERE type = 'rejected'").pluck().get() as number;
    const c = await RawSmtp.connect(h.port);
    await c.read();
    assert.match((await c.read(3000))!, /^421 /);
    await laterEvent();
    assert.equal(
      h.db.prepare("SELECT count(*) FROM events WHERE type = 'rejected'").pluck().get(),
      before + 1,
      "no rejected event but the later session's",
    );
  });
});
