// Recipient probe to a domain's legacy MX during migration: RCPT only (never DATA), its answers cached.
//
// The probe says MAIL FROM:<> (the null sender), like Exim's callouts and Postfix's own address verification probes:
// the answer then belongs to the address alone, not to the transaction's sender, so one cache entry per address is
// right; and a legacy Postfix answers RCPT after <> with its recipient checks (virtual_mailbox_maps,
// smtpd_reject_unlisted_recipient) exactly as it does for any other sender, as no sender restriction of its default
// configuration looks at the null sender. A legacy system that restricts <> answers 5xx to every probe; that shows as
// every address unknown and has to be fixed by importing the domain's maps instead.
import { connect, type Socket } from 'node:net';
import type { Clock } from '../deps.ts';
import type { Resolver } from '../dns/resolver.ts';
import { legacyHostAddress } from '../delivery/legacy.ts';
import { type Answered, createAnswerCache } from '../answer-cache.ts';

/** exists: 2xx to RCPT; unknown: 5xx; unavailable: 4xx, no connection, a timeout, or a reply we cannot read. */
export type ProbeVerdict = 'exists' | 'unknown' | 'unavailable';

export interface LegacyProbeOptions {
  /** Our name in EHLO. */
  heloName: string;
  clock: Clock;
  /** The whole probe (waiting for a slot, connect to the RCPT reply) gets this long; then it is 'unavailable'. */
  timeoutMs: number;
  /**
   * Probes in flight at once to one legacy host and port, node-wide; a further one waits for a slot at most half its
   * timeout (leaving the other half to ask), then is 'unavailable' (451 4.4.3, never 550). Default 10.
   */
  concurrency?: number;
  /** How long an 'exists' answer is reused. */
  positiveTtlMs: number;
  /** How long an 'unknown' answer is reused. */
  negativeTtlMs: number;
  /** Cached answers kept at most; a full cache drops its oldest entry. Default 50,000. */
  maxEntries?: number;
  /**
   * Resolves a legacy host given by name (A, then AAAA), as the legacy relay does (delivery/legacy.ts): the node's
   * configured name servers, never the recipient's MX. Without it the system's resolver is used.
   */
  resolver?: Resolver;
}

export interface LegacyProbe {
  /** Whether the legacy system at host:port takes mail for `address`. Never rejects. */
  check(host: string, port: number, address: string): Promise<ProbeVerdict>;
  /**
   * Drops the cached answers about addresses of these domains (lower-case names), or all of them: their configuration
   * changed. A probe in flight for such an address is not shared with a later RCPT, and its answer is not kept.
   */
  forget(domains: Iterable<string> | 'all'): void;
  /**
   * Probes that went to the network (not answered from the cache or shared with one in flight); `saturated`: those
   * that found no free slot for their host within the timeout.
   */
  readonly stats: { probes: number; cacheHits: number; saturated: number };
}

const MAX_REPLY_BYTES = 64 * 1024;

