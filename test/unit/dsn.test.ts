// RFC 3464 DSN builder: structure, status codes, headers-only return, no injection, deterministic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDsn, statusOf, type DsnInput } from '#mailsystem/delivery/dsn.ts';

const original = Buffer.from(
  'From: Anna <anna@origin.test>\r\nTo: bob@example.com\r\nSubject: Hello\r\nMessage-ID: <m1@origin.test>\r\n\r\nSECRET BODY TEXT\r\n',
);
const base: DsnInput = {
  action: 'failed',
  queueId: 'Q123',
  envelopeFrom: 'anna@origin.test',
  recipient: 'bob@example.com',
  response: '550 5.1.1 <bob@example.com>: user unknown',
  arrivedAt: Date.parse('2026-11-25T08:00:00Z'),
  now: Date.parse('2026-11-30T08:00:00Z'),
  reportingMta: 'mx1.tidings.test',
  original,
};

function parts(dsn: Buffer) {
  const text = dsn.toString('latin1');
  const boundary = /boundary="([^"]+)"/.exec(text)![1];
  const [head, ...rest] = text.split(`--${boundary}`);
  return { text, head, sections: rest.slice(0, -1), closing: rest.at(-1)! };
}

test('a failed DSN is a multipart/report with notification, delivery-status and original headers', () => {
  const dsn = buildDsn(base);
  const { text, head, sections, closing } = parts(dsn);
  assert.match(head, /^From: Mail Delivery System <MAILER-DAEMON@mx1\.tidings\.test>\r\n/);
  assert.match(head, /\r\nTo: <anna@origin\.test>\r\n/);
  assert.match(head, /\r\nAuto-Submitted: auto-replied\r\n/);
  assert.match(head, /Content-Type: multipart\/report; report-type=delivery-status;/);
  assert.match(head, /\r\nDate: Mon, 30 Nov 2026 08:00:00 \+0000\r\n/);
  assert.equal(sections.length, 3);
  assert.match(sections[0], /Content-Type: text\/plain/);
  assert.match(sections[0], /could not be delivered to <bob@example\.com>/);
  assert.match(sections[1], /Content-Type: message\/delivery-status\r\n/);
  assert.match(
    sections[1],
    /Reporting-MTA: dns; mx1\.tidings\.test\r\nX-Tidings-Queue-ID: Q123\r\nArrival-Date: Wed, 25 Nov 2026 08:00:00 \+0000\r\n\r\nFinal-Recipient: rfc822; bob@example\.com\r\nAction: failed\r\nStatus: 5\.1\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 <bob@example\.com>: user unknown\r\nLast-Attempt-Date: Mon, 30 Nov 2026 08:00:00 \+0000\r\n/,
  );
  assert.match(sections[2], /Content-Type: text\/rfc822-headers/);
  assert.match(sections[2], /Subject: Hello\r\nMessage-ID: <m1@origin\.test>/);
  assert.ok(!text.includes('SECRET BODY TEXT'), 'the body is not returned');
  assert.equal(closing, '--\r\n');
  assert.ok(!/[^\r]\n/.test(text), 'CRLF line ends only');
  assert.deepEqual(buildDsn(base), dsn, 'pure: same input, same bytes');
});

test('a delayed DSN says so, with a 4.x.x status and the retry deadline', () => {
  const text = buildDsn({
    ...base,
    action: 'delayed',
    response: '451 4.3.0 try later',
    willRetryUntil: Date.parse('2026-12-02T08:00:00Z'),
  }).toString('latin1');
  assert.match(text, /Subject: Delayed Mail \(still being retried\)/);
  assert.match(text, /Action: delayed\r\nStatus: 4\.3\.0\r\n/);
  assert.match(text, /Will-Retry-Until: Wed, 2 Dec 2026 08:00:00 \+0000/);
  assert.match(text, /you do not need to send it\s+again/);
});

test('status codes: taken from the reply when of the right class, generic otherwise', () => {
  assert.equal(statusOf('failed', '554 5.7.1 rejected'), '5.7.1');
  assert.equal(statusOf('failed', 'connection refused'), '5.0.0');
  assert.equal(statusOf('failed', '4.4.1 timeout'), '5.0.0');
  assert.equal(statusOf('delayed', '4.4.1 no answer'), '4.4.1');
  assert.equal(statusOf('delayed', '550 5.1.1 x'), '4.0.0');
  assert.equal(statusOf('failed', '451 4.4.1 no answer', true), '5.4.7', 'expiry after temporary failures');
});

test('no header injection from a hostile reply or recipient; never to the null sender', () => {
  const text = buildDsn({ ...base, response: '550 bad\r\nBcc: victim@evil.test', recipient: 'x@example.com\r\nX-Evil: 1' }).toString(
    'latin1',
  );
  assert.ok(!/\r\nBcc:/.test(text));
  assert.ok(!/\r\nX-Evil:/.test(text));
  assert.throws(() => buildDsn({ ...base, envelopeFrom: '' }));
});
