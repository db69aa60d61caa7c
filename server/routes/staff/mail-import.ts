// /staff/mail/import: the old system's files pasted into textareas (no JavaScript); Preview shows the diff, Import applies
// it through the same service as the CLI and API. Everything from the files is untrusted and escaped.
import { Hono, type Context } from 'hono';
import { MIGRATION_MODES, HostName, MigrationMode, Port } from '#data/contracts/mail-config.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { importMailConfig, type ImportResult, type ImportSource } from '../../services/mail/importConfig.ts';
import { planLines } from '../../domain/mail-import-plan.ts';
import { page, send, html, raw, csrfField } from './layout.ts';
import { readForm, type Form } from './forms.ts';
import { authOf, actorOf } from './guard.ts';
import { formErrorsOf } from './tasks.ts';

/** The old system's Postfix maps: the form field, the map's name (its bad lines are named by it), its part of the import. */
const POSTFIX = [
  { key: 'postfixDomains', map: 'virtual_mailbox_domains', part: 'domains' },
  { key: 'postfixMailboxes', map: 'virtual_mailbox_maps', part: 'mailboxes' },
  { key: 'postfixAliases', map: 'virtual_alias_maps', part: 'aliases' },
] as const;

const FILES = [
  { key: 'csv', label: 'Import CSV (domain,address,type,targets,spam_policy,virus_policy)' },
  ...POSTFIX.map((p) => ({ key: p.key, label: `Postfix ${p.map}` })),
];

export function mailImportPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };

  const show = (c: Context, o: { form?: Form; errors?: FieldError[]; result?: ImportResult; status?: number } = {}) => {
    const auth = authOf(c);
    const f = o.form ?? {};
    const mode = f.newDomainMode || 'legacy';
    const r = o.result;
    const diff = r
      ? html`<h2>${r.dryRun ? 'Preview: what the import would change' : r.applied ? `Imported: ${r.applied} record(s) created or updated` : 'Nothing to change'}</h2>
      <pre class="diff">${planLines(r.plan).join('\n')}</pre>`
      : '';
    const body = html`<p class="muted">Paste the old system's files. An import creates and updates, never deletes; any bad line refuses it all
    (each is named by file and line). Hosted domains keep their mode; new domains get the mode below. See the README for the formats.
    <a href="/staff/mail">Back to the mail configuration</a>.</p>
    ${diff}
    <form method="post" action="/staff/mail/import"><fieldset><legend>Files</legend>${csrfField(auth)}
    ${FILES.map(
      (x) =>
        html`<label for="imp-${x.key}">${x.label}</label><textarea id="imp-${x.key}" name="${x.key}" rows="8">${f[x.key] ?? ''}</textarea>`,
    )}
    <label for="imp-mode">Mode of new domains</label><select id="imp-mode" name="newDomainMode">${MIGRATION_MODES.map(
      (m) => html`<option value="${m}"${m === mode ? raw(' selected') : ''}>${m}</option>`,
    )}</select>
    <label for="imp-lh">Legacy host of new domains (legacy and shadow modes)</label><input type="text" id="imp-lh" name="legacyHost" value="${f.legacyHost ?? ''}">
    <label for="imp-lp">Legacy port</label><input type="text" id="imp-lp" name="legacyPort" value="${f.legacyPort ?? ''}">
    <p><button type="submit" name="action" value="preview">Preview</button> <button type="submit" name="action" value="import">Import</button></p>
    </fieldset></form>`;
    return send(c, page({ title: 'Import from the old mail system', auth, errors: o.errors ?? [], body }), o.status ?? 200);
  };

  app.get('/mail/import', (c) => show(c));

  app.post('/mail/import', async (c) => {
    const f = await readForm(c);
    for (const x of FILES) if (f[x.key] !== undefined) f[x.key] = f[x.key].replace(/\r\n/g, '\n');
    const given = (k: string) => (f[k] ?? '').trim() !== '';
    const errors: FieldError[] = [];
    const postfix = POSTFIX.filter((p) => given(p.key));
    if (given('csv') === postfix.length > 0) errors.push({ field: 'Files', message: 'paste either the CSV or the Postfix files' });
    const mode = MigrationMode.safeParse(f.newDomainMode || 'legacy');
    if (!mode.success) errors.push({ field: 'Mode of new domains', message: 'legacy, shadow or active' });
    const host = given('legacyHost') ? HostName.safeParse(f.legacyHost) : null;
    if (host && !host.success) errors.push({ field: 'Legacy host', message: 'must be a host name or IP address' });
    const port = given('legacyPort') ? Port.safeParse(/^\d{1,5}$/.test(f.legacyPort.trim()) ? Number(f.legacyPort) : Number.NaN) : null;
    if (port && !port.success) errors.push({ field: 'Legacy port', message: 'must be a port number' });
    if (errors.length || !mode.success) return show(c, { form: f, errors, status: 400 });
    const source: ImportSource = given('csv')
      ? { format: 'csv', csv: { name: 'csv', text: f.csv } }
      : {
          format: 'postfix',
          ...Object.fromEntries(postfix.map((p) => [p.part, { name: p.map, text: f[p.key] }])),
        };
    try {
      const result = importMailConfig({
        ctx,
        actor: actorOf(c),
        source,
        options: { newDomainMode: mode.data, legacyHost: host?.data ?? null, legacyPort: port?.data ?? null },
        dryRun: f.action !== 'import',
      });
      return show(c, { form: f, result });
    } catch (e) {
      const errs = formErrorsOf(e);
      return show(c, { form: f, errors: errs, status: errs.status });
    }
  });
  return app;
}
