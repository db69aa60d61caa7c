// What the backend's quarantine index shows of a copy (mailsystem/quarantine/entry.ts): the Subject with RFC 2047
// words decoded, every string without a control character (the telemetry ingest refuses a batch with one) and cut to
// the contract's limits, and the verdict's score, symbols and virus.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QUARANTINE_SUBJECT_MAX, QuarantineEntry } from '#data/contracts/quarantine.ts';
import { CONTROL_CHARACTER as CONTROL } from '#data/contracts/text.ts';
import { MIGRATIONS, openDatabase } from '#data/db.ts';
import { toBatch } from '#server/http/telemetry-batch.ts';
import { QueueStore } from '#mailsystem/queue/store.ts';
import {
  cleanText,
  cut,
  decodeWords,
  entryDetail,
  quarantineEntry,
  quarantineRecord,
  quarantineSubject,
  releaseTarget,
  verdictSummary,
} from '#mailsystem/quarantine/entry.ts';

describe('RFC 2047 encoded words', () => {
  it('decodes B and Q words in any charset the runtime knows, dropping the blanks between adjacent words', () => {
    assert.equal(decodeWords('=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?ISO-8859-1?B?S/Zsbg==?='), 'Grüße aus Köln');
    assert.equal(decodeWords('=?UTF-8?Q?a_b?=  \t =?utf-8?Q?_c?='), 'a b c');
    assert.equal(decodeWords('=?windows-1252?q?=80_5?='), '€ 5');
    assert.equal(decodeWords('=?utf-8*de?q?Hallo?='), 'Hallo', 'an RFC 2231 language is ignored');
  });

  it('joins the bytes of adjacent words of one charset, so a character split across two words survives', () => {
    assert.equal(decodeWords('=?utf-8?B?ww==?= =?utf-8?B?pA==?='), 'ä');
    assert.equal(decodeWords('=?utf-8?q?=C3?= =?utf-8?q?=A4?='), 'ä');
  });

  it('leaves text, malformed words and unknown charsets as they are', () => {
    assert.equal(decodeWords('plain =?utf-8?x?abc?= text'), 'plain =?utf-8?x?abc?= text');
    assert.equal(decodeWords('=?no-such-charset?q?abc?='), '=?no-such-charset?q?abc?=');
    assert.equal(decodeWords('a =?utf-8?q?b?= c'), 'a b c', 'blanks next to plain text stay');
    assert.equal(decodeWords('=?utf-8?q?a?= =?x-unknown?q?b?= =?utf-8?q?c?='), 'a =?x-unknown?q?b?= c', 'and next to an unknown word');
  });
});

describe('the Subject of the stored message', () => {
  const msg = (head: string, body = 'Subject: in the body\r\n') => Buffer.from(`Received: from x\r\n${head}\r\n${body}`, 'latin1');

  it('reads the first Subject field of the header block, unfolded, case-insensitively, and never the body', () => {
    assert.equal(quarantineSubject(msg('SUBJECT:  =?utf-8?B?w6Q=?=\r\n\t=?utf-8?B?w7Y=?= tail \r\nSubject: second\r\n')), 'äö tail');
    assert.equal(quarantineSubject(msg('From: a@b.test\r\n')), null, 'no Subject field: null, even with one in the body');
    assert.equal(quarantineSubject(Buffer.from('From: a\n\nSubject: body\n')), null, 'bare LF line ends');
    assert.equal(quarantineSubject(Buffer.from('Subject: raw ünïcode\r\n\r\n')), 'raw ünïcode', 'RFC 6532 UTF-8 headers');
    assert.equal(quarantineSubject(Buffer.from('Subject: caf\xe9\r\n\r\n', 'latin1')), 'café', 'not UTF-8: Latin-1');
  });

  it('removes control characters, encoded ones too, and cuts a long subject with a trailing ellipsis', () => {
    const s = quarantineSubject(msg('Subject: a\x01b =?utf-8?q?c=00d=1Be=7F=C2=85f=0Dg?=\x0bh\r\n'));
    assert.equal(s, 'ab cdef gh');
    assert.ok(!CONTROL.test(s ?? ''));
    const long = quarantineSubject(msg(`Subject: =?utf-8?b?${Buffer.from('ü'.repeat(300)).toString('base64')}?=\r\n`));
    assert.equal(long, `${'ü'.repeat(QUARANTINE_SUBJECT_MAX)}…`);
    // A cut never splits a surrogate pair (zod counts UTF-16 units).
    const emoji = quarantineSubject(Buffer.from(`Subject: x${'😀'.repeat(150)}\r\n\r\n`)) ?? '';
    assert.equal(emoji, `x${'😀'.repeat(99)}…`, 'cut before the pair that would not fit');
    assert.equal(emoji.toWellFormed(), emoji);
  });
});

