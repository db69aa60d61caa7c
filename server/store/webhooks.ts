// Webhook endpoints, their deliveries (one per event and endpoint) and the attempt log (backend migration 016).
import type { DB } from '#data/db.ts';
import type { NotifyEvent } from '#data/contracts/notify.ts';
import { webhookId, type WebhookAttemptView, type WebhookView } from '#data/contracts/webhooks.ts';

interface EndpointRow {
  id: number;
  url: string;
  section_id: number | null;
  slug: string | null;
  name: string | null;
  description: string;
  created_at: string;
  created_by: string;
  consecutive_failures: number;
  disabled_at: string | null;
  disabled_reason: string | null;
}

const ENDPOINTS = `SELECT w.id, w.url, w.section_id, s.slug, s.name, w.description, w.created_at, w.created_by,
  w.consecutive_failures, w.disabled_at, w.disabled_reason FROM webhook_endpoints w LEFT JOIN sections s ON s.id = w.section_id`;

const view = (r: EndpointRow): WebhookView => ({
  id: r.id,
  url: r.url,
  section: r.slug !== null && r.name !== null ? { slug: r.slug, name: r.name } : null,
  description: r.description,
  createdAt: r.created_at,
  createdBy: r.created_by,
  enabled: r.disabled_at === null,
  consecutiveFailures: r.consecutive_failures,
  disabledAt: r.disabled_at,
  disabledReason: r.disabled_reason,
});

export function listWebhooks(db: DB): WebhookView[] {
  return (db.prepare(`${ENDPOINTS} ORDER BY w.id`).all() as EndpointRow[]).map(view);
}

export function findWebhook(db: DB, id: number): WebhookView | undefined {
  const r = db.prepare(`${ENDPOINTS} WHERE w.id = ?`).get(id) as EndpointRow | undefined;
  return r && view(r);
}

export function insertWebhook(
  db: DB,
  w: { url: string; sectionId: number | null; description: string; secret: string; at: string; by: string },
): number {
  return Number(
    db
      .prepare('INSERT INTO webhook_endpoints (url, section_id, description, secret, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)')
      .run(w.url, w.sectionId, w.description, w.secret, w.at, w.by).lastInsertRowid,
  );
}

export function deleteWebhook(db: DB, id: number): boolean {
  return db.prepare('DELETE FROM webhook_endpoints WHERE id = ?').run(id).changes > 0;
}

/** Enabling also forgets the failures that disabled it: the endpoint starts over. */
export function setWebhookDisabled(db: DB, id: number, disabled: { at: string; reason: string } | null): void {
  if (disabled)
    db.prepare('UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ?').run(disabled.at, disabled.reason, id);
  else db.prepare('UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, consecutive_failures = 0 WHERE id = ?').run(id);
}

/** One queued delivery per enabled endpoint the event matches (every event, or its section's); repeats are ignored. */
export function fanOutWebhooks(db: DB, events: NotifyEvent[], nowMs: number): number {
  const insert = db.prepare(
    `INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at)
     SELECT ?, id, ? FROM webhook_endpoints WHERE disabled_at IS NULL AND (section_id IS NULL OR section_id = ?)
     ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
  );
  let n = 0;
  for (const e of events) n += insert.run(e.id, nowMs, e.sectionId).changes;
  return n;
}

export interface DueDelivery {
  id: number;
  eventId: number;
  endpointId: number;
  attempts: number;
  url: string;
  secret: string;
  kind: NotifyEvent['kind'];
  at: string;
  payload: string;
}

/** Takes up to `limit` due deliveries of enabled endpoints under a lease (a crash mid-send frees them when it ends). */
export function claimDueWebhooks(db: DB, nowMs: number, leaseMs: number, limit: number): DueDelivery[] {
  return db.transaction(() => {
    const rows = db
      .prepare(
        `SELECT d.id, d.event_id AS eventId, d.endpoint_id AS endpointId, d.attempts, w.url, w.secret, e.kind, e.at, e.payload
         FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN notify_events e ON e.id = d.event_id
         WHERE d.state = 'queued' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
           AND w.disabled_at IS NULL
         ORDER BY d.next_attempt_at, d.id LIMIT ?`,
      )
      .all(nowMs, nowMs, limit) as DueDelivery[];
    const lease = db.prepare('UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?');
    for (const r of rows) lease.run(nowMs + leaseMs, r.id);
    return rows;
  })();
}

export interface AttemptResult {
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface RetryPolicy {
  /** Wait before each retry: the n-th entry after the n-th failed attempt; past the last, the delivery has failed. */
  retryDelaysMs: readonly number[];
  /** Deliveries failed in a row (all their attempts) that disable the endpoint. */
  disableAfter: number;
}

/**
 * Logs the attempt and moves the delivery on, in one transaction: delivered, a retry later, or failed for good (which
 * counts towards disabling its endpoint; a delivery that gets through resets that count).
 */
export function recordWebhookAttempt(db: DB, d: DueDelivery, r: AttemptResult, now: Date, policy: RetryPolicy): void {
  const attempt = d.attempts + 1;
  const nowIso = now.toISOString();
  db.transaction(() => {
    db.prepare('INSERT INTO webhook_attempts (delivery_id, attempt, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)').run(
      d.id,
      attempt,
      nowIso,
      r.status,
      r.error,
      Math.max(0, Math.round(r.durationMs)),
    );
    if (r.error === null) {
      db.prepare(`UPDATE webhook_deliveries SET state = 'delivered', attempts = ?, lease_until = NULL, finished_at = ? WHERE id = ?`).run(
        attempt,
        nowIso,
        d.id,
      );
      db.prepare('UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = ?').run(d.endpointId);
      return;
    }
    const delay = policy.retryDelaysMs[attempt - 1];
    if (delay !== undefined) {
      db.prepare('UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?, lease_until = NULL WHERE id = ?').run(
        attempt,
        now.getTime() + delay,
        d.id,
      );
      return;
    }
    db.prepare(`UPDATE webhook_deliveries SET state = 'failed', attempts = ?, lease_until = NULL, finished_at = ? WHERE id = ?`).run(
      attempt,
      nowIso,
      d.id,
    );
    const { n } = db
      .prepare(
        'UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 WHERE id = ? RETURNING consecutive_failures AS n',
      )
      .get(d.endpointId) as { n: number };
    if (n >= policy.disableAfter)
      db.prepare('UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL').run(
        nowIso,
        `${n} deliveries in a row failed (last: ${r.error})`,
        d.endpointId,
      );
  })();
}

/** The delivery log: the latest attempts, newest first, of one endpoint or of all. */
export function webhookAttempts(db: DB, endpointId: number | null, limit = 100): (WebhookAttemptView & { endpointId: number })[] {
  const rows = db
    .prepare(
      `SELECT a.delivery_id AS deliveryId, d.event_id AS eventId, d.endpoint_id AS endpointId, e.kind, a.attempt, a.at, a.status,
         a.error, a.duration_ms AS durationMs, d.state
       FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN notify_events e ON e.id = d.event_id
       WHERE ? IS NULL OR d.endpoint_id = ? ORDER BY a.id DESC LIMIT ?`,
    )
    .all(endpointId, endpointId, limit) as Omit<WebhookAttemptView & { endpointId: number }, 'webhookId'>[];
  return rows.map((r) => ({ ...r, webhookId: webhookId(r.eventId, r.endpointId) }));
}

/** The sections an endpoint may follow, in the site's order. */
export function sectionChoices(db: DB): { slug: string; name: string }[] {
  return db.prepare('SELECT slug, name FROM sections ORDER BY position, id').all() as { slug: string; name: string }[];
}
