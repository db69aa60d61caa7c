// /api/v1/mail/domains/:name/switches (staff, the API's default): a domain's scheduled switches, schedule, cancel, and
// switch-now (rollback at once). Nodes get every change with the domain's record from /api/v1/mx/config.
import { Hono, type Context } from 'hono';
import type { ServerDeps } from '../deps.ts';
import type { ServiceContext } from '../services/context.ts';
import { DomainName } from '#data/contracts/mail-config.ts';
import { ScheduleSwitchInput, SwitchNowInput } from '#data/contracts/mail-switches.ts';
import { readJson, parseWith, parseId, requireFound } from '../http/validate.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { findDomain } from '../store/mail.ts';
import { listSwitches, publicSwitch } from '../store/mail-switches.ts';
import { cancelSwitch, scheduleSwitch, switchNow } from '../services/mail/switches.ts';

export function mailSwitchRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx: ServiceContext = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const domainParam = (c: Context) => parseWith(DomainName, c.req.param('name'), 'domain name', 'name');

  app.get('/mail/domains/:name/switches', (c) => {
    const name = domainParam(c);
    const d = requireFound(findDomain(deps.db, name), `The domain ${name} is not hosted.`);
    return c.json({ domain: d.name, mode: d.mode, switches: listSwitches(deps.db, d.name).map(publicSwitch) });
  });
  app.post('/mail/domains/:name/switches', async (c) => {
    const name = domainParam(c);
    const s = scheduleSwitch({ ctx, actor: staffActor(c), name, input: await readJson(c, ScheduleSwitchInput) });
    return c.json(publicSwitch(s), 201);
  });
  app.delete('/mail/domains/:name/switches/:id', (c) => {
    const name = domainParam(c);
    return c.json(publicSwitch(cancelSwitch({ ctx, actor: staffActor(c), name, id: parseId(c.req.param('id')) })));
  });
  app.post('/mail/domains/:name/switch-now', async (c) => {
    const name = domainParam(c);
    const { mode } = await readJson(c, SwitchNowInput);
    const r = switchNow({ ctx, actor: staffActor(c), name, mode });
    return c.json({ domain: r.domain, cancelled: r.cancelled });
  });
  return app;
}
