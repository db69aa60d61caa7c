// `cli mail ...`: domains, mailboxes, aliases, policies, the quarantine, the shadow report and MX node tokens, through the same services (and audit) as the API.
import { parseArgs } from 'node:util';
import type { CliContext } from './context.ts';
import { createChangeCounter } from '../deps.ts';
import { Invalid } from '../domain/errors.ts';
import { reportRefusal } from './refusal.ts';
import { DomainInput, DomainName, DomainPatch, MailboxInput, AliasInput, Address } from '#data/contracts/mail-config.ts';
import { listDomains, listMailboxes, listAliases } from '../store/mail.ts';
import { addDomain } from '../services/mail/addDomain.ts';
import { updateDomain } from '../services/mail/updateDomain.ts';
import { removeDomain } from '../services/mail/removeDomain.ts';
import { addMailbox } from '../services/mail/addMailbox.ts';
import { removeMailbox } from '../services/mail/removeMailbox.ts';
import { addAlias } from '../services/mail/addAlias.ts';
import { removeAlias } from '../services/mail/removeAlias.ts';
import { issueNodeToken } from '../services/mail/issueNodeToken.ts';
import { setPolicy } from '../services/mail/setPolicy.ts';
import { removePolicy } from '../services/mail/removePolicy.ts';
import { addressPolicy } from '../services/mail/addressPolicy.ts';
import { listPolicies } from '../store/mail.ts';
import { DEFAULT_POLICY, type MailPolicy, type PolicySettings } from '#data/contracts/mail-policy.ts';
import { INSTALLATION_POLICY_KEY, policyScopeOf } from '#data/contracts/mx-config.ts';
import { importCommand, IMPORT_HELP } from './mail-import.ts';
import { switchCommand, SWITCH_HELP } from './mail-switch.ts';
import { quarantineCommand, QUARANTINE_HELP, type QuarantineVerb } from './mail-quarantine.ts';
import { shadowCommand, SHADOW_HELP } from './mail-shadow.ts';
import { parse, table } from './format.ts';

export const MAIL_HELP = `Mail configuration (every change is audited and reaches the MX nodes on their next sync):
  mail domain add <domain> [--mode active|shadow|legacy] [--legacy-host HOST] [--legacy-port PORT] [--catch-all ADDRESS]
  mail domain set <domain> [--mode ...] [--legacy-host HOST|none] [--legacy-port PORT|none] [--catch-all ADDRESS|none]
  mail domain list
  mail domain remove <domain>          also removes its mailboxes and aliases
  mail mailbox add <address> [--lmtp HOST:PORT]    built-in Maildir unless --lmtp (e.g. Dovecot)
  mail mailbox list [--domain DOMAIN]
  mail mailbox remove <address>
  mail alias add <address> <target>... [--keep-local-copy]
  mail alias list [--domain DOMAIN]
  mail alias remove <address>
  mail policy list                     the policy settings of every level that sets any
  mail policy set <installation|DOMAIN|ADDRESS> [--spam deliver|tag|remove|reject] [--virus remove|reject]
                  [--dmarc honour|record] [--spam-threshold SCORE|rspamd] [--subject-prefix TEXT]
                                       replaces that level's settings; what it leaves out is inherited
                                       (installation → domain → address); no options: the level inherits everything
  mail policy remove <installation|DOMAIN|ADDRESS>
  mail policy show <address>           the effective policy of a mailbox or alias, and where each setting comes from
${QUARANTINE_HELP}
${SHADOW_HELP}
${SWITCH_HELP}
  mail node-token <node-name>          prints a new token for that MX node (replaces its old one)
${IMPORT_HELP}`;

const ACTOR = { userId: null, name: 'cli' } as const;

function portOption(raw: string | undefined, name: string): number | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'none') return null;
  if (!/^\d{1,5}$/.test(raw)) throw new Invalid(`--${name}: must be a port number`);
  return Number(raw);
}

const orNone = (raw: string | undefined) => (raw === 'none' ? null : raw);

/** A policy level as the CLI names it: `installation` (or `*`), a domain name, an address. */
function policyLevel(raw: string): { scope: ReturnType<typeof policyScopeOf>; key: string } {
  const key = raw === 'installation' ? INSTALLATION_POLICY_KEY : raw;
  return { scope: policyScopeOf(key), key };
}

function thresholdOption(raw: string | undefined): number | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'rspamd') return null;
  if (!/^-?\d+(\.\d+)?$/.test(raw)) throw new Invalid('--spam-threshold: a score such as 6 or 7.5, or rspamd (its own verdict)');
  return Number(raw);
}

const settingText = (k: keyof MailPolicy, v: unknown) =>
  k === 'spamThreshold' && v === null ? 'rspamd' : k === 'subjectPrefix' ? JSON.stringify(v) : String(v);
