// Login throttling per account and per client IP, remembered in SQLite so restarts do not reset it.
import type { DB } from '#data/db.ts';
import {
  insertPendingAttempt,
  settleAttemptsAsFailures,
  deleteAttempts,
  clearLoginFailures,
  loginFailuresSince,
  pruneLoginFailures,
} from '../store/sessions.ts';

export interface LoginLimits {
  windowMs: number;
  perAccount: number;
  perIp: number;
}

// An account gets few guesses; an IP gets more, since several staff may share an office address.
export const LOGIN_LIMITS: LoginLimits = { windowMs: 15 * 60_000, perAccount: 5, perIp: 20 };

export interface Who {
  account: string;
  ip: string;
}

/** A password check that has been counted (its rows) or refused (how long to wait). */
export type LoginAttempt = { kind: 'reserved'; rows: readonly number[] } | { kind: 'limited'; retryAfterSeconds: number };

/** Seconds until a login may be tried again, or null when it may be tried now. */
function retryAfter(db: DB, who: Who, now: Date, limits: LoginLimits): number | null {
  const since = new Date(now.getTime() - limits.windowMs).toISOString();
  pruneLoginFailures(db, since);
  let waitMs = 0;
  for (const [scope, key, max] of [
    ['account', who.account, limits.perAccount],
    ['ip', who.ip, limits.perIp],
  ] as const) {
    const f = loginFailuresSince(db, scope, key, since);
    if (f.n >= max && f.oldest) waitMs = Math.max(waitMs, Date.parse(f.oldest) + limits.windowMs - now.getTime());
  }
  return waitMs > 0 ? Math.ceil(waitMs / 1000) : null;
}

/**
 * Checks the limit and counts this attempt in the same transaction, before the slow password hash: guesses sent all
 * at once each see the ones before them, so the 6th for an account (21st for an IP) is refused even while the first
 * five are still being hashed. The rows are on disk, so a crash mid-hash leaves them counted, never forgotten.
 */
export function reserveLoginAttempt(db: DB, who: Who, now: Date, limits: LoginLimits = LOGIN_LIMITS): LoginAttempt {
  return db
    .transaction((): LoginAttempt => {
      const wait = retryAfter(db, who, now, limits);
      if (wait !== null) return { kind: 'limited', retryAfterSeconds: wait };
      const at = now.toISOString();
      return { kind: 'reserved', rows: [insertPendingAttempt(db, 'account', who.account, at), insertPendingAttempt(db, 'ip', who.ip, at)] };
    })
    .immediate();
}

/** The password was wrong: the attempt stays counted for the window. Call inside the transaction that audits it. */
export function recordFailedAttempt(db: DB, attempt: { rows: readonly number[] }): void {
  settleAttemptsAsFailures(db, attempt.rows);
}

/**
 * The password was right: this attempt no longer counts, and the account's earlier failures are forgiven. Other
 * attempts for the account that are still being checked keep their rows, so a success cannot wipe guesses in flight.
 */
export function recordSucceededAttempt(db: DB, attempt: { rows: readonly number[] }, account: string): void {
  deleteAttempts(db, attempt.rows);
  clearLoginFailures(db, 'account', account);
}
