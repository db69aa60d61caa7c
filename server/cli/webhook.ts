// `cli webhook add|list|remove|enable|disable`: webhook endpoints for operators (the same services as /api/v1/webhooks).
import { parseArgs } from 'node:util';
import { AddWebhookInput } from '#data/contracts/webhooks.ts';
import type { CliContext } from './context.ts';
import { createChangeCounter } from '../deps.ts';
import { Invalid } from '../domain/errors.ts';
import { reportRefusal } from './refusal.ts';
import { parse, table } from './format.ts';
import { listWebhooks } from '../store/webhooks.ts';
import { addWebhook } from '../services/webhooks/addWebhook.ts';
import { removeWebhook, setWebhookEnabled } from '../services/webhooks/changeWebhook.ts';

export const WEBHOOK_HELP = `  webhook add <url> [--section SLUG] [--description TEXT]   POST every event (or one section's) to the URL;
                                    prints the signing secret, shown this once
  webhook list                      endpoints, what they follow, enabled or disabled (and why)
  webhook remove|enable|disable <id>`;

const USAGE = `usage:\n${WEBHOOK_HELP}`;
const ACTOR = { userId: null, name: 'cli' } as const;

const parseWebhookArgs = (args: string[]) =>
  parseArgs({ args, allowPositionals: true, strict: true, options: { section: { type: 'string' }, description: { type: 'string' } } });

export async function webhookCommand(argv: string[], ctx: CliContext): Promise<number> {
  let parsed: ReturnType<typeof parseWebhookArgs>;
  try {
    parsed = parseWebhookArgs(argv);
  } catch (e) {
    ctx.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const [verb, arg] = parsed.positionals;
  const services = { db: ctx.db, clock: ctx.clock, changes: createChangeCounter() };
  try {
    switch (verb) {
      case 'add': {
        const input = parse(AddWebhookInput, { url: arg, section: parsed.values.section, description: parsed.values.description });
        const { webhook, secret } = addWebhook({ ctx: services, actor: ACTOR, input, allowPrivate: ctx.config.webhookAllowPrivate });
        ctx.stdout.write(
          `Added webhook ${webhook.id}: ${webhook.url} (${webhook.section ? `section ${webhook.section.slug}` : 'every event'}).\n`,
        );
        ctx.stdout.write(`Signing secret (shown this once): ${secret}\n`);
        return 0;
      }
      case 'list':
        table(
          ctx,
          ['ID', 'URL', 'EVENTS', 'STATE'],
          listWebhooks(ctx.db).map((w) => [
            String(w.id),
            w.url,
            w.section ? `section ${w.section.slug}` : 'all',
            w.enabled ? 'enabled' : `disabled ${w.disabledAt}: ${w.disabledReason}`,
          ]),
        );
        return 0;
      case 'remove':
      case 'enable':
      case 'disable': {
        if (!arg || !/^\d{1,10}$/.test(arg)) throw new Invalid('give the webhook id, as `webhook list` shows it');
        const id = Number(arg);
        if (verb === 'remove') removeWebhook({ ctx: services, actor: ACTOR, id });
        else setWebhookEnabled({ ctx: services, actor: ACTOR, id, enabled: verb === 'enable' });
        ctx.stdout.write(`Webhook ${id} ${verb === 'remove' ? 'removed' : `${verb}d`}.\n`);
        return 0;
      }
      default:
        ctx.stderr.write(`unknown webhook command "${verb ?? ''}"\n\n${USAGE}\n`);
        return 2;
    }
  } catch (e) {
    return reportRefusal(ctx.stderr, e);
  }
}
