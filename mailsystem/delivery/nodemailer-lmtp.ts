// The one place mailsystem/ relies on a nodemailer internal (as smtp/smtp-server-adapter.ts is for smtp-server's):
// test/unit/nodemailer-internals.test.ts pins the method's source text, so an upgrade that changes it fails by name.
import type SMTPConnection from 'nodemailer/lib/smtp-connection';

/** nodemailer's per-recipient LMTP reply handler, as checked against NODEMAILER_VERSION. */
export const LMTP_REPLY_HANDLER = { owner: 'SMTPConnection', name: '_actionLMTPStream', sha256: '6aba762372c44968' } as const;
export const NODEMAILER_VERSION = '10.6.1';

type Handler = (recipient: string, final: boolean, reply: string, ...rest: unknown[]) => unknown;

/**
 * LMTP answers DATA once per accepted recipient, but nodemailer hands back only the last reply as the result's text.
 * Its per-recipient reply handler (`_actionLMTPStream(recipient, final, reply, callback)`) is wrapped on this one
 * connection to keep each recipient's own reply; without that handler the last reply stands for all.
 */
export function lmtpReplies(conn: SMTPConnection): Map<string, string> {
  const replies = new Map<string, string>();
  const c = conn as unknown as Record<string, Handler | undefined>;
  const handler = c[LMTP_REPLY_HANDLER.name];
  if (typeof handler === 'function')
    c[LMTP_REPLY_HANDLER.name] = function (this: unknown, recipient, final, reply, ...rest) {
      replies.set(recipient, reply);
      return handler.call(this, recipient, final, reply, ...rest);
    };
  return replies;
}
