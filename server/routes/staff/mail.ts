// /staff/mail: hosted domains (with migration mode), mailboxes, aliases and their policies as plain forms, over the same audited services as the API;
// and, read-only, the quarantine's counts with a link to its page (server/routes/staff/quarantine.ts), a warning per
// node running without content scanning, and the MX nodes' telemetry (server/routes/staff/telemetry-view.ts).
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { MIGRATION_MODES, DomainInput, DomainPatch, MailboxInput, AliasInput, DomainName, Address } from '#data/contracts/mail-config.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { listDomains, listMailboxes, listAliases, currentConfigVersion } from '../../store/mail.ts';
import { addDomain } from '../../services/mail/addDomain.ts';
import { updateDomain } from '../../services/mail/updateDomain.ts';
import { removeDomain } from '../../services/mail/removeDomain.ts';
import { addMailbox } from '../../services/mail/addMailbox.ts';
import { removeMailbox } from '../../services/mail/removeMailbox.ts';
import { addAlias } from '../../services/mail/addAlias.ts';
import { removeAlias } from '../../services/mail/removeAlias.ts';
import { page, send, html, raw, csrfField, noticeOf } from './layout.ts';
import { readForm, type Form } from './forms.ts';
import { authOf, actorOf } from './guard.ts';
import { attempt } from './tasks.ts';
import { telemetrySection } from './telemetry-view.ts';
import { quarantineSection, scanningOffWarning } from './quarantine.ts';
import { policySection, policyFormSettings, POLICY_LABELS } from './policy-view.ts';
import { PolicySettings } from '#data/contracts/mail-policy.ts';
import { PolicyScope } from '#data/contracts/mx-config.ts';
import { setPolicy } from '../../services/mail/setPolicy.ts';

const LABELS: Record<string, string> = {
  name: 'Domain',
  mode: 'Mode',
  legacyHost: 'Legacy host',
  legacyPort: 'Legacy port',
  catchAll: 'Catch-all',
  address: 'Address',
  delivery: 'Delivery',
  lmtpHost: 'LMTP host',
  lmtpPort: 'LMTP port',
  targets: 'Targets',
  keepLocalCopy: 'Keep a local copy',
  ...POLICY_LABELS,
  scope: 'Policy level',
};

/** Parses form input with the API's schema; field errors come back with the form's labels. */
function parseForm<S extends z.ZodType>(schema: S, value: unknown): { data?: z.output<S>; errors: FieldError[] } {
  const r = schema.safeParse(value);
  if (r.success) return { data: r.data, errors: [] };
  return { errors: r.error.issues.map((i) => ({ field: LABELS[String(i.path[0])] ?? String(i.path[0] ?? ''), message: i.message })) };
}

const blankToNull = (v: string | undefined) => (v === undefined || v.trim() === '' ? null : v.trim());
const portValue = (v: string | undefined) => (blankToNull(v) === null ? null : /^\d{1,5}$/.test(v!.trim()) ? Number(v) : -1);

