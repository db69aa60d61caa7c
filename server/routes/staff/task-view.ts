// Renders the staff task pages (new and edit): every field, the plan editor, comment, close/reopen, history and its redaction.
import type { DB } from '#data/db.ts';
import { taskRef, type Task, type HistoryEntry } from '#data/contracts/tasks.ts';
import type { StaffAuth } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { listEntries } from '../../store/lists.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { phaseState, type PhaseState } from '../../domain/plan.ts';
import { html, raw, csrfField, options, type Html } from './layout.ts';
import { wallValue, dayBoundValue } from './forms.ts';

export interface FieldsDraft {
  summary: string;
  details: string;
  typeId: number | null;
  categoryId: number | null;
  sectionId: number | null;
  statusId: number | null;
  percent: string;
  version?: number;
  id?: string;
  openedAt?: string;
}
export interface PhaseDraft {
  title: string;
  startDate: string;
  startTime: string;
  endDate: string;
  endTime: string;
  note: string;
}
export interface CommentDraft {
  body: string;
  at: string;
}

export interface TaskPageState {
  auth: StaffAuth;
  tz: string;
  task: Task | null;
  fields: FieldsDraft;
  phases: PhaseDraft[];
  comment: CommentDraft;
  /** The clock reading for phase states. */
  now: Date;
  /** The phases as stored; `phases` is the same array unless the form is being re-shown with edits. */
  savedPhases?: PhaseDraft[];
  /** The task version the plan form was opened at (re-rendered drafts keep it); defaults to the current one. */
  phasesVersion?: number;
  detailsPreview?: string;
  commentPreview?: string;
  errors?: FieldError[];
}

export const BLANK_PHASE_ROWS = 2;

export function fieldsOf(t: Task): FieldsDraft {
  return {
    summary: t.summary,
    details: t.details.markdown,
    typeId: t.type.id,
    categoryId: t.category.id,
    sectionId: t.section?.id ?? null,
    statusId: t.status.id,
    percent: String(t.percent),
    version: t.version,
  };
}

export function phasesOf(t: Task, tz: string): PhaseDraft[] {
  return t.phases.map((p) => {
    const s = dayBoundValue(p.startsAt, tz, 'start');
    const e = dayBoundValue(p.endsAt, tz, 'end');
    return { title: p.title, startDate: s.date, startTime: s.time, endDate: e.date, endTime: e.time, note: p.note };
  });
}

function selects(db: DB, f: FieldsDraft): Html {
  const named = (kind: 'task-types' | 'statuses' | 'sections') => listEntries(db, kind).map((e) => ({ id: e.id, label: e.name }));
  const categories = listEntries(db, 'categories').map((e) => ({ id: e.id, label: (e.path as string[]).join(' → ') }));
  return html`<div class="row">
    <div><label for="typeId">Task type</label><select id="typeId" name="typeId" required>${options(named('task-types'), f.typeId, '')}</select></div>
    <div><label for="categoryId">Category</label><select id="categoryId" name="categoryId" required>${options(categories, f.categoryId, '')}</select></div>
    <div><label for="sectionId">Attached to section</label><select id="sectionId" name="sectionId">${options(named('sections'), f.sectionId, '(none)')}</select></div>
    <div><label for="statusId">Status</label><select id="statusId" name="statusId" required>${options(named('statuses'), f.statusId, '')}</select></div>
    <div><label for="percent">Percent complete</label><input type="number" id="percent" name="percent" min="0" max="100" value="${f.percent}"></div>
  </div>`;
}

export function newTaskPage(db: DB, s: TaskPageState): Html {
  const f = s.fields;
  return html`<form method="post" action="/staff/tasks">${csrfField(s.auth)}
    <label for="summary">Summary</label><input type="text" id="summary" name="summary" maxlength="200" value="${f.summary}" required>
    ${selects(db, f)}
    <div class="row">
      <div><label for="openedAt">Opened at (${s.tz}; empty = now)</label><input type="datetime-local" id="openedAt" name="openedAt" value="${f.openedAt ?? ''}"></div>
      <div><label for="id">Keep task number (imports; empty = next)</label><input type="number" id="id" name="id" min="1" value="${f.id ?? ''}"></div>
    </div>
    <label for="details">Details (Markdown)</label><textarea id="details" name="details" data-preview>${f.details}</textarea>
    ${s.detailsPreview !== undefined ? html`<section class="preview" aria-label="Preview of the details">${raw(s.detailsPreview)}</section>` : ''}
    <p><button type="submit" name="action" value="preview">Preview</button> <button type="submit" name="action" value="save">Create task</button></p>
  </form>`;
}

