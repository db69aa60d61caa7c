// Imports the old system's domains, mailboxes, aliases and policies (Postfix maps or the import CSV): a dry run returns the
// plan; a real run applies it in one transaction through the same services as a manual edit (change log and audit
// per record) plus one summary audit row. Any bad line refuses the whole import; a second run finds nothing to change.
import { Invalid } from '../../domain/errors.ts';
import type { ServiceContext, Actor } from '../context.ts';
import type { ImportFile, ParseResult, ImportLineError } from '../../domain/mail-import.ts';
import { parseCsv } from '../../domain/mail-import-csv.ts';
import { parsePostfix } from '../../domain/mail-import.ts';
import { planImport, type ImportOptions, type ImportPlan } from '../../domain/mail-import-plan.ts';
import {
  listDomains,
  listMailboxes,
  listAliases,
  listPolicies,
  findDomain,
  upsertAlias,
  aliasRecord,
  domainRecord,
  mailboxRecord,
  policyRecord,
} from '../../store/mail.ts';
import { writeAudit } from '../../store/audit.ts';
import { addDomain } from './addDomain.ts';
import { updateDomain } from './updateDomain.ts';
import { addMailbox } from './addMailbox.ts';
import { addAlias } from './addAlias.ts';
import { setPolicy } from './setPolicy.ts';
import { recordChange } from './record.ts';
import { installationLegacyDefault } from './legacyDefault.ts';

export type ImportSource =
  | { format: 'postfix'; domains?: ImportFile; mailboxes?: ImportFile; aliases?: ImportFile }
  | { format: 'csv'; csv: ImportFile };

export interface ImportResult {
  dryRun: boolean;
  plan: ImportPlan;
  /** Records created or updated (0 on a dry run, and on a run that found nothing to change). */
  applied: number;
}

/** Refusal of a whole import: every bad line, named file:line, in the problem's errors. */
export class ImportRejected extends Invalid {
  readonly lines: ImportLineError[];
  constructor(lines: ImportLineError[]) {
    super(
      `${lines.length} bad line(s); nothing was imported.`,
      lines.map((l) => ({ field: `${l.file}:${l.line}`, message: l.message })),
    );
    this.lines = lines;
  }
}

function parseImport(source: ImportSource): ParseResult {
  if (source.format === 'csv') return parseCsv(source.csv);
  if (!source.domains && !source.mailboxes && !source.aliases) throw new Invalid('Give at least one Postfix map file to import.');
  return parsePostfix(source);
}

function currentPlan(ctx: ServiceContext, source: ImportSource, options: ImportOptions): ImportPlan {
  const parsed = parseImport(source);
  if (!parsed.ok) throw new ImportRejected(parsed.errors);
  const planned = planImport(
    parsed.desired,
    {
      domains: listDomains(ctx.db).map(domainRecord),
      mailboxes: listMailboxes(ctx.db).map(mailboxRecord),
      aliases: listAliases(ctx.db).map(aliasRecord),
      policies: listPolicies(ctx.db).map(policyRecord),
      legacyDefault: installationLegacyDefault(ctx.db),
    },
    options,
  );
  if (!planned.ok) throw new ImportRejected(planned.errors);
  return planned.plan;
}

export function importMailConfig({
  ctx,
  actor,
  source,
  options,
  dryRun,
}: {
  ctx: ServiceContext;
  actor: Actor;
  source: ImportSource;
  options: ImportOptions;
  dryRun: boolean;
}): ImportResult {
  if (dryRun) return { dryRun, plan: currentPlan(ctx, source, options), applied: 0 };
  const now = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      // Planned inside the write transaction: what it compares against cannot change before it is applied.
      const plan = currentPlan(ctx, source, options);
      let applied = 0;
      for (const i of plan.items) {
        if (i.action === 'unchanged') continue;
        applied++;
        if (i.kind === 'domain') {
          const { name, mode, legacyHost, legacyPort, catchAll } = i.after;
          // A hosted domain changes only by its catch-all (a virtual_alias_maps `@domain` entry).
          if (i.action === 'update') updateDomain({ ctx, actor, name, patch: { catchAll } });
          else addDomain({ ctx, actor, input: { name, mode, legacyHost, legacyPort, catchAll } });
        } else if (i.kind === 'mailbox') {
          const { address, delivery, lmtpHost, lmtpPort } = i.after;
          addMailbox({ ctx, actor, input: { address, delivery, lmtpHost, lmtpPort } });
        } else if (i.kind === 'alias') {
          const input = { address: i.after.address, targets: i.after.targets, keepLocalCopy: i.after.keepLocalCopy };
          if (i.action === 'create') addAlias({ ctx, actor, input });
          else {
            // An alias is edited as a whole; there is no manual "update alias" verb, so the same store call and traces as add.
            const d = findDomain(ctx.db, i.after.domain);
            if (!d) throw new Error(`domain ${i.after.domain} vanished during the import`);
            const a = upsertAlias(ctx.db, d.id, input, now);
            recordChange(ctx, actor, { entity: 'alias', key: a.address, op: 'upsert', record: aliasRecord(a) }, 'mail.alias.update', now);
          }
        } else {
          setPolicy({ ctx, actor, scope: i.after.scope, key: i.after.key, settings: i.after.settings });
        }
      }
      if (applied > 0) {
        writeAudit(ctx.db, {
          at: now,
          userId: actor.userId,
          actor: actor.name,
          action: 'mail.import',
          target: source.format === 'csv' ? source.csv.name : 'postfix',
          detail: JSON.stringify({ format: source.format, counts: plan.counts, kept: plan.kept }),
        });
      }
      return { dryRun, plan, applied };
    })
    .immediate();
}
