// /api/v1: the REST API (auth, tasks, lists, users, mail, quarantine, shadow report, overrides, audit, MX config, MX telemetry), JSON in and out, problem details on error.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.ts';
import type { AuthEnv } from '../http/auth.ts';
import { apiAccess } from '../http/api-access.ts';
import { mailRoutes } from './mail.ts';
import { notifyRoutes } from './notify.ts';
import { mailSwitchRoutes } from './mail-switches.ts';
import { quarantineRoutes } from './quarantine.ts';
import { shadowRoutes } from './shadow.ts';
import { taskRoutes } from './tasks.ts';
import { listRoutes } from './lists.ts';
import { authRoutes } from './auth.ts';
import { userRoutes } from './users.ts';
import { overrideRoutes } from './overrides.ts';
import { auditRoutes } from './audit.ts';
import { telemetryRoutes } from './telemetry.ts';
import { sectionTelemetryRoutes } from './section-telemetry.ts';
import { webhookRoutes } from './webhooks.ts';
import { subscriptionApiRoutes } from './subscriptions.ts';

export function apiRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  // Deny by default: every route needs a staff session unless it declares publicRoute, sessionRoute, adminRoute or
  // nodeRoute (server/http/api-access.ts), so a new route cannot be left open by forgetting its guard.
  app.use('*', apiAccess(deps));
  app.route('/', mailRoutes(deps));
  app.route('/', notifyRoutes(deps));
  app.route('/', mailSwitchRoutes(deps));
  app.route('/', quarantineRoutes(deps));
  app.route('/', shadowRoutes(deps));
  app.route('/', authRoutes(deps));
  app.route('/', taskRoutes(deps));
  app.route('/', listRoutes(deps));
  app.route('/', userRoutes(deps));
  app.route('/', overrideRoutes(deps));
  app.route('/', auditRoutes(deps));
  app.route('/', telemetryRoutes(deps));
  app.route('/', sectionTelemetryRoutes(deps));
  app.route('/', webhookRoutes(deps));
  app.route('/', subscriptionApiRoutes(deps));
  return app;
}
