// The node's Directory: resolves recipients from the replica tables (aliases, plus-addressing, catch-all, postmaster, SRS bounces).
import { canonicalAddress, foldDomain, splitAddress } from '#data/address.ts';
import type { DB } from '#data/db.ts';
import { effectivePolicy, type EffectivePolicy, type PolicySettings } from '#data/contracts/mail-policy.ts';
import { INSTALLATION_POLICY_KEY, modeAt, type ScheduledSwitch } from '#data/contracts/mx-config.ts';
import type { MigrationMode } from '#data/contracts/mail-config.ts';
import type { Clock } from '../deps.ts';
import type { Directory, Resolution, Route, ShadowPlan } from './directory.ts';
import { applyMode, type Expansion, type LegacyRoute } from './mode.ts';
import type { Srs } from '../srs/srs.ts';

export interface ReplicaDirectoryOptions {
  db: DB;
  clock: Clock;
  /** When set, bounces to this SRS domain are reversed to the original sender. */
  srs?: Srs;
  /** Where postmaster@ of a domain goes when the domain has no postmaster mailbox or alias. Default: a built-in Maildir mailbox per domain. */
  postmaster?: string;
  /** Alias chains longer than this are cut: a configuration loop must not hang RCPT. */
  maxDepth?: number;
}

interface DomainRow {
  name: string;
  mode: 'legacy' | 'shadow' | 'active';
  legacy_host: string | null;
  legacy_port: number | null;
  catch_all: string | null;
  /** Pending switches as JSON (ScheduledSwitch[]): node migration 008. */
  switches: string;
}
interface MailboxRow {
  address: string;
  delivery: 'maildir' | 'lmtp';
  lmtp_host: string | null;
  lmtp_port: number | null;
}
interface AliasRow {
  address: string;
  targets: string;
  keep_local_copy: number;
}

