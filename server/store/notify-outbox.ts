// What staff see of subscriber mail (/staff/notify, GET /api/v1/notify/outbox): the email outbox's counts, its latest
// failures with the relay's words, and the subscribers the sender disabled. Read-only but for enabling a subscriber.
import type { DB } from '#data/db.ts';

export interface OutboxCounts {
  queued: number;
  /** Queued rows that failed at least once and wait for their next try. */
  retrying: number;
  sent: number;
  failed: number;
  /** Events past the 'email' cursor, not fanned out yet. */
  eventsWaiting: number;
  /** When the oldest queued row fell due (ms since the epoch), null when nothing is queued. */
  oldestDueAt: number | null;
}

export interface OutboxFailure {
  eventId: number;
  subscriberId: number;
  email: string;
  state: 'queued' | 'failed';
  attempts: number;
  /** The relay's answer or the connection error, as text (mail data: escape it). */
  error: string;
  /** failed: when it failed; queued: when it is tried again (ms since the epoch). */
  at: number;
}

export interface DisabledSubscriber {
  id: number;
  email: string;
  failures: number;
  disabledAt: string;
  reason: string | null;
}

export function outboxCounts(db: DB): OutboxCounts {
  const n = { queued: 0, sent: 0, failed: 0 } as Record<'queued' | 'sent' | 'failed', number>;
  for (const r of db.prepare('SELECT state, count(*) AS n FROM notify_mail GROUP BY state').all() as { state: keyof typeof n; n: number }[])
    n[r.state] = r.n;
  const q = db
    .prepare(
      "SELECT count(*) FILTER (WHERE last_error IS NOT NULL) AS retrying, min(next_attempt_at) AS oldest FROM notify_mail WHERE state = 'queued'",
    )
    .get() as { retrying: number; oldest: number | null };
  const waiting = db
    .prepare("SELECT count(*) AS n FROM notify_events WHERE id > (SELECT event_id FROM notify_cursors WHERE consumer = 'email')")
    .get() as { n: number };
  return { ...n, retrying: q.retrying, eventsWaiting: waiting.n, oldestDueAt: q.oldest };
}

/** The latest failed rows and queued rows waiting after an error, newest first. */
export function latestFailures(db: DB, limit: number): OutboxFailure[] {
  const rows = db
    .prepare(
      `SELECT m.event_id, m.subscriber_id, b.email, m.state, m.attempts, m.last_error, m.next_attempt_at
       FROM notify_mail m JOIN subscribers b ON b.id = m.subscriber_id
       WHERE m.state = 'failed' OR (m.state = 'queued' AND m.last_error IS NOT NULL)
       ORDER BY m.next_attempt_at DESC LIMIT ?`,
    )
    .all(limit) as {
    event_id: number;
    subscriber_id: number;
    email: string;
    state: 'queued' | 'failed';
    attempts: number;
    last_error: string;
    next_attempt_at: number;
  }[];
  return rows.map((r) => ({
    eventId: r.event_id,
    subscriberId: r.subscriber_id,
    email: r.email,
    state: r.state,
    attempts: r.attempts,
    error: r.last_error,
    at: r.next_attempt_at,
  }));
}

export function disabledSubscribers(db: DB, limit: number): DisabledSubscriber[] {
  const rows = db
    .prepare(
      'SELECT id, email, failures, disabled_at, disabled_reason FROM subscribers WHERE disabled_at IS NOT NULL ORDER BY disabled_at DESC, id LIMIT ?',
    )
    .all(limit) as { id: number; email: string; failures: number; disabled_at: string; disabled_reason: string | null }[];
  return rows.map((r) => ({ id: r.id, email: r.email, failures: r.failures, disabledAt: r.disabled_at, reason: r.disabled_reason }));
}

export function subscriberEmail(db: DB, id: number): { email: string; disabled: boolean } | undefined {
  const r = db.prepare('SELECT email, disabled_at FROM subscribers WHERE id = ?').get(id) as
    | { email: string; disabled_at: string | null }
    | undefined;
  return r && { email: r.email, disabled: r.disabled_at !== null };
}

/** Clears the disabling and the failure run: later events reach the subscriber again (earlier ones are not resent). */
export function enableSubscriberRow(db: DB, id: number): void {
  db.prepare('UPDATE subscribers SET disabled_at = NULL, disabled_reason = NULL, failures = 0 WHERE id = ?').run(id);
}
