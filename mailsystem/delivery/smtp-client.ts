// One SMTP or LMTP client session (nodemailer's SMTPConnection), its replies mapped to per-recipient delivery outcomes.
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { lmtpReplies } from './nodemailer-lmtp.ts';
import type { DeliveryOutcome } from './transport.ts';

export interface SmtpSendOptions {
  host: string;
  port: number;
  lmtp?: boolean;
  /** Our name in EHLO/LHLO. */
  heloName: string;
  /** The MX's DNS name when `host` is one of its addresses (TLS SNI, log lines). */
  servername?: string;
  /** '' for the null sender. */
  from: string;
  to: string[];
  message: Buffer;
  timeoutMs?: number;
}

interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  recipient?: string;
  rejectedErrors?: SmtpError[];
}

/** A one-line reply for the queue row and the DSN: no CR/LF, bounded length. */
export function oneLine(text: string): string {
  return text
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim()
    .slice(0, 500);
}

export function outcomeFromReply(code: number, response: string): DeliveryOutcome {
  const text = oneLine(response);
  if (code >= 200 && code < 300) return { kind: 'delivered', response: text };
  // 5xx is final, except 503 (bad sequence: our fault, worth another try).
  if (code >= 500 && code !== 503) return { kind: 'failed', response: text };
  return { kind: 'deferred', response: text };
}

function outcomeFromError(err: SmtpError, where: string): DeliveryOutcome {
  if (err.responseCode) return outcomeFromReply(err.responseCode, err.response ?? String(err.responseCode));
  return { kind: 'deferred', response: `4.4.1 no usable reply from ${where} (${err.code ?? 'error'})` };
}

/**
 * Sends one message to the given recipients in one session. Every recipient gets an outcome:
 * LMTP answers per recipient after DATA, SMTP answers once for all recipients it accepted.
 */
export function sendMessage(opts: SmtpSendOptions): Promise<Map<string, DeliveryOutcome>> {
  const where = `${opts.servername ?? opts.host}:${opts.port}`;
  const timeout = opts.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    const results = new Map<string, DeliveryOutcome>();
    let settled = false;
    const conn = new SMTPConnection({
      host: opts.host,
      port: opts.port,
      lmtp: opts.lmtp ?? false,
      name: opts.heloName,
      // Opportunistic TLS (RFC 7435): encrypt when offered, never refuse a peer over its certificate.
      opportunisticTLS: true,
      tls: { rejectUnauthorized: false, ...(opts.servername ? { servername: opts.servername } : {}) },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      logger: false,
    });
    const finish = (fill?: DeliveryOutcome) => {
      if (settled) return;
      settled = true;
      for (const r of opts.to)
        if (!results.has(r)) results.set(r, fill ?? { kind: 'deferred', response: `4.4.2 session with ${where} ended early` });
      // The outcome goes to the queue in this same turn; QUIT is sent but never waited for, as
      // every moment between a 250 and its commit is a moment in which a crash duplicates mail.
      resolve(results);
      try {
        conn.quit();
      } catch {
        /* already closed */
      }
    };
    const replies = opts.lmtp ? lmtpReplies(conn) : new Map<string, string>();
    conn.on('error', (err: SmtpError) => finish(outcomeFromError(err, where)));
    conn.on('end', () => finish());
    conn.connect((err?: SmtpError) => {
      if (err) return finish(outcomeFromError(err, where));
      conn.send({ from: opts.from === '' ? false : opts.from, to: opts.to }, opts.message, (sendErr, info) => {
        if (sendErr) {
          const e = sendErr as SmtpError;
          for (const r of e.rejectedErrors ?? []) if (r.recipient) results.set(r.recipient, outcomeFromError(r, where));
          return finish(outcomeFromError(e, where));
        }
        for (const r of info!.rejectedErrors ?? []) {
          const re = r as SmtpError;
          if (re.recipient) results.set(re.recipient, outcomeFromError(re, where));
        }
        for (const r of info!.accepted)
          if (!results.has(r)) results.set(r, { kind: 'delivered', response: oneLine(replies.get(r) ?? info!.response) });
        finish();
      });
    });
  });
}
