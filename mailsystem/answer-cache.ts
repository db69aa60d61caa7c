// A bounded cache of answers to asynchronous questions, each kept until its own expiry, with one question in flight
// per key: the callers waiting for the same key share it. Used by the DNS answer cache (dns/cache.ts) and the legacy
// recipient probe (legacy/probe.ts), which differ only in what they keep, for how long, and whether a hit counts as use.

export interface AnswerCacheOptions {
  /** Answers kept at most; a full cache drops its first one (see refreshOnHit). */
  maxEntries: number;
  /** Milliseconds, monotonic. */
  now: () => number;
  /** A hit makes its entry the last to go (least recently used first); otherwise entries go in the order they were kept. */
  refreshOnHit: boolean;
}

/** How a question ended: its answer, or what it threw. */
export type Answered<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Where get() found the answer: kept, shared with the same question in flight, or asked now. */
export type AnswerSource = 'hit' | 'shared' | 'asked';

export interface AnswerCache<T> {
  /**
   * The answer to `key`, from the cache or by `ask`. When a question asked here ends, `keepUntil` says until when its
   * outcome is kept (a time from now(); `askedAt` is when it was asked); a time not after now() keeps nothing. A kept
   * error is thrown again to later callers.
   */
  get(
    key: string,
    ask: () => Promise<T>,
    keepUntil: (answered: Answered<T>, askedAt: number) => number,
  ): { answer: Promise<T>; source: AnswerSource };
  /** Drops the kept answers whose key `matches` (questions in flight are not touched). */
  forget(matches: (key: string) => boolean): void;
  readonly size: number;
}

export function createAnswerCache<T>(opts: AnswerCacheOptions): AnswerCache<T> {
  const { maxEntries, now, refreshOnHit } = opts;
  // A Map iterates in insertion order: its first key is the one to drop.
  const entries = new Map<string, { expires: number; answered: Answered<T> }>();
  const inFlight = new Map<string, Promise<T>>();

  const keep = (key: string, expires: number, answered: Answered<T>): void => {
    if (!(expires > now())) return;
    entries.delete(key);
    entries.set(key, { expires, answered });
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
  };

  return {
    get(key, ask, keepUntil) {
      const hit = entries.get(key);
      if (hit) {
        if (hit.expires > now()) {
          if (refreshOnHit) {
            entries.delete(key);
            entries.set(key, hit);
          }
          const { answered } = hit;
          return { answer: answered.ok ? Promise.resolve(answered.value) : Promise.reject(answered.error), source: 'hit' };
        }
        entries.delete(key);
      }
      const pending = inFlight.get(key);
      if (pending) return { answer: pending, source: 'shared' };
      const askedAt = now();
      const answer = ask().then(
        (value) => {
          inFlight.delete(key);
          const answered: Answered<T> = { ok: true, value };
          keep(key, keepUntil(answered, askedAt), answered);
          return value;
        },
        (error: unknown) => {
          inFlight.delete(key);
          const answered: Answered<T> = { ok: false, error };
          keep(key, keepUntil(answered, askedAt), answered);
          throw error;
        },
      );
      inFlight.set(key, answer);
      return { answer, source: 'asked' };
    },
    forget(matches) {
      for (const key of entries.keys()) if (matches(key)) entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