describe('cleanText and cut', () => {
  it('makes tabs and line breaks spaces, drops other control characters and lone surrogates', () => {
    assert.equal(cleanText('a\tb\r\nc\u0000d\u009fe\ud800f'), 'a b cde\ufffdf');
  });
  it('cuts within or beyond the limit', () => {
    assert.equal(cut('abcdef', 4, 'within'), 'abc…');
    assert.equal(cut('abcdef', 4, 'beyond'), 'abcd…');
    assert.equal(cut('abcd', 4, 'within'), 'abcd');
  });
});

describe('the entry', () => {
  it('takes score, symbols (highest first, at most 50, clean) and the virus from the verdict record', () => {
    const symbols = Array.from({ length: 60 }, (_, i) => ({ name: `S${i}`, score: i }));
    symbols.push({ name: 'BAD\u0007NAME', score: 100 }, { name: '\u0001', score: 99 });
    const v = verdictSummary({ spam: { score: 12.5, symbols }, virus: { result: 'infected', name: 'Eicar\u0000-Test' } });
    assert.equal(v.score, 12.5);
    assert.equal(v.symbols.length, 50);
    assert.deepEqual(v.symbols.slice(0, 3), ['BADNAME', 'S59', 'S58']);
    assert.equal(v.virus, 'Eicar-Test');
    assert.deepEqual(verdictSummary({ spam: { error: 'timeout' }, virus: { result: 'clean' } }), { score: null, symbols: [], virus: null });
    assert.deepEqual(verdictSummary({ scanned: false }), { score: null, symbols: [], virus: null });
  });

  it('is valid for the contract whatever the message and envelope hold', () => {
    const entry = quarantineEntry({
      deliveryId: 9,
      recipient: `r\u0000${'x'.repeat(400)}@example.test`,
      route: { kind: 'forward', to: `b\u0085ob${'z'.repeat(400)}@provider.test` },
      sender: 's\u001b@origin.test',
      subject: quarantineSubject(Buffer.from(`Subject: ${'\u0001'.repeat(10)}${'y'.repeat(500)}\r\n\r\n`)),
      size: 1234,
      verdict: { spam: { score: 20, symbols: [{ name: 'x'.repeat(300), score: 1 }] }, virus: { name: 'v'.repeat(300) } },
    });
    assert.ok(QuarantineEntry.safeParse(entry).success, JSON.stringify(QuarantineEntry.safeParse(entry).error?.issues));
    for (const text of [entry.recipient, entry.sender, entry.subject ?? '', entry.virus ?? '', ...entry.symbols])
      assert.ok(!CONTROL.test(text), `no control character in ${JSON.stringify(text)}`);
    assert.equal(entry.sender, 's@origin.test');
    assert.equal(entry.recipient.length, 320);
    // What the backend's real ingest check takes: the node's cleaning and the backend's refusal are one rule.
    const batch = { after: 0, events: [{ seq: 1, at: 1, type: 'quarantined', messageId: 'm1', reason: 'spam', entry }] };
    assert.deepEqual(toBatch(JSON.parse(JSON.stringify(batch))), batch);
    assert.equal(entry.route, 'forward');
    assert.ok(entry.target.startsWith('bobzzz') && entry.target.length === 320, entry.target);
  });

  it('says where a release takes the copy: the mailbox, the external forward address, or the old MX', () => {
    assert.deepEqual(releaseTarget({ kind: 'maildir', mailbox: 'anna@example.test' }), { route: 'maildir', target: 'anna@example.test' });
    assert.deepEqual(releaseTarget({ kind: 'lmtp', mailbox: 'anna@example.test', host: '127.0.0.1', port: 24 }), {
      route: 'lmtp',
      target: 'anna@example.test',
    });
    assert.deepEqual(releaseTarget({ kind: 'forward', to: 'bob@provider.test' }), { route: 'forward', target: 'bob@provider.test' });
    assert.deepEqual(releaseTarget({ kind: 'legacy', host: 'old-mx.example.test', port: 25 }), {
      route: 'legacy',
      target: 'old-mx.example.test:25',
    });
  });
});

