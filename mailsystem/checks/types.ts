// What the DATA-time checks hand to the ingress: the facts for the policy decision, the message as it will be stored
// (forged authentication and scanner headers removed, our Authentication-Results added), and the verdict details
// that quarantine records and events carry.
import type { Facts } from '#mailsystem/policy/decide.ts';

export interface CheckInput {
  /** The message as received, without our Received header. */
  message: Buffer;
  envelope: { ip: string; helo: string; mailFrom: string; rcpts: string[]; queueId: string };
}

export interface CheckResult {
  facts: Facts;
  /** The bytes to store: header hygiene applied and our Authentication-Results prepended. */
  message: Buffer;
  /** Scores, symbols, virus name, per-check status and timings: kept with a quarantined copy, logged with a refusal. */
  verdict: Record<string, unknown>;
}

/** Runs every check (in parallel, each with its own timeout); never throws: a failing check is a fact ('error'). */
export type Checks = (input: CheckInput) => Promise<CheckResult>;
