// `cli mail quarantine ...`: list quarantined copies with search and filters; request a release or a deletion (audited).
import type { CliContext } from './context.ts';
import type { ServiceContext, Actor } from '../services/context.ts';
import { Invalid } from '../domain/errors.ts';
import { parse, table } from './format.ts';
import { QuarantineReason, QuarantineStatus } from '#data/contracts/quarantine.ts';
import { listQuarantine, QUARANTINE_PAGE_MAX } from '../services/mail/listQuarantine.ts';
import { parseDeliveryId } from '../domain/mx-node.ts';
import { requestQuarantineRelease } from '../services/mail/requestQuarantineRelease.ts';
import { requestQuarantineDelete } from '../services/mail/requestQuarantineDelete.ts';

const QUARANTINE_LIST_USAGE =
  'mail quarantine list [--search WORDS] [--reason spam|virus] [--status held|released|purged] [--node NODE] [--limit N]';

export const QUARANTINE_HELP = `  ${QUARANTINE_LIST_USAGE}
                                       quarantined copies, newest first (words in subject, sender, recipient, symbols, virus)
  mail quarantine release <node> <delivery-id>   deliver the copy as if clean (never a virus); applied on the node's next sync
  mail quarantine delete <node> <delivery-id>    delete the copy; applied on the node's next sync`;

export type QuarantineVerb = 'list' | 'release' | 'delete';

/** The `mail` options the quarantine commands read (parsed with the other mail options). */
export interface QuarantineOptions {
  search?: string;
  reason?: string;
  status?: string;
  node?: string;
  limit?: string;
}

/** Runs one quarantine command; refusals are thrown for the caller to report. */
export function quarantineCommand(
  verb: QuarantineVerb,
  args: string[],
  o: QuarantineOptions,
  ctx: CliContext,
  services: ServiceContext,
  actor: Actor,
): number {
  if (verb === 'list') {
    if (o.limit !== undefined && !(/^\d{1,3}$/.test(o.limit) && Number(o.limit) >= 1 && Number(o.limit) <= QUARANTINE_PAGE_MAX))
      throw new Invalid(`--limit: a number of copies, 1 to ${QUARANTINE_PAGE_MAX}. Usage: ${QUARANTINE_LIST_USAGE}`);
    const { items, next } = listQuarantine(ctx.db, {
      q: o.search,
      reason: o.reason === undefined ? undefined : parse(QuarantineReason, o.reason),
      status: o.status === undefined ? undefined : parse(QuarantineStatus, o.status),
      node: o.node,
      limit: o.limit === undefined ? undefined : Number(o.limit),
    });
    table(
      ctx,
      [
        'QUARANTINED',
        'NODE',
        'DELIVERY',
        'REASON',
        'STATUS',
        'PENDING',
        'RECIPIENT',
        'RELEASE TO',
        'SENDER',
        'SCORE',
        'VERDICT',
        'SUBJECT',
      ],
      items.map((i) => [
        i.quarantinedAt,
        i.node,
        String(i.deliveryId),
        i.reason,
        i.status === 'purged' ? `purged (${i.purgeReason})` : i.status,
        i.pending ? i.pending.action : i.refused ? `${i.refused.action} refused (${i.refused.why})` : '-',
        i.recipient,
        i.route === 'forward' ? `forward ${i.target} (external)` : `${i.route} ${i.target}`,
        i.sender === '' ? '<>' : i.sender,
        i.score === null ? '-' : i.score.toFixed(2),
        i.virus ?? (i.symbols.join(',') || '-'),
        i.subject ?? '(no subject)',
      ]),
    );
    if (next) ctx.stderr.write(`More copies are older than these: narrow the search or raise --limit.\n`);
    return 0;
  }
  const deliveryId = args.length < 2 ? null : parseDeliveryId(args[1]);
  if (deliveryId === null)
    throw new Invalid(`name the node and the delivery id, e.g. \`mail quarantine ${verb} mx1 42\` (see \`mail quarantine list\`)`);
  const input = { ctx: services, actor, node: args[0], deliveryId };
  const a = verb === 'release' ? requestQuarantineRelease(input) : requestQuarantineDelete(input);
  ctx.stdout.write(
    `${verb === 'release' ? 'Release' : 'Deletion'} of copy ${a.deliveryId} on ${a.node} requested (action ${a.id}); the node applies it on its next sync.\n`,
  );
  return 0;
}
