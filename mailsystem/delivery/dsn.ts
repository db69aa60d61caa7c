// RFC 3464 delivery status notifications (multipart/report): a pure builder for "failed" and "delayed" notices.
import { createHash } from 'node:crypto';
import { rfc5322Date } from '../rfc5322-date.ts';
import { headerBlock } from './loop-guard.ts';

export interface DsnInput {
  action: 'failed' | 'delayed';
  queueId: string;
  /** The original envelope sender: the DSN's recipient. Never '' (no bounce to the null sender). */
  envelopeFrom: string;
  recipient: string;
  /** The last reply or our own reason, e.g. "550 5.1.1 no such user". */
  response: string;
  arrivedAt: number;
  now: number;
  reportingMta: string;
  original: Buffer;
  /** The MTA that gave the reply, when there was one. */
  remoteMta?: string;
  /** Delayed notices: when we stop trying. */
  willRetryUntil?: number;
  /** Failed notices: we gave up because the message was too long in the queue (RFC 3463 5.4.7), not on a permanent reply. */
  expired?: boolean;
}

/** The enhanced status code (RFC 3463) in a reply, or a generic one of the right class. */
export function statusOf(action: DsnInput['action'], response: string, expired = false): string {
  // The last reply was temporary (it is why we kept trying); the failure itself is the expiry.
  if (action === 'failed' && expired) return '5.4.7';
  const m = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(response);
  const wanted = action === 'failed' ? '5' : '4';
  if (m && m[1] === wanted) return `${m[1]}.${m[2]}.${m[3]}`;
  return action === 'failed' ? '5.0.0' : '4.0.0';
}

/** delivery-status fields are ASCII lines: no CR/LF injection, no 8-bit. */
function field(value: string): string {
  return value
    .replace(/[\r\n]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 900);
}

function wrap(text: string, width = 76): string {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(' ')) {
      if (line && line.length + word.length + 1 > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out.join('\r\n');
}

/** Builds the whole DSN message; the caller sends it with the null envelope sender to `envelopeFrom`. */
export function buildDsn(input: DsnInput): Buffer {
  if (input.envelopeFrom === '') throw new Error('no DSN to the null sender');
  const id = createHash('sha256').update(`${input.queueId}\0${input.recipient}\0${input.action}\0${input.now}`).digest('hex').slice(0, 24);
  const boundary = `=_tidings_dsn_${id}`;
  const mta = field(input.reportingMta);
  const rcpt = field(input.recipient);
  const status = statusOf(input.action, input.response, input.expired);
  const failed = input.action === 'failed';

  const human = failed
    ? `This is the mail system at ${mta}.\n\nYour message could not be delivered to <${rcpt}>. ` +
      `This is a permanent error; we have stopped trying.\n\nThe reason given: ${field(input.response)}`
    : `This is the mail system at ${mta}.\n\nYour message to <${rcpt}> has not been delivered yet. ` +
      `We will keep trying${input.willRetryUntil ? ` until ${rfc5322Date(input.willRetryUntil)}` : ''}; you do not need to send it again.\n\n` +
      `The last reason given: ${field(input.response)}`;

  const perMessage = [
    `Reporting-MTA: dns; ${mta}`,
    `X-Tidings-Queue-ID: ${field(input.queueId)}`,
    `Arrival-Date: ${rfc5322Date(input.arrivedAt)}`,
  ];
  const perRecipient = [
    `Final-Recipient: rfc822; ${rcpt}`,
    `Action: ${input.action}`,
    `Status: ${status}`,
    ...(input.remoteMta ? [`Remote-MTA: dns; ${field(input.remoteMta)}`] : []),
    `Diagnostic-Code: smtp; ${field(input.response)}`,
    `Last-Attempt-Date: ${rfc5322Date(input.now)}`,
    ...(!failed && input.willRetryUntil ? [`Will-Retry-Until: ${rfc5322Date(input.willRetryUntil)}`] : []),
  ];
  // Headers only: returning the body would turn a bounce into a way to reflect content at third parties.
  const headers = headerBlock(input.original).replace(/\r?\n/g, '\r\n');

  const text = [
    `From: Mail Delivery System <MAILER-DAEMON@${mta}>`,
    `To: <${field(input.envelopeFrom)}>`,
    `Subject: ${failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'}`,
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <dsn.${id}@${mta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Description: Notification',
    '',
    wrap(human),
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    ...perMessage,
    '',
    ...perRecipient,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    'Content-Description: Undelivered message headers',
    '',
    headers,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(text, 'latin1');
}
