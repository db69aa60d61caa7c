// SQL of the email subscriptions (backend migrations 015 and 018): subscribers, their follows and the confirmation
// queue. No rule lives here; the services in server/services/subscriptions decide.
import type { DB } from '#data/db.ts';
import type { SubscriptionScope } from '#data/contracts/subscriptions.ts';

/** The HMAC key of the subscribers' link tokens (drawn by migration 018). */
export function linkSecret(db: DB): string {
  return (db.prepare('SELECT secret FROM subscription_link_secret WHERE id = 1').get() as { secret: string }).secret;
}

export interface SubscriberRow {
  id: number;
  email: string;
  created_at: string;
  /** Set by the sender after permanent refusals in a row: nothing is sent until a follow is confirmed again. */
  disabled_at: string | null;
}

export function subscriberByEmail(db: DB, email: string): SubscriberRow | undefined {
  return db.prepare('SELECT id, email, created_at, disabled_at FROM subscribers WHERE email = ?').get(email) as SubscriberRow | undefined;
}

export function subscriberByTokenHash(db: DB, hash: string): SubscriberRow | undefined {
  return db.prepare('SELECT id, email, created_at, disabled_at FROM subscribers WHERE token_hash = ?').get(hash) as
    | SubscriberRow
    | undefined;
}

/** Takes the next never-used subscriber id (migration 018's subscriber_ids); call inside the inserting transaction. */
export function takeSubscriberId(db: DB): number {
  const row = db.prepare('UPDATE subscriber_ids SET next_id = next_id + 1 WHERE id = 1 RETURNING next_id - 1 AS id').get() as {
    id: number;
  };
  // A row inserted some other way (a restore) must not collide: jump past the largest id in use.
  const max = (db.prepare('SELECT coalesce(max(id), 0) AS m FROM subscribers').get() as { m: number }).m;
  if (row.id > max) return row.id;
  db.prepare('UPDATE subscriber_ids SET next_id = ? WHERE id = 1').run(max + 2);
  return max + 1;
}

export function insertSubscriber(db: DB, s: { id: number; email: string; tokenHash: string; at: string }): void {
  db.prepare('INSERT INTO subscribers (id, email, token_hash, created_at) VALUES (?, ?, ?, ?)').run(s.id, s.email, s.tokenHash, s.at);
}

export function deleteSubscriber(db: DB, id: number): boolean {
  return db.prepare('DELETE FROM subscribers WHERE id = ?').run(id).changes > 0;
}

export interface Target {
  scope: SubscriptionScope;
  sectionId: number | null;
  taskId: number | null;
}

export function sectionIdBySlug(db: DB, slug: string): number | undefined {
  return (db.prepare('SELECT id FROM sections WHERE slug = ?').get(slug) as { id: number } | undefined)?.id;
}

export function taskExists(db: DB, id: number): boolean {
  return db.prepare('SELECT 1 FROM tasks WHERE id = ?').get(id) !== undefined;
}

export interface SubscriptionState {
  id: number;
  confirmed: boolean;
}

export function findSubscription(db: DB, subscriberId: number, t: Target): SubscriptionState | undefined {
  const row = db
    .prepare(
      `SELECT id, confirmed_at FROM subscriptions WHERE subscriber_id = ? AND scope = ?
       AND coalesce(section_id, 0) = ? AND coalesce(task_id, 0) = ?`,
    )
    .get(subscriberId, t.scope, t.sectionId ?? 0, t.taskId ?? 0) as { id: number; confirmed_at: string | null } | undefined;
  return row && { id: row.id, confirmed: row.confirmed_at !== null };
}

/** A follow waiting for its double opt-in; confirmHash is a placeholder until the job draws the link's secret. */
export function insertPendingSubscription(db: DB, subscriberId: number, t: Target, at: string, confirmHash: string): number {
  return Number(
    db
      .prepare('INSERT INTO subscriptions (subscriber_id, scope, section_id, task_id, created_at, confirm_hash) VALUES (?, ?, ?, ?, ?, ?)')
      .run(subscriberId, t.scope, t.sectionId, t.taskId, at, confirmHash).lastInsertRowid,
  );
}

