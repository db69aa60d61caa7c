// SQL for the node queue: accepted messages, delivery rows with leases, and the event log.
import type { PurgeReason, QuarantineAction, QuarantineRefusal } from '#data/contracts/quarantine.ts';
import type { BounceReason, RejectReason, RouteKind, TelemetryEventType } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import type { ShadowReason, ShadowVerdictKind } from '#data/contracts/shadow.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import { entryDetail } from '#mailsystem/quarantine/entry.ts';

/** Why a message is in the queue: accepted from an SMTP client, or a DSN this node generated (messages.origin). */
export type MessageOrigin = 'smtp' | 'dsn';

export interface AcceptedMessage {
  id: string;
  receivedAt: number;
  envelopeFrom: string;
  clientIp: string;
  helo: string;
  body: Buffer;
  isSpam?: boolean;
  deliveries: QueuedDelivery[];
  /** Why this message exists; default 'smtp'. A DSN is logged as a 'dsn' event, not as 'accepted'. */
  origin?: MessageOrigin;
  /** Shadow recipients' dry-run verdicts (policy/shadow.ts), each a 'shadow-verdict' event: {"verdict": …} as JSON. */
  shadow?: ShadowRecord[];
}

/** A shadow recipient's dry-run verdict as the event log keeps it: the verdict and reason, and the whole as JSON. */
export interface ShadowRecord {
  recipient: string;
  verdict: ShadowVerdictKind;
  reason: ShadowReason;
  /** {"verdict": ShadowVerdict} as JSON: the shipper sends it with the event (mailsystem/telemetry/events.ts). */
  detail: string;
}

/** Headers added to one copy when it is delivered, and a prefix for its Subject (a 'tag' policy). */
export interface AddedHeaders {
  headers: [name: string, value: string][];
  subjectPrefix: string | null;
}

/**
 * Why a copy is kept back instead of delivered, the scanners' verdict behind it, and what the backend's index shows of
 * it: built before the queue's transaction (mailsystem/quarantine/entry.ts quarantineRecord), as JSON text.
 */
export interface QuarantineRecord {
  reason: 'spam' | 'virus';
  /** The verdict record as JSON. */
  verdict: string;
  /** The QuarantineEntry but its deliveryId and size, as JSON (entry.ts entryDraft). */
  entry: string;
}

export interface QueuedDelivery {
  recipient: string;
  route: Route;
  /** Applied when this copy is delivered; the stored body is shared by every copy. */
  added?: AddedHeaders;
  /** Kept in quarantine, not delivered: the row starts in state 'quarantined' and keeps the body. */
  quarantine?: QuarantineRecord;
}

export interface ClaimedDelivery {
  id: number;
  messageId: string;
  recipient: string;
  route: Route;
  attempts: number;
  createdAt: number;
  envelopeFrom: string;
  isSpam: boolean;
  delayedDsnAt: number | null;
  added: AddedHeaders | null;
}

export interface RejectedEvent {
  at: number;
  /** A closed union shared with the backend (data/contracts/telemetry.ts): no free strings in the log. */
  reason: RejectReason;
  recipient?: string;
  detail?: Record<string, unknown>;
}

/**
 * One row of the event log as this node writes it. Each type names the columns it fills, and the reason
 * column takes only the contract's unions, so the compiler proves every row maps to a TelemetryEvent.
 */
type EventRow =
  | { type: 'accepted' | 'dsn'; at: number; messageId: string; detail: string }
  | { type: 'rejected'; at: number; reason: RejectReason; recipient: string | null; detail: string | null }
  | { type: 'delivered'; at: number; delivery: ClaimedDelivery; route: RouteKind; latencyMs: number }
  | { type: 'deferred'; at: number; delivery: ClaimedDelivery; route: RouteKind; detail: string }
  | { type: 'bounced'; at: number; delivery: ClaimedDelivery; route: RouteKind; reason: BounceReason; detail: string }
  | {
      type: 'quarantined';
      at: number;
      messageId: string;
      deliveryId: number;
      recipient: string;
      route: RouteKind;
      reason: 'spam' | 'virus';
      /** {"entry": QuarantineEntry} as JSON: the shipper sends the entry with the event (mailsystem/telemetry/events.ts). */
      detail: string;
    }
  | ({ type: 'shadow-verdict'; at: number; messageId: string } & ShadowRecord)
  | { type: 'released'; at: number; copy: QuarantinedCopy; actionId: number }
  | { type: 'purged'; at: number; copy: QuarantinedCopy; reason: PurgeReason; actionId: number | null }
  | {
      type: 'quarantine-refused';
      at: number;
      deliveryId: number;
      copy: DeliveryNames | { messageId: string; recipient: null; route: null };
      actionId: number;
      why: QuarantineRefusal;
    };

