// The notification outbox (backend migration 014, data/contracts/notify.ts): producers append in their own transaction;
// consumers read past their cursor and advance it in the transaction that records what they did.
import type { DB } from '#data/db.ts';
import { type NotifyEvent, type NotifyEventKind, NotifyPayload } from '#data/contracts/notify.ts';

export type NotifyConsumer = 'email' | 'webhook';

/** Appends one event; call it inside the transaction of the change it announces. Returns its id. */
export function recordNotifyEvent(
  db: DB,
  e: { kind: NotifyEventKind; taskId: number | null; sectionId: number | null; at: string; payload: NotifyPayload },
): number {
  const payload = JSON.stringify(NotifyPayload.parse(e.payload));
  return Number(
    db
      .prepare('INSERT INTO notify_events (kind, task_id, section_id, at, payload) VALUES (?, ?, ?, ?, ?)')
      .run(e.kind, e.taskId, e.sectionId, e.at, payload).lastInsertRowid,
  );
}

interface Row {
  id: number;
  kind: NotifyEventKind;
  task_id: number | null;
  section_id: number | null;
  at: string;
  payload: string;
}

/** The consumer's next events, oldest first. */
export function notifyEventsAfterCursor(db: DB, consumer: NotifyConsumer, limit: number): NotifyEvent[] {
  const rows = db
    .prepare(
      `SELECT id, kind, task_id, section_id, at, payload FROM notify_events
       WHERE id > (SELECT event_id FROM notify_cursors WHERE consumer = ?) ORDER BY id LIMIT ?`,
    )
    .all(consumer, limit) as Row[];
  return rows.map(toEvent);
}

/** One event by id (the subscriber-mail sender builds each message from its event); undefined if there is none. */
export function notifyEventById(db: DB, id: number): NotifyEvent | undefined {
  const r = db.prepare('SELECT id, kind, task_id, section_id, at, payload FROM notify_events WHERE id = ?').get(id) as Row | undefined;
  return r && toEvent(r);
}

function toEvent(r: Row): NotifyEvent {
  return {
    id: r.id,
    kind: r.kind,
    taskId: r.task_id,
    sectionId: r.section_id,
    at: r.at,
    payload: JSON.parse(r.payload) as NotifyEvent['payload'],
  };
}

/** Moves the consumer's cursor forward (never back); call it in the transaction that handled the events. */
export function advanceNotifyCursor(db: DB, consumer: NotifyConsumer, eventId: number): void {
  db.prepare('UPDATE notify_cursors SET event_id = max(event_id, ?) WHERE consumer = ?').run(eventId, consumer);
}
