// /staff: the staff UI as server-rendered, escaped HTML forms (works without JavaScript), over the same services as the API.
import { Hono } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import { Problem, problemOf } from '../../http/problem.ts';
import { staffOnly, problemPage } from './guard.ts';
import { loginRoutes } from './login.ts';
import { dashboardRoutes } from './dashboard.ts';
import { notifyPageRoutes } from './notify.ts';
import { taskPageRoutes } from './tasks.ts';
import { listPageRoutes } from './lists.ts';
import { overridePageRoutes } from './overrides.ts';
import { auditPageRoutes } from './audit.ts';
import { userPageRoutes } from './users.ts';
import { enhanceRoutes } from './enhance.ts';
import { mailPageRoutes } from './mail.ts';
import { mailImportPageRoutes } from './mail-import.ts';
import { mailSwitchPageRoutes } from './mail-switches.ts';
import { quarantinePageRoutes } from './quarantine.ts';
import { shadowPageRoutes } from './shadow.ts';
import { passwordPageRoutes } from './password.ts';
import { webhookPageRoutes } from './webhooks.ts';

/** The only /staff paths anyone may reach: the login form and the static enhancement script (logout has its own guard). */
const PUBLIC_STAFF_PATHS = new Set(['/staff/login', '/staff/logout', '/staff/assets/enhance.js']);

export function staffRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  // Service refusals and edge problems read as staff pages with the API's statuses and messages (see problemOf).
  app.onError((err, c) => {
    const problem = problemOf(err);
    if (problem) return problemPage(c, problem);
    deps.log.error({ err, path: c.req.path }, 'staff page failed');
    return problemPage(c, new Problem(500, 'Internal Server Error', 'Something went wrong on our side; it has been logged.'));
  });
  app.route('/', loginRoutes(deps));
  const staff = staffOnly(deps);
  const admin = staffOnly(deps, 'admin');
  // Deny by default: every staff page needs a session unless it is listed here, so a new page
  // cannot be left open by forgetting its guard.
  app.use('*', (c, next) => (PUBLIC_STAFF_PATHS.has(c.req.path) ? next() : staff(c, next)));
  app.use('/audit', admin);
  app.use('/audit/*', admin);
  app.use('/users', admin);
  app.use('/users/*', admin);
  app.route('/', enhanceRoutes(deps));
  app.route('/', dashboardRoutes(deps));
  app.route('/', notifyPageRoutes(deps));
  app.route('/', taskPageRoutes(deps));
  app.route('/', listPageRoutes(deps));
  app.route('/', overridePageRoutes(deps));
  app.route('/', auditPageRoutes(deps));
  app.route('/', userPageRoutes(deps));
  app.route('/', mailPageRoutes(deps));
  app.route('/', mailImportPageRoutes(deps));
  app.route('/', mailSwitchPageRoutes(deps));
  app.route('/', quarantinePageRoutes(deps));
  app.route('/', shadowPageRoutes(deps));
  app.route('/', passwordPageRoutes(deps));
  app.route('/', webhookPageRoutes(deps));
  return app;
}
