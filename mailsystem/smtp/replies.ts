// The public SMTP replies of the ingress: one catalogue, generic texts, never internal error detail.

export interface Reply {
  code: number;
  /** RFC 3463 enhanced status code, written into the text so the server never guesses it. */
  status: string;
  text: string;
}

export const REPLIES = {
  unknownUser: { code: 550, status: '5.1.1', text: 'Recipient address rejected: no such user here' },
  relayDenied: { code: 550, status: '5.7.1', text: 'Relaying denied: domain is not hosted here' },
  badRecipient: { code: 553, status: '5.1.3', text: 'Recipient address is not valid' },
  tooManyRecipients: { code: 452, status: '4.5.3', text: 'Too many recipients' },
  tooManyUnknownRecipients: { code: 421, status: '4.7.0', text: 'Too many unknown recipients, closing connection' },
  unknownParameter: { code: 555, status: '5.5.4', text: 'MAIL FROM/RCPT TO parameters not recognized or not implemented' },
  nonAsciiAddress: { code: 553, status: '5.6.7', text: 'Non-ASCII addresses need SMTPUTF8' },
  invalidUtf8Address: { code: 553, status: '5.6.7', text: 'Address is not valid UTF-8' },
  tooBig: { code: 552, status: '5.3.4', text: 'Message exceeds the fixed maximum message size' },
  bareNewline: { code: 550, status: '5.6.0', text: 'Bare LF/CR in message: SMTP smuggling protection' },
  lineTooLong: { code: 550, status: '5.6.0', text: 'Message line too long' },
  storageFailed: { code: 451, status: '4.3.0', text: 'Local error in processing, try again later' },
  spamRejected: { code: 550, status: '5.7.1', text: 'Message rejected as spam' },
  virusRejected: { code: 554, status: '5.7.1', text: 'Message rejected: it contains a virus' },
  dmarcRejected: { code: 550, status: '5.7.1', text: "Message rejected: it fails the DMARC policy of the sender's domain" },
  legacyUnavailable: { code: 451, status: '4.4.3', text: 'Recipient cannot be verified now, try again later' },
  scannerUnavailable: { code: 451, status: '4.7.1', text: 'Message could not be scanned, try again later' },
  otherPolicy: { code: 452, status: '4.5.3', text: 'Recipient has another filtering policy: send to it in a separate transaction' },
  queueFull: { code: 451, status: '4.3.1', text: 'Mail queue is full, delivery is behind: try again later' },
  tooManyConnections: { code: 421, status: '4.7.0', text: 'Too many connections from your address, try again later' },
  shuttingDown: { code: 421, status: '4.3.2', text: 'Service shutting down, try again later' },
  dataTimeout: { code: 421, status: '4.4.2', text: 'Timeout while receiving the message' },
} as const satisfies Record<string, Reply>;

export type ReplyName = keyof typeof REPLIES;

/** The error shape smtp-server turns into a reply; `responseCode` is the reply code. */
export interface SmtpReplyError extends Error {
  responseCode: number;
}

export function replyError(reply: Reply): SmtpReplyError {
  const err = new Error(`${reply.status} ${reply.text}`) as SmtpReplyError;
  err.responseCode = reply.code;
  return err;
}

export function acceptedText(queueId: string): string {
  return `Ok: queued as ${queueId}`;
}

/** True when a reply text already begins with an enhanced status code (x.y.z). */
export function hasEnhancedStatus(text: string): boolean {
  return /^[245]\.\d{1,3}\.\d{1,3} /.test(text);
}
