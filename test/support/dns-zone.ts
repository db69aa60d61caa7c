// A fake resolver as data (after mox's dns/mock.go): a zone map, plus injectable failures per name.
import type { Resolver, MxRecord } from '#mailsystem/dns/resolver.ts';

export interface Zone {
  mx?: Record<string, MxRecord[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  /** Names that answer with this error code (e.g. ESERVFAIL) for every query. */
  fail?: Record<string, string>;
}

function dnsError(code: string, name: string): Error {
  return Object.assign(new Error(`${code} ${name}`), { code, hostname: name });
}

export function zoneResolver(zone: Zone): Resolver & { queries: string[] } {
  const queries: string[] = [];
  const key = (n: string) => n.toLowerCase().replace(/\.$/, '');
  const known = (n: string) => [zone.mx, zone.a, zone.aaaa].some((t) => t && key(n) in t);
  function lookup<T>(type: string, table: Record<string, T[]> | undefined, name: string): Promise<T[]> {
    queries.push(`${type} ${key(name)}`);
    const failure = zone.fail?.[key(name)];
    if (failure) return Promise.reject(dnsError(failure, name));
    const hit = table?.[key(name)];
    if (hit) return Promise.resolve(hit);
    return Promise.reject(dnsError(known(name) ? 'ENODATA' : 'ENOTFOUND', name));
  }
  return {
    queries,
    resolveMx: (n) => lookup('MX', zone.mx, n),
    resolve4: (n) => lookup('A', zone.a, n),
    resolve6: (n) => lookup('AAAA', zone.aaaa, n),
  };
}
