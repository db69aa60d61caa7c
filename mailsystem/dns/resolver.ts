// The DNS questions the mail system asks, as an interface: production uses node:dns, tests a zone map.

export interface MxRecord {
  exchange: string;
  priority: number;
}

/**
 * Implementations may answer from a cache (the production one does, see ./cache.ts: answers for their TTL, NXDOMAIN and
 * NODATA for a short negative TTL, failures never); every call returns the caller's own arrays, free to sort or change.
 * Errors carry node:dns codes: ENOTFOUND (NXDOMAIN) and ENODATA (no records of that type) are answers;
 * anything else (ESERVFAIL, ETIMEOUT, ECONNREFUSED…) is a temporary failure.
 */
export interface Resolver {
  resolveMx(name: string): Promise<MxRecord[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  /** Each record as its character-strings, unjoined (as node:dns gives them): SPF, DKIM and DMARC join them. */
  resolveTxt(name: string): Promise<string[][]>;
}

export function dnsErrorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EUNKNOWN';
}

/** True when the DNS gave a definite "nothing here" (as opposed to "could not ask"). */
export function isNoData(err: unknown): boolean {
  const code = dnsErrorCode(err);
  return code === 'ENOTFOUND' || code === 'ENODATA';
}
