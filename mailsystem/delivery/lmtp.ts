// Mailbox delivery to an LMTP server such as Dovecot: one reply per recipient, so one recipient's failure never redelivers another's.
import type { DeliveryJob, DeliveryOutcome, Transport } from './transport.ts';
import { sendMessage } from './smtp-client.ts';

export interface LmtpOptions {
  heloName: string;
  timeoutMs?: number;
}

export function createLmtpTransport(opts: LmtpOptions): Transport {
  return {
    async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
      if (job.route.kind !== 'lmtp') return { kind: 'failed', response: '5.3.5 not an LMTP route' };
      const { host, port, mailbox } = job.route;
      const results = await sendMessage({
        host,
        port,
        lmtp: true,
        heloName: opts.heloName,
        from: job.envelopeFrom,
        to: [mailbox],
        message: job.message,
        timeoutMs: opts.timeoutMs,
      });
      return results.get(mailbox) ?? [...results.values()][0];
    },
  };
}