/** What the node knows of a delivery row named by a staff action. */
interface DeliveryNames {
  messageId: string;
  recipient: string;
  route: RouteKind;
}

/** A copy in the quarantine, as a release or deletion finds it. */
interface QuarantinedCopy {
  id: number;
  messageId: string;
  recipient: string;
  route: RouteKind;
  reason: 'spam' | 'virus';
}

/** Why a quarantined copy is deleted: a staff action (its id goes into the event), or the retention. */
export type PurgeCause = { reason: 'staff'; actionId: number } | { reason: 'retention' };

/**
 * What a staff action did to its copy. Anything but 'released' / 'deleted' changed nothing: the copy is not in the
 * quarantine (already released or deleted, or never here), or it holds a virus, which is never released.
 */
export type QuarantineActionResult = 'released' | 'deleted' | 'not-quarantined' | 'virus-kept';

/**
 * What an observer of the event log sees of each row as it is written (e.g. the node's Prometheus counters). It is
 * called inside the write's transaction, right after the row's INSERT succeeded.
 */
export type ObservedEvent =
  | { type: 'accepted' | 'dsn' }
  | { type: 'rejected'; reason: RejectReason }
  | { type: 'delivered'; route: RouteKind; latencyMs: number }
  | { type: 'deferred'; route: RouteKind }
  | { type: 'bounced'; route: RouteKind; reason: BounceReason }
  | { type: 'quarantined'; route: RouteKind; reason: 'spam' | 'virus' }
  | { type: 'released'; route: RouteKind }
  | { type: 'purged'; route: RouteKind; reason: PurgeReason }
  | { type: 'quarantine-refused'; why: QuarantineRefusal }
  | { type: 'shadow-verdict'; verdict: ShadowVerdictKind; reason: ShadowReason };
export type EventObserver = (e: ObservedEvent) => void;

/** The types the node writes today are all types the contract knows. */
export type EventType = EventRow['type'] & TelemetryEventType;

interface ClaimRow {
  id: number;
  message_id: string;
  recipient: string;
  route: string;
  attempts: number;
  created_at: number;
  envelope_from: string;
  is_spam: number;
  delayed_dsn_at: number | null;
  added_headers: string | null;
}

/**
 * Which deliveries a claim takes: the built-in Maildir ('local': a file on this host, idempotent, so many may run at
 * once), every other route ('remote': a connection to another server each, and a duplicate per delivery in flight if
 * the node crashes), or any.
 */
export type ClaimLane = 'local' | 'remote';

function claimStatement(db: DB, laneFilter: string) {
  return db.prepare(`UPDATE deliveries SET lease_owner = @owner, lease_until = @until, attempts = attempts + 1,
                       first_attempt_at = coalesce(first_attempt_at, @now), last_attempt_at = @now
                     WHERE id IN (SELECT id FROM deliveries WHERE state = 'queued' AND next_attempt_at <= @now
                                    AND (lease_until IS NULL OR lease_until <= @now) ${laneFilter}
                                  ORDER BY next_attempt_at LIMIT @limit)
                     RETURNING id`);
}

/** Prepared statements; every method is synchronous and meant to run inside a group commit. */
export class QueueStore {
  private readonly db: DB;
  private readonly s;
  private readonly observe: EventObserver;

