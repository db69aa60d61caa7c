// One delivery shape for every target (Maildir, LMTP, SMTP forward, legacy relay).
import type { Route } from '../config/directory.ts';

export interface DeliveryJob {
  queueId: string;
  deliveryId: number;
  envelopeFrom: string;   // '' for the null sender
  recipient: string;      // the envelope recipient as accepted
  route: Route;
  message: Buffer;        // the stored bytes, Received header included
  attempt: number;        // 1 for the first try
}

export type DeliveryOutcome =
  | { kind: 'delivered'; response: string }
  | { kind: 'deferred'; response: string }   // temporary: retry with backoff
  | { kind: 'failed'; response: string };    // permanent: bounce (DSN) unless policy forbids

export interface Transport {
  deliver(job: DeliveryJob): Promise<DeliveryOutcome>;
}

export type Transports = Partial<Record<Route['kind'], Transport>>;
