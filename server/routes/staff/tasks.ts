// /staff/tasks: create and edit tasks (and, for admins, redact history) through plain forms posting to the same services as the API.
import { Hono, type Context } from 'hono';
import {
  CreateTaskInput,
  UpdateTaskInput,
  AddCommentInput,
  CloseTaskInput,
  ReplacePhasesInput,
  taskRef,
  type Task,
} from '#data/contracts/tasks.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import { Problem, notFound, problemOf, type FieldError } from '../../http/problem.ts';
import { parseId, parseWith } from '../../http/validate.ts';
import { renderMarkdown } from '../../domain/markdown.ts';
import { taskView, historyOf } from '../../store/task-views.ts';
import { createTask } from '../../services/tasks/createTask.ts';
import { updateTask } from '../../services/tasks/updateTask.ts';
import { addComment } from '../../services/tasks/addComment.ts';
import { closeTask } from '../../services/tasks/closeTask.ts';
import { reopenTask } from '../../services/tasks/reopenTask.ts';
import { replacePhases } from '../../services/tasks/replacePhases.ts';
import { redactHistoryEntry } from '../../services/tasks/redactHistoryEntry.ts';
import { page, send, noticeOf } from './layout.ts';
import { readForm, FormReader, type Form } from './forms.ts';
import { authOf, actorOf } from './guard.ts';
import {
  newTaskPage,
  editTaskPage,
  redactEntryPage,
  fieldsOf,
  phasesOf,
  type TaskPageState,
  type FieldsDraft,
  type PhaseDraft,
} from './task-view.ts';

/** Runs a service; a refusal (or an edge Problem) becomes field errors for the form instead of an error page. */
export function attempt(run: () => void): (FieldError[] & { status?: number }) | null {
  try {
    run();
    return null;
  } catch (e) {
    return formErrorsOf(e);
  }
}

/** A refusal as the form's error list with its status; anything else (a bug, a 5xx) is thrown on to the error page. */
export function formErrorsOf(e: unknown): FieldError[] & { status: number } {
  const p = problemOf(e);
  if (!p || p.status >= 500) throw e;
  return Object.assign([{ field: '', message: p.detail }, ...p.errors], { status: p.status });
}

function fieldsDraft(r: FormReader): FieldsDraft {
  return {
    summary: r.text('summary'),
    details: r.text('details'),
    typeId: r.id('typeId', 'Task type'),
    categoryId: r.id('categoryId', 'Category'),
    sectionId: r.id('sectionId', 'Section'),
    statusId: r.id('statusId', 'Status'),
    percent: r.text('percent').trim(),
  };
}

/** Phase rows in their new order: "Order" numbers first, then a move button, blank rows dropped. */
function phaseDrafts(form: Form): { drafts: PhaseDraft[]; positions: number[] } {
  const count = Math.min(Number(form.count) || 0, 60);
  const rows: { d: PhaseDraft; pos: number; i: number }[] = [];
  for (let i = 0; i < count; i++) {
    const g = (k: string) => (form[`phase_${k}_${i}`] ?? '').trim();
    const d = {
      title: g('title'),
      startDate: g('sdate'),
      startTime: g('stime'),
      endDate: g('edate'),
      endTime: g('etime'),
      note: g('note'),
    };
    if (g('remove') === '1') continue;
    if (!d.title && !d.startDate && !d.endDate && !d.note) continue;
    rows.push({ d, pos: Number(g('pos')) || i + 1, i });
  }
  rows.sort((a, b) => a.pos - b.pos || a.i - b.i);
  const m = /^(up|down)-(\d+)$/.exec(form.move ?? '');
  if (m) {
    const from = rows.findIndex((r) => r.i === Number(m[2]));
    const to = m[1] === 'up' ? from - 1 : from + 1;
    if (from >= 0 && to >= 0 && to < rows.length) [rows[from], rows[to]] = [rows[to], rows[from]];
  }
  return { drafts: rows.map((r) => r.d), positions: rows.map((r) => r.i) };
}

/** What a form says when its save was refused because someone else changed the task after it was opened. */
function staleEditMessage(id: number): FieldError[] {
  return [
    {
      field: '',
      message: `Not saved: someone else changed ${taskRef(id)} after you opened it. Their version is shown in the history below; your edits are still in the form. Save again to replace their change with yours.`,
    },
  ];
}