describe("the backend's ingest takes what the node builds", () => {
  it('every control character the rule names is cleaned from every string, and toBatch takes the entries', () => {
    // Every code point below U+00A0 and a few above, in every string the entry takes from mail.
    const all = `${Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join('')}\u00a0\u2028\ud800x`;
    const events = ['spam', 'virus'].map((reason, i) => ({
      seq: i + 1,
      at: 1,
      type: 'quarantined',
      messageId: `m${i}`,
      reason,
      entry: quarantineEntry({
        deliveryId: i + 1,
        recipient: `r${all}@example.test`,
        route: { kind: 'forward', to: `t${all}@provider.test` },
        sender: `s${all}@origin.test`,
        subject: quarantineSubject(
          Buffer.from(`Subject: ${all.replace(/[\r\n]/g, '')} =?utf-8?b?${Buffer.from(all).toString('base64')}?=\r\n\r\n`),
        ),
        size: 10,
        verdict: { spam: { score: 3, symbols: [{ name: `S${all}`, score: 1 }] }, virus: { name: `V${all}` } },
      }),
    }));
    const batch = { after: 0, events };
    assert.deepEqual(toBatch(JSON.parse(JSON.stringify(batch))), batch);
    for (const e of events)
      for (const text of [
        e.entry.recipient,
        e.entry.target,
        e.entry.sender,
        e.entry.subject ?? '',
        e.entry.virus ?? '',
        ...e.entry.symbols,
      ])
        assert.ok(!CONTROL.test(text), `no control character in ${JSON.stringify(text)}`);
  });
});

describe('built before the queue commit', () => {
  it("the queue stores the record it is given, once (the event's detail), adding only the delivery id and the size", () => {
    const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
    const route = { kind: 'forward', to: 'bob@provider.test' } as const;
    // The record says what the checks saw; the queue must not read the body again (its Subject differs here).
    const record = quarantineRecord({
      reason: 'spam',
      verdict: { spam: { score: 15, symbols: [{ name: 'GTUBE', score: 15 }] } },
      recipient: 'anna@example.test',
      route,
      sender: 's@origin.test',
      subject: 'from the record',
    });
    const body = Buffer.from('Subject: from the body\r\n\r\nhi\r\n');
    new QueueStore(db).insertAccepted({
      id: 'm1',
      receivedAt: 1_000,
      envelopeFrom: 's@origin.test',
      clientIp: '192.0.2.1',
      helo: 'h.test',
      body,
      deliveries: [{ recipient: 'anna@example.test', route, quarantine: record }],
    });
    const row = db.prepare("SELECT delivery_id AS id, detail FROM events WHERE type = 'quarantined'").get() as {
      id: number;
      detail: string;
    };
    const entry = QuarantineEntry.parse(JSON.parse(row.detail).entry);
    assert.deepEqual(entry, {
      deliveryId: row.id,
      size: body.length,
      recipient: 'anna@example.test',
      route: 'forward',
      target: 'bob@provider.test',
      sender: 's@origin.test',
      subject: 'from the record',
      score: 15,
      symbols: ['GTUBE'],
      virus: null,
    });
    assert.deepEqual(
      db.prepare('SELECT reason, verdict FROM quarantine').all(),
      [{ reason: 'spam', verdict: record.verdict }],
      'the verdict JSON as given; no second copy of the entry',
    );
    db.close();
  });

  it('entryDetail is the entry quarantineEntry builds, as JSON', () => {
    const input = {
      recipient: 'a\u0001@example.test',
      route: { kind: 'maildir', mailbox: 'a@example.test' } as const,
      sender: '',
      subject: null,
      verdict: { virus: { result: 'infected', name: 'Eicar' } },
    };
    const record = quarantineRecord({ reason: 'virus', ...input });
    assert.deepEqual(JSON.parse(entryDetail(record.entry, 42, 7)), {
      entry: quarantineEntry({ ...input, deliveryId: 42, size: 7 }),
    });
  });
});