function phaseRow(i: number, p: PhaseDraft, count: number, state: PhaseState | undefined): Html {
  const n = (k: string) => `phase_${k}_${i}`;
  return html`<fieldset><legend>Phase ${i + 1}${state ? html` — <span data-phase-state="${state}">${state}</span>` : ''}</legend><div class="row">
    <div><label for="${n('pos')}">Order</label><input type="number" id="${n('pos')}" name="${n('pos')}" value="${i + 1}" min="1" max="99" style="width:4rem"></div>
    <div style="flex:1"><label for="${n('title')}">Title</label><input type="text" id="${n('title')}" name="${n('title')}" maxlength="200" value="${p.title}"></div>
  </div><div class="row">
    <div><label for="${n('sdate')}">Starts (date)</label><input type="date" id="${n('sdate')}" name="${n('sdate')}" value="${p.startDate}"></div>
    <div><label for="${n('stime')}">at (optional)</label><input type="time" id="${n('stime')}" name="${n('stime')}" value="${p.startTime}"></div>
    <div><label for="${n('edate')}">Ends (date, inclusive)</label><input type="date" id="${n('edate')}" name="${n('edate')}" value="${p.endDate}"></div>
    <div><label for="${n('etime')}">at (optional)</label><input type="time" id="${n('etime')}" name="${n('etime')}" value="${p.endTime}"></div>
  </div>
  <label for="${n('note')}">Note</label><input type="text" id="${n('note')}" name="${n('note')}" maxlength="2000" value="${p.note}">
  <p>${
    i < count
      ? html`<button type="submit" name="move" value="up-${i}"${i === 0 ? raw(' disabled') : ''}>Move up</button>
    <button type="submit" name="move" value="down-${i}"${i === count - 1 ? raw(' disabled') : ''}>Move down</button>
    <label class="inline"><input type="checkbox" name="${n('remove')}" value="1"> Remove</label>`
      : html`<span class="muted">New phase: fill in a title to add it.</span>`
  }</p>
  </fieldset>`;
}

const wall = (at: string, tz: string) => utcToWallTime(at, tz).replace('T', ' ');

/** What stands in place of a redacted entry's values, on the staff pages as in the API. */
export function redactionNote(h: HistoryEntry, tz: string): Html | string {
  return h.redacted ? html`<em>Redacted by ${h.redacted.by.displayName} at ${wall(h.redacted.at, tz)} (${tz})</em>` : '';
}

function historyValues(h: HistoryEntry, tz: string): Html {
  return h.redacted
    ? html`<td colspan="2">${redactionNote(h, tz)}</td>`
    : html`<td><pre class="diff">${h.oldValue ?? '—'}</pre></td><td><pre class="diff">${h.newValue ?? '—'}</pre></td>`;
}

/** Admins get a link per entry to the redaction form (a page of its own, so nothing is wiped by one stray click). */
function historyTable(history: HistoryEntry[], tz: string, taskId: number, canRedact: boolean): Html {
  return html`<table><thead><tr><th>When (${tz})</th><th>Who</th><th>Field</th><th>Old</th><th>New</th>${canRedact ? html`<th>Redact</th>` : ''}</tr></thead><tbody>
    ${history.map(
      (h) => html`<tr id="history-${h.id}"><td>${wall(h.at, tz)}</td><td>${h.user?.displayName ?? 'system'}</td><td>${h.field}</td>
      ${historyValues(h, tz)}${canRedact ? html`<td>${h.redacted ? '' : html`<a href="/staff/tasks/${taskId}/history/${h.id}/redact">Redact</a>`}</td>` : ''}</tr>`,
    )}</tbody></table>`;
}

/** The confirmation form of a redaction: what will be wiped, what stays, and the entries that may hold the same text. */
export function redactEntryPage(s: { auth: StaffAuth; tz: string; task: Task; entry: HistoryEntry; history: HistoryEntry[] }): Html {
  const { entry: h, tz, task: t } = s;
  const values = [h.oldValue, h.newValue].filter((v): v is string => v !== null);
  // The edit that removed a pasted value records it again as its old value: offer those entries too.
  const related = s.history.filter(
    (o) => o.id !== h.id && !o.redacted && o.field === h.field && [o.oldValue, o.newValue].some((v) => v !== null && values.includes(v)),
  );
  return html`<p><a href="/staff/tasks/${t.id}#h-history">Back to ${taskRef(t.id)}</a></p>
  <dl><dt>Field</dt><dd>${h.field}</dd><dt>Changed</dt><dd>${wall(h.at, tz)} (${tz}) by ${h.user?.displayName ?? 'system'}</dd>
    ${
      h.redacted
        ? html`<dt>Values</dt><dd>${redactionNote(h, tz)}</dd>`
        : html`<dt>Old value</dt><dd><pre class="diff">${h.oldValue ?? '—'}</pre></dd>
    <dt>New value</dt><dd><pre class="diff">${h.newValue ?? '—'}</pre></dd>`
    }</dl>
  ${
    h.redacted
      ? html`<p>This entry is redacted already.</p>`
      : html`<p>Redacting overwrites both values of this entry in the database for good; the entry stays, showing who redacted it and when.
    The task's current ${h.field} is not changed, and the audit log records the redaction without the values.</p>
  <form method="post" action="/staff/tasks/${t.id}/history/${h.id}/redact">${csrfField(s.auth)}
    <button type="submit">Redact this entry permanently</button></form>`
  }
  ${
    related.length
      ? html`<section aria-labelledby="h-related"><h2 id="h-related">Entries of the same field holding one of these values</h2>
    <ul>${related.map((o) => html`<li><a href="/staff/tasks/${t.id}/history/${o.id}/redact">${o.field} changed at ${wall(o.at, tz)} by ${o.user?.displayName ?? 'system'}</a></li>`)}</ul></section>`
      : ''
  }`;
}

