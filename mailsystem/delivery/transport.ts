// One delivery shape for every target (Maildir, LMTP, SMTP forward, legacy relay).
import type { Route } from '../config/directory.ts';

export interface DeliveryJob {
  queueId: string;
  deliveryId: number;
  envelopeFrom: string; // '' for the null sender
  recipient: string; // the envelope recipient as accepted
  route: Route;
  message: Buffer; // the stored bytes, Received header included
  attempt: number; // 1 for the first try
}

export type DeliveryOutcome =
  | { kind: 'delivered'; response: string }
  | { kind: 'deferred'; response: string } // temporary: retry with backoff
  | { kind: 'failed'; response: string }; // permanent: bounce (DSN) unless policy forbids

export interface Transport {
  deliver(job: DeliveryJob): Promise<DeliveryOutcome>;
  /**
   * Several copies in one session (LMTP, the legacy relay): the jobs are of one message, with the same bytes, to the same
   * host and port (the worker groups them so: sessions.ts). One outcome per job, in the jobs' order.
   */
  deliverMany?(jobs: DeliveryJob[]): Promise<DeliveryOutcome[]>;
  /**
   * True when a repeated delivery of the same job finds the earlier copy instead of storing a
   * second one (the built-in Maildir). Otherwise a 250 is recorded at once, as the window between
   * the remote acceptance and our commit is where a crash causes a duplicate.
   */
  readonly idempotent?: boolean;
}

export type Transports = Partial<Record<Route['kind'], Transport>>;

/** A transport built on sessions of several copies (LMTP, the legacy relay): one copy is a session of one. */
export function sessionTransport(deliverMany: (jobs: DeliveryJob[]) => Promise<DeliveryOutcome[]>): Transport {
  return { deliverMany, deliver: async (job) => (await deliverMany([job]))[0] };
}
