// /staff: the open tasks, newest edits first, each with a quick-update form: an incident update takes seconds.
import { Hono } from 'hono';
import { taskRef } from '#data/contracts/tasks.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import { listTasks } from '../../store/task-views.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { page, send, html, csrfField, noticeOf } from './layout.ts';
import { authOf } from './guard.ts';

export function dashboardRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const tz = deps.config.displayTimeZone;
  app.get('/', (c) => {
    const state = c.req.query('state') === 'closed' ? 'closed' : 'open';
    const auth = authOf(c);
    const { items, total } = listTasks(deps.db, { state, sort: 'last_edited', order: 'desc', page: 1, perPage: 100 });
    const body = html`<p><a href="/staff/tasks/new">Create a task</a> ·
      ${state === 'open' ? html`<a href="/staff?state=closed">Show closed tasks</a>` : html`<a href="/staff">Show open tasks</a>`}</p>
      <p class="muted">${total} ${state} task(s); times in ${tz}.</p>
      <table><thead><tr><th>ID</th><th>Type</th><th>Section</th><th>Summary</th><th>Status</th><th>Progress</th><th>Last edited</th>${state === 'open' ? html`<th>Quick update</th>` : ''}</tr></thead>
      <tbody>${items.map(
        (t) => html`<tr>
        <td><a href="/staff/tasks/${t.id}">${taskRef(t.id)}</a></td><td>${t.type.name}</td><td>${t.section?.name ?? '—'}</td>
        <td><a href="/staff/tasks/${t.id}">${t.summary}</a></td><td>${t.status.name}</td><td>${t.percent}%</td>
        <td>${utcToWallTime(t.lastEditedAt, tz).replace('T', ' ')}</td>
        ${
          state === 'open'
            ? html`<td><form method="post" action="/staff/tasks/${t.id}/comments">${csrfField(auth)}<input type="hidden" name="from" value="dashboard">
          <label class="muted" for="quick-${t.id}">Update for ${taskRef(t.id)}</label><textarea id="quick-${t.id}" name="body" rows="2" style="min-height:3rem" required></textarea>
          <button type="submit" name="action" value="save">Post update</button></form></td>`
            : ''
        }</tr>`,
      )}</tbody></table>`;
    return send(c, page({ title: state === 'open' ? 'Open tasks' : 'Closed tasks', auth, notice: noticeOf(c), body }));
  });
  return app;
}
