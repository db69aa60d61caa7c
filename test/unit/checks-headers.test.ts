// Header hygiene: forged results of ours and scanner headers go, everything else stays byte for byte.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authServIdOf, cleanHeaders } from '#mailsystem/checks/headers.ts';

const OURS = 'mx1.tidings.test';
const AR = `Authentication-Results: ${OURS};\r\n dkim=pass header.d=tidings.test`;
const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');
const clean = (msg: Buffer, prepend?: string[]) => cleanHeaders(msg, { authServIds: [OURS, 'mx2.tidings.test'], prepend });
const body = (msg: Buffer) => msg.subarray(msg.indexOf('\r\n\r\n'));

describe('cleanHeaders', () => {
  const forged = crlf([
    'Received: from a.example by b.example; Tue, 1 Dec 2026 10:00:00 +0000',
    'Authentication-Results: mx1.tidings.test; spf=pass smtp.mailfrom=bank.example',
    'From: <x@example.org>',
    'Authentication-Results: (forged) MX2.Tidings.Test.;',
    '\tdkim=pass header.d=bank.example;',
    '  dmarc=pass header.from=bank.example',
    'X-Spam-Flag: NO',
    'x-spam-status: No, score=-100',
    'X-Virus-Scanned: clean',
    'Authentication-Results: forwarder.example; spf=fail smtp.mailfrom=example.org',
    'ARC-Authentication-Results: i=1; mx1.tidings.test; dkim=pass',
    'Subject: hello',
    '',
    'body line 1',
    'Authentication-Results: mx1.tidings.test; spf=pass',
    'X-Spam-Flag: NO',
    '',
  ]);

  it('removes our forged Authentication-Results (also folded and under another of our ids) and scanner headers', () => {
    const out = clean(forged).toString('latin1');
    const head = out.slice(0, out.indexOf('\r\n\r\n') + 2);
    assert.equal(
      head,
      [
        'Received: from a.example by b.example; Tue, 1 Dec 2026 10:00:00 +0000',
        'From: <x@example.org>',
        'Authentication-Results: forwarder.example; spf=fail smtp.mailfrom=example.org',
        'ARC-Authentication-Results: i=1; mx1.tidings.test; dkim=pass',
        'Subject: hello',
        '',
      ].join('\r\n'),
    );
    assert.doesNotMatch(head, /bank\.example|dmarc=pass/, 'no continuation line of the folded forgery is left');
  });

  it('keeps the body bytes exactly, including header-like lines in it', () => {
    const out = clean(forged);
    assert.deepEqual(body(out), body(forged));
  });

  it('prepends our header with the message line ends, above the kept fields in their order', () => {
    const out = clean(forged, [AR]).toString('latin1');
    assert.ok(out.startsWith(`${AR}\r\nReceived: from a.example`));
    const lf = Buffer.from('From: <x@example.org>\nX-Spam-Score: 0\nSubject: s\n\nbody\n', 'latin1');
    assert.equal(clean(lf, [AR]).toString('latin1'), `${AR.replace(/\r\n/g, '\n')}\nFrom: <x@example.org>\nSubject: s\n\nbody\n`);
  });

  it('leaves a message without anything to remove byte-identical', () => {
    const plain = Buffer.concat([
      crlf(['From: <a@example.org>', 'Subject: =?utf-8?q?caf=C3=A9?=', 'X-Raw: ']),
      Buffer.from([0xe9, 0xff]),
      crlf(['', '', 'b\u00e9']),
    ]);
    assert.deepEqual(clean(plain), plain);
  });

  it('removes an Authentication-Results whose authserv-id cannot be read, and handles a message with no body', () => {
    const msg = crlf(['Authentication-Results: (unclosed comment', 'Subject: s', 'X-Spam: yes', '']);
    assert.equal(clean(msg).toString('latin1'), 'Subject: s\r\n');
  });
});

describe('authServIdOf', () => {
  it('reads a token or quoted-string after comments', () => {
    assert.equal(authServIdOf(' mx.example.org; spf=pass'), 'mx.example.org');
    assert.equal(authServIdOf(' (c (nested)) "MX.Example.Org" 1; none'), 'mx.example.org');
    assert.equal(authServIdOf('\r\n\tmx.example.org.;'), 'mx.example.org');
    assert.equal(authServIdOf(' ;'), null);
  });
});