export function editTaskPage(db: DB, s: TaskPageState & { task: Task }, history: HistoryEntry[]): Html {
  const t = s.task;
  const f = s.fields;
  const reasons = listEntries(db, 'close-reasons').map((e) => ({ id: e.id, label: e.name }));
  // Where each saved phase stands now, as the scheduler sees it; a draft being edited shows none.
  const states = t.phases.map((p) => phaseState(p, s.now));
  const rows = [
    ...s.phases,
    ...Array.from({ length: BLANK_PHASE_ROWS }, () => ({ title: '', startDate: '', startTime: '', endDate: '', endTime: '', note: '' })),
  ];
  return html`<p><a href="/task/${t.id}">Public page of ${taskRef(t.id)}</a> · ${
    t.closed
      ? html`<strong>Closed</strong> (${t.closeReason?.name ?? ''}) by ${t.closedBy?.displayName ?? ''} at ${wallValue(t.closedAt, s.tz).replace('T', ' ')}`
      : html`<strong>Open</strong>`
  } · opened by ${t.openedBy.displayName} at ${wallValue(t.openedAt, s.tz).replace('T', ' ')} · version ${t.version}</p>

  <section aria-labelledby="h-fields"><h2 id="h-fields">Task</h2>
  <form method="post" action="/staff/tasks/${t.id}">${csrfField(s.auth)}<input type="hidden" name="version" value="${f.version ?? t.version}">
    <label for="summary">Summary</label><input type="text" id="summary" name="summary" maxlength="200" value="${f.summary}" required>
    ${selects(db, f)}
    <label for="details">Details (Markdown)</label><textarea id="details" name="details" data-preview>${f.details}</textarea>
    ${s.detailsPreview !== undefined ? html`<section class="preview" aria-label="Preview of the details">${raw(s.detailsPreview)}</section>` : ''}
    <p><button type="submit" name="action" value="preview">Preview</button> <button type="submit" name="action" value="save">Save task</button></p>
  </form></section>

  <section aria-labelledby="h-plan"><h2 id="h-plan">Deployment plan</h2>
  <p class="muted">Dates and times in ${s.tz}. A start without a time begins at 00:00; an end without a time lasts the whole day.</p>
  <form method="post" action="/staff/tasks/${t.id}/phases">${csrfField(s.auth)}<input type="hidden" name="version" value="${s.phasesVersion ?? t.version}"><input type="hidden" name="count" value="${rows.length}">
    ${rows.map((p, i) => phaseRow(i, p, s.phases.length, s.phases === s.savedPhases ? states[i] : undefined))}
    <p><button type="submit" name="move" value="save">Save plan</button></p>
  </form></section>

  <section aria-labelledby="h-comment"><h2 id="h-comment">Post a comment</h2>
  <form method="post" action="/staff/tasks/${t.id}/comments">${csrfField(s.auth)}
    <label for="body">Comment (Markdown)</label><textarea id="body" name="body" data-preview>${s.comment.body}</textarea>
    <label for="at">Dated (${s.tz}; empty = now)</label><input type="datetime-local" id="at" name="at" value="${s.comment.at}">
    ${s.commentPreview !== undefined ? html`<section class="preview" aria-label="Preview of the comment">${raw(s.commentPreview)}</section>` : ''}
    <p><button type="submit" name="action" value="preview">Preview</button> <button type="submit" name="action" value="save">Post comment</button></p>
  </form></section>

  <section aria-labelledby="h-close"><h2 id="h-close">${t.closed ? 'Reopen' : 'Close'}</h2>
  ${
    t.closed
      ? html`<form method="post" action="/staff/tasks/${t.id}/reopen">${csrfField(s.auth)}<button type="submit">Reopen task</button></form>`
      : html`<form method="post" action="/staff/tasks/${t.id}/close">${csrfField(s.auth)}<div class="row">
        <div><label for="reasonId">Reason for closing</label><select id="reasonId" name="reasonId" required>${options(reasons, null, '')}</select></div>
        <div><label for="closeAt">Closed at (${s.tz}; empty = now)</label><input type="datetime-local" id="closeAt" name="at"></div>
        <div><button type="submit">Close task (percent → 100)</button></div></div></form>`
  }
  </section>

  <section aria-labelledby="h-comments"><h2 id="h-comments">Comments</h2>
  ${
    t.comments.length === 0
      ? html`<p class="muted">No comments yet.</p>`
      : t.comments.map(
          (cm) => html`<article class="preview">
    <p class="muted">${cm.author.displayName} · ${wallValue(cm.at, s.tz).replace('T', ' ')}</p>${raw(cm.html)}</article>`,
        )
  }
  </section>

  <section aria-labelledby="h-history"><h2 id="h-history">History</h2>${historyTable(history, s.tz, t.id, s.auth.user.role === 'admin')}</section>`;
}
