// The email consumer of the notification outbox (backend migration 015, notify_mail): the fan-out turns events into
// one row per event and subscriber; the sender claims due rows under a lease and records the relay's answer on each.
// The row's primary key (event_id, subscriber_id) is the idempotency key: it is created once (INSERT OR IGNORE) and
// marked sent only while still queued, in the transaction that records the 250.
import type { DB } from '#data/db.ts';
import { advanceNotifyCursor } from './notify.ts';
// Prepared once per database: the sender runs these per message.
import { stmt } from './prepared.ts';

export interface MailKey {
  eventId: number;
  subscriberId: number;
}

/**
 * Whether subscription `s` (and its subscriber `b`) should get event `e`: confirmed no later than the event happened,
 * and following everything, the event's section or its task. The fan-out and the send-time check share it.
 */
const MATCHES = `s.confirmed_at IS NOT NULL AND s.confirmed_at <= e.at AND (s.scope = 'all'
  OR (s.scope = 'section' AND s.section_id = e.section_id) OR (s.scope = 'task' AND s.task_id = e.task_id))`;

/**
 * One batch of the fan-out in one transaction: the next `limit` events past the 'email' cursor become rows for every
 * matching, confirmed subscriber who is not disabled (one row however many of their subscriptions match), and the
 * cursor moves past them. A crash before the commit leaves both undone; a batch run twice creates nothing twice.
 */
export function fanOutBatch(db: DB, limit: number, nowMs: number): { events: number; rows: number } {
  return db
    .transaction(() => {
      const after = (stmt(db, "SELECT event_id FROM notify_cursors WHERE consumer = 'email'").get() as { event_id: number }).event_id;
      const batch = stmt(
        db,
        'SELECT count(*) AS n, max(id) AS upto FROM (SELECT id FROM notify_events WHERE id > ? ORDER BY id LIMIT ?)',
      ).get(after, limit) as { n: number; upto: number | null };
      if (batch.upto === null) return { events: 0, rows: 0 };
      // Three index-friendly joins (section, task, everything) instead of one OR join; UNION keeps each pair once.
      const pairs = ['all', 'section', 'task']
        .map(
          (scope) => `SELECT e.id AS event_id, s.subscriber_id FROM notify_events e JOIN subscriptions s ON s.scope = '${scope}'
            ${scope === 'all' ? '' : `AND s.${scope}_id = e.${scope}_id`} AND ${MATCHES} WHERE e.id > @after AND e.id <= @upto`,
        )
        .join(' UNION ');
      const rows = stmt(
        db,
        `INSERT OR IGNORE INTO notify_mail (event_id, subscriber_id, next_attempt_at)
           SELECT p.event_id, p.subscriber_id, @now FROM (${pairs}) p
           JOIN subscribers b ON b.id = p.subscriber_id AND b.disabled_at IS NULL`,
      ).run({ after, upto: batch.upto, now: nowMs }).changes;
      advanceNotifyCursor(db, 'email', batch.upto);
      return { events: batch.n, rows };
    })
    .immediate();
}

/** Whether events wait past the 'email' cursor (cheap: one index probe). */
export function fanOutPending(db: DB): boolean {
  return (
    stmt(db, "SELECT 1 FROM notify_events WHERE id > (SELECT event_id FROM notify_cursors WHERE consumer = 'email') LIMIT 1").get() !==
    undefined
  );
}

/**
 * Frees every lease: for a sender starting up, which is the only one of its database (one backend per state folder).
 * Rows that were being sent when the previous process died become due again at once: at-least-once, same Message-ID.
 */
export function freeLeases(db: DB): number {
  return stmt(db, "UPDATE notify_mail SET lease_until = NULL WHERE state = 'queued' AND lease_until IS NOT NULL").run().changes;
}

/** Claims up to `limit` due rows, oldest due first, leasing them until nowMs + leaseMs; counts the attempt. */
export function claimDueMail(db: DB, nowMs: number, leaseMs: number, limit: number): (MailKey & { attempts: number })[] {
  const rows = stmt(
    db,
    `UPDATE notify_mail SET lease_until = @until, attempts = attempts + 1
       WHERE (event_id, subscriber_id) IN (
         SELECT event_id, subscriber_id FROM notify_mail
         WHERE state = 'queued' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until <= @now)
         ORDER BY next_attempt_at LIMIT @limit)
       RETURNING event_id, subscriber_id, attempts`,
  ).all({ now: nowMs, until: nowMs + leaseMs, limit }) as { event_id: number; subscriber_id: number; attempts: number }[];
  return rows.map((r) => ({ eventId: r.event_id, subscriberId: r.subscriber_id, attempts: r.attempts }));
}

