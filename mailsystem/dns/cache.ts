// A small answer cache in front of a Resolver's queries (issue 12: the auth check asked four uncached TXT questions per
// message, the same four for every message of a sender).
//
// - Answers are kept for their TTL where the query gives one (A/AAAA), never longer than maxTtlMs (node:dns gives no
//   TTL for TXT and MX: those are kept for maxTtlMs).
// - "Nothing here" answers (ENOTFOUND = NXDOMAIN, ENODATA = NODATA) are kept for negativeTtlMs.
// - Anything else (SERVFAIL, timeouts, refused) is not kept: the next question asks again.
// - Identical questions while one is in flight share it (one query on the wire).
// - At most maxEntries answers, least recently used dropped first (../answer-cache.ts keeps them).
// - Callers get their own copy of an answer (callers sort MX records in place).
import { type Answered, createAnswerCache } from '../answer-cache.ts';
import { dnsErrorCode } from './resolver.ts';

export interface DnsCacheOptions {
  /** Longest time an answer is kept, and the time for answers without a TTL (TXT, MX). Default 60 s; 0 turns the cache off. */
  maxTtlMs?: number;
  /** How long NXDOMAIN/NODATA is kept. Default 30 s. */
  negativeTtlMs?: number;
  /** Answers kept at most. Default 10 000. */
  maxEntries?: number;
  /** Milliseconds, monotonic; injectable for tests. */
  now?: () => number;
}

const DNS_CACHE_DEFAULTS = { maxTtlMs: 60_000, negativeTtlMs: 30_000, maxEntries: 10_000 } as const;

/** What a query gives the cache: the answer, and its TTL in seconds when the DNS told us. */
export interface TimedAnswer<T> {
  value: T;
  ttlSeconds?: number;
}

export interface DnsCache {
  /** The answer to `key` (e.g. "TXT example.org"), from the cache or by `query`; `copy` gives each caller its own value. */
  get<T>(key: string, query: () => Promise<TimedAnswer<T>>, copy: (value: T) => T): Promise<T>;
  readonly size: number;
}

const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

export function createDnsCache(opts: DnsCacheOptions = {}): DnsCache {
  const maxTtlMs = opts.maxTtlMs ?? DNS_CACHE_DEFAULTS.maxTtlMs;
  const negativeTtlMs = opts.negativeTtlMs ?? DNS_CACHE_DEFAULTS.negativeTtlMs;
  const maxEntries = opts.maxEntries ?? DNS_CACHE_DEFAULTS.maxEntries;
  const now = opts.now ?? (() => performance.now());
  for (const [name, v] of Object.entries({ maxTtlMs, negativeTtlMs })) {
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`dns cache: ${name} must be a non-negative number: ${v}`);
  }
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error(`dns cache: maxEntries must be a positive integer: ${maxEntries}`);

  const cache = createAnswerCache<TimedAnswer<unknown>>({ maxEntries, now, refreshOnHit: true });
  const keepUntil = (answered: Answered<TimedAnswer<unknown>>, askedAt: number): number => {
    if (answered.ok) {
      const { ttlSeconds } = answered.value;
      return askedAt + (ttlSeconds === undefined ? maxTtlMs : Math.min(maxTtlMs, ttlSeconds * 1000));
    }
    return NEGATIVE.has(dnsErrorCode(answered.error)) && maxTtlMs > 0 ? askedAt + negativeTtlMs : Number.NEGATIVE_INFINITY;
  };

  return {
    get<T>(key: string, query: () => Promise<TimedAnswer<T>>, copy: (value: T) => T): Promise<T> {
      return cache.get(key, query, keepUntil).answer.then((answer) => copy(answer.value as T));
    },
    get size() {
      return cache.size;
    },
  };
}
