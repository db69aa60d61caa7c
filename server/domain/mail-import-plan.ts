// What an import would change: the desired records against the current configuration, as create / update / unchanged.
// An import only adds and updates: what the current configuration has and the files lack stays, and the plan counts it.
import type { DomainRecord, MailboxRecord, AliasRecord, PolicyRecord } from '#data/contracts/mx-config.ts';
import type { MigrationMode } from '#data/contracts/mail-config.ts';
import type { LegacyDefault } from '#data/config.ts';
import type { PolicySettings } from '#data/contracts/mail-policy.ts';
import { splitAddress } from '#data/address.ts';
import type { DesiredConfig, ImportLineError, Origin } from './mail-import.ts';

export interface CurrentConfig {
  domains: DomainRecord[];
  mailboxes: MailboxRecord[];
  aliases: AliasRecord[];
  policies: PolicyRecord[];
  /** The installation's old MX (TIDINGS_LEGACY_HOST): new legacy/shadow domains without a legacy host get it. */
  legacyDefault?: LegacyDefault;
}

/**
 * How domains the import creates are set up; a domain already hosted keeps its mode and legacy host, and its catch-all
 * unless the files give one (a virtual_alias_maps `@domain` entry).
 */
export interface ImportOptions {
  newDomainMode: MigrationMode;
  legacyHost: string | null;
  legacyPort: number | null;
}