export function mailPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };

  const show = (c: Context, errors: FieldError[] = [], status = 200, form: Form = {}) => {
    const auth = authOf(c);
    const csrf = csrfField(auth);
    const domains = listDomains(deps.db);
    // Typed values come back only into the form that was sent.
    const v = (kind: string, key: string) => (form.form === kind ? (form[key] ?? '') : '');
    const modeOptions = (selected: string) =>
      MIGRATION_MODES.map((m) => html`<option value="${m}"${m === selected ? raw(' selected') : ''}>${m}</option>`);
    const body = html`${scanningOffWarning(deps.db)}<p class="muted">Changes reach the MX nodes on their next config sync (version ${currentConfigVersion(deps.db)}); no restart. Modes: legacy relays everything to the old MX, shadow relays and dry-runs the new path, active delivers here.</p>
    <p><a href="/staff/mail/import">Import from the old mail system</a> (Postfix maps or CSV; preview first).</p>
    <p><a href="/staff/mail/shadow">Shadow report</a>: what the new mail system would have done with mail to domains in shadow mode (the old system delivered it).</p>
    <h2>Domains</h2>
    <table><thead><tr><th>Domain</th><th>Mode, legacy host, catch-all</th><th></th></tr></thead><tbody>
    ${domains.map(
      (d) => html`<tr><td>${d.name}</td><td>
      <form method="post" action="/staff/mail/domains/${d.name}" class="row">${csrf}
        <div><label for="mode-${d.name}">Mode</label><select id="mode-${d.name}" name="mode">${modeOptions(d.mode)}</select></div>
        <div><label for="lh-${d.name}">Legacy host</label><input type="text" id="lh-${d.name}" name="legacyHost" value="${d.legacyHost ?? ''}"></div>
        <div><label for="lp-${d.name}">Legacy port</label><input type="text" id="lp-${d.name}" name="legacyPort" size="5" value="${d.legacyPort ?? ''}"></div>
        <div><label for="ca-${d.name}">Catch-all</label><input type="text" id="ca-${d.name}" name="catchAll" value="${d.catchAll ?? ''}"></div>
        <div><button type="submit">Save ${d.name}</button></div></form></td>
      <td><p><a href="/staff/mail/domains/${d.name}/switches">Switches of ${d.name}</a>${d.switches?.length ? ` (${d.switches.length} pending)` : ''}</p>
      <form method="post" action="/staff/mail/domains/${d.name}/remove">${csrf}<button type="submit">Remove ${d.name}</button></form></td></tr>`,
    )}
    </tbody></table>
    <form method="post" action="/staff/mail/domains"><fieldset><legend>Add a domain</legend>${csrf}<input type="hidden" name="form" value="domain">
      <label for="d-name">Domain</label><input type="text" id="d-name" name="name" required value="${v('domain', 'name')}">
      <label for="d-mode">Mode</label><select id="d-mode" name="mode">${modeOptions(v('domain', 'mode') || 'active')}</select>
      <label for="d-lh">Legacy host (legacy and shadow modes)</label><input type="text" id="d-lh" name="legacyHost" value="${v('domain', 'legacyHost')}">
      <label for="d-lp">Legacy port</label><input type="text" id="d-lp" name="legacyPort" value="${v('domain', 'legacyPort')}">
      <label for="d-ca">Catch-all address (optional)</label><input type="text" id="d-ca" name="catchAll" value="${v('domain', 'catchAll')}">
      <p><button type="submit">Add domain</button></p></fieldset></form>

    <h2>Mailboxes</h2>
    <table><thead><tr><th>Mailbox</th><th>Delivery</th><th></th></tr></thead><tbody>
    ${listMailboxes(deps.db).map(
      (m) => html`<tr><td>${m.address}</td><td>${m.delivery === 'lmtp' ? `LMTP ${m.lmtpHost}:${m.lmtpPort}` : 'built-in Maildir'}</td>
      <td><form method="post" action="/staff/mail/mailboxes/${m.address}/remove">${csrf}<button type="submit">Remove ${m.address}</button></form></td></tr>`,
    )}
    </tbody></table>
    <form method="post" action="/staff/mail/mailboxes"><fieldset><legend>Add a mailbox</legend>${csrf}<input type="hidden" name="form" value="mailbox">
      <label for="m-address">Address</label><input type="text" id="m-address" name="address" required value="${v('mailbox', 'address')}">
      <label for="m-delivery">Delivery</label><select id="m-delivery" name="delivery"><option value="maildir">built-in Maildir</option><option value="lmtp"${v('mailbox', 'delivery') === 'lmtp' ? raw(' selected') : ''}>LMTP (e.g. Dovecot)</option></select>
      <label for="m-lh">LMTP host</label><input type="text" id="m-lh" name="lmtpHost" value="${v('mailbox', 'lmtpHost')}">
      <label for="m-lp">LMTP port</label><input type="text" id="m-lp" name="lmtpPort" value="${v('mailbox', 'lmtpPort')}">
      <p><button type="submit">Add mailbox</button></p></fieldset></form>

    <h2>Aliases and forwardings</h2>
    <table><thead><tr><th>Alias</th><th>Targets</th><th>Local copy</th><th></th></tr></thead><tbody>
    ${listAliases(deps.db).map(
      (a) => html`<tr><td>${a.address}</td><td>${a.targets.join(', ')}</td><td>${a.keepLocalCopy ? 'yes' : 'no'}</td>
      <td><form method="post" action="/staff/mail/aliases/${a.address}/remove">${csrf}<button type="submit">Remove ${a.address}</button></form></td></tr>`,
    )}
    </tbody></table>
    <form method="post" action="/staff/mail/aliases"><fieldset><legend>Add an alias or forwarding</legend>${csrf}<input type="hidden" name="form" value="alias">
      <label for="a-address">Address</label><input type="text" id="a-address" name="address" required value="${v('alias', 'address')}">
      <label for="a-targets">Targets (one per line; internal or external addresses)</label><textarea id="a-targets" name="targets">${v('alias', 'targets')}</textarea>
      <label><input type="checkbox" name="keepLocalCopy" value="1"${v('alias', 'keepLocalCopy') ? raw(' checked') : ''}> Keep a local copy in the mailbox of the same address</label>
      <p><button type="submit">Add alias</button></p></fieldset></form>
    ${policySection(deps.db, csrf)}
    ${quarantineSection(deps.db)}
    ${telemetrySection(deps)}`;
    return send(c, page({ title: 'Mail configuration', auth, notice: noticeOf(c), errors, body }), status);
  };

  /** Runs a write; on failure the page comes back with the errors and the typed values kept. */
  const write = (c: Context, form: Form, parsed: { errors: FieldError[] }, run: () => void, done: string) => {
    const failed = parsed.errors.length ? Object.assign(parsed.errors, { status: 400 }) : attempt(run);
    if (!failed) return c.redirect(`/staff/mail?done=${done}`, 303);
    // A service's refusal names its fields as the API does (legacyHost): the page says them as its labels.
    const errors = failed.map((e) => ({ ...e, field: LABELS[e.field] ?? e.field }));
    return show(c, errors, failed.status ?? 400, form);
  };

  app.get('/mail', (c) => show(c));

  app.post('/mail/domains', async (c) => {
    const f = await readForm(c);
    const p = parseForm(DomainInput, {
      name: f.name ?? '',
      mode: f.mode || undefined,
      legacyHost: blankToNull(f.legacyHost),
      legacyPort: portValue(f.legacyPort),
      catchAll: blankToNull(f.catchAll),
    });
    return write(
      c,
      f,
      p,
      () => {
        addDomain({ ctx, actor: actorOf(c), input: p.data! });
      },
      'added',
    );
  });

  app.post('/mail/domains/:name', async (c) => {
    const f = await readForm(c);
    const name = parseForm(DomainName, c.req.param('name'));
    const p = parseForm(DomainPatch, {
      mode: f.mode || undefined,
      legacyHost: blankToNull(f.legacyHost),
      legacyPort: portValue(f.legacyPort),
      catchAll: blankToNull(f.catchAll),
    });
    p.errors.push(...name.errors);
    return write(
      c,
      {},
      p,
      () => {
        updateDomain({ ctx, actor: actorOf(c), name: name.data!, patch: p.data! });
      },
      'saved',
    );
  });

  app.post('/mail/domains/:name/remove', (c) => {
    const name = parseForm(DomainName, c.req.param('name'));
    return write(
      c,
      {},
      name,
      () => {
        removeDomain({ ctx, actor: actorOf(c), name: name.data! });
      },
      'deleted',
    );
  });

  app.post('/mail/mailboxes', async (c) => {
    const f = await readForm(c);
    const lmtp = f.delivery === 'lmtp';
    const p = parseForm(MailboxInput, {
      address: f.address ?? '',
      delivery: lmtp ? 'lmtp' : 'maildir',
      lmtpHost: lmtp ? blankToNull(f.lmtpHost) : null,
      lmtpPort: lmtp ? portValue(f.lmtpPort) : null,
    });
    return write(
      c,
      f,
      p,
      () => {
        addMailbox({ ctx, actor: actorOf(c), input: p.data! });
      },
      'added',
    );
  });

  app.post('/mail/mailboxes/:address/remove', (c) => {
    const address = parseForm(Address, c.req.param('address'));
    return write(
      c,
      {},
      address,
      () => {
        removeMailbox({ ctx, actor: actorOf(c), address: address.data! });
      },
      'deleted',
    );
  });

  app.post('/mail/aliases', async (c) => {
    const f = await readForm(c);
    const targets = (f.targets ?? '').split(/[\s,;]+/).filter(Boolean);
    const p = parseForm(AliasInput, { address: f.address ?? '', targets, keepLocalCopy: f.keepLocalCopy === '1' });
    return write(
      c,
      f,
      p,
      () => {
        addAlias({ ctx, actor: actorOf(c), input: p.data! });
      },
      'added',
    );
  });

  app.post('/mail/aliases/:address/remove', (c) => {
    const address = parseForm(Address, c.req.param('address'));
    return write(
      c,
      {},
      address,
      () => {
        removeAlias({ ctx, actor: actorOf(c), address: address.data! });
      },
      'deleted',
    );
  });
  // A level's whole policy form: what is left to "inherit" is left out; nothing set removes the level's settings.
  app.post('/mail/policies/:scope/:key', async (c) => {
    const f = await readForm(c);
    const scope = parseForm(PolicyScope, c.req.param('scope'));
    const p = parseForm(PolicySettings, policyFormSettings(f));
    p.errors.push(...scope.errors.map((e) => ({ ...e, field: LABELS.scope })));
    return write(
      c,
      {},
      p,
      () => {
        setPolicy({ ctx, actor: actorOf(c), scope: scope.data!, key: c.req.param('key'), settings: p.data! });
      },
      'saved',
    );
  });
  return app;
}
