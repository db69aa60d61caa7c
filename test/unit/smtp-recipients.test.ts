// RCPT decisions over a Directory, and the Received header ingress prepends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY } from '#data/contracts/mail-policy.ts';
import { decideRecipient, routeKey } from '#mailsystem/smtp/recipients.ts';
import { receivedHeader } from '#mailsystem/smtp/received.ts';
import { rfc5322Date } from '#mailsystem/rfc5322-date.ts';
import { fakeDirectory } from '../support/fake-directory.ts';

const dir = fakeDirectory({ domains: ['example.test'], addresses: { 'a@example.test': [{ kind: 'maildir', mailbox: 'a@example.test' }] } });

describe('decideRecipient', () => {
  it('accepts known users with their routes', () => {
    assert.deepEqual(decideRecipient(dir, 'A@example.test', 'mx.test'), {
      accept: true,
      routes: [{ kind: 'maildir', mailbox: 'a@example.test' }],
      policy: DEFAULT_POLICY,
    });
  });
  it('answers 550 5.1.1 for unknown users and 550 5.7.1 for other domains', () => {
    const unknown = decideRecipient(dir, 'x@example.test', 'mx.test');
    assert.ok(!unknown.accept && unknown.reply.code === 550 && unknown.reply.status === '5.1.1');
    const relay = decideRecipient(dir, 'x@elsewhere.test', 'mx.test');
    assert.ok(!relay.accept && relay.reply.code === 550 && relay.reply.status === '5.7.1');
  });
  it('always accepts postmaster of a hosted domain, never of a foreign one', () => {
    assert.deepEqual(decideRecipient(dir, 'PostMaster@Example.test', 'mx.test'), {
      accept: true,
      routes: [{ kind: 'maildir', mailbox: 'postmaster@example.test' }],
      policy: DEFAULT_POLICY,
    });
    assert.equal(decideRecipient(dir, 'postmaster@elsewhere.test', 'mx.test').accept, false);
  });
  it("accepts postmaster of the MX's own name (where a bare RCPT TO:<postmaster> goes), even though it is not hosted", () => {
    assert.deepEqual(decideRecipient(dir, 'postmaster@MX.test', 'mx.test'), {
      accept: true,
      routes: [{ kind: 'maildir', mailbox: 'postmaster@mx.test' }],
      policy: DEFAULT_POLICY,
    });
    const other = decideRecipient(dir, 'hostmaster@mx.test', 'mx.test');
    assert.ok(!other.accept && other.reason === 'not-hosted', 'only its postmaster');
  });
  it('keys legacy routes per recipient, mailbox routes per mailbox', () => {
    const legacy = { kind: 'legacy', host: 'old', port: 25 } as const;
    assert.notEqual(routeKey('a@x', legacy), routeKey('b@x', legacy));
    assert.equal(routeKey('a@x', { kind: 'maildir', mailbox: 'M@x' }), routeKey('b@x', { kind: 'maildir', mailbox: 'm@x' }));
  });
});

describe('receivedHeader', () => {
  it('names the client, the queue id, one recipient and an RFC 5322 date; no header injection', () => {
    const h = receivedHeader({
      helo: 'evil\r\nX-Injected: 1',
      clientIp: '192.0.2.1',
      clientHostname: '[192.0.2.1]',
      serverName: 'mx.test',
      queueId: 'Q1',
      tls: true,
      utf8: false,
      recipients: ['a@example.test'],
      at: new Date(Date.UTC(2026, 10, 30, 2, 3, 4)),
    }).toString();
    assert.equal(
      h,
      'Received: from evil??X-Injected:?1 (unknown [192.0.2.1])\r\n\tby mx.test (Tidings) with ESMTPS id Q1\r\n' +
        '\tfor <a@example.test>;\r\n\tMon, 30 Nov 2026 02:03:04 +0000\r\n',
    );
    assert.equal(rfc5322Date(new Date(Date.UTC(2026, 0, 5, 23, 59, 9))), 'Mon, 5 Jan 2026 23:59:09 +0000');
  });
});
