// SQL of the double opt-in mail queue (backend migration 018, subscription_confirmations) and of the subscribe form's
// rate-limit counts (subscribe_attempts).
import type { DB } from '#data/db.ts';
import type { FollowRow } from './subscriptions.ts';

export interface DueConfirmation extends FollowRow {
  email: string;
  attempts: number;
}

/**
 * Leases up to `limit` due confirmations until nowMs + leaseMs and counts the attempt; call inside a transaction.
 * A row whose lease ran out (a crash mid-send) is due again.
 */
export function claimDueConfirmations(db: DB, nowMs: number, leaseMs: number, limit: number): DueConfirmation[] {
  const rows = db
    .prepare(
      `SELECT s.id, s.subscriber_id, s.scope, s.confirmed_at, sec.slug AS section_slug, sec.name AS section_name,
         t.id AS task_id, t.summary AS task_summary, sub.email, c.attempts
       FROM subscription_confirmations c
       JOIN subscriptions s ON s.id = c.subscription_id
       JOIN subscribers sub ON sub.id = s.subscriber_id
       LEFT JOIN sections sec ON sec.id = s.section_id LEFT JOIN tasks t ON t.id = s.task_id
       WHERE c.state = 'queued' AND c.next_attempt_at <= ? AND (c.lease_until IS NULL OR c.lease_until <= ?)
       ORDER BY c.next_attempt_at LIMIT ?`,
    )
    .all(nowMs, nowMs, limit) as DueConfirmation[];
  const lease = db.prepare('UPDATE subscription_confirmations SET lease_until = ?, attempts = attempts + 1 WHERE subscription_id = ?');
  for (const r of rows) lease.run(nowMs + leaseMs, r.id);
  return rows.map((r) => ({ ...r, attempts: r.attempts + 1 }));
}

/** The follow's link now confirms only with the secret hashing to `hash` (still pending: false when it is not). */
export function setConfirmHash(db: DB, subscriptionId: number, hash: string): boolean {
  return (
    db.prepare('UPDATE subscriptions SET confirm_hash = ? WHERE id = ? AND confirmed_at IS NULL').run(hash, subscriptionId).changes > 0
  );
}

export function markConfirmationSent(db: DB, subscriptionId: number, at: string): void {
  db.prepare(
    `UPDATE subscription_confirmations SET state = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL WHERE subscription_id = ?`,
  ).run(at, subscriptionId);
}

export function markConfirmationRetry(db: DB, subscriptionId: number, nextAttemptMs: number, error: string): void {
  db.prepare('UPDATE subscription_confirmations SET next_attempt_at = ?, lease_until = NULL, last_error = ? WHERE subscription_id = ?').run(
    nextAttemptMs,
    error.slice(0, 500),
    subscriptionId,
  );
}

export function markConfirmationFailed(db: DB, subscriptionId: number, error: string): void {
  db.prepare(`UPDATE subscription_confirmations SET state = 'failed', lease_until = NULL, last_error = ? WHERE subscription_id = ?`).run(
    error.slice(0, 500),
    subscriptionId,
  );
}

export function dropConfirmation(db: DB, subscriptionId: number): void {
  db.prepare('DELETE FROM subscription_confirmations WHERE subscription_id = ?').run(subscriptionId);
}

export type AttemptScope = 'ip' | 'address';

export function subscribeAttemptsSince(db: DB, scope: AttemptScope, key: string, sinceMs: number): { n: number; oldest: number | null } {
  return db
    .prepare('SELECT count(*) AS n, min(at) AS oldest FROM subscribe_attempts WHERE scope = ? AND key = ? AND at > ?')
    .get(scope, key, sinceMs) as { n: number; oldest: number | null };
}

export function insertSubscribeAttempt(db: DB, scope: AttemptScope, key: string, atMs: number): void {
  db.prepare('INSERT INTO subscribe_attempts (scope, key, at) VALUES (?, ?, ?)').run(scope, key, atMs);
}

export function pruneSubscribeAttempts(db: DB, beforeMs: number): void {
  db.prepare('DELETE FROM subscribe_attempts WHERE at <= ?').run(beforeMs);
}
