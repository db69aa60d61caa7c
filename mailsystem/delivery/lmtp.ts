// Mailbox delivery to an LMTP server such as Dovecot: one reply per recipient, so one recipient's failure never redelivers another's.
import { type DeliveryJob, type DeliveryOutcome, sessionTransport, type Transport } from './transport.ts';
import { sendMessage } from './smtp-client.ts';

export interface LmtpOptions {
  heloName: string;
  timeoutMs?: number;
}

export function createLmtpTransport(opts: LmtpOptions): Transport {
  /** One LMTP session for every job: LHLO, MAIL FROM, one RCPT TO per mailbox, DATA, a reply per accepted mailbox. */
  async function deliverMany(jobs: DeliveryJob[]): Promise<DeliveryOutcome[]> {
    const first = jobs[0].route;
    if (first.kind !== 'lmtp' || jobs.some((j) => j.route.kind !== 'lmtp'))
      return jobs.map(() => ({ kind: 'failed', response: '5.3.5 not an LMTP route' }));
    const mailboxes = jobs.map((j) => (j.route as typeof first).mailbox);
    const results = await sendMessage({
      host: first.host,
      port: first.port,
      lmtp: true,
      heloName: opts.heloName,
      from: jobs[0].envelopeFrom,
      to: mailboxes,
      message: jobs[0].message,
      timeoutMs: opts.timeoutMs,
    });
    return mailboxes.map((m) => results.get(m) as DeliveryOutcome);
  }
  return sessionTransport(deliverMany);
}