  /** `observe` sees every event row this store writes (default: nobody). */
  constructor(db: DB, observe: EventObserver = () => {}) {
    this.db = db;
    this.observe = observe;
    this.s = {
      // The body goes into its own rowid table (003_message_bodies.sql): appended once, deleted
      // when the message is done, so the small messages row is never rewritten for it.
      insertBody: db.prepare(`INSERT INTO message_bodies (body) VALUES (?)`),
      message: db.prepare(`INSERT INTO messages (id, received_at, envelope_from, client_ip, helo, size, is_spam, body_id, origin)
                           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      delivery:
        db.prepare(`INSERT INTO deliveries (message_id, recipient, route_kind, route, created_at, next_attempt_at, added_headers, state)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      quarantine: db.prepare(`INSERT INTO quarantine (delivery_id, reason, verdict, quarantined_at) VALUES (?, ?, ?, ?)`),
      event: db.prepare(`INSERT INTO events (at, type, message_id, delivery_id, recipient, route_kind, latency_ms, reason, detail)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      claim: claimStatement(db, ''),
      claimLocal: claimStatement(db, `AND route_kind = 'maildir'`),
      claimRemote: claimStatement(db, `AND route_kind <> 'maildir'`),
      // Found through deliveries_message: the copies of one message, not every due row.
      claimMates: claimStatement(
        db,
        `AND message_id = @messageId AND route_kind = @kind AND json_extract(route, '$.host') = @host
         AND json_extract(route, '$.port') = @port AND added_headers IS @added`,
      ),
      claimed: db.prepare(`SELECT d.id, d.message_id, d.recipient, d.route, d.attempts, d.created_at, d.delayed_dsn_at, d.added_headers,
                                  m.envelope_from, m.is_spam
                           FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.id = ?`),
      body: db.prepare(`SELECT b.body FROM messages m JOIN message_bodies b ON b.id = m.body_id WHERE m.id = ?`).pluck(),
      delivered: db.prepare(`UPDATE deliveries SET state = 'delivered', done_at = @now, last_response = @response,
                               lease_owner = NULL, lease_until = NULL WHERE id = @id AND state = 'queued'`),
      deferred: db.prepare(`UPDATE deliveries SET next_attempt_at = @next, last_response = @response,
                              lease_owner = NULL, lease_until = NULL WHERE id = @id AND state = 'queued'`),
      bounced: db.prepare(`UPDATE deliveries SET state = 'bounced', done_at = @now, last_response = @response,
                             lease_owner = NULL, lease_until = NULL WHERE id = @id AND state = 'queued'`),
      delayedDsn: db.prepare(`UPDATE deliveries SET delayed_dsn_at = ? WHERE id = ?`),
      // A quarantined copy may still be released: its body stays until it is released, deleted or pruned.
      openCount: db.prepare(`SELECT count(*) FROM deliveries WHERE message_id = ? AND state IN ('queued', 'quarantined')`).pluck(),
      dropBody: db.prepare(`DELETE FROM message_bodies WHERE id = (SELECT body_id FROM messages WHERE id = ?)`),
      quarantineOlderThan: db.prepare(`SELECT q.delivery_id AS id, d.message_id AS messageId FROM quarantine q
                                        JOIN deliveries d ON d.id = q.delivery_id
                                        WHERE q.quarantined_at < ? ORDER BY q.quarantined_at LIMIT ?`),
      // A staff action names the message too (a rebuilt node database hands out delivery ids again); the retention not.
      quarantined: db.prepare(`SELECT d.id, d.message_id AS messageId, d.recipient, d.route_kind AS route, q.reason
                               FROM deliveries d JOIN quarantine q ON q.delivery_id = d.id
                               WHERE d.id = @id AND (@messageId IS NULL OR d.message_id = @messageId) AND d.state = 'quarantined'`),
      deliveryNames: db.prepare(`SELECT message_id AS messageId, recipient, route_kind AS route FROM deliveries WHERE id = ?`),
      unquarantine: db.prepare('DELETE FROM quarantine WHERE delivery_id = ?'),
      discard: db.prepare(`UPDATE deliveries SET state = 'discarded', done_at = ? WHERE id = ? AND state = 'quarantined'`),
      // Back in the queue as if it had just been accepted clean: due now, and its age (the retry schedule, the
      // delayed DSN, the expiry, the delivery latency) counted from the release, not from its time in quarantine.
      requeue: db.prepare(`UPDATE deliveries SET state = 'queued', created_at = @now, next_attempt_at = @now, attempts = 0,
                             first_attempt_at = NULL, last_attempt_at = NULL, last_response = NULL, delayed_dsn_at = NULL,
                             lease_owner = NULL, lease_until = NULL, done_at = NULL
                           WHERE id = @id AND state = 'quarantined'`),
      leaseOwners: db.prepare(`SELECT DISTINCT lease_owner FROM deliveries WHERE state = 'queued' AND lease_owner IS NOT NULL`).pluck(),
      release: db.prepare(`UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE state = 'queued' AND lease_owner = ?`),
      nextDue: db.prepare(`SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM deliveries WHERE state = 'queued'`).pluck(),
    };
  }

  insertAccepted(m: AcceptedMessage): void {
    const bodyId = this.s.insertBody.run(m.body).lastInsertRowid;
    const origin = m.origin ?? 'smtp';
    this.s.message.run(m.id, m.receivedAt, m.envelopeFrom, m.clientIp, m.helo, m.body.length, m.isSpam ? 1 : 0, bodyId, origin);
    const quarantined: { id: number; d: QueuedDelivery & { quarantine: QuarantineRecord } }[] = [];
    for (const d of m.deliveries) {
      const added = d.added && (d.added.headers.length > 0 || d.added.subjectPrefix) ? JSON.stringify(d.added) : null;
      const state = d.quarantine ? 'quarantined' : 'queued';
      const id = Number(
        this.s.delivery.run(m.id, d.recipient, d.route.kind, JSON.stringify(d.route), m.receivedAt, m.receivedAt, added, state)
          .lastInsertRowid,
      );
      if (d.quarantine) quarantined.push({ id, d: d as QueuedDelivery & { quarantine: QuarantineRecord } });
    }
    const detail = JSON.stringify({ size: m.body.length, deliveries: m.deliveries.length });
    this.event({ type: origin === 'dsn' ? 'dsn' : 'accepted', at: m.receivedAt, messageId: m.id, detail });
    // Each kept-back copy is an outcome of its own, counted like a delivery (the accounting line balances).
    // The record was built before this transaction (subject decoded, strings cleaned, JSON encoded): only the delivery
    // id and the stored size are added here.
    for (const { id, d } of quarantined) {
      this.s.quarantine.run(id, d.quarantine.reason, d.quarantine.verdict, m.receivedAt);
      this.event({
        type: 'quarantined',
        at: m.receivedAt,
        messageId: m.id,
        deliveryId: id,
        recipient: d.recipient,
        route: d.route.kind,
        reason: d.quarantine.reason,
        detail: entryDetail(d.quarantine.entry, id, m.body.length),
      });
    }
    for (const v of m.shadow ?? []) this.event({ type: 'shadow-verdict', at: m.receivedAt, messageId: m.id, ...v });
  }

  insertRejected(e: RejectedEvent): void {
    this.event({
      type: 'rejected',
      at: e.at,
      reason: e.reason,
      recipient: e.recipient ?? null,
      detail: e.detail ? JSON.stringify(e.detail) : null,
    });
  }

  /**
   * At start-up: frees the leases of owners that are gone (a crashed run), so their deliveries are due at once instead
   * of when the lease runs out. During a rolling restart two processes share the node database for a while; the
   * other one's leases stay, or both would deliver the same copies.
   */
  releaseLeasesOfGone(isLive: (owner: string) => boolean): number {
    let released = 0;
    for (const owner of this.s.leaseOwners.all() as string[]) if (!isLive(owner)) released += this.s.release.run(owner).changes;
    return released;
  }

  claimDue(owner: string, now: number, leaseMs: number, limit: number, lane?: ClaimLane): ClaimedDelivery[] {
    if (limit <= 0) return [];
    const claim = lane === 'local' ? this.s.claimLocal : lane === 'remote' ? this.s.claimRemote : this.s.claim;
    return this.db.transaction(() => this.claimed(claim.all({ owner, until: now + leaseMs, now, limit }))).immediate();
  }

  /**
   * Claims like claimDue, up to `limit`, the due copies of d's message that can share d's session: the same route kind,
   * host and port (an LMTP server or the legacy host), and the same added headers, so the same bytes (render.ts).
   */
  claimSessionMates(owner: string, now: number, leaseMs: number, d: ClaimedDelivery, limit: number): ClaimedDelivery[] {
    if (limit <= 0 || (d.route.kind !== 'lmtp' && d.route.kind !== 'legacy')) return [];
    const { kind, host, port } = d.route;
    const added = d.added === null ? null : JSON.stringify(d.added);
    const params = { owner, until: now + leaseMs, now, limit, messageId: d.messageId, kind, host, port, added };
    return this.db.transaction(() => this.claimed(this.s.claimMates.all(params))).immediate();
  }

  private claimed(ids: unknown[]): ClaimedDelivery[] {
    return (ids as { id: number }[]).map(({ id }) => {
      const r = this.s.claimed.get(id) as ClaimRow;
      return {
        id: r.id,
        messageId: r.message_id,
        recipient: r.recipient,
        route: JSON.parse(r.route) as Route,
        attempts: r.attempts,
        createdAt: r.created_at,
        envelopeFrom: r.envelope_from,
        isSpam: r.is_spam === 1,
        delayedDsnAt: r.delayed_dsn_at,
        added: r.added_headers === null ? null : (JSON.parse(r.added_headers) as AddedHeaders),
      };
    });
  }

  /** The accepted bytes; empty once every delivery of the message is final (the body is dropped). */
  messageBody(messageId: string): Buffer {
    return (this.s.body.get(messageId) as Buffer | undefined) ?? Buffer.alloc(0);
  }

  /** Each record* returns false when the row was no longer ours to change (already final). */
  recordDelivered(d: ClaimedDelivery, now: number, response: string): boolean {
    if (this.s.delivered.run({ id: d.id, now, response }).changes === 0) return false;
    this.event({ type: 'delivered', at: now, delivery: d, route: d.route.kind, latencyMs: now - d.createdAt });
    this.dropBodyWhenDone(d.messageId);
    return true;
  }

  recordDeferred(d: ClaimedDelivery, now: number, next: number, response: string): boolean {
    if (this.s.deferred.run({ id: d.id, next, response }).changes === 0) return false;
    const detail = JSON.stringify({ response, attempt: d.attempts, nextAttemptAt: next });
    this.event({ type: 'deferred', at: now, delivery: d, route: d.route.kind, detail });
    return true;
  }

  recordBounced(d: ClaimedDelivery, now: number, response: string, reason: BounceReason): boolean {
    if (this.s.bounced.run({ id: d.id, now, response }).changes === 0) return false;
    const detail = JSON.stringify({ response, attempts: d.attempts });
    this.event({ type: 'bounced', at: now, delivery: d, route: d.route.kind, reason, detail });
    this.dropBodyWhenDone(d.messageId);
    return true;
  }

  /**
   * Deletes a quarantined copy: its quarantine record goes, the delivery becomes 'discarded', and the body too once no
   * copy of the message is queued or quarantined. A 'purged' event says so (the backend's index follows it); it is no
   * outcome of its own: the copy was counted when it was quarantined. False when the copy is not in the quarantine.
   */
  deleteQuarantined(deliveryId: number, now: number, cause: PurgeCause, messageId: string | null = null): boolean {
    const copy = this.s.quarantined.get({ id: deliveryId, messageId }) as QuarantinedCopy | undefined;
    if (copy === undefined) return false;
    this.s.unquarantine.run(deliveryId);
    this.s.discard.run(now, deliveryId);
    this.event({ type: 'purged', at: now, copy, reason: cause.reason, actionId: cause.reason === 'staff' ? cause.actionId : null });
    this.dropBodyWhenDone(copy.messageId);
    return true;
  }

  /**
   * Releases a copy quarantined as spam: its quarantine record goes and it is queued again, due now, with the headers it
   * had (none: a kept-back copy is delivered as if clean), and a 'released' event names the staff action. A copy with
   * a virus is never released, whoever asks; a copy no longer in the quarantine is left alone (the same action can
   * arrive twice), and so is a delivery of another message than the one named.
   */
  releaseQuarantined(deliveryId: number, messageId: string, now: number, actionId: number): QuarantineActionResult {
    const copy = this.s.quarantined.get({ id: deliveryId, messageId }) as QuarantinedCopy | undefined;
    if (copy === undefined) return 'not-quarantined';
    if (copy.reason !== 'spam') return 'virus-kept';
    this.s.unquarantine.run(deliveryId);
    this.s.requeue.run({ id: deliveryId, now });
    this.event({ type: 'released', at: now, copy, actionId });
    return 'released';
  }

  /**
   * One staff action on one copy, in the caller's transaction (data/contracts/quarantine.ts QuarantineAction). An action
   * that changes nothing writes a 'quarantine-refused' event naming it, in the same transaction: the backend resolves
   * actions only from events, so without it the action would stay pending (and block every later one on the copy).
   */
  applyQuarantineAction(action: QuarantineAction, now: number): QuarantineActionResult {
    const result =
      action.action === 'release'
        ? this.releaseQuarantined(action.deliveryId, action.messageId, now, action.id)
        : this.deleteQuarantined(action.deliveryId, now, { reason: 'staff', actionId: action.id }, action.messageId)
          ? 'deleted'
          : 'not-quarantined';
    if (result === 'not-quarantined' || result === 'virus-kept') {
      // The event names the message the action named; the recipient and route only when the delivery is of it.
      const row = this.s.deliveryNames.get(action.deliveryId) as DeliveryNames | undefined;
      const copy = row?.messageId === action.messageId ? row : { messageId: action.messageId, recipient: null, route: null };
      const why = result === 'virus-kept' ? 'virus' : 'not-quarantined';
      this.event({ type: 'quarantine-refused', at: now, deliveryId: action.deliveryId, copy, actionId: action.id, why });
    }
    return result;
  }

  /** Deletes up to `limit` quarantined copies older than `before` (the retention); returns how many. */
  pruneQuarantine(before: number, now: number, limit: number): number {
    const old = this.s.quarantineOlderThan.all(before, limit) as { id: number }[];
    let n = 0;
    for (const { id } of old) if (this.deleteQuarantined(id, now, { reason: 'retention' })) n++;
    return n;
  }

  markDelayedDsn(deliveryId: number, now: number): void {
    this.s.delayedDsn.run(now, deliveryId);
  }

  /** When the worker should look again: the earliest retry or lease expiry; null when idle. */
  nextDueAt(): number | null {
    return (this.s.nextDue.get() as number | null) ?? null;
  }

  private dropBodyWhenDone(messageId: string): void {
    // The body is kept until its last delivery is final; afterwards only the record remains.
    if (this.s.openCount.get(messageId) === 0) this.s.dropBody.run(messageId);
  }

  private event(e: EventRow): void {
    switch (e.type) {
      case 'accepted':
      case 'dsn':
        this.s.event.run(e.at, e.type, e.messageId, null, null, null, null, null, e.detail);
        this.observe({ type: e.type });
        return;
      case 'rejected':
        this.s.event.run(e.at, e.type, null, null, e.recipient, null, null, e.reason, e.detail);
        this.observe({ type: e.type, reason: e.reason });
        return;
      case 'delivered': {
        const d = e.delivery;
        this.s.event.run(e.at, e.type, d.messageId, d.id, d.recipient, e.route, e.latencyMs, null, null);
        this.observe({ type: e.type, route: e.route, latencyMs: e.latencyMs });
        return;
      }
      case 'deferred': {
        const d = e.delivery;
        this.s.event.run(e.at, e.type, d.messageId, d.id, d.recipient, e.route, null, null, e.detail);
        this.observe({ type: e.type, route: e.route });
        return;
      }
      case 'bounced': {
        const d = e.delivery;
        this.s.event.run(e.at, e.type, d.messageId, d.id, d.recipient, e.route, null, e.reason, e.detail);
        this.observe({ type: e.type, route: e.route, reason: e.reason });
        return;
      }
      case 'quarantined':
        this.s.event.run(e.at, e.type, e.messageId, e.deliveryId, e.recipient, e.route, null, e.reason, e.detail);
        this.observe({ type: e.type, route: e.route, reason: e.reason });
        return;
      case 'released': {
        const c = e.copy;
        this.s.event.run(e.at, e.type, c.messageId, c.id, c.recipient, c.route, null, null, JSON.stringify({ actionId: e.actionId }));
        this.observe({ type: e.type, route: c.route });
        return;
      }
      case 'purged': {
        const c = e.copy;
        const detail = e.actionId === null ? null : JSON.stringify({ actionId: e.actionId });
        this.s.event.run(e.at, e.type, c.messageId, c.id, c.recipient, c.route, null, e.reason, detail);
        this.observe({ type: e.type, route: c.route, reason: e.reason });
        return;
      }
      case 'shadow-verdict':
        this.s.event.run(e.at, e.type, e.messageId, null, e.recipient, null, null, null, e.detail);
        this.observe({ type: e.type, verdict: e.verdict, reason: e.reason });
        return;
      case 'quarantine-refused': {
        const c = e.copy;
        const detail = JSON.stringify({ actionId: e.actionId });
        this.s.event.run(e.at, e.type, c.messageId, e.deliveryId, c.recipient, c.route, null, e.why, detail);
        this.observe({ type: e.type, why: e.why });
        return;
      }
    }
  }
}