/**
 * The recipient of a claimed row if it is still to be sent at this instant: the subscriber exists, is not disabled, and
 * a confirmed subscription of theirs still matches the event. Otherwise the row is deleted (an unsubscribe or a
 * disabling stops queued mail at once) and null is returned.
 */
export function recipientOrDrop(db: DB, k: MailKey): { email: string } | null {
  const row = stmt(
    db,
    `SELECT b.email FROM subscribers b WHERE b.id = @sid AND b.disabled_at IS NULL AND EXISTS (
         SELECT 1 FROM notify_events e JOIN subscriptions s ON s.subscriber_id = b.id AND ${MATCHES} WHERE e.id = @eid)`,
  ).get({ sid: k.subscriberId, eid: k.eventId }) as { email: string } | undefined;
  if (row) return row;
  stmt(db, "DELETE FROM notify_mail WHERE event_id = ? AND subscriber_id = ? AND state = 'queued'").run(k.eventId, k.subscriberId);
  return null;
}

/**
 * The relay answered 250 to each of these: each row is sent, with the relay's answer (kept in last_error, the row's last
 * answer), and its subscriber's run of permanent failures ends; one transaction for the lot (the sender commits what
 * finished since its last commit, at once). Returns the rows that were no longer queued (nothing changed for them).
 */
export function markMailSent(db: DB, sent: readonly (MailKey & { reply: string })[], atIso: string): MailKey[] {
  return db
    .transaction(() => {
      const stale: MailKey[] = [];
      const mark = stmt(
        db,
        `UPDATE notify_mail SET state = 'sent', sent_at = ?, last_error = ?, lease_until = NULL
         WHERE event_id = ? AND subscriber_id = ? AND state = 'queued'`,
      );
      const reset = stmt(db, 'UPDATE subscribers SET failures = 0 WHERE id = ? AND failures <> 0');
      for (const k of sent) {
        if (mark.run(atIso, k.reply.slice(0, 1000), k.eventId, k.subscriberId).changes) reset.run(k.subscriberId);
        else stale.push({ eventId: k.eventId, subscriberId: k.subscriberId });
      }
      return stale;
    })
    .immediate();
}

/** A temporary failure: due again at nextMs, with the error. */
export function markMailRetry(db: DB, k: MailKey, nextMs: number, error: string): void {
  stmt(
    db,
    `UPDATE notify_mail SET lease_until = NULL, next_attempt_at = ?, last_error = ?
     WHERE event_id = ? AND subscriber_id = ? AND state = 'queued'`,
  ).run(nextMs, error.slice(0, 1000), k.eventId, k.subscriberId);
}

/**
 * The row failed for good (next_attempt_at then says when). A permanent refusal (`counts`) adds one to the
 * subscriber's failures in a row; at `threshold` the subscriber is disabled. Returns whether this disabled them.
 */
export function markMailFailed(
  db: DB,
  k: MailKey,
  error: string,
  o: { nowMs: number; atIso: string; counts: boolean; threshold: number },
): boolean {
  return db
    .transaction(() => {
      const changed = stmt(
        db,
        `UPDATE notify_mail SET state = 'failed', lease_until = NULL, next_attempt_at = ?, last_error = ?
           WHERE event_id = ? AND subscriber_id = ? AND state = 'queued'`,
      ).run(o.nowMs, error.slice(0, 1000), k.eventId, k.subscriberId).changes;
      if (!changed || !o.counts) return false;
      const r = stmt(
        db,
        `UPDATE subscribers SET failures = failures + 1,
             disabled_reason = CASE WHEN disabled_at IS NULL AND failures + 1 >= @threshold THEN @reason ELSE disabled_reason END,
             disabled_at = CASE WHEN disabled_at IS NULL AND failures + 1 >= @threshold THEN @at ELSE disabled_at END
           WHERE id = @id RETURNING disabled_at = @at AS now_disabled`,
      ).get({
        id: k.subscriberId,
        threshold: o.threshold,
        at: o.atIso,
        reason: `${o.threshold} permanent failures in a row; last: ${error}`.slice(0, 1000),
      }) as { now_disabled: number } | undefined;
      return r?.now_disabled === 1;
    })
    .immediate();
}

/** When the next queued row can be claimed (due and its lease, if any, ended); null: none queued. */
export function nextMailDue(db: DB): number | null {
  const r = stmt(db, "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) AS t FROM notify_mail WHERE state = 'queued'").get() as {
    t: number | null;
  };
  return r.t;
}
