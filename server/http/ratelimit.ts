// Login throttling per account and per client IP, remembered in SQLite so restarts do not reset it.
import type { DB } from '#data/db.ts';
import { insertLoginFailure, loginFailuresSince, pruneLoginFailures } from '../store/sessions.ts';

export interface LoginLimits { windowMs: number; perAccount: number; perIp: number }

// An account gets few guesses; an IP gets more, since several staff may share an office address.
export const LOGIN_LIMITS: LoginLimits = { windowMs: 15 * 60_000, perAccount: 5, perIp: 20 };

/** Seconds until a login may be tried again, or null when it may be tried now. */
export function loginRetryAfter(db: DB, who: { account: string; ip: string }, now: Date, limits: LoginLimits = LOGIN_LIMITS): number | null {
  const since = new Date(now.getTime() - limits.windowMs).toISOString();
  pruneLoginFailures(db, since);
  let waitMs = 0;
  for (const [scope, key, max] of [['account', who.account, limits.perAccount], ['ip', who.ip, limits.perIp]] as const) {
    const f = loginFailuresSince(db, scope, key, since);
    if (f.n >= max && f.oldest) waitMs = Math.max(waitMs, Date.parse(f.oldest) + limits.windowMs - now.getTime());
  }
  return waitMs > 0 ? Math.ceil(waitMs / 1000) : null;
}

export function recordLoginFailure(db: DB, who: { account: string; ip: string }, at: string): void {
  insertLoginFailure(db, 'account', who.account, at);
  insertLoginFailure(db, 'ip', who.ip, at);
}
