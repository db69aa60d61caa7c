// A Directory as plain data for tests: hosted domains and the routes of each known address.
import type { Directory, Resolution, Route } from '#mailsystem/config/directory.ts';

export interface FakeDirectoryData {
  domains: string[];
  /** address → routes; an address that maps to [] is unknown. */
  addresses: Record<string, Route[]>;
}

export function fakeDirectory(data: FakeDirectoryData): Directory {
  const domains = new Set(data.domains.map((d) => d.toLowerCase()));
  const addresses = new Map(Object.entries(data.addresses).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    isHostedDomain: (domain) => domains.has(domain.toLowerCase()),
    resolve(address): Resolution {
      const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
      if (!domains.has(domain)) return { status: 'not-hosted' };
      const routes = addresses.get(address.toLowerCase());
      return routes && routes.length > 0 ? { status: 'ok', address: address.toLowerCase(), routes } : { status: 'unknown-user' };
    },
  };
}

/** n Maildir mailboxes user0..user{n-1}@example.test, the shape most ingress tests need. */
export function maildirUsers(n: number, domain = 'example.test'): FakeDirectoryData {
  const addresses: Record<string, Route[]> = {};
  for (let i = 0; i < n; i++) addresses[`user${i}@${domain}`] = [{ kind: 'maildir', mailbox: `user${i}@${domain}` }];
  return { domains: [domain], addresses };
}
