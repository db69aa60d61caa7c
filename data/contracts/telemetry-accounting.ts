// The accounting line (issue 10): where every accepted delivery went over a range. Filled in by the accounting work;
// the charts' accounting line and the task impact report read it through server/services/telemetry/accounting.ts.
import { z } from 'zod';

const Instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const Count = z.number().int().nonnegative();

/**
 * Counted in deliveries (one per accepted recipient), over [from, to):
 *   carriedIn + accepted = delivered + bounced + quarantined + discarded + queued + unaccounted
 * where carriedIn is what was queued at `from` and queued what is queued at `to`. unaccounted must be 0.
 * queued and unaccounted are null when no measurement of the queue exists for `to` (never a made-up zero).
 */
export const Accounting = z.object({
  from: Instant,
  to: Instant,
  /** Messages our 250 accepted in the range. */
  acceptedMessages: Count,
  carriedIn: Count,
  accepted: Count,
  delivered: Count,
  bounced: Count,
  quarantined: Count,
  discarded: Count,
  queued: Count.nullable(),
  unaccounted: z.number().int().nullable(),
});
export type Accounting = z.infer<typeof Accounting>;
