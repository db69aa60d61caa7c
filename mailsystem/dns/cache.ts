// A small answer cache in front of a Resolver's queries (issue 12: the auth check asked four uncached TXT questions per
// message, the same four for every message of a sender).
//
// - Answers are kept for their TTL where the query gives one (A/AAAA), never longer than maxTtlMs (node:dns gives no
//   TTL for TXT and MX: those are kept for maxTtlMs).
// - "Nothing here" answers (ENOTFOUND = NXDOMAIN, ENODATA = NODATA) are kept for negativeTtlMs.
// - Anything else (SERVFAIL, timeouts, refused) is not kept: the next question asks again.
// - Identical questions while one is in flight share it (one query on the wire).
// - At most maxEntries answers, least recently used dropped first.
// - Callers get their own copy of an answer (callers sort MX records in place).
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

type Entry = { expires: number; ok: true; value: unknown } | { expires: number; ok: false; error: unknown };

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

  // A Map iterates in insertion order: re-inserting on a hit makes its first key the least recently used.
  const entries = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<unknown>>();

  const keep = (key: string, entry: Entry): void => {
    if (!(entry.expires > now())) return;
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
  };

  return {
    get<T>(key: string, query: () => Promise<TimedAnswer<T>>, copy: (value: T) => T): Promise<T> {
      const hit = entries.get(key);
      if (hit) {
        if (hit.expires > now()) {
          entries.delete(key);
          entries.set(key, hit);
          return hit.ok ? Promise.resolve(copy(hit.value as T)) : Promise.reject(hit.error);
        }
        entries.delete(key);
      }
      let pending = inFlight.get(key) as Promise<T> | undefined;
      if (!pending) {
        const asked = now();
        pending = query().then(
          (answer) => {
            inFlight.delete(key);
            const ttlMs = answer.ttlSeconds === undefined ? maxTtlMs : Math.min(maxTtlMs, answer.ttlSeconds * 1000);
            keep(key, { expires: asked + ttlMs, ok: true, value: answer.value });
            return answer.value;
          },
          (err: unknown) => {
            inFlight.delete(key);
            if (NEGATIVE.has(dnsErrorCode(err)) && maxTtlMs > 0) keep(key, { expires: asked + negativeTtlMs, ok: false, error: err });
            throw err;
          },
        );
        inFlight.set(key, pending);
      }
      return pending.then(copy);
    },
    get size() {
      return entries.size;
    },
  };
}
