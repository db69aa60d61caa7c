// The node's Directory: resolves recipients from the replica tables (aliases, plus-addressing, catch-all, postmaster, SRS bounces).
import { canonicalAddress, foldDomain, splitAddress } from '#data/address.ts';
import type { DB } from '#data/db.ts';
import { effectivePolicy, type EffectivePolicy, type PolicySettings } from '#data/contracts/mail-policy.ts';
import { INSTALLATION_POLICY_KEY } from '#data/contracts/mx-config.ts';
import type { Clock } from '../deps.ts';
import type { Directory, Resolution, Route } from './directory.ts';
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
}
interface MailboxRow {
  address: string;
  delivery: 'maildir' | 'lmtp';
  lmtp_host: string | null;
  lmtp_port: number | null;
}
interface Expansion {
  routes: Route[];
  matched: string;
  /** Resolved through the domain's catch-all: the matched address has no settings of its own. */
  catchAll?: boolean;
  /** A legacy/shadow domain without imported configuration: the legacy system must confirm the address. */
  verify?: { host: string; port: number };
}
interface AliasRow {
  address: string;
  targets: string;
  keep_local_copy: number;
}

export function createReplicaDirectory(opts: ReplicaDirectoryOptions): Directory {
  const { db, srs } = opts;
  const maxDepth = opts.maxDepth ?? 8;
  const domainStmt = db.prepare('SELECT name, mode, legacy_host, legacy_port, catch_all FROM replica_domains WHERE name = ?');
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

  const mailboxRoute = (m: MailboxRow): Route =>
    m.delivery === 'lmtp'
      ? { kind: 'lmtp', mailbox: m.address, host: m.lmtp_host!, port: m.lmtp_port! }
      : { kind: 'maildir', mailbox: m.address };
  const legacyRoute = (d: DomainRow): Extract<Route, { kind: 'legacy' }> => ({
    kind: 'legacy',
    host: d.legacy_host!,
    port: d.legacy_port ?? 25,
  });

  /** Routes for one address, or null when a hosted address does not exist. `seen` cuts alias loops. */
  function expand(target: string, depth: number, seen: Set<string>, viaCatchAll: boolean): Expansion | null {
    // Alias targets keep the local part as configured: an external provider may treat it
    // case-sensitively, so a forward keeps it; a hosted address is looked up lower-case.
    const address = target.toLowerCase();
    const parts = splitAddress(address);
    if (!parts) return null;
    const dom = domainRow(parts.domain);
    if (!dom) return { routes: [{ kind: 'forward', to: foldDomain(target) }], matched: address };
    if (depth > maxDepth || seen.has(address)) return { routes: [], matched: address };
    seen.add(address);
    if (dom.mode !== 'active') return expandLegacy(dom, address, parts.local, depth);

    let matched = address;
    let alias = aliasStmt.get(address) as AliasRow | undefined;
    let mailbox = mailboxStmt.get(address) as MailboxRow | undefined;
    const plus = parts.local.indexOf('+');
    if (!alias && !mailbox && plus > 0) {
      matched = `${parts.local.slice(0, plus)}@${parts.domain}`;
      alias = aliasStmt.get(matched) as AliasRow | undefined;
      mailbox = mailboxStmt.get(matched) as MailboxRow | undefined;
    }
    if (!alias && !mailbox) {
      if (dom.catch_all && !viaCatchAll) {
        const r = expand(dom.catch_all, depth + 1, seen, true);
        return r && { routes: r.routes, matched: address, catchAll: true };
      }
      return null;
    }
    const routes: Route[] = [];
    if (alias) {
      for (const target of JSON.parse(alias.targets) as string[]) {
        const r = expand(target, depth + 1, seen, false);
        if (r) routes.push(...r.routes); // an internal target that no longer exists is skipped, not fatal
      }
      if (alias.keep_local_copy === 1 && mailbox) routes.push(mailboxRoute(mailbox));
    } else if (mailbox) {
      routes.push(mailboxRoute(mailbox));
    }
    return { routes, matched };
  }

  /**
   * An address of a legacy or shadow domain goes to the legacy system as it is. Whether it exists: from the domain's
   * imported mailboxes and aliases (plus-addressing and catch-all as for an active domain) when it has any; otherwise
   * the envelope recipient (depth 0) is marked for the legacy system to confirm at RCPT, while an alias target (our
   * own configuration, not the sender's input) is relayed unchecked.
   */
  function expandLegacy(dom: DomainRow, address: string, local: string, depth: number): Expansion | null {
    const route = legacyRoute(dom);
    if (importedStmt.get(dom.name, dom.name) !== 1) {
      return depth === 0
        ? { routes: [route], matched: address, verify: { host: route.host, port: route.port } }
        : { routes: [route], matched: address };
    }
    const known = (a: string) => aliasStmt.get(a) !== undefined || mailboxStmt.get(a) !== undefined;
    if (known(address)) return { routes: [route], matched: address };
    const plus = local.indexOf('+');
    if (plus > 0) {
      const base = `${local.slice(0, plus)}@${dom.name}`;
      if (known(base)) return { routes: [route], matched: base };
    }
    if (dom.catch_all) return { routes: [route], matched: address, catchAll: true };
    return null;
  }

  function finish(r: Expansion | null): Resolution {
    if (!r) return { status: 'unknown-user' };
    const unique = [...new Map(r.routes.map((route) => [JSON.stringify(route), route])).values()];
    if (!unique.length) return { status: 'unknown-user' };
    const domain = splitAddress(r.matched)!.domain;
    const policy = policyFor(domain, r.catchAll ? null : r.matched);
    if (r.verify) return { status: 'ok', address: r.matched, routes: unique, policy, verify: r.verify };
    return { status: 'ok', address: r.matched, routes: unique, policy };
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

  function resolve(raw: string): Resolution {
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