const settingsText = (s: PolicySettings) =>
  (Object.keys(DEFAULT_POLICY) as (keyof MailPolicy)[])
    .filter((k) => s[k] !== undefined)
    .map((k) => `${k}=${settingText(k, s[k])}`)
    .join(' ');

/** Throws on an unknown option or an option without its value. */
function parseMailArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      mode: { type: 'string' },
      'legacy-host': { type: 'string' },
      'legacy-port': { type: 'string' },
      'catch-all': { type: 'string' },
      lmtp: { type: 'string' },
      domain: { type: 'string' },
      'keep-local-copy': { type: 'boolean' },
      spam: { type: 'string' },
      virus: { type: 'string' },
      dmarc: { type: 'string' },
      'spam-threshold': { type: 'string' },
      'subject-prefix': { type: 'string' },
      search: { type: 'string' },
      reason: { type: 'string' },
      status: { type: 'string' },
      node: { type: 'string' },
      limit: { type: 'string' },
    },
  });
}

export async function mailCommand(argv: string[], ctx: CliContext): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    ctx.stdout.write(`${MAIL_HELP}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const services = { db: ctx.db, clock: ctx.clock, changes: createChangeCounter() };
  if (argv[0] === 'import') return importCommand(argv.slice(1), ctx, services, ACTOR);
  if (argv[0] === 'switch') return switchCommand(argv.slice(1), ctx, services, ACTOR);
  if (argv[0] === 'shadow') return shadowCommand(argv.slice(1), ctx);
  let parsed: ReturnType<typeof parseMailArgs>;
  try {
    parsed = parseMailArgs(argv);
  } catch (e) {
    ctx.stderr.write(`${(e as Error).message}\n\n${MAIL_HELP}\n`);
    return 2;
  }
  const [noun, verb, ...args] = parsed.positionals;
  const o = parsed.values;
  const want = (n: number, what: string) => {
    if (args.length < n)
      throw new Invalid(`name the ${what}, e.g. \`mail ${noun} ${verb} ${what === 'domain' ? 'example.com' : 'user@example.com'}\``);
  };
  try {
    switch (`${noun} ${verb ?? ''}`.trim()) {
      case 'domain add': {
        want(1, 'domain');
        const d = addDomain({
          ctx: services,
          actor: ACTOR,
          input: parse(DomainInput, {
            name: args[0],
            mode: o.mode,
            legacyHost: o['legacy-host'],
            legacyPort: portOption(o['legacy-port'], 'legacy-port') ?? undefined,
            catchAll: o['catch-all'],
          }),
        });
        ctx.stdout.write(`Added domain ${d.name} (mode ${d.mode}).\n`);
        return 0;
      }
      case 'domain set': {
        want(1, 'domain');
        const d = updateDomain({
          ctx: services,
          actor: ACTOR,
          name: parse(DomainName, args[0]),
          patch: parse(DomainPatch, {
            mode: o.mode,
            legacyHost: orNone(o['legacy-host']),
            legacyPort: portOption(o['legacy-port'], 'legacy-port'),
            catchAll: orNone(o['catch-all']),
          }),
        });
        ctx.stdout.write(`Updated domain ${d.name} (mode ${d.mode}).\n`);
        return 0;
      }
      case 'domain list':
        table(
          ctx,
          ['DOMAIN', 'MODE', 'LEGACY HOST', 'CATCH-ALL'],
          listDomains(ctx.db).map((d) => [d.name, d.mode, d.legacyHost ? `${d.legacyHost}:${d.legacyPort ?? 25}` : '-', d.catchAll ?? '-']),
        );
        return 0;
      case 'domain remove': {
        want(1, 'domain');
        const r = removeDomain({ ctx: services, actor: ACTOR, name: parse(DomainName, args[0]) });
        ctx.stdout.write(`Removed domain ${args[0].toLowerCase()} with ${r.mailboxes} mailbox(es) and ${r.aliases} alias(es).\n`);
        return 0;
      }
      case 'mailbox add': {
        want(1, 'address');
        let lmtp: { host: string; port: number } | undefined;
        if (o.lmtp !== undefined) {
          const m = /^(.+):(\d{1,5})$/.exec(o.lmtp);
          if (!m) throw new Invalid('--lmtp: give HOST:PORT, e.g. 127.0.0.1:24');
          lmtp = { host: m[1], port: Number(m[2]) };
        }
        const m = addMailbox({
          ctx: services,
          actor: ACTOR,
          input: parse(MailboxInput, {
            address: args[0],
            delivery: lmtp ? 'lmtp' : 'maildir',
            lmtpHost: lmtp?.host ?? null,
            lmtpPort: lmtp?.port ?? null,
          }),
        });
        ctx.stdout.write(`Added mailbox ${m.address} (${m.delivery === 'lmtp' ? `LMTP ${m.lmtpHost}:${m.lmtpPort}` : 'Maildir'}).\n`);
        return 0;
      }
      case 'mailbox list':
        table(
          ctx,
          ['MAILBOX', 'DELIVERY'],
          listMailboxes(ctx.db, o.domain === undefined ? undefined : parse(DomainName, o.domain)).map((m) => [
            m.address,
            m.delivery === 'lmtp' ? `lmtp ${m.lmtpHost}:${m.lmtpPort}` : 'maildir',
          ]),
        );
        return 0;
      case 'mailbox remove':
        want(1, 'address');
        removeMailbox({ ctx: services, actor: ACTOR, address: parse(Address, args[0]) });
        ctx.stdout.write(`Removed mailbox ${args[0].toLowerCase()}.\n`);
        return 0;
      case 'alias add': {
        if (args.length < 2)
          throw new Invalid('give the alias and at least one target, e.g. `mail alias add info@example.com anna@example.com`');
        const a = addAlias({
          ctx: services,
          actor: ACTOR,
          input: parse(AliasInput, { address: args[0], targets: args.slice(1), keepLocalCopy: o['keep-local-copy'] ?? false }),
        });
        ctx.stdout.write(`Added alias ${a.address} → ${a.targets.join(', ')}${a.keepLocalCopy ? ' (keeping a local copy)' : ''}.\n`);
        return 0;
      }
      case 'alias list':
        table(
          ctx,
          ['ALIAS', 'LOCAL COPY', 'TARGETS'],
          listAliases(ctx.db, o.domain === undefined ? undefined : parse(DomainName, o.domain)).map((a) => [
            a.address,
            a.keepLocalCopy ? 'yes' : 'no',
            a.targets.join(', '),
          ]),
        );
        return 0;
      case 'alias remove':
        want(1, 'address');
        removeAlias({ ctx: services, actor: ACTOR, address: parse(Address, args[0]) });
        ctx.stdout.write(`Removed alias ${args[0].toLowerCase()}.\n`);
        return 0;
      case 'policy list':
        table(
          ctx,
          ['LEVEL', 'KEY', 'SETTINGS'],
          listPolicies(ctx.db).map((p) => [p.scope, p.key === INSTALLATION_POLICY_KEY ? 'installation' : p.key, settingsText(p.settings)]),
        );
        return 0;
      case 'policy set': {
        if (args.length < 1)
          throw new Invalid('name the level, e.g. `mail policy set example.com --spam reject` (or installation, or an address)');
        const { scope, key } = policyLevel(args[0]);
        const settings = Object.fromEntries(
          Object.entries({
            spam: o.spam,
            virus: o.virus,
            dmarc: o.dmarc,
            spamThreshold: thresholdOption(o['spam-threshold']),
            subjectPrefix: o['subject-prefix'],
          }).filter(([, v]) => v !== undefined),
        );
        const p = setPolicy({ ctx: services, actor: ACTOR, scope, key, settings });
        ctx.stdout.write(
          p
            ? `Set the ${scope} policy of ${p.key === INSTALLATION_POLICY_KEY ? 'the installation' : p.key}: ${settingsText(p.settings)}.\n`
            : `The ${scope} level ${key === INSTALLATION_POLICY_KEY ? '' : `${key.toLowerCase()} `}now inherits every setting.\n`,
        );
        return 0;
      }
      case 'policy remove': {
        if (args.length < 1) throw new Invalid('name the level, e.g. `mail policy remove example.com` (or installation, or an address)');
        const { scope, key } = policyLevel(args[0]);
        removePolicy({ ctx: services, actor: ACTOR, scope, key });
        ctx.stdout.write(`Removed the ${scope} policy of ${key === INSTALLATION_POLICY_KEY ? 'the installation' : key.toLowerCase()}.\n`);
        return 0;
      }
      case 'policy show': {
        want(1, 'address');
        const e = addressPolicy(ctx.db, parse(Address, args[0]));
        table(
          ctx,
          ['SETTING', 'VALUE', 'FROM'],
          (Object.keys(DEFAULT_POLICY) as (keyof MailPolicy)[]).map((k) => [
            k,
            settingText(k, e.policy[k]),
            e.source[k] === 'installation' && e.levels.installation[k] === undefined ? 'default' : e.source[k],
          ]),
        );
        return 0;
      }
      case 'quarantine list':
      case 'quarantine release':
      case 'quarantine delete':
        return quarantineCommand(verb as QuarantineVerb, args, o, ctx, services, ACTOR);
      default:
        if (noun === 'node-token' && verb) {
          const token = issueNodeToken({ ctx: services, actor: ACTOR, name: verb });
          ctx.stdout.write(`${token}\n`);
          ctx.stderr.write(`New token for MX node "${verb}" (shown once; any earlier token of this node stops working).\n`);
          return 0;
        }
        ctx.stderr.write(`unknown mail command "${[noun, verb].filter(Boolean).join(' ')}"\n\n${MAIL_HELP}\n`);
        return 2;
    }
  } catch (e) {
    return reportRefusal(ctx.stderr, e);
  }
}
