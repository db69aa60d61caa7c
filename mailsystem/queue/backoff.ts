// Retry schedule: exponential from the first retry, capped per attempt, bounded by a maximum age.

export interface RetryPolicy {
  firstRetryMs: number;
  maxDelayMs: number;
  maxAgeMs: number;
  /** 0 disables the "delayed" DSN. */
  delayedDsnAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  firstRetryMs: 60_000, // first retry within minutes
  maxDelayMs: 60 * 60_000, // never wait more than an hour between attempts
  maxAgeMs: 5 * 24 * 60 * 60_000, // give up after 5 days
  delayedDsnAfterMs: 4 * 60 * 60_000,
};

/**
 * Delay before the retry that follows attempt number `attempt` (1 = the first try failed).
 * `jitter` in [0, 1) spreads retries of one outage by up to +20 % so they do not arrive as one wave.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, jitter = 0): number {
  const exp = policy.firstRetryMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
  return Math.round(Math.min(exp, policy.maxDelayMs) * (1 + 0.2 * jitter));
}

export type RetryDecision = { kind: 'retry'; at: number } | { kind: 'expire' };

/** After a temporary failure: retry later, or expire when the next try would exceed the max age. */
export function decideRetry(policy: RetryPolicy, createdAt: number, now: number, attempt: number, jitter = 0): RetryDecision {
  if (now - createdAt >= policy.maxAgeMs) return { kind: 'expire' };
  const at = now + retryDelay(policy, attempt, jitter);
  return { kind: 'retry', at: Math.min(at, createdAt + policy.maxAgeMs) };
}

/** True when this deferral should send the one "delayed" DSN. */
export function dueForDelayedDsn(policy: RetryPolicy, createdAt: number, now: number, alreadySentAt: number | null): boolean {
  return policy.delayedDsnAfterMs > 0 && alreadySentAt === null && now - createdAt >= policy.delayedDsnAfterMs;
}
