// Where mail for a domain goes (RFC 5321 §5.1): MX hosts by preference, implicit MX, null MX (RFC 7505), each host's addresses.
import { isIP } from 'node:net';
import { dnsErrorCode, isNoData, type Resolver } from '../dns/resolver.ts';

export interface MxTarget {
  name: string;
  addresses: string[];
}

export type MxLookup =
  | { kind: 'hosts'; hosts: MxTarget[] }
  | { kind: 'permanent'; response: string }
  | { kind: 'temporary'; response: string };

/** A host's IPv4 and IPv6 addresses (an IP literal is its own); temporary when a lookup could not be answered. */
export async function addressesOf(resolver: Resolver, name: string): Promise<{ addresses: string[]; temporary: boolean }> {
  if (isIP(name)) return { addresses: [name], temporary: false };
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const addresses: string[] = [];
  let temporary = false;
  for (const r of [v4, v6]) {
    if (r.status === 'fulfilled') addresses.push(...r.value);
    else if (!isNoData(r.reason)) temporary = true;
  }
  return { addresses, temporary };
}

export async function lookupMx(resolver: Resolver, domain: string): Promise<MxLookup> {
  let implicit = false;
  let records: { exchange: string; priority: number }[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    const code = dnsErrorCode(err);
    if (code === 'ENOTFOUND') return { kind: 'permanent', response: `5.1.2 domain ${domain} does not exist` };
    if (code !== 'ENODATA') return { kind: 'temporary', response: `4.4.3 DNS lookup of ${domain} failed (${code})` };
    records = [];
  }
  const isNull = (e: string) => e === '' || e === '.';
  if (records.some((r) => isNull(r.exchange))) {
    // RFC 7505: a single "MX 0 ." means the domain accepts no mail at all.
    return { kind: 'permanent', response: `5.1.10 domain ${domain} accepts no mail (null MX)` };
  }
  if (records.length === 0) {
    implicit = true;
    records = [{ exchange: domain, priority: 0 }];
  }
  records.sort((a, b) => a.priority - b.priority);
  const hosts: MxTarget[] = [];
  let temporary = false;
  for (const r of records) {
    const name = r.exchange.replace(/\.$/, '').toLowerCase();
    const a = await addressesOf(resolver, name);
    temporary ||= a.temporary;
    if (a.addresses.length) hosts.push({ name, addresses: a.addresses });
  }
  if (hosts.length) return { kind: 'hosts', hosts };
  if (temporary) return { kind: 'temporary', response: `4.4.3 address lookup for the mail hosts of ${domain} failed` };
  return implicit
    ? { kind: 'permanent', response: `5.1.2 domain ${domain} has no mail server (no MX, A or AAAA record)` }
    : { kind: 'temporary', response: `4.4.4 the mail hosts of ${domain} have no addresses` };
}
