// Subscription test helpers: post the public subscribe form, send the queued confirmations to a loopback relay and
// read the links out of what arrived.
import pino from 'pino';
import type { DB } from '#data/db.ts';
import type { ConfirmationMessage } from '#server/domain/confirmation-message.ts';
import { sendDueConfirmations } from '#server/jobs/subscription-confirmations.ts';
import type { SinkMessage } from './smtp-sink.ts';

type Request = (method: string, path: string, o: { raw?: string; headers?: Record<string, string>; ip?: string }) => Promise<Response>;

/** POSTs application/x-www-form-urlencoded fields, as a browser sends a form. */
export function postForm(request: Request, path: string, fields: Record<string, string>, ip?: string): Promise<Response> {
  return request('POST', path, {
    raw: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    ip,
  });
}

/** A message's body as text, quoted-printable soft breaks and =3D undone (enough to read URLs out of it). */
export function messageText(m: SinkMessage): string {
  return m.data
    .toString('utf8')
    .replace(/=\r?\n/g, '')
    .replace(/=3D/g, '=');
}

/** The path and query of the first link in `text` to `kind` (confirm, manage, unsubscribe). */
export function linkOf(text: string, kind: 'confirm' | 'manage' | 'unsubscribe'): string {
  const found = new RegExp(`https?://[^\\s"<>]+(/subscriptions/${kind}\\?token=[A-Za-z0-9_-]+)`).exec(text);
  if (!found) throw new Error(`no ${kind} link in:\n${text}`);
  return found[1];
}

/** The same in a message a relay sink received. */
export const linkIn = (m: SinkMessage, kind: 'confirm' | 'manage' | 'unsubscribe') => linkOf(messageText(m), kind);

export interface Links {
  to: string;
  confirm: string;
  manage: string;
  unsubscribe: string;
}

/**
 * Sends the due confirmation mails into an array instead of a relay (for browser tests, where the mail is not the
 * point) and returns their links as paths with the query.
 */
export async function sendConfirmationsToArray(db: DB, publicUrl: string): Promise<Links[]> {
  const sent: ConfirmationMessage[] = [];
  await sendDueConfirmations({ db, clock: () => new Date(), log: pino({ level: 'silent' }) }, async (m) => void sent.push(m), {
    publicUrl,
    from: 'status@example.test',
  });
  return sent.map((m) => ({
    to: m.to,
    confirm: linkOf(m.text, 'confirm'),
    manage: linkOf(m.text, 'manage'),
    unsubscribe: linkOf(m.text, 'unsubscribe'),
  }));
}