/** A confirmed follow of a disabled subscriber waits for a new double opt-in (confirmHash: a placeholder, as above). */
export function reopenFollow(db: DB, id: number, at: string, confirmHash: string): void {
  db.prepare('UPDATE subscriptions SET confirmed_at = NULL, confirm_hash = ?, created_at = ? WHERE id = ?').run(confirmHash, at, id);
}

/** A repeated request for a pending follow starts its 48 hours again. */
export function restartPending(db: DB, id: number, at: string): void {
  db.prepare('UPDATE subscriptions SET created_at = ? WHERE id = ? AND confirmed_at IS NULL').run(at, id);
}

/** Queues (or queues again) the follow's confirmation mail, due now. */
export function queueConfirmation(db: DB, subscriptionId: number, nowMs: number): void {
  db.prepare(
    `INSERT INTO subscription_confirmations (subscription_id, next_attempt_at) VALUES (?, ?)
     ON CONFLICT (subscription_id) DO UPDATE SET state = 'queued', attempts = 0, next_attempt_at = excluded.next_attempt_at,
       lease_until = NULL, last_error = NULL, sent_at = NULL`,
  ).run(subscriptionId, nowMs);
}

export interface FollowRow {
  id: number;
  subscriber_id: number;
  scope: SubscriptionScope;
  confirmed_at: string | null;
  section_slug: string | null;
  section_name: string | null;
  task_id: number | null;
  task_summary: string | null;
}

const FOLLOW_SELECT = `SELECT s.id, s.subscriber_id, s.scope, s.confirmed_at, sec.slug AS section_slug, sec.name AS section_name,
  t.id AS task_id, t.summary AS task_summary
  FROM subscriptions s LEFT JOIN sections sec ON sec.id = s.section_id LEFT JOIN tasks t ON t.id = s.task_id`;

export function followsOf(db: DB, subscriberId: number): FollowRow[] {
  return db
    .prepare(`${FOLLOW_SELECT} WHERE s.subscriber_id = ? ORDER BY s.scope, sec.position, sec.name, t.id`)
    .all(subscriberId) as FollowRow[];
}

export function pendingFollowByHash(db: DB, hash: string): FollowRow | undefined {
  return db.prepare(`${FOLLOW_SELECT} WHERE s.confirm_hash = ? AND s.confirmed_at IS NULL`).get(hash) as FollowRow | undefined;
}

/** Confirms the pending follow whose link hashes to `hash`; false when there is none (used, replaced or expired). */
export function confirmByHash(db: DB, hash: string, at: string): boolean {
  return (
    db
      .prepare('UPDATE subscriptions SET confirmed_at = ?, confirm_hash = NULL WHERE confirm_hash = ? AND confirmed_at IS NULL')
      .run(at, hash).changes > 0
  );
}

/** The subscriber asked for mail again: a relay's earlier refusals no longer count against them. */
export function clearSubscriberFailures(db: DB, id: number): void {
  db.prepare('UPDATE subscribers SET failures = 0, disabled_at = NULL, disabled_reason = NULL WHERE id = ?').run(id);
}

export function deleteFollow(db: DB, subscriberId: number, id: number): boolean {
  return db.prepare('DELETE FROM subscriptions WHERE id = ? AND subscriber_id = ?').run(id, subscriberId).changes > 0;
}

/**
 * Deletes the follows still unconfirmed since before `before`, and then their subscribers when nothing else is left;
 * returns how many of each.
 */
export function deleteExpiredPending(db: DB, before: string): { follows: number; subscribers: number } {
  const owners = db
    .prepare('SELECT DISTINCT subscriber_id AS id FROM subscriptions WHERE confirmed_at IS NULL AND created_at < ?')
    .all(before) as { id: number }[];
  const follows = db.prepare('DELETE FROM subscriptions WHERE confirmed_at IS NULL AND created_at < ?').run(before).changes;
  const lonely = db.prepare('DELETE FROM subscribers WHERE id = ? AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE subscriber_id = ?)');
  let subscribers = 0;
  for (const o of owners) subscribers += lonely.run(o.id, o.id).changes;
  return { follows, subscribers };
}
