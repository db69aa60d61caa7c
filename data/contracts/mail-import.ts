// POST /api/v1/mail/import: the old system's files as text (Postfix virtual_* maps, or the import CSV, see the README).
import { z } from 'zod';
import { HostName, MigrationMode, Port } from './mail-config.ts';

/** A file's text; the whole request body is capped at 1 MiB by the server. */
const FileText = z.string().max(1024 * 1024);

export const MailImportRequest = z
  .strictObject({
    csv: FileText.optional(),
    postfixDomains: FileText.optional(),
    postfixMailboxes: FileText.optional(),
    postfixAliases: FileText.optional(),
    /** true: only the plan (the diff against the current configuration), nothing written. */
    dryRun: z.boolean(),
    /** The mode of domains the import creates; hosted domains keep theirs. */
    newDomainMode: MigrationMode.default('legacy'),
    legacyHost: HostName.nullable().default(null),
    legacyPort: Port.nullable().default(null),
  })
  .refine(
    (b) => (b.csv !== undefined) !== (b.postfixDomains !== undefined || b.postfixMailboxes !== undefined || b.postfixAliases !== undefined),
    {
      message: 'give either csv or the postfix* files',
      path: ['csv'],
    },
  );
export type MailImportRequest = z.output<typeof MailImportRequest>;
