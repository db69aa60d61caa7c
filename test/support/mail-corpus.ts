// Test messages that look like real mail (issue 12). rspamd scores a bare "Subject: hi" message around 7 ('add
// header') for what it lacks: no Date, no Message-ID, no HELO or reverse-DNS name, a sender domain that does not
// resolve. A ham message here has what a mail client and a sending server give it, and the HELO name, the client's
// name and the sender's domain resolve (HAM_ZONE, served to rspamd by test/support/rspamd.ts), so it scores near 0.
// GTUBE is the same message with the GTUBE line in the body: rspamd's action for it is 'reject'.
//
// DKIM signing is not done here: pass the DKIM-Signature line (or any other header line) in `headers`.
import { rfc5322Date } from '#mailsystem/rfc5322-date.ts';
import type { SpamEnvelope } from '#mailsystem/checks/rspamd.ts';
import type { Zone } from './dns-zone.ts';
import { RawSmtp } from './smtp-client.ts';

/** The Generic Test for Unsolicited Bulk Email: every rspamd rejects a message holding it. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

export interface Mailbox {
  name?: string;
  address: string;
}

/** The sending side of the ham corpus: its server, and the person writing. */
export const HAM_SENDER = {
  /** TEST-NET-3: not a local address for rspamd, and listed nowhere. */
  ip: '203.0.113.25',
  helo: 'mail.sender.example.org',
  hostname: 'mail.sender.example.org',
  domain: 'sender.example.org',
  from: { name: 'Anna Berg', address: 'anna.berg@sender.example.org' } satisfies Mailbox,
} as const;

/** The default recipient of the corpus. */
export const HAM_RECIPIENT: Mailbox = { name: 'Ben Kraus', address: 'ben.kraus@example.net' };

/** DNS for the sending side: the HELO name and client name resolve to the client's address, the domain has an MX. */
export const HAM_ZONE: Zone = {
  a: { [HAM_SENDER.helo]: [HAM_SENDER.ip], [HAM_SENDER.domain]: [HAM_SENDER.ip] },
  mx: { [HAM_SENDER.domain]: [{ exchange: HAM_SENDER.helo, priority: 10 }] },
};

export interface MailOptions {
  from?: Mailbox;
  to?: Mailbox[];
  subject?: string;
  /** Date header (default: now). */
  date?: Date;
  /** Message-ID without the angle brackets (default: a fresh one on the sender's host). */
  messageId?: string;
  /** Plain-text body, lines joined with CRLF on output (default: a short business note). */
  body?: string;
  /** Extra header lines without line ends, put first (e.g. Received, DKIM-Signature). */
  headers?: string[];
}

const HAM_BODY = `Hi Ben,

thanks again for joining the planning meeting on Tuesday. I wrote down the points
we agreed on, so that nobody has to rely on memory next week.

We will move the weekly review to Thursday afternoon, because most of the team is
travelling on Mondays until the end of the month. Clara will prepare the budget
overview for the second quarter and send it around by Friday. The office move is
still planned for early March; the furniture order went out yesterday and the
supplier confirmed the delivery window.

If I missed anything, just reply to this message and I will update the notes.

Best regards,
Anna
`;

let sequence = 0;

function mailbox(m: Mailbox): string {
  return m.name ? `${m.name} <${m.address}>` : `<${m.address}>`;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/** A plain-text message as a mail client writes it (CRLF line ends, 7bit). */
export function hamMessage(opts: MailOptions = {}): Buffer {
  const from = opts.from ?? HAM_SENDER.from;
  const to = opts.to ?? [HAM_RECIPIENT];
  const date = opts.date ?? new Date();
  const messageId = opts.messageId ?? `${date.getTime().toString(36)}.${process.pid}.${++sequence}@mail.${domainOf(from.address)}`;
  const lines = [
    ...(opts.headers ?? []),
    `Date: ${rfc5322Date(date)}`,
    `From: ${mailbox(from)}`,
    `To: ${to.map(mailbox).join(', ')}`,
    `Subject: ${opts.subject ?? "Notes from Tuesday's planning meeting"}`,
    `Message-ID: <${messageId}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    ...(opts.body ?? HAM_BODY).replace(/\r?\n$/, '').split(/\r?\n/),
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n`);
}

/** The ham message with the GTUBE line in its body. */
export function gtubeMessage(opts: MailOptions = {}): Buffer {
  return hamMessage({
    subject: 'Quarterly figures',
    body: `Hello,\n\nplease find the quarterly figures below.\n\n${GTUBE}\n\nRegards,\nAnna\n`,
    ...opts,
  });
}

/** The envelope a sending server gives the ham corpus (override any part, e.g. the recipients). */
export function hamEnvelope(overrides: Partial<SpamEnvelope> = {}): SpamEnvelope {
  return {
    ip: HAM_SENDER.ip,
    helo: HAM_SENDER.helo,
    hostname: HAM_SENDER.hostname,
    from: HAM_SENDER.from.address,
    rcpts: [HAM_RECIPIENT.address],
    queueId: `T${Date.now().toString(36).toUpperCase()}${++sequence}`,
    ...overrides,
  };
}

/**
 * One transaction from the corpus's sending server: EHLO as its HELO name, MAIL FROM (default the ham sender), one
 * RCPT (asserted 250), DATA with `message` (dot-stuffing is the caller's: the corpus has no line starting with a dot).
 * Resolves with the final reply.
 */
export async function sendFromHamSender(
  port: number,
  to: string,
  message: Buffer,
  mailFrom: string = HAM_SENDER.from.address,
): Promise<string> {
  const c = await RawSmtp.connect(port);
  await c.read();
  await c.cmd(`EHLO ${HAM_SENDER.helo}`);
  await c.cmd(`MAIL FROM:<${mailFrom}>`);
  const rcpt = (await c.cmd(`RCPT TO:<${to}>`)) ?? '';
  if (!rcpt.startsWith('250')) throw new Error(`RCPT TO:<${to}> answered ${rcpt}`);
  await c.cmd('DATA');
  c.write(Buffer.concat([message, Buffer.from('.\r\n')]));
  const reply = (await c.read(30_000)) ?? '(closed)';
  c.write('QUIT\r\n');
  c.close();
  return reply;
}
