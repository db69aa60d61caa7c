// Notifications (issue 14): what the outbox (backend migration 014, notify_events) holds about one thing that happened,
// shared by the email fan-out and the webhooks. Written by the service that made the change, in its transaction.
import { z } from 'zod';

/**
 * task-opened: a new task (subscribers of its section and of everything); comment: a new public comment; task-changed:
 * status, percent complete, section, type, category or summary (the `changes`); phases-changed: staff edited the plan;
 * phase-transition: a phase started or ended (the transitions job); task-closed / task-reopened; section-state: a
 * section's public state changed (automatic changes debounced: at most one event per section per 15 minutes).
 */
export const NOTIFY_EVENT_KINDS = [
  'task-opened',
  'comment',
  'task-changed',
  'phases-changed',
  'phase-transition',
  'task-closed',
  'task-reopened',
  'section-state',
] as const;
export const NotifyEventKind = z.enum(NOTIFY_EVENT_KINDS);
export type NotifyEventKind = z.infer<typeof NotifyEventKind>;

export const NotifyChange = z.object({ field: z.string(), from: z.string().nullable(), to: z.string().nullable() });
export type NotifyChange = z.infer<typeof NotifyChange>;

/** Everything a consumer needs, fixed when the event is written (later edits do not change what was announced). */
export const NotifyPayload = z.object({
  /** One line, e.g. "FS#2733 Rework of the inbound mail system: new comment". */
  subject: z.string().min(1).max(300),
  /** The message as plain text, built from the same sanitized content as the public page. */
  text: z.string().max(200_000),
  /** The same as HTML (sanitized: staff Markdown was sanitized on save; everything else escaped). */
  html: z.string().max(400_000),
  /** The public page it is about (absolute URL: TIDINGS_PUBLIC_URL). */
  url: z.string().url(),
  task: z
    .object({
      id: z.number().int().positive(),
      summary: z.string(),
      status: z.string(),
      percent: z.number().int().min(0).max(100),
      closed: z.boolean(),
    })
    .nullable(),
  section: z.object({ slug: z.string(), name: z.string() }).nullable(),
  /** task-changed: what changed; section-state: the state (field "state"); otherwise empty. */
  changes: z.array(NotifyChange),
});
export type NotifyPayload = z.infer<typeof NotifyPayload>;

/** A row of the outbox as consumers read it. */
export interface NotifyEvent {
  id: number;
  kind: NotifyEventKind;
  taskId: number | null;
  sectionId: number | null;
  at: string;
  payload: NotifyPayload;
}
