// RFC 5321/6531 conformance of the MX ingress over raw sockets (issue 8, item 4): 8-bit addresses
// need SMTPUTF8 and valid UTF-8, parameters we never advertised are refused, the bare postmaster is
// accepted, unnecessary quoting does not hide a mailbox, and address harvesting is cut off.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp } from '../support/smtp-client.ts';
import { maildirUsers } from '../support/fake-directory.ts';
import { mailboxMessages, startHarness, type Harness } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';

interface RejectedRow {
  reason: string;
  recipient: string | null;
  detail: string | null;
}

/** A command line sent byte for byte (RawSmtp.cmd sends a string as latin1). */
async function cmdBytes(c: RawSmtp, ...parts: (string | Buffer)[]): Promise<string | null> {
  c.write(Buffer.concat([...parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)), Buffer.from('\r\n')]));
  return c.read();
}

async function session(h: Harness): Promise<RawSmtp> {
  const c = await RawSmtp.connect(h.port);
  assert.match((await c.read())!, /^220 /);
  assert.match((await c.cmd('EHLO client.test'))!, /^250/);
  return c;
}

/** DATA with a one-line message; returns the queue id from the 250. */
async function sendData(c: RawSmtp, subject: string): Promise<string> {
  assert.match((await c.cmd('DATA'))!, /^354 /);
  c.write(`Subject: ${subject}\r\n\r\nbody\r\n.\r\n`);
  const reply = (await c.read())!;
  const m = /^250 2\.6\.0 Ok: queued as (\S+)/.exec(reply);
  assert.ok(m, reply);
  return m[1];
}

