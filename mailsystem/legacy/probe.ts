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
  /** The whole probe (connect to the RCPT reply) gets this long; then it is 'unavailable'. */
  timeoutMs: number;
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
  /** Probes that went to the network (not answered from the cache or shared with one in flight). */
  readonly stats: { probes: number; cacheHits: number };
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

async function probeHost(opts: LegacyProbeOptions, host: string, port: number, address: string): Promise<ProbeVerdict> {
  const ip = await addressOf(opts.resolver, host).catch(() => null);
  if (ip === null) return 'unavailable';
  return probeOnce(ip, port, address, opts.heloName, opts.timeoutMs);
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
  const stats = { probes: 0, cacheHits: 0 };

  return {
    stats,
    check(host, port, rawAddress) {
      const key = `${host}:${port}\0${rawAddress.toLowerCase()}`;
      const { answer, source } = cache.get(key, () => probeHost(opts, host, port, rawAddress), keepUntil);
      if (source === 'hit') stats.cacheHits++;
      else if (source === 'asked') stats.probes++;
      return answer;
    },
  };
}
