// The bench's message mix: 70 % ham, 20 % spam, 10 % virus, each about 4 KiB, built on test/support/mail-corpus.ts.
//
// - ham: mail-corpus's hamMessage (Date, Message-ID, MIME headers, a business note), its body padded with more
//   ordinary prose to 4 KiB.
// - spam: the same message with rspamd's "add header" test pattern (the GTUBE string with a leading Y instead of X,
//   honoured with `enable_test_patterns = true`): rspamd's action is "add header", score 6. Tidings' default policy tags
//   it (X-Spam-Flag: YES, "[SPAM] " subject prefix) and delivers it; rspamd's milter adds "X-Spam: Yes" and Postfix
//   delivers it. So both MTAs scan, tag and deliver spam (the plain GTUBE line would be "reject" for rspamd's milter,
//   and tagging is Tidings' default).
// - virus: a multipart/mixed message with a padded text part and the EICAR test file as a base64 attachment; clamd
//   finds it (Test.EICAR.Local.UNOFFICIAL), both MTAs refuse it at DATA with a 5xx.
import { EICAR } from '../../test/support/clamd.ts';
import { GTUBE, HAM_SENDER, hamMessage } from '../../test/support/mail-corpus.ts';

export type MessageClass = 'ham' | 'spam' | 'virus';
export const CLASSES: readonly MessageClass[] = ['ham', 'spam', 'virus'];

/** The add-header variant of GTUBE (rspamd's libserver/task.c: X… reject, Y… add header, Z… rewrite subject). */
const GTUBE_ADD_HEADER = `Y${GTUBE.slice(1)}`;

const TARGET_BYTES = 4096;

/** Message n's class: 7 of every 10 ham, 2 spam, 1 virus, interleaved so every session sends all three. */
export function classOf(n: number): MessageClass {
  const k = n % 10;
  return k < 7 ? 'ham' : k < 9 ? 'spam' : 'virus';
}

const PROSE = [
  'The supplier called this morning about the revised delivery schedule. They can ship the first half of the order',
  'next Wednesday and the rest by the end of the following week, which still fits the plan for the office move.',
  'Clara asked whether we could keep the old meeting room until the new one is ready; facilities said yes, as long',
  'as we hand over the keys before the first of April. Please let me know if your team needs anything in between.',
  'For the budget review, the travel costs are a little above what we expected, mostly because of the two trips to',
  'the customer site in February. I have added a short explanation to the spreadsheet, next to the figures.',
  'The new colleagues start on Monday. Jonas will show them around in the morning, and after lunch they will meet',
  'the support team. If you have time on Tuesday, it would be great if you could give them an overview of the project.',
];

/** Ordinary prose of exactly `bytes` bytes (CRLF lines of up to about 110 characters), no line starting with a dot. */
function prose(bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += `${PROSE[i % PROSE.length]}\n`;
  out = out.slice(0, Math.max(0, bytes - 1));
  return `${out.replace(/\n[^\n]*$/, (tail) => tail.replace(/\s+$/, ''))}\n`;
}

const RCPT = 'RCPT.PLACEHOLDER@example.test';
const MSGID = 'MSGID.PLACEHOLDER';

function hamTemplate(extraBody: (pad: number) => string, subject?: string): (pad: number) => string {
  return (pad) =>
    hamMessage({
      to: [{ address: RCPT }],
      messageId: MSGID,
      ...(subject ? { subject } : {}),
      body: extraBody(pad),
    }).toString('latin1');
}

const HAM_INTRO = `Hi,

thanks again for joining the planning meeting on Tuesday. I wrote down the points we agreed on, so that nobody has to
rely on memory next week.

`;

function virusTemplate(pad: number): string {
  const b64 = Buffer.from(EICAR)
    .toString('base64')
    .replace(/.{1,76}/g, '$&\r\n')
    .trimEnd();
  const text = `Hello,\r\n\r\nthe file you asked for is attached.\r\n\r\n${prose(pad).replace(/\n/g, '\r\n')}`;
  return [
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `From: Anna Berg <${HAM_SENDER.from.address}>`,
    `To: <${RCPT}>`,
    'Subject: the file you asked for',
    `Message-ID: <${MSGID}>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="=-b0undary"',
    '',
    '--=-b0undary',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    text,
    '--=-b0undary',
    'Content-Type: application/octet-stream; name="invoice.com"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="invoice.com"',
    '',
    b64,
    '--=-b0undary--',
    '',
  ].join('\r\n');
}

const BUILDERS: Record<MessageClass, (pad: number) => string> = {
  ham: hamTemplate((pad) => `${HAM_INTRO}${prose(pad)}\nBest regards,\nAnna\n`),
  spam: hamTemplate(
    (pad) => `Hello,\n\nplease find the quarterly figures below.\n\n${GTUBE_ADD_HEADER}\n\n${prose(pad)}\nRegards,\nAnna\n`,
    'Quarterly figures',
  ),
  virus: virusTemplate,
};

/** The X-Bench-Id header line and the placeholders' share of the final size (ids up to 7 digits, `userNN@`). */
const PER_MESSAGE_BYTES =
  'X-Bench-Id: 1234567\r\n'.length +
  ('n1234567.bench@mail.sender.example.org'.length - MSGID.length) +
  ('user00'.length - 'RCPT.PLACEHOLDER'.length);

/** One template per class, padded so that a finished message is about TARGET_BYTES. */
function template(cls: MessageClass): string {
  // Line ends become CRLF after padding, so measure once and correct by the difference.
  const first = Math.max(0, TARGET_BYTES - BUILDERS[cls](0).length - PER_MESSAGE_BYTES);
  const over = BUILDERS[cls](first).length + PER_MESSAGE_BYTES - TARGET_BYTES;
  return BUILDERS[cls](Math.max(0, first - over));
}

export interface Corpus {
  /** Message n (with its X-Bench-Id header first) to `rcpt`, SMTP-ready (the corpus has no line starting with a dot). */
  message(n: number, rcpt: string): Buffer;
  sizes: Record<MessageClass, number>;
}

export function buildCorpus(): Corpus {
  const templates = Object.fromEntries(CLASSES.map((c) => [c, template(c)])) as Record<MessageClass, string>;
  const message = (n: number, rcpt: string): Buffer => {
    const local = rcpt.slice(0, rcpt.indexOf('@'));
    const body = templates[classOf(n)].replace(MSGID, `n${n}.bench@mail.sender.example.org`).replace('RCPT.PLACEHOLDER', local);
    return Buffer.from(`X-Bench-Id: ${n}\r\n${body}`, 'latin1');
  };
  const sizes = Object.fromEntries(CLASSES.map((c, i) => [c, message([0, 7, 9][i] + 1_000_000, 'user10@example.test').length])) as Record<
    MessageClass,
    number
  >;
  return { message, sizes };
}
