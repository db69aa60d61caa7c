// The production resolver: node:dns with a per-query timeout, built once by the composition root.
import { Resolver as DnsResolver } from 'node:dns/promises';
import type { Resolver } from './resolver.ts';

export interface SystemResolverOptions {
  /** Name servers as "ip" or "ip:port"; the system's resolv.conf when omitted. */
  servers?: string[];
  timeoutMs?: number;
  tries?: number;
}

export function createSystemResolver(opts: SystemResolverOptions = {}): Resolver {
  const r = new DnsResolver({ timeout: opts.timeoutMs ?? 5000, tries: opts.tries ?? 2 });
  if (opts.servers?.length) r.setServers(opts.servers);
  return {
    resolveMx: (name) => r.resolveMx(name),
    resolve4: (name) => r.resolve4(name),
    resolve6: (name) => r.resolve6(name),
    resolveTxt: (name) => r.resolveTxt(name),
  };
}
