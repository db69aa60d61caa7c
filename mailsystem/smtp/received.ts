// Builds the Received trace header (RFC 5321 §4.4) that ingress prepends to every stored message.
import { rfc5322Date } from '../rfc5322-date.ts';

export interface ReceivedFacts {
  helo: string;
  clientIp: string;
  clientHostname: string;
  serverName: string;
  queueId: string;
  tls: boolean;
  utf8: boolean;
  /** Named in the header only when there is exactly one, so aliases of other users do not leak. */
  recipients: string[];
  at: Date;
}

// Client-supplied names go into a header: keep them to visible ASCII so they cannot fold or inject.
const clean = (s: string): string => (s || 'unknown').replace(/[^\x21-\x7e]/g, '?').slice(0, 255);

export function receivedHeader(f: ReceivedFacts): Buffer {
  const proto = (f.utf8 ? 'UTF8SMTP' : 'ESMTP') + (f.tls ? 'S' : '');
  // Without a verified reverse name smtp-server reports the [ip] literal; RFC 5321 wants a name here.
  const named = f.clientHostname && !f.clientHostname.startsWith('[') && f.clientHostname !== f.clientIp;
  const host = named ? clean(f.clientHostname) : 'unknown';
  const forPart = f.recipients.length === 1 ? `\r\n\tfor <${clean(f.recipients[0])}>` : '';
  const text =
    `Received: from ${clean(f.helo)} (${host} [${clean(f.clientIp)}])\r\n` +
    `\tby ${clean(f.serverName)} (Tidings) with ${proto} id ${f.queueId}${forPart};\r\n` +
    `\t${rfc5322Date(f.at)}\r\n`;
  return Buffer.from(text, 'latin1');
}