describe('SMTP conformance of the ingress', () => {
  let h: Harness;
  before(async () => {
    const data = maildirUsers(3);
    data.addresses['jürgen@example.test'] = [{ kind: 'maildir', mailbox: 'jürgen@example.test' }];
    h = await startHarness(data);
  });
  after(async () => h.stop());

  const rejected = (reason: string): RejectedRow[] =>
    h.db
      .prepare("SELECT reason, recipient, detail FROM events WHERE type = 'rejected' AND reason = ? ORDER BY seq")
      .all(reason) as RejectedRow[];
  const senderOf = (queueId: string): string =>
    h.db.prepare('SELECT envelope_from FROM messages WHERE id = ?').pluck().get(queueId) as string;

  describe('8-bit addresses (RFC 6531)', () => {
    it('MAIL FROM with 8-bit bytes and no SMTPUTF8: 553 5.6.7, latin1 and UTF-8 alike', async () => {
      const before = rejected('non-ascii-address').length + rejected('invalid-utf8-address').length;
      const c = await session(h);
      assert.match((await cmdBytes(c, 'MAIL FROM:<j', Buffer.from([0xf6]), 'rg@remote.test>'))!, /^553 5\.6\.7 /);
      assert.match((await cmdBytes(c, 'MAIL FROM:<', Buffer.from('jörg', 'utf8'), '@remote.test>'))!, /^553 5\.6\.7 /);
      assert.match((await c.cmd('MAIL FROM:<joerg@remote.test>'))!, /^250 /, 'the session goes on with an ASCII sender');
      c.close();
      await waitFor(
        () => rejected('non-ascii-address').length + rejected('invalid-utf8-address').length === before + 2,
        'two rejected events',
      );
    });

    it('RCPT TO with 8-bit bytes after a MAIL without SMTPUTF8: 553 5.6.7', async () => {
      const c = await session(h);
      assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
      assert.match((await cmdBytes(c, 'RCPT TO:<', Buffer.from('jürgen', 'utf8'), '@example.test>'))!, /^553 5\.6\.7 /);
      c.close();
    });

    it('with SMTPUTF8, UTF-8 addresses are accepted and the sender is stored as sent', async () => {
      const c = await session(h);
      assert.match((await cmdBytes(c, 'MAIL FROM:<', Buffer.from('jörg', 'utf8'), '@remote.test> SMTPUTF8'))!, /^250 /);
      assert.match((await cmdBytes(c, 'RCPT TO:<', Buffer.from('jürgen', 'utf8'), '@example.test>'))!, /^250 /);
      const id = await sendData(c, 'utf8 envelope');
      c.close();
      assert.equal(senderOf(id), 'jörg@remote.test');
      await waitFor(() => mailboxMessages(h.maildirRoot, 'jürgen@example.test').length === 1, 'delivery to the UTF-8 mailbox');
    });

    it('invalid UTF-8 is refused with 553 5.6.7 even with SMTPUTF8, never stored as U+FFFD', async () => {
      const before = rejected('invalid-utf8-address').length;
      const c = await session(h);
      assert.match((await cmdBytes(c, 'MAIL FROM:<j', Buffer.from([0xf6]), 'rg@remote.test> SMTPUTF8'))!, /^553 5\.6\.7 /);
      assert.match((await c.cmd('MAIL FROM:<s@remote.test> SMTPUTF8'))!, /^250 /);
      assert.match((await cmdBytes(c, 'RCPT TO:<user', Buffer.from([0xc3, 0x28]), '@example.test>'))!, /^553 5\.6\.7 /);
      c.close();
      await waitFor(() => rejected('invalid-utf8-address').length === before + 2, 'two invalid-utf8-address events');
      const stored = h.db.prepare('SELECT count(*) FROM messages WHERE instr(envelope_from, char(65533)) > 0').pluck().get();
      assert.equal(stored, 0);
    });
  });

  describe('ESMTP parameters', () => {
    it('does not advertise DSN', async () => {
      const c = await RawSmtp.connect(h.port);
      await c.read();
      assert.doesNotMatch((await c.cmd('EHLO client.test'))!, /DSN/);
      c.close();
    });

    it('unknown MAIL parameters and the DSN ones we do not advertise: 555 5.5.4', async () => {
      const before = rejected('unknown-parameter').length;
      const c = await session(h);
      const params = ['FOO=BAR', 'FOO', 'RET=HDRS', 'ENVID=QQ314159', 'AUTH=<>', 'REQUIRETLS'];
      for (const param of params) {
        assert.match((await c.cmd(`MAIL FROM:<s@remote.test> ${param}`))!, /^555 5\.5\.4 /, param);
      }
      assert.match((await c.cmd('MAIL FROM:<s@remote.test> SIZE=100 BODY=8BITMIME SMTPUTF8'))!, /^250 /, 'the advertised ones still work');
      c.close();
      await waitFor(() => rejected('unknown-parameter').length === before + params.length, 'an unknown-parameter event each');
      assert.deepEqual(JSON.parse(rejected('unknown-parameter')[before].detail!), { ip: '127.0.0.1', command: 'MAIL', parameter: 'FOO' });
    });

    it('unknown RCPT parameters, NOTIFY and ORCPT included: 555 5.5.4', async () => {
      const c = await session(h);
      assert.match((await c.cmd('MAIL FROM:<s@remote.test> BODY=7BIT'))!, /^250 /);
      for (const param of ['FOO=BAR', 'NOTIFY=NEVER', 'ORCPT=rfc822;user0@example.test']) {
        assert.match((await c.cmd(`RCPT TO:<user0@example.test> ${param}`))!, /^555 5\.5\.4 /, param);
      }
      assert.match((await c.cmd('RCPT TO:<user0@example.test>'))!, /^250 /);
      c.close();
    });
  });

  describe('recipients', () => {
    it('RCPT TO:<postmaster> without a domain is accepted (RFC 5321 §4.5.1) and delivered to postmaster@<MX hostname>', async () => {
      const c = await session(h);
      assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
      assert.match((await c.cmd('RCPT TO:<PostMaster>'))!, /^250 /);
      await sendData(c, 'to the bare postmaster');
      // The MX hostname's own postmaster is reachable by its full address too.
      assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
      assert.match((await c.cmd('RCPT TO:<postmaster@mx.test>'))!, /^250 /);
      await sendData(c, 'to postmaster at the MX name');
      c.close();
      await waitFor(() => mailboxMessages(h.maildirRoot, 'postmaster@mx.test').length === 2, 'both in the postmaster mailbox of mx.test');
      const subjects = mailboxMessages(h.maildirRoot, 'postmaster@mx.test')
        .map((m) => /Subject: (.*)\r\n/.exec(m.toString())![1])
        .sort();
      assert.deepEqual(subjects, ['to postmaster at the MX name', 'to the bare postmaster']);
    });

    it('an unnecessarily quoted local part resolves like the plain one; one that needs quoting keeps it', async () => {
      const c = await session(h);
      assert.match((await c.cmd('MAIL FROM:<"s"@remote.test>'))!, /^250 /);
      assert.match((await c.cmd('RCPT TO:<"user1"@example.test>'))!, /^250 /);
      assert.match((await c.cmd('RCPT TO:<"us\\er2"@example.test>'))!, /^250 /, 'a quoted-pair of a plain character');
      assert.match((await c.cmd('RCPT TO:<"user,0"@example.test>'))!, /^550 5\.1\.1 /);
      const id = await sendData(c, 'quoted');
      c.close();
      assert.equal(senderOf(id), 's@remote.test');
      const recipients = h.db.prepare('SELECT recipient FROM deliveries WHERE message_id = ? ORDER BY recipient').pluck().all(id);
      assert.deepEqual(recipients, ['user1@example.test', 'user2@example.test']);
      await waitFor(() => mailboxMessages(h.maildirRoot, 'user1@example.test').length === 1, 'delivery to user1');
      await waitFor(() => rejected('unknown-user').some((r) => r.recipient === '"user,0"@example.test'), 'the quoted form in the event');
    });
  });
});

