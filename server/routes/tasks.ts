// /api/v1/tasks: public reads (list, one, history), staff writes (create, edit, comment, close, reopen, phases), admin redaction.
import { Hono } from 'hono';
import {
  TaskListQuery,
  CreateTaskInput,
  UpdateTaskInput,
  AddCommentInput,
  CloseTaskInput,
  ReplacePhasesInput,
  taskRef,
} from '#data/contracts/tasks.ts';
import type { ServerDeps } from '../deps.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { adminRoute, publicRoute } from '../http/api-access.ts';
import { badRequest, type FieldError } from '../http/problem.ts';
import { parseId, parseQuery, readJson, requireFound } from '../http/validate.ts';
import type { ListKind } from '../domain/lists.ts';
import { entryByKey } from '../store/lists.ts';
import { listTasks, taskView, historyOf } from '../store/task-views.ts';
import { createTask } from '../services/tasks/createTask.ts';
import { updateTask } from '../services/tasks/updateTask.ts';
import { addComment } from '../services/tasks/addComment.ts';
import { closeTask } from '../services/tasks/closeTask.ts';
import { reopenTask } from '../services/tasks/reopenTask.ts';
import { replacePhases } from '../services/tasks/replacePhases.ts';
import { redactHistoryEntry } from '../services/tasks/redactHistoryEntry.ts';

export function taskRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes, publicUrl: deps.config.publicUrl };
  const actorOf = staffActor;
  const viewOf = (id: number) => requireFound(taskView(deps.db, id), `${taskRef(id)} does not exist.`);

  app.get('/tasks', publicRoute, (c) => {
    const q = parseQuery(c, TaskListQuery);
    const errors: FieldError[] = [];
    const resolve = (field: string, kind: ListKind, key: string | undefined): number | undefined => {
      if (key === undefined || key === '') return undefined;
      const entry = entryByKey(deps.db, kind, key);
      if (!entry) errors.push({ field, message: `unknown ${field} "${key}"` });
      return entry?.id;
    };
    const sectionId = resolve('section', 'sections', q.section);
    const typeId = resolve('type', 'task-types', q.type);
    const statusId = resolve('status', 'statuses', q.status);
    if (errors.length) throw badRequest('A filter names something that does not exist.', errors);
    const { items, total } = listTasks(deps.db, {
      sectionId,
      typeId,
      statusId,
      state: q.state,
      q: q.q,
      sort: q.sort,
      order: q.order,
      page: q.page,
      perPage: q.per_page,
    });
    return c.json({ items, total, page: q.page, perPage: q.per_page });
  });

  app.get('/tasks/:id', publicRoute, (c) => c.json(viewOf(parseId(c.req.param('id')))));

  app.get('/tasks/:id/history', publicRoute, (c) => {
    const id = parseId(c.req.param('id'));
    viewOf(id);
    return c.json({ items: historyOf(deps.db, id) });
  });

  app.post('/tasks', async (c) => {
    const input = await readJson(c, CreateTaskInput);
    const id = createTask({ ctx, actor: actorOf(c), input });
    c.header('Location', `/api/v1/tasks/${id}`);
    return c.json(viewOf(id), 201);
  });

  app.patch('/tasks/:id', async (c) => {
    const id = parseId(c.req.param('id'));
    const input = await readJson(c, UpdateTaskInput);
    updateTask({ ctx, actor: actorOf(c), id, input });
    return c.json(viewOf(id));
  });

  app.post('/tasks/:id/comments', async (c) => {
    const id = parseId(c.req.param('id'));
    const input = await readJson(c, AddCommentInput);
    const commentId = addComment({ ctx, actor: actorOf(c), taskId: id, input });
    const task = viewOf(id);
    return c.json({ comment: task.comments.find((x) => x.id === commentId), task }, 201);
  });

  app.post('/tasks/:id/close', async (c) => {
    const id = parseId(c.req.param('id'));
    const input = await readJson(c, CloseTaskInput);
    closeTask({ ctx, actor: actorOf(c), taskId: id, input });
    return c.json(viewOf(id));
  });

  app.post('/tasks/:id/reopen', (c) => {
    const id = parseId(c.req.param('id'));
    reopenTask({ ctx, actor: actorOf(c), taskId: id });
    return c.json(viewOf(id));
  });

  app.put('/tasks/:id/phases', async (c) => {
    const id = parseId(c.req.param('id'));
    const input = await readJson(c, ReplacePhasesInput);
    replacePhases({ ctx, actor: actorOf(c), taskId: id, input });
    return c.json(viewOf(id));
  });

  // Wipes an entry's old and new values for good (a secret pasted in and edited out); answers with the entry as it
  // now reads. Repeating it is harmless: 200 with the entry as the first redaction left it.
  app.post('/tasks/:id/history/:entryId/redact', adminRoute, (c) => {
    const id = parseId(c.req.param('id'));
    const entryId = parseId(c.req.param('entryId'), 'entryId');
    redactHistoryEntry({ ctx, actor: actorOf(c), taskId: id, entryId });
    return c.json(historyOf(deps.db, id).find((h) => h.id === entryId));
  });

  return app;
}
