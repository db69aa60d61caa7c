// The production resolver: node:dns with a per-query timeout and an answer cache (./cache.ts), built once by the
// composition root.
import { Resolver as DnsResolver } from 'node:dns/promises';
import { createDnsCache, type DnsCacheOptions } from './cache.ts';
import type { MxRecord, Resolver } from './resolver.ts';

export interface SystemResolverOptions {
  /** Name servers as "ip" or "ip:port"; the system's resolv.conf when omitted. */
  servers?: string[];
  timeoutMs?: number;
  tries?: number;
  /** The answer cache's limits (and clock); its defaults when omitted. `{ maxTtlMs: 0 }` asks the DNS every time. */
  cache?: DnsCacheOptions;
}

const copyList = (v: string[]): string[] => v.slice();
const copyTxt = (v: string[][]): string[][] => v.map((r) => r.slice());
const copyMx = (v: MxRecord[]): MxRecord[] => v.map((r) => ({ exchange: r.exchange, priority: r.priority }));

/** The smallest TTL of an address answer (an empty answer is NODATA for node:dns, so there is always one). */
function addresses(records: { address: string; ttl: number }[]): { value: string[]; ttlSeconds: number } {
  let ttl = Number.POSITIVE_INFINITY;
  for (const r of records) ttl = Math.min(ttl, r.ttl);
  return { value: records.map((r) => r.address), ttlSeconds: Number.isFinite(ttl) ? ttl : 0 };
}

export function createSystemResolver(opts: SystemResolverOptions = {}): Resolver & { readonly cacheSize: number } {
  const r = new DnsResolver({ timeout: opts.timeoutMs ?? 5000, tries: opts.tries ?? 2 });
  if (opts.servers?.length) r.setServers(opts.servers);
  const cache = createDnsCache(opts.cache);
  // DNS names are case-insensitive: one entry per name whatever the case it was asked in.
  const key = (type: string, name: string): string => `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
  return {
    resolveMx: (name) => cache.get(key('MX', name), async () => ({ value: await r.resolveMx(name) }), copyMx),
    resolve4: (name) => cache.get(key('A', name), async () => addresses(await r.resolve4(name, { ttl: true })), copyList),
    resolve6: (name) => cache.get(key('AAAA', name), async () => addresses(await r.resolve6(name, { ttl: true })), copyList),
    resolveTxt: (name) => cache.get(key('TXT', name), async () => ({ value: await r.resolveTxt(name) }), copyTxt),
    get cacheSize() {
      return cache.size;
    },
  };
}
