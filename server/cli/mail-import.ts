// `cli mail import ...`: the old system's Postfix maps or the import CSV → domains, mailboxes, aliases and policies.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliContext } from './context.ts';
import type { ServiceContext, Actor } from '../services/context.ts';
import { Invalid } from '../domain/errors.ts';
import { reportRefusal } from './refusal.ts';
import { HostName, MigrationMode, Port } from '#data/contracts/mail-config.ts';
import { importMailConfig, ImportRejected, type ImportSource } from '../services/mail/importConfig.ts';
import { planLines } from '../domain/mail-import-plan.ts';
import type { ImportFile } from '../domain/mail-import.ts';

export const IMPORT_HELP = `  mail import --postfix-domains FILE --postfix-mailboxes FILE --postfix-aliases FILE [options]
  mail import --csv FILE [options]
                                       imports the old system's virtual_mailbox_domains, virtual_mailbox_maps and
                                       virtual_alias_maps (any of the three), or the import CSV (see the README);
                                       adds and updates, never deletes; any bad line: nothing is imported
         --dry-run                     print the diff against the current configuration, change nothing
         --mode legacy|shadow|active   the mode of domains the import creates (default legacy; hosted ones keep theirs)
         --legacy-host HOST [--legacy-port PORT]   the old MX that new legacy/shadow domains relay to`;

const MAX_FILE = 16 * 1024 * 1024;

function readImportFile(path: string): ImportFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Invalid(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (text.length > MAX_FILE) throw new Invalid(`${path} is larger than ${MAX_FILE / 1024 / 1024} MiB`);
  return { name: path, text };
}

export async function importCommand(argv: string[], ctx: CliContext, services: ServiceContext, actor: Actor): Promise<number> {
  let o: Record<string, string | boolean | undefined>;
  try {
    o = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'postfix-domains': { type: 'string' },
        'postfix-mailboxes': { type: 'string' },
        'postfix-aliases': { type: 'string' },
        csv: { type: 'string' },
        'dry-run': { type: 'boolean' },
        mode: { type: 'string' },
        'legacy-host': { type: 'string' },
        'legacy-port': { type: 'string' },
      },
    }).values;
  } catch (e) {
    ctx.stderr.write(`${(e as Error).message}\n\n${IMPORT_HELP}\n`);
    return 2;
  }
  const str = (k: string) => o[k] as string | undefined;
  try {
    const postfix = ['postfix-domains', 'postfix-mailboxes', 'postfix-aliases'].some((k) => str(k) !== undefined);
    if (postfix === (str('csv') !== undefined))
      throw new Invalid('give either --csv FILE or the --postfix-* map files (see `mail --help`)');
    const mode = MigrationMode.safeParse(str('mode') ?? 'legacy');
    if (!mode.success) throw new Invalid('--mode: legacy, shadow or active');
    const host = str('legacy-host') === undefined ? null : HostName.safeParse(str('legacy-host'));
    if (host && !host.success) throw new Invalid('--legacy-host: must be a host name or IP address');
    const rawPort = str('legacy-port');
    const port = rawPort === undefined ? null : Port.safeParse(/^\d{1,5}$/.test(rawPort) ? Number(rawPort) : Number.NaN);
    if (port && !port.success) throw new Invalid('--legacy-port: must be a port number');
    const file = (k: string) => (str(k) === undefined ? undefined : readImportFile(str(k) as string));
    const source: ImportSource = postfix
      ? {
          format: 'postfix',
          domains: file('postfix-domains'),
          mailboxes: file('postfix-mailboxes'),
          aliases: file('postfix-aliases'),
        }
      : { format: 'csv', csv: readImportFile(str('csv') as string) };
    const dryRun = o['dry-run'] === true;
    const r = importMailConfig({
      ctx: services,
      actor,
      source,
      options: { newDomainMode: mode.data, legacyHost: host?.data ?? null, legacyPort: port?.data ?? null },
      dryRun,
    });
    for (const l of planLines(r.plan)) ctx.stdout.write(`${l}\n`);
    ctx.stdout.write(
      dryRun
        ? 'Dry run: nothing was changed.\n'
        : r.applied
          ? `Imported: ${r.applied} record(s) created or updated.\n`
          : 'Nothing to change: the configuration already matches the files.\n',
    );
    return 0;
  } catch (e) {
    if (e instanceof ImportRejected) {
      for (const l of e.lines) ctx.stderr.write(`${l.file}:${l.line}: ${l.message}\n`);
      ctx.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    return reportRefusal(ctx.stderr, e);
  }
}