/** One SMTP conversation: EHLO, MAIL FROM:<>, RCPT TO:<address>, QUIT. */
function probeOnce(host: string, port: number, address: string, heloName: string, timeoutMs: number): Promise<ProbeVerdict> {
  return new Promise((resolve) => {
    let settled = false;
    const socket: Socket = connect({ host, port });
    let buffer = '';
    // The commands in order; each waits for the previous reply. The greeting comes first, with no command.
    const steps = [`EHLO ${heloName}`, 'MAIL FROM:<>', `RCPT TO:<${address}>`];
    let step = -1; // -1: waiting for the greeting
    let triedHelo = false;
    const finish = (verdict: ProbeVerdict) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(verdict);
      if (!socket.destroyed) {
        // QUIT politely, but never wait for it.
        socket.end('QUIT\r\n');
        socket.destroySoon?.();
      }
    };
    const timer = setTimeout(() => {
      finish('unavailable');
      socket.destroy();
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('error', () => finish('unavailable'));
    socket.on('close', () => finish('unavailable'));
    const onReply = (code: number) => {
      if (step === -1) {
        if (code !== 220) return finish('unavailable');
      } else if (step === 0) {
        if (code >= 500 && !triedHelo) {
          // An old system without ESMTP: say HELO instead.
          triedHelo = true;
          socket.write(`HELO ${heloName}\r\n`);
          return;
        }
        if (code !== 250) return finish('unavailable');
      } else if (step === 1) {
        if (code !== 250) return finish('unavailable'); // the legacy system refusing us is its problem, not the address's
      } else {
        if (code >= 200 && code < 300) return finish('exists');
        if (code >= 500 && code < 600) return finish('unknown');
        return finish('unavailable');
      }
      step++;
      socket.write(`${steps[step]}\r\n`);
    };
    socket.on('data', (chunk: string) => {
      if (settled) return;
      buffer += chunk;
      if (buffer.length > MAX_REPLY_BYTES) return finish('unavailable');
      for (;;) {
        const nl = buffer.indexOf('\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        const m = /^([2-5]\d\d)([ -]|$)/.exec(line);
        if (!m) return finish('unavailable'); // garbage: never taken for an answer about the address
        if (m[2] === '-') continue; // a continuation line: wait for the last one
        onReply(Number(m[1]));
        if (settled) return;
      }
    });
  });
}

/** The address to connect to (as the legacy relay finds it); without a resolver, the host as given. */
const addressOf = (resolver: Resolver | undefined, host: string): Promise<string | null> =>
  resolver ? legacyHostAddress(resolver, host) : Promise.resolve(host);

async function probeHost(opts: LegacyProbeOptions, host: string, port: number, address: string, timeoutMs: number): Promise<ProbeVerdict> {
  const ip = await addressOf(opts.resolver, host).catch(() => null);
  if (ip === null) return 'unavailable';
  return probeOnce(ip, port, address, opts.heloName, timeoutMs);
}

/** At most `limit` holders per key; the others queue in order, each giving up after its own wait. */
function createSlots(limit: number) {
  const held = new Map<string, number>();
  const waiting = new Map<string, (() => void)[]>();
  const release = (key: string) => {
    const next = waiting.get(key)?.shift();
    if (waiting.get(key)?.length === 0) waiting.delete(key);
    if (next) return next(); // the slot passes straight to the next in line
    const n = (held.get(key) ?? 1) - 1;
    if (n > 0) held.set(key, n);
    else held.delete(key);
  };
  /** A slot (resolves with its release), or null when none came free within waitMs. */
  const acquire = (key: string, waitMs: number): Promise<(() => void) | null> => {
    const n = held.get(key) ?? 0;
    if (n < limit) {
      held.set(key, n + 1);
      return Promise.resolve(() => release(key));
    }
    return new Promise((resolve) => {
      const queue = waiting.get(key) ?? [];
      waiting.set(key, queue);
      const granted = () => {
        clearTimeout(timer);
        resolve(() => release(key));
      };
      const timer = setTimeout(() => {
        const q = waiting.get(key);
        const i = q?.indexOf(granted) ?? -1;
        if (q && i >= 0) q.splice(i, 1);
        if (q?.length === 0) waiting.delete(key);
        resolve(null);
      }, waitMs);
      queue.push(granted);
    });
  };
  return { acquire };
}

export function createLegacyProbe(opts: LegacyProbeOptions): LegacyProbe {
  // Entries go oldest first: an answer reused does not live longer for it.
  const cache = createAnswerCache<ProbeVerdict>({
    maxEntries: opts.maxEntries ?? 50_000,
    now: () => opts.clock.now(),
    refreshOnHit: false,
  });
  // A failure is not an answer about the address: the next RCPT asks again.
  const keepUntil = (answered: Answered<ProbeVerdict>): number => {
    if (!answered.ok || answered.value === 'unavailable') return Number.NEGATIVE_INFINITY;
    const ttl = answered.value === 'exists' ? opts.positiveTtlMs : opts.negativeTtlMs;
    return ttl > 0 ? opts.clock.now() + ttl : Number.NEGATIVE_INFINITY;
  };
  const stats = { probes: 0, cacheHits: 0, saturated: 0 };
  const slots = createSlots(opts.concurrency ?? 10);
  // A key carries its domain's generation: forget() moves the domain to a new one, so nothing asked before it (kept or
  // still in flight) answers a later RCPT.
  let generation = 0;
  let allFrom = 0;
  const domainFrom = new Map<string, number>();
  const generationOf = (domain: string) => Math.max(allFrom, domainFrom.get(domain) ?? 0);
  const domainOfKey = (key: string) => key.slice(key.lastIndexOf('@') + 1);

  const ask = async (host: string, port: number, address: string): Promise<ProbeVerdict> => {
    const started = Date.now();
    const release = await slots.acquire(`${host.toLowerCase()}:${port}`, opts.timeoutMs / 2);
    if (!release) {
      stats.saturated++;
      return 'unavailable';
    }
    try {
      return await probeHost(opts, host, port, address, Math.max(1, opts.timeoutMs - (Date.now() - started)));
    } finally {
      release();
    }
  };

  return {
    stats,
    check(host, port, rawAddress) {
      const address = rawAddress.toLowerCase();
      const key = `${generationOf(domainOfKey(address))}\0${host}:${port}\0${address}`;
      const { answer, source } = cache.get(key, () => ask(host, port, rawAddress), keepUntil);
      if (source === 'hit') stats.cacheHits++;
      else if (source === 'asked') stats.probes++;
      return answer;
    },
    forget(domains) {
      generation++;
      if (domains === 'all') {
        allFrom = generation;
        domainFrom.clear();
        cache.forget(() => true);
        return;
      }
      const set = new Set(domains);
      if (set.size === 0) return;
      for (const d of set) domainFrom.set(d, generation);
      cache.forget((key) => set.has(domainOfKey(key)));
    },
  };
}
