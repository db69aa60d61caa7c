// A Directory as plain data for tests: hosted domains, the routes of each known address, and (optionally) policies.
import { effectivePolicy, type PolicySettings } from '#data/contracts/mail-policy.ts';
import type { Directory, Resolution, Route } from '#mailsystem/config/directory.ts';

export interface FakeDirectoryData {
  domains: string[];
  /** address → routes; an address that maps to [] is unknown. */
  addresses: Record<string, Route[]>;
  /**
   * Policy settings by level key, as the backend stores them: '*' the installation, a domain name, an address.
   * Left out: every address gets DEFAULT_POLICY (all from the installation).
   */
  policies?: Record<string, PolicySettings>;
}

export function fakeDirectory(data: FakeDirectoryData): Directory {
  const domains = new Set(data.domains.map((d) => d.toLowerCase()));
  const addresses = new Map(Object.entries(data.addresses).map(([k, v]) => [k.toLowerCase(), v]));
  const policies = new Map(Object.entries(data.policies ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    isHostedDomain: (domain) => domains.has(domain.toLowerCase()),
    resolve(address): Resolution {
      const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
      if (!domains.has(domain)) return { status: 'not-hosted' };
      const key = address.toLowerCase();
      const routes = addresses.get(key);
      if (!routes || routes.length === 0) return { status: 'unknown-user' };
      const policy = effectivePolicy({ installation: policies.get('*'), domain: policies.get(domain), address: policies.get(key) });
      return { status: 'ok', address: key, routes, policy };
    },
  };
}

/** n Maildir mailboxes user0..user{n-1}@example.test, the shape most ingress tests need. */
export function maildirUsers(n: number, domain = 'example.test'): FakeDirectoryData {
  const addresses: Record<string, Route[]> = {};
  for (let i = 0; i < n; i++) addresses[`user${i}@${domain}`] = [{ kind: 'maildir', mailbox: `user${i}@${domain}` }];
  return { domains: [domain], addresses };
}