export function createReplicaDirectory(opts: ReplicaDirectoryOptions): Directory {
  const { db, srs } = opts;
  const maxDepth = opts.maxDepth ?? 8;
  const domainStmt = db.prepare('SELECT name, mode, legacy_host, legacy_port, catch_all, switches FROM replica_domains WHERE name = ?');
  const mailboxStmt = db.prepare('SELECT address, delivery, lmtp_host, lmtp_port FROM replica_mailboxes WHERE address = ?');
  const aliasStmt = db.prepare('SELECT address, targets, keep_local_copy FROM replica_aliases WHERE address = ?');
  // Imported configuration of a legacy or shadow domain: any mailbox or alias of it (both tables index domain).
  const importedStmt = db
    .prepare('SELECT EXISTS (SELECT 1 FROM replica_mailboxes WHERE domain = ?) OR EXISTS (SELECT 1 FROM replica_aliases WHERE domain = ?)')
    .pluck();
  const domainRow = (name: string) => domainStmt.get(name) as DomainRow | undefined;
  const isHosted = (name: string) => domainRow(name) !== undefined;
  const policyStmt = db.prepare('SELECT settings FROM replica_policies WHERE key = ?').pluck();
  const generationStmt = db.prepare('SELECT policy_generation FROM replica_state WHERE id = 1').pluck();

  // Effective policies by "domain\0address", valid while the replica's policy generation stays put (a sync that
  // touches a policy moves it): per RCPT one indexed read, no JSON parse. Bounded; a full cache simply starts over.
  const POLICY_CACHE_MAX = 10_000;
  const policyCache = new Map<string, EffectivePolicy>();
  const settingsCache = new Map<string, PolicySettings | undefined>();
  let cachedGeneration = -1;
  const settingsOf = (key: string): PolicySettings | undefined => {
    if (settingsCache.has(key)) return settingsCache.get(key);
    const raw = policyStmt.get(key) as string | undefined;
    const settings = raw === undefined ? undefined : (JSON.parse(raw) as PolicySettings);
    if (settingsCache.size >= POLICY_CACHE_MAX) settingsCache.clear();
    settingsCache.set(key, settings);
    return settings;
  };
  /** The effective policy of `address` (null: none of its own, e.g. a catch-all hit) in `domain` (null: not hosted). */
  function policyFor(domain: string | null, address: string | null): EffectivePolicy {
    const generation = generationStmt.get() as number;
    if (generation !== cachedGeneration) {
      policyCache.clear();
      settingsCache.clear();
      cachedGeneration = generation;
    }
    const cacheKey = `${domain ?? ''}\0${address ?? ''}`;
    let p = policyCache.get(cacheKey);
    if (!p) {
      p = effectivePolicy({
        installation: settingsOf(INSTALLATION_POLICY_KEY),
        domain: domain === null ? undefined : settingsOf(domain),
        address: address === null ? undefined : settingsOf(address),
      });
      if (policyCache.size >= POLICY_CACHE_MAX) policyCache.clear();
      policyCache.set(cacheKey, p);
    }
    return p;
  }

  /** The instant the resolution in progress applies modes at (resolve's `at`; resolution is synchronous). */
  let resolvingAt = 0;
  /** The domain's mode in force then: a scheduled switch takes effect at its time, from the replica alone. */
  const switchesCache = new Map<string, ScheduledSwitch[]>();
  function modeOf(d: DomainRow): MigrationMode {
    if (d.switches === '[]') return d.mode;
    let switches = switchesCache.get(d.switches);
    if (!switches) {
      switches = JSON.parse(d.switches) as ScheduledSwitch[];
      if (switchesCache.size >= 1000) switchesCache.clear();
      switchesCache.set(d.switches, switches);
    }
    return modeAt({ mode: d.mode, switches }, resolvingAt);
  }

  const mailboxRoute = (m: MailboxRow): Route =>
    m.delivery === 'lmtp'
      ? { kind: 'lmtp', mailbox: m.address, host: m.lmtp_host!, port: m.lmtp_port! }
      : { kind: 'maildir', mailbox: m.address };
  const legacyRoute = (d: DomainRow): LegacyRoute => ({
    kind: 'legacy',
    host: d.legacy_host!,
    port: d.legacy_port ?? 25,
  });

  /**
   * Routes for one address, or null when a hosted address does not exist. `seen` cuts alias loops. `asActive` names a
   * legacy/shadow domain whose addresses are being resolved as the new system would (config/mode.ts).
   */
  function expand(target: string, depth: number, seen: Set<string>, viaCatchAll: boolean, asActive?: string): Expansion | null {
    // Alias targets keep the local part as configured: an external provider may treat it
    // case-sensitively, so a forward keeps it; a hosted address is looked up lower-case.
    const address = target.toLowerCase();
    const parts = splitAddress(address);
    if (!parts) return null;
    const dom = domainRow(parts.domain);
    if (!dom) return { routes: [{ kind: 'forward', to: foldDomain(target) }], matched: address };
    if (depth > maxDepth || seen.has(address)) return { routes: [], matched: address };
    const mode = modeOf(dom);
    if (mode === 'active' || dom.name === asActive) {
      seen.add(address);
      return expandActive(dom, address, parts.local, depth, seen, viaCatchAll, asActive);
    }
    const imported = importedStmt.get(dom.name, dom.name) === 1;
    // The new system's answer is needed to check an address against imported configuration, and for shadow's dry run;
    // a legacy domain without imported configuration asks the old MX instead.
    const next = imported || mode === 'shadow' ? expand(address, depth, new Set(seen), viaCatchAll, dom.name) : null;
    seen.add(address);
    return applyMode({ mode, address, legacy: legacyRoute(dom), next, imported, depth });
  }

  function expandActive(
    dom: DomainRow,
    address: string,
    local: string,
    depth: number,
    seen: Set<string>,
    viaCatchAll: boolean,
    asActive: string | undefined,
  ): Expansion | null {
    let matched = address;
    let alias = aliasStmt.get(address) as AliasRow | undefined;
    let mailbox = mailboxStmt.get(address) as MailboxRow | undefined;
    const plus = local.indexOf('+');
    if (!alias && !mailbox && plus > 0) {
      matched = `${local.slice(0, plus)}@${dom.name}`;
      alias = aliasStmt.get(matched) as AliasRow | undefined;
      mailbox = mailboxStmt.get(matched) as MailboxRow | undefined;
    }
    if (!alias && !mailbox) {
      if (dom.catch_all && !viaCatchAll) {
        const r = expand(dom.catch_all, depth + 1, seen, true, asActive);
        return r && { routes: r.routes, matched: address, catchAll: true };
      }
      return null;
    }
    const routes: Route[] = [];
    if (alias) {
      for (const target of JSON.parse(alias.targets) as string[]) {
        const r = expand(target, depth + 1, seen, false, asActive);
        if (r) routes.push(...r.routes); // an internal target that no longer exists is skipped, not fatal
      }
      if (alias.keep_local_copy === 1 && mailbox) routes.push(mailboxRoute(mailbox));
    } else if (mailbox) {
      routes.push(mailboxRoute(mailbox));
    }
    return { routes, matched };
  }

  const unique = (routes: Route[]): Route[] => [...new Map(routes.map((route) => [JSON.stringify(route), route])).values()];
  const policyOf = (r: Expansion): EffectivePolicy => policyFor(splitAddress(r.matched)!.domain, r.catchAll ? null : r.matched);

  function shadowPlan(r: Expansion & { shadow: { next: Expansion | null } }): ShadowPlan {
    const next = r.shadow.next;
    const domain = splitAddress(r.matched)!.domain;
    if (!next) return { domain, address: r.matched, next: null };
    const routes = unique(next.routes);
    return { domain, address: next.matched, next: routes.length ? { routes, policy: policyOf(next) } : null };
  }

  function finish(r: Expansion | null): Resolution {
    if (!r) return { status: 'unknown-user' };
    const routes = unique(r.routes);
    if (!routes.length) return { status: 'unknown-user' };
    const ok: Resolution = { status: 'ok', address: r.matched, routes, policy: policyOf(r) };
    if (r.verify) ok.verify = r.verify;
    if (r.mode) ok.mode = r.mode;
    if (r.shadow) ok.shadow = shadowPlan(r as Expansion & { shadow: { next: Expansion | null } });
    return ok;
  }

  function resolveSrs(original: string): Resolution {
    const back = srs!.reverse(original, new Date(opts.clock.now()));
    if (!back.ok) return { status: 'unknown-user' };
    const target = back.address.toLowerCase();
    const parts = splitAddress(target);
    if (parts && domainRow(parts.domain)) return finish(expand(target, 0, new Set(), false));
    // Keep the original sender's spelling: local parts may be case-sensitive at their home.
    return {
      status: 'ok',
      address: original.toLowerCase(),
      routes: [{ kind: 'forward', to: back.address }],
      policy: policyFor(null, null),
    };
  }

  function resolvePostmaster(address: string, domain: string): Resolution {
    if (opts.postmaster && opts.postmaster.toLowerCase() !== address) {
      const r = finish(expand(opts.postmaster.toLowerCase(), 0, new Set(), false));
      if (r.status === 'ok') return { ...r, address, policy: policyFor(isHosted(domain) ? domain : null, null) };
    }
    return {
      status: 'ok',
      address,
      routes: [{ kind: 'maildir', mailbox: `postmaster@${domain}` }],
      policy: policyFor(isHosted(domain) ? domain : null, null),
    };
  }

  function resolve(raw: string, at?: number): Resolution {
    resolvingAt = at ?? opts.clock.now();
    const address = canonicalAddress(raw);
    const parts = splitAddress(address);
    if (!parts) return { status: 'not-hosted' };
    if (srs && parts.domain === srs.domain && srs.isSrsAddress(raw.trim())) return resolveSrs(raw.trim());
    const dom = domainRow(parts.domain);
    if (!dom) {
      if (srs && parts.domain === srs.domain)
        return parts.local === 'postmaster' ? resolvePostmaster(address, parts.domain) : { status: 'unknown-user' };
      return { status: 'not-hosted' };
    }
    const r = finish(expand(address, 0, new Set(), false));
    if (r.status === 'unknown-user' && parts.local === 'postmaster') return resolvePostmaster(address, parts.domain);
    return r;
  }

  return {
    resolve,
    isHostedDomain: (domain) => {
      const d = domain.trim().toLowerCase();
      return (srs !== undefined && d === srs.domain) || domainRow(d) !== undefined;
    },
  };
}

/** The backend change-log version the replica reflects (0: never synced). */
export function replicaVersion(db: DB): number {
  return (db.prepare('SELECT version FROM replica_state WHERE id = 1').get() as { version: number }).version;
}
