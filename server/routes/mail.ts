// /api/v1/mail/* (staff, the API's default: domains, mailboxes, aliases, policies) and /api/v1/mx/config (nodeRoute: MX nodes fetch config changes).
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { ServerDeps } from '../deps.ts';
import type { ServiceContext } from '../services/context.ts';
import { DomainInput, DomainPatch, MailboxInput, AliasInput, DomainName, Address } from '#data/contracts/mail-config.ts';
import { readJson, parseWith, parseQuery, requireFound } from '../http/validate.ts';
import {
  listDomains,
  findDomain,
  listMailboxes,
  findMailbox,
  listAliases,
  findAlias,
  listPolicies,
  currentConfigVersion,
} from '../store/mail.ts';
import { addDomain } from '../services/mail/addDomain.ts';
import { updateDomain } from '../services/mail/updateDomain.ts';
import { removeDomain } from '../services/mail/removeDomain.ts';
import { addMailbox } from '../services/mail/addMailbox.ts';
import { removeMailbox } from '../services/mail/removeMailbox.ts';
import { addAlias } from '../services/mail/addAlias.ts';
import { removeAlias } from '../services/mail/removeAlias.ts';
import { configChanges } from '../services/mail/configChanges.ts';
import { setPolicy } from '../services/mail/setPolicy.ts';
import { removePolicy } from '../services/mail/removePolicy.ts';
import { addressPolicy } from '../services/mail/addressPolicy.ts';
import { DEFAULT_POLICY, PolicySettings } from '#data/contracts/mail-policy.ts';
import { PolicyScope } from '#data/contracts/mx-config.ts';
import { staffActor, type AuthEnv } from '../http/auth.ts';
import { currentNode, nodeRoute } from '../http/api-access.ts';
import { MailImportRequest } from '#data/contracts/mail-import.ts';
import { importMailConfig, type ImportSource } from '../services/mail/importConfig.ts';
import { planLines } from '../domain/mail-import-plan.ts';

const DomainFilter = z.strictObject({ domain: DomainName.optional() });
const SinceQuery = z.strictObject({
  since: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number')
    .default('0')
    .transform(Number),
});

export function mailRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx: ServiceContext = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const domainParam = (c: Context) => parseWith(DomainName, c.req.param('name'), 'domain name', 'name');
  const addressParam = (c: Context) => parseWith(Address, c.req.param('address'), 'address', 'address');
  const actor = staffActor;

  app.get('/mail/domains', (c) => c.json({ domains: listDomains(deps.db), version: currentConfigVersion(deps.db) }));
  app.get('/mail/domains/:name', (c) => {
    const name = domainParam(c);
    return c.json(requireFound(findDomain(deps.db, name), `The domain ${name} is not hosted.`));
  });
  app.post('/mail/domains', async (c) => c.json(addDomain({ ctx, actor: actor(c), input: await readJson(c, DomainInput) }), 201));
  app.patch('/mail/domains/:name', async (c) =>
    c.json(updateDomain({ ctx, actor: actor(c), name: domainParam(c), patch: await readJson(c, DomainPatch) })),
  );
  app.delete('/mail/domains/:name', (c) => c.json({ removed: removeDomain({ ctx, actor: actor(c), name: domainParam(c) }) }));

  app.get('/mail/mailboxes', (c) => c.json({ mailboxes: listMailboxes(deps.db, parseQuery(c, DomainFilter).domain) }));
  app.get('/mail/mailboxes/:address', (c) => {
    const address = addressParam(c);
    return c.json(requireFound(findMailbox(deps.db, address), `There is no mailbox ${address}.`));
  });
  app.post('/mail/mailboxes', async (c) => c.json(addMailbox({ ctx, actor: actor(c), input: await readJson(c, MailboxInput) }), 201));
  app.delete('/mail/mailboxes/:address', (c) => {
    removeMailbox({ ctx, actor: actor(c), address: addressParam(c) });
    return c.body(null, 204);
  });

  app.get('/mail/aliases', (c) => c.json({ aliases: listAliases(deps.db, parseQuery(c, DomainFilter).domain) }));
  app.get('/mail/aliases/:address', (c) => {
    const address = addressParam(c);
    return c.json(requireFound(findAlias(deps.db, address), `There is no alias ${address}.`));
  });
  app.post('/mail/aliases', async (c) => c.json(addAlias({ ctx, actor: actor(c), input: await readJson(c, AliasInput) }), 201));
  app.delete('/mail/aliases/:address', (c) => {
    removeAlias({ ctx, actor: actor(c), address: addressParam(c) });
    return c.body(null, 204);
  });

  // Policies: '*' is the installation's key (PUT /mail/policies/installation/*), a domain name or an address the others'.
  const scopeParam = (c: Context) => parseWith(PolicyScope, c.req.param('scope'), 'policy scope', 'scope');
  const keyParam = (c: Context) => parseWith(z.string().min(1).max(320), c.req.param('key'), 'policy key', 'key');
  app.get('/mail/policies', (c) =>
    c.json({ policies: listPolicies(deps.db), default: DEFAULT_POLICY, version: currentConfigVersion(deps.db) }),
  );
  app.put('/mail/policies/:scope/:key', async (c) => {
    const scope = scopeParam(c);
    const key = keyParam(c);
    const settings = await readJson(c, PolicySettings);
    const p = setPolicy({ ctx, actor: actor(c), scope, key, settings });
    // Empty settings leave nothing to keep: the level now inherits everything.
    return p ? c.json(p) : c.body(null, 204);
  });
  app.delete('/mail/policies/:scope/:key', (c) => {
    removePolicy({ ctx, actor: actor(c), scope: scopeParam(c), key: keyParam(c) });
    return c.body(null, 204);
  });
  app.get('/mail/addresses/:address/policy', (c) => c.json(addressPolicy(deps.db, addressParam(c))));

  // The old system's files: a dry run answers the plan, a real run applies it; any bad line is a 400 naming file:line.
  app.post('/mail/import', async (c) => {
    const b = await readJson(c, MailImportRequest);
    const source: ImportSource =
      b.csv === undefined
        ? {
            format: 'postfix',
            ...(b.postfixDomains === undefined ? {} : { domains: { name: 'virtual_mailbox_domains', text: b.postfixDomains } }),
            ...(b.postfixMailboxes === undefined ? {} : { mailboxes: { name: 'virtual_mailbox_maps', text: b.postfixMailboxes } }),
            ...(b.postfixAliases === undefined ? {} : { aliases: { name: 'virtual_alias_maps', text: b.postfixAliases } }),
          }
        : { format: 'csv', csv: { name: 'csv', text: b.csv } };
    const r = importMailConfig({
      ctx,
      actor: actor(c),
      source,
      options: { newDomainMode: b.newDomainMode, legacyHost: b.legacyHost, legacyPort: b.legacyPort },
      dryRun: b.dryRun,
    });
    return c.json({
      dryRun: r.dryRun,
      applied: r.applied,
      counts: r.plan.counts,
      kept: r.plan.kept,
      changes: r.plan.items.filter((i) => i.action !== 'unchanged'),
      diff: planLines(r.plan),
      version: currentConfigVersion(deps.db),
    });
  });

  app.get('/mx/config', nodeRoute, async (c) => {
    const node = currentNode(c);
    const { since } = parseQuery(c, SinceQuery);
    const payload = deps.db.transaction(() => configChanges({ db: deps.db, node, since, now: deps.clock().toISOString() }))();
    return c.json(payload, 200, { 'cache-control': 'no-store' });
  });
  return app;
}
