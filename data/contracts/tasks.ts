// The task tracker's JSON shapes (what /api/v1 returns and accepts); the site imports these too.
import { z } from 'zod';

/** UTC instant as ISO-8601 text ending in 'Z', as stored. */
export const Instant = z.string();

export const NamedRef = z.object({ id: z.int(), name: z.string() });
export type NamedRef = z.infer<typeof NamedRef>;

/** Staff are shown by display name only; usernames stay private. */
export const Person = z.object({ id: z.int(), displayName: z.string() });
export type Person = z.infer<typeof Person>;

export const SectionRef = z.object({ id: z.int(), slug: z.string(), name: z.string() });
export type SectionRef = z.infer<typeof SectionRef>;

/** A category with its path from the root, e.g. ["All Services", "Email"]. */
export const CategoryRef = z.object({ id: z.int(), name: z.string(), path: z.array(z.string()) });
export type CategoryRef = z.infer<typeof CategoryRef>;

/** One row of the task list (Flyspray's columns). */
export const TaskListItem = z.object({
  id: z.int(),
  /** "FS#2733" */
  ref: z.string(),
  summary: z.string(),
  type: NamedRef,
  category: CategoryRef,
  section: SectionRef.nullable(),
  status: NamedRef,
  percent: z.int().min(0).max(100),
  closed: z.boolean(),
  openedAt: Instant,
  lastEditedAt: Instant,
});
export type TaskListItem = z.infer<typeof TaskListItem>;

export const Comment = z.object({
  id: z.int(),
  author: Person,
  at: Instant,
  markdown: z.string(),
  /** Sanitized when saved; safe to insert as HTML. */
  html: z.string(),
});
export type Comment = z.infer<typeof Comment>;

/** A deployment-plan phase; either end may be open (null). */
export const Phase = z.object({
  position: z.int(),
  title: z.string(),
  startsAt: Instant.nullable(),
  endsAt: Instant.nullable(),
  note: z.string(),
});
export type Phase = z.infer<typeof Phase>;

export const Task = TaskListItem.extend({
  details: z.object({ markdown: z.string(), html: z.string() }),
  closeReason: NamedRef.nullable(),
  closedBy: Person.nullable(),
  closedAt: Instant.nullable(),
  openedBy: Person,
  /** Increases with every change; send it back on PATCH for an optimistic check. */
  version: z.int(),
  comments: z.array(Comment),
  phases: z.array(Phase),
});
export type Task = z.infer<typeof Task>;

export const TaskPage = z.object({
  items: z.array(TaskListItem),
  total: z.int(),
  page: z.int(),
  perPage: z.int(),
});
export type TaskPage = z.infer<typeof TaskPage>;

/** Set when an admin wiped an entry's values (a secret pasted in by mistake): both values are then null for good. */
export const Redaction = z.object({ by: Person, at: Instant });
export type Redaction = z.infer<typeof Redaction>;

/** One changed field; values are display text (names, not ids). */
export const HistoryEntry = z.object({
  id: z.int(),
  at: Instant,
  user: Person.nullable(),
  field: z.string(),
  oldValue: z.string().nullable(),
  newValue: z.string().nullable(),
  redacted: Redaction.nullable(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const TASK_SORT_COLUMNS = ['id', 'type', 'category', 'summary', 'status', 'last_edited', 'progress'] as const;
export type TaskSortColumn = (typeof TASK_SORT_COLUMNS)[number];

export const taskRef = (id: number) => `FS#${id}`;

// ---- inputs (staff writes) ----

/** Any ISO-8601 date-time with an offset; normalised to a UTC instant. */
export const InstantInput = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());
const Id = z.int().min(1).max(2_147_483_647);
const Summary = z.string().trim().min(1).max(200);
const Markdown = z.string().max(100_000);

export const TaskListQuery = z.strictObject({
  section: z.string().max(60).optional(),
  type: z.string().max(100).optional(),
  status: z.string().max(100).optional(),
  state: z.enum(['open', 'closed', 'all']).default('all'),
  q: z.string().trim().max(200).optional(),
  sort: z.enum(TASK_SORT_COLUMNS).default('last_edited'),
  order: z.enum(['asc', 'desc']).default('desc'),
  page: z.coerce.number().pipe(z.int().min(1).max(100_000)).default(1),
  per_page: z.coerce.number().pipe(z.int().min(1).max(100)).default(25),
});
export type TaskListQuery = z.infer<typeof TaskListQuery>;

export const CreateTaskInput = z.strictObject({
  /** Keep an imported task's number (FS#2733 is id 2733); omitted → next free id. */
  id: Id.optional(),
  summary: Summary,
  details: Markdown.default(''),
  typeId: Id,
  categoryId: Id,
  sectionId: Id.nullable().default(null),
  statusId: Id,
  percent: z.int().min(0).max(100).default(0),
  /** Back-dating for imports; defaults to now. */
  openedAt: InstantInput.optional(),
});
export type CreateTaskInput = z.infer<typeof CreateTaskInput>;

export const UpdateTaskInput = z.strictObject({
  summary: Summary.optional(),
  details: Markdown.optional(),
  typeId: Id.optional(),
  categoryId: Id.optional(),
  sectionId: Id.nullable().optional(),
  statusId: Id.optional(),
  percent: z.int().min(0).max(100).optional(),
  /** The version the editor saw; a stale one is refused with 409. */
  version: z.int().min(1).optional(),
});
export type UpdateTaskInput = z.infer<typeof UpdateTaskInput>;

export const AddCommentInput = z.strictObject({
  /** Kept verbatim (no trimming): the source is what staff typed. */
  body: z
    .string()
    .max(100_000)
    .refine((s) => s.trim().length > 0, 'must not be empty'),
  /** Back-dating (rebuilding FS#2733 from its record); defaults to now. */
  at: InstantInput.optional(),
});
export type AddCommentInput = z.infer<typeof AddCommentInput>;

export const CloseTaskInput = z
  .strictObject({
    reasonId: Id.optional(),
    /** The reason by name ("Finished"), as an alternative to reasonId. */
    reason: z.string().trim().min(1).max(100).optional(),
    at: InstantInput.optional(),
  })
  .refine((v) => (v.reasonId === undefined) !== (v.reason === undefined), {
    message: 'give the reason for closing, as reasonId or as reason (its name), not both',
    path: ['reasonId'],
  });
export type CloseTaskInput = z.infer<typeof CloseTaskInput>;

export const ReopenTaskInput = z.strictObject({});

export const PhaseInput = z
  .strictObject({
    title: z.string().trim().min(1).max(200),
    startsAt: InstantInput.nullable().default(null),
    endsAt: InstantInput.nullable().default(null),
    note: z.string().max(2000).default(''),
  })
  .refine((p) => p.startsAt === null || p.endsAt === null || p.startsAt <= p.endsAt, {
    message: 'must not end before it starts',
    path: ['endsAt'],
  });
export const ReplacePhasesInput = z.strictObject({
  phases: z.array(PhaseInput).max(50),
  /** The version the editor saw, as for UpdateTaskInput; a stale one is refused with 409. */
  version: z.int().min(1).optional(),
});
export type ReplacePhasesInput = z.infer<typeof ReplacePhasesInput>;