export type PlanAction = 'create' | 'update' | 'unchanged';
export const IMPORT_KINDS = ['domain', 'mailbox', 'alias', 'policy'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

export type PlanItem =
  | { kind: 'domain'; action: PlanAction; key: string; origin: Origin; before?: DomainRecord; after: DomainRecord }
  | { kind: 'mailbox'; action: PlanAction; key: string; origin: Origin; after: MailboxRecord }
  | { kind: 'alias'; action: PlanAction; key: string; origin: Origin; before?: AliasRecord; after: AliasRecord }
  | { kind: 'policy'; action: PlanAction; key: string; origin: Origin; before?: PolicySettings; after: PolicyRecord };

export type Counts = Record<ImportKind, Record<PlanAction, number>>;

export interface ImportPlan {
  items: PlanItem[];
  counts: Counts;
  /** Hosted now and absent from the files: an import never deletes, so these stay as they are. */
  kept: { domains: number; mailboxes: number; aliases: number };
}

export type PlanResult = { ok: true; plan: ImportPlan } | { ok: false; errors: ImportLineError[] };

export function emptyCounts(): Counts {
  return Object.fromEntries(IMPORT_KINDS.map((k) => [k, { create: 0, update: 0, unchanged: 0 }])) as Counts;
}

const sameTargets = (a: string[], b: string[]) => a.length === b.length && a.every((t, i) => t === b[i]);

export function planImport(desired: DesiredConfig, current: CurrentConfig, options: ImportOptions): PlanResult {
  const errors: ImportLineError[] = [];
  const items: PlanItem[] = [];
  const domains = new Map(current.domains.map((d) => [d.name, d]));
  const mailboxes = new Map(current.mailboxes.map((m) => [m.address, m]));
  const aliases = new Map(current.aliases.map((a) => [a.address, a]));
  const policies = new Map(current.policies.map((p) => [p.key, p]));
  const importedDomains = new Set(desired.domains.map((d) => d.name));
  const importedMailboxes = new Set(desired.mailboxes.map((m) => m.address));
  const importedAliases = new Set(desired.aliases.map((a) => a.address));

  const newDomains = desired.domains.filter((d) => !domains.has(d.name));
  if (newDomains.length && options.newDomainMode !== 'active' && options.legacyHost === null && !current.legacyDefault) {
    for (const d of newDomains)
      errors.push({
        file: d.file,
        line: d.line,
        message: `the new domain ${d.name} would be in ${options.newDomainMode} mode, which relays to the old system: give its legacy host (or import in active mode; or set TIDINGS_LEGACY_HOST)`,
      });
  }
  const catchAlls = new Map(desired.catchAlls.map((x) => [x.domain, x]));
  const domainItem = (name: string, origin: Origin) => {
    const existing = domains.get(name);
    const def = options.legacyHost === null && options.newDomainMode !== 'active' ? current.legacyDefault : null;
    const base: DomainRecord = existing ?? {
      name,
      mode: options.newDomainMode,
      legacyHost: def ? def.host : options.legacyHost,
      legacyPort: def ? def.port : options.legacyPort,
      catchAll: null,
    };
    const catchAll = catchAlls.get(name)?.target ?? base.catchAll;
    const after = { ...base, catchAll };
    const action: PlanAction = !existing ? 'create' : existing.catchAll === catchAll ? 'unchanged' : 'update';
    items.push({ kind: 'domain', action, key: name, origin, ...(existing ? { before: existing } : {}), after });
  };
  for (const d of desired.domains) domainItem(d.name, d);
  for (const x of desired.catchAlls) {
    if (importedDomains.has(x.domain)) continue;
    if (domains.has(x.domain)) domainItem(x.domain, x);
    else
      errors.push({
        file: x.file,
        line: x.line,
        message: `the catch-all's domain ${x.domain} is neither hosted nor in the import's domains`,
      });
  }
  const hosted = (address: string, at: Origin) => {
    const domain = splitAddress(address)?.domain ?? '';
    if (importedDomains.has(domain) || domains.has(domain)) return domain;
    errors.push({ file: at.file, line: at.line, message: `the domain of ${address} is neither hosted nor in the import's domains` });
    return null;
  };
  for (const m of desired.mailboxes) {
    const domain = hosted(m.address, m);
    if (domain === null) continue;
    const existing = mailboxes.get(m.address);
    const after: MailboxRecord = existing ?? { address: m.address, domain, delivery: 'maildir', lmtpHost: null, lmtpPort: null };
    items.push({ kind: 'mailbox', action: existing ? 'unchanged' : 'create', key: m.address, origin: m, after });
  }
  for (const a of desired.aliases) {
    const domain = hosted(a.address, a);
    if (domain === null) continue;
    if (a.keepLocalCopy && !importedMailboxes.has(a.address) && !mailboxes.has(a.address)) {
      errors.push({ file: a.file, line: a.line, message: `${a.address} lists itself (keep a local copy) but is not a mailbox` });
      continue;
    }
    const before = aliases.get(a.address);
    const after: AliasRecord = { address: a.address, domain, targets: a.targets, keepLocalCopy: a.keepLocalCopy };
    const action: PlanAction = !before
      ? 'create'
      : sameTargets(before.targets, a.targets) && before.keepLocalCopy === a.keepLocalCopy
        ? 'unchanged'
        : 'update';
    items.push({ kind: 'alias', action, key: a.address, origin: a, ...(before ? { before } : {}), after });
  }
  for (const p of desired.policies) {
    const before = policies.get(p.key)?.settings;
    const settings: PolicySettings = { ...before, ...(p.spam ? { spam: p.spam } : {}), ...(p.virus ? { virus: p.virus } : {}) };
    const action: PlanAction = !before
      ? 'create'
      : before.spam === settings.spam && before.virus === settings.virus
        ? 'unchanged'
        : 'update';
    items.push({
      kind: 'policy',
      action,
      key: p.key,
      origin: p,
      ...(before ? { before } : {}),
      after: { scope: p.scope, key: p.key, settings },
    });
  }
  if (errors.length) return { ok: false, errors: errors.sort((x, y) => x.file.localeCompare(y.file) || x.line - y.line) };
  const counts = emptyCounts();
  for (const i of items) counts[i.kind][i.action]++;
  return {
    ok: true,
    plan: {
      items,
      counts,
      kept: {
        domains: current.domains.filter((d) => !importedDomains.has(d.name)).length,
        mailboxes: current.mailboxes.filter((m) => !importedMailboxes.has(m.address)).length,
        aliases: current.aliases.filter((a) => !importedAliases.has(a.address)).length,
      },
    },
  };
}

const policyText = (s: PolicySettings | undefined) =>
  s === undefined
    ? '(inherits)'
    : [s.spam === undefined ? null : `spam=${s.spam}`, s.virus === undefined ? null : `virus=${s.virus}`].filter(Boolean).join(' ') ||
      '(inherits)';
const aliasText = (a: AliasRecord) => `${a.targets.join(', ')}${a.keepLocalCopy ? ' (keeping a local copy)' : ''}`;

const domainText = (before: DomainRecord | undefined, after: DomainRecord) =>
  before
    ? `catch-all ${before.catchAll ?? '(none)'} → ${after.catchAll ?? '(none)'}`
    : `mode ${after.mode}${after.legacyHost ? `, legacy ${after.legacyHost}:${after.legacyPort ?? 25}` : ''}${after.catchAll ? `, catch-all ${after.catchAll}` : ''}`;

const PLURAL: Record<ImportKind, string> = { domain: 'domains', mailbox: 'mailboxes', alias: 'aliases', policy: 'policies' };

/** The diff as text lines: one per created or updated record ("+" create, "~" update), then the counts. */
export function planLines(plan: ImportPlan): string[] {
  const lines: string[] = [];
  for (const i of plan.items) {
    if (i.action === 'unchanged') continue;
    const mark = i.action === 'create' ? '+' : '~';
    const what =
      i.kind === 'domain'
        ? domainText(i.before, i.after)
        : i.kind === 'mailbox'
          ? i.after.delivery
          : i.kind === 'alias'
            ? `${i.before ? `${aliasText(i.before)} → ` : '→ '}${aliasText(i.after)}`
            : `${i.before ? `${policyText(i.before)} → ` : ''}${policyText(i.after.settings)}`;
    lines.push(`${mark} ${i.kind} ${i.key}: ${what}  (${i.origin.file}:${i.origin.line})`);
  }
  for (const k of IMPORT_KINDS) {
    const c = plan.counts[k];
    lines.push(`${PLURAL[k]}: ${c.create} to create, ${c.update} to update, ${c.unchanged} unchanged`);
  }
  const { domains, mailboxes, aliases } = plan.kept;
  lines.push(
    `Not in the files and kept as they are (an import never deletes): ${domains} domain(s), ${mailboxes} mailbox(es), ${aliases} alias(es).`,
  );
  return lines;
}