describe('address harvesting: unknown recipients per session', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(maildirUsers(3));
  });
  after(async () => h.stop());

  const rejected = (reason: string): RejectedRow[] =>
    h.db
      .prepare("SELECT reason, recipient, detail FROM events WHERE type = 'rejected' AND reason = ? ORDER BY seq")
      .all(reason) as RejectedRow[];

  it('1,000 pipelined unknown recipients: ten 550s, then 421 4.7.0 and the connection is closed', async () => {
    const c = await session(h);
    assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
    c.write(Array.from({ length: 1000 }, (_, i) => `RCPT TO:<guess${i}@example.test>\r\n`).join(''));
    for (let i = 0; i < 10; i++) assert.match((await c.read())!, /^550 5\.1\.1 /, `unknown recipient ${i + 1}`);
    assert.match((await c.read())!, /^421 4\.7\.0 /);
    assert.equal(await c.read(), null, 'nothing more is answered: the connection is closed');
    await waitFor(() => rejected('too-many-unknown-recipients').length === 1, 'one too-many-unknown-recipients event');
    const [event] = rejected('too-many-unknown-recipients');
    assert.equal(event.recipient, 'guess10@example.test');
    assert.deepEqual(JSON.parse(event.detail!), { ip: '127.0.0.1', limit: 10 });
    assert.equal(rejected('unknown-user').length, 10);
  });

  it('the count is per session, across transactions; known recipients do not count', async () => {
    const c = await session(h);
    assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
    for (let i = 0; i < 6; i++) assert.match((await c.cmd(`RCPT TO:<a${i}@example.test>`))!, /^550 5\.1\.1 /);
    assert.match((await c.cmd('RCPT TO:<user0@example.test>'))!, /^250 /);
    assert.match((await c.cmd('RSET'))!, /^250 /);
    assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
    for (let i = 0; i < 4; i++) assert.match((await c.cmd(`RCPT TO:<b${i}@example.test>`))!, /^550 5\.1\.1 /);
    assert.match((await c.cmd('RCPT TO:<user1@example.test>'))!, /^250 /);
    assert.match((await c.cmd('RCPT TO:<b4@example.test>'))!, /^421 4\.7\.0 /);
    assert.equal(await c.read(), null);
    const fresh = await session(h);
    assert.match((await fresh.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
    assert.match((await fresh.cmd('RCPT TO:<c0@example.test>'))!, /^550 5\.1\.1 /, 'a new session starts from zero');
    fresh.close();
  });

  it('the limit is an ingress option', async () => {
    const strict = await startHarness(maildirUsers(1), { ingress: { maxUnknownRecipients: 2 } });
    const c = await session(strict);
    try {
      assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
      assert.match((await c.cmd('RCPT TO:<x0@example.test>'))!, /^550 5\.1\.1 /);
      assert.match((await c.cmd('RCPT TO:<x1@example.test>'))!, /^550 5\.1\.1 /);
      assert.match((await c.cmd('RCPT TO:<x2@example.test>'))!, /^421 4\.7\.0 /);
      assert.equal(await c.read(), null);
    } finally {
      c.close();
      await strict.stop();
    }
  });
});