export function taskPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes, publicUrl: deps.config.publicUrl };
  const tz = deps.config.displayTimeZone;
  const load = (c: Context): Task => {
    const id = parseId(c.req.param('id'));
    const t = taskView(deps.db, id);
    if (!t) throw notFound(`${taskRef(id)} does not exist.`);
    return t;
  };
  const baseState = (c: Context, task: Task): TaskPageState & { task: Task } => {
    const phases = phasesOf(task, tz);
    return {
      auth: authOf(c),
      tz,
      task,
      fields: fieldsOf(task),
      phases,
      savedPhases: phases,
      comment: { body: '', at: '' },
      now: deps.clock(),
    };
  };
  const showEdit = (c: Context, s: TaskPageState & { task: Task }, status = 200, notice: string | null = null) =>
    send(
      c,
      page({
        title: `${taskRef(s.task.id)}: ${s.task.summary}`,
        auth: s.auth,
        notice,
        errors: s.errors,
        body: editTaskPage(deps.db, s, historyOf(deps.db, s.task.id)),
      }),
      status,
    );
  const statusOf = (errors: FieldError[] & { status?: number }) => errors.status ?? 400;

  app.get('/tasks/new', (c) => {
    const s: TaskPageState = {
      auth: authOf(c),
      tz,
      task: null,
      phases: [],
      comment: { body: '', at: '' },
      now: deps.clock(),
      fields: { summary: '', details: '', typeId: null, categoryId: null, sectionId: null, statusId: null, percent: '0' },
    };
    return send(c, page({ title: 'New task', auth: s.auth, body: newTaskPage(deps.db, s) }));
  });

  app.post('/tasks', async (c) => {
    const r = new FormReader(await readForm(c), tz);
    const fields: FieldsDraft = { ...fieldsDraft(r), id: r.text('id').trim(), openedAt: r.text('openedAt').trim() };
    const openedAt = r.instant('openedAt', 'Opened at');
    const keepId = r.int('id', 'Task number', 1, 2_147_483_647);
    const s: TaskPageState = {
      auth: authOf(c),
      tz,
      task: null,
      fields,
      phases: [],
      comment: { body: '', at: '' },
      now: deps.clock(),
      errors: r.errors,
    };
    if (r.form.action === 'preview') {
      return send(
        c,
        page({ title: 'New task', auth: s.auth, body: newTaskPage(deps.db, { ...s, detailsPreview: renderMarkdown(fields.details) }) }),
      );
    }
    let id = 0;
    const errors = r.errors.length
      ? r.errors
      : attempt(() => {
          const input = parseWith(
            CreateTaskInput,
            {
              id: keepId,
              summary: fields.summary,
              details: fields.details,
              typeId: fields.typeId,
              categoryId: fields.categoryId,
              sectionId: fields.sectionId,
              statusId: fields.statusId,
              percent: fields.percent === '' ? 0 : Number(fields.percent),
              openedAt,
            },
            'task',
          );
          id = createTask({ ctx, actor: actorOf(c), input });
        });
    if (errors) return send(c, page({ title: 'New task', auth: s.auth, errors, body: newTaskPage(deps.db, s) }), statusOf(errors));
    return c.redirect(`/staff/tasks/${id}?done=created${r.dstQuery()}`, 303);
  });

  // The shared notice list lives in layout.ts; this page's own key is answered here.
  const taskNotice = (c: Context) => noticeOf(c) ?? (c.req.query('done') === 'redacted' ? 'History entry redacted.' : null);
  app.get('/tasks/:id', (c) => showEdit(c, baseState(c, load(c)), 200, taskNotice(c)));

  app.post('/tasks/:id', async (c) => {
    const task = load(c);
    const r = new FormReader(await readForm(c), tz);
    const version = r.int('version', 'Version', 1, 2_147_483_647);
    const fields = { ...fieldsDraft(r), version };
    const s = { ...baseState(c, task), fields };
    if (r.form.action === 'preview') return showEdit(c, { ...s, detailsPreview: renderMarkdown(fields.details) });
    const errors = r.errors.length
      ? r.errors
      : attempt(() => {
          const input = parseWith(
            UpdateTaskInput,
            {
              summary: fields.summary,
              details: fields.details,
              typeId: fields.typeId ?? undefined,
              categoryId: fields.categoryId ?? undefined,
              sectionId: fields.sectionId,
              statusId: fields.statusId ?? undefined,
              percent: fields.percent === '' ? undefined : Number(fields.percent),
              version,
            },
            'task',
          );
          updateTask({ ctx, actor: actorOf(c), id: task.id, input });
        });
    if (errors) {
      const conflict = statusOf(errors) === 409;
      // Keep what they typed; only saving again on purpose (with the new version) overwrites the other change.
      return showEdit(
        c,
        { ...s, fields: conflict ? { ...fields, version: task.version } : fields, errors: conflict ? staleEditMessage(task.id) : errors },
        statusOf(errors),
      );
    }
    return c.redirect(`/staff/tasks/${task.id}?done=saved`, 303);
  });

  app.post('/tasks/:id/phases', async (c) => {
    const task = load(c);
    const form = await readForm(c);
    const r = new FormReader(form, tz);
    const { drafts, positions } = phaseDrafts(form);
    // The version the plan form was opened at travels through move/re-render round trips, so a later save still notices others' changes.
    const version = r.int('version', 'Version', 1, 2_147_483_647);
    const draftState = { ...baseState(c, task), phases: drafts, phasesVersion: version };
    if (form.move && form.move !== 'save') return showEdit(c, draftState);
    const phases = drafts.map((d, k) => {
      const i = positions[k];
      const label = `Phase ${k + 1}`;
      return {
        title: d.title,
        note: d.note,
        startsAt: r.dayBound(`phase_sdate_${i}`, `phase_stime_${i}`, `${label} start`, 'start') ?? null,
        endsAt: r.dayBound(`phase_edate_${i}`, `phase_etime_${i}`, `${label} end`, 'end') ?? null,
      };
    });
    const errors = r.errors.length
      ? r.errors
      : attempt(() => {
          replacePhases({
            ctx,
            actor: actorOf(c),
            taskId: task.id,
            input: parseWith(ReplacePhasesInput, { phases, version }, 'deployment plan'),
          });
        });
    if (errors) {
      const conflict = statusOf(errors) === 409;
      // As in the task form: the draft stays, and the form now carries the current version so saving again is a deliberate overwrite.
      return showEdit(
        c,
        conflict ? { ...draftState, phasesVersion: task.version, errors: staleEditMessage(task.id) } : { ...draftState, errors },
        statusOf(errors),
      );
    }
    return c.redirect(`/staff/tasks/${task.id}?done=phases${r.dstQuery()}#h-plan`, 303);
  });

  app.post('/tasks/:id/comments', async (c) => {
    const task = load(c);
    const r = new FormReader(await readForm(c), tz);
    const comment = { body: r.text('body'), at: r.text('at').trim() };
    const at = r.instant('at', 'Dated');
    const s = { ...baseState(c, task), comment };
    if (r.form.action === 'preview') return showEdit(c, { ...s, commentPreview: renderMarkdown(comment.body) });
    const errors = r.errors.length
      ? r.errors
      : attempt(() => {
          addComment({ ctx, actor: actorOf(c), taskId: task.id, input: parseWith(AddCommentInput, { body: comment.body, at }, 'comment') });
        });
    if (errors) return showEdit(c, { ...s, errors }, statusOf(errors));
    if (r.form.from === 'dashboard') return c.redirect('/staff?done=commented', 303);
    return c.redirect(`/staff/tasks/${task.id}?done=commented${r.dstQuery()}#h-comments`, 303);
  });

  app.post('/tasks/:id/close', async (c) => {
    const task = load(c);
    const r = new FormReader(await readForm(c), tz);
    const reasonId = r.id('reasonId', 'Reason for closing');
    const at = r.instant('at', 'Closed at');
    const errors = r.errors.length
      ? r.errors
      : attempt(() => {
          closeTask({ ctx, actor: actorOf(c), taskId: task.id, input: parseWith(CloseTaskInput, { reasonId, at }, 'close form') });
        });
    if (errors) return showEdit(c, { ...baseState(c, task), errors }, statusOf(errors));
    return c.redirect(`/staff/tasks/${task.id}?done=closed${r.dstQuery()}`, 303);
  });

  app.post('/tasks/:id/reopen', (c) => {
    const task = load(c);
    const errors = attempt(() => reopenTask({ ctx, actor: actorOf(c), taskId: task.id }));
    if (errors) return showEdit(c, { ...baseState(c, task), errors }, 409);
    return c.redirect(`/staff/tasks/${task.id}?done=reopened`, 303);
  });
  const adminOnly = (c: Context) => {
    if (authOf(c).user.role !== 'admin') throw new Problem(403, 'Forbidden', 'Only admins may redact task history.');
  };

  app.get('/tasks/:id/history/:entryId/redact', (c) => {
    adminOnly(c);
    const task = load(c);
    const entryId = parseId(c.req.param('entryId'), 'entryId');
    const history = historyOf(deps.db, task.id);
    const entry = history.find((h) => h.id === entryId);
    if (!entry) throw notFound(`${taskRef(task.id)} has no history entry ${entryId}.`);
    return send(
      c,
      page({
        title: `Redact a history entry of ${taskRef(task.id)}`,
        auth: authOf(c),
        body: redactEntryPage({ auth: authOf(c), tz, task, entry, history }),
      }),
    );
  });

  app.post('/tasks/:id/history/:entryId/redact', (c) => {
    adminOnly(c);
    const task = load(c);
    const entryId = parseId(c.req.param('entryId'), 'entryId');
    redactHistoryEntry({ ctx, actor: actorOf(c), taskId: task.id, entryId });
    return c.redirect(`/staff/tasks/${task.id}?done=redacted#history-${entryId}`, 303);
  });
  return app;
}
