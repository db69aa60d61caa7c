// /staff/audit (admins): every staff action, logins and failed logins included, newest first, filterable.
import { Hono } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import { parseWith } from '../../http/validate.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { AuditQuery, readAudit } from '../audit.ts';
import { page, send, html } from './layout.ts';
import { authOf } from './guard.ts';

export function auditPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const tz = deps.config.displayTimeZone;
  app.get('/audit', (c) => {
    const raw = c.req.query();
    const q = parseWith(
      AuditQuery,
      Object.fromEntries(Object.entries(raw).filter(([k, v]) => ['before', 'action', 'actor'].includes(k) && v !== '')),
      'filter',
    );
    const { items, nextBefore } = readAudit(deps.db, q);
    const keep = (before: number) =>
      `/staff/audit?${new URLSearchParams({ ...(q.action ? { action: q.action } : {}), ...(q.actor ? { actor: q.actor } : {}), before: String(before) })}`;
    const body = html`<form method="get" action="/staff/audit" class="row">
        <div><label for="action">Action starts with</label><input type="text" id="action" name="action" value="${q.action ?? ''}" placeholder="login, task., user."></div>
        <div><label for="actor">Actor</label><input type="text" id="actor" name="actor" value="${q.actor ?? ''}"></div>
        <div><button type="submit">Filter</button></div></form>
      <table><thead><tr><th>When (${tz})</th><th>Actor</th><th>Action</th><th>Target</th><th>Detail</th></tr></thead><tbody>
      ${items.map(
        (
          a,
        ) => html`<tr><td>${utcToWallTime(a.at, tz).replace('T', ' ')}</td><td>${a.actor}${a.user && a.user !== a.actor ? html` <span class="muted">(${a.user})</span>` : ''}</td>
        <td>${a.action}</td><td>${a.target ?? ''}</td><td><pre class="diff">${a.detail ?? ''}</pre></td></tr>`,
      )}
      </tbody></table>${nextBefore ? html`<p><a href="${keep(nextBefore)}">Older entries</a></p>` : ''}`;
    return send(c, page({ title: 'Audit log', auth: authOf(c), body }));
  });
  return app;
}
