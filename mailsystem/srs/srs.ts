// Sender Rewriting Scheme (SRS0/SRS1, Shevek's scheme as in libsrs2/postsrsd) so forwarded mail passes SPF and bounces come back to us.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { splitAddress } from '#data/address.ts';

export interface SrsOptions {
  /** The domain our rewritten senders live in; bounces to it are reversed at RCPT. */
  domain: string;
  /** Signs new addresses. */
  secret: string;
  /** Still accepted when reversing, so a secret can be rotated without bouncing mail in flight. */
  oldSecrets?: string[];
  /** Days a rewritten address stays valid (libsrs2 default: 21). */
  maxAgeDays?: number;
  hashLength?: number;
}

export type SrsReverse = { ok: true; address: string } | { ok: false; reason: 'not-srs' | 'malformed' | 'bad-hash' | 'expired' };

export interface Srs {
  readonly domain: string;
  /** Rewrites an envelope sender for forwarding; the null sender stays null. */
  forward(sender: string, now: Date): string;
  /** Reverses an address of our SRS domain to where the bounce must go. */
  reverse(address: string, now: Date): SrsReverse;
  isSrsAddress(address: string): boolean;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const TS_SLOTS = 1024; // two base32 characters of days: the stamp wraps every ~2.8 years
const SEP = '=';
const SRS_RE = /^(SRS[01])[=+-](.*)$/i;

function dayNumber(now: Date): number {
  return Math.floor(now.getTime() / 86_400_000);
}

function encodeStamp(day: number): string {
  const t = day % TS_SLOTS;
  return B32[t >> 5] + B32[t & 31];
}

function decodeStamp(stamp: string): number | null {
  if (stamp.length !== 2) return null;
  const hi = B32.indexOf(stamp[0].toUpperCase());
  const lo = B32.indexOf(stamp[1].toUpperCase());
  return hi < 0 || lo < 0 ? null : (hi << 5) | lo;
}

export function createSrs(opts: SrsOptions): Srs {
  const domain = opts.domain.toLowerCase();
  const secrets = [opts.secret, ...(opts.oldSecrets ?? [])].filter((s) => s.length > 0);
  if (secrets.length === 0) throw new Error('SRS needs a non-empty secret');
  const maxAge = opts.maxAgeDays ?? 21;
  const hashLength = opts.hashLength ?? 6;

  // Hashes are compared case-insensitively: some MTAs lower-case local parts, and base64 would not survive that.
  const hash = (secret: string, parts: string[]) =>
    createHmac('sha1', secret)
      .update(parts.map((p) => p.toLowerCase()).join(''))
      .digest('base64')
      .slice(0, hashLength);
  const hashOk = (given: string, parts: string[]) => {
    const g = Buffer.from(given.toLowerCase());
    return secrets.some((s) => {
      const want = Buffer.from(hash(s, parts).toLowerCase());
      return want.length === g.length && timingSafeEqual(want, g);
    });
  };

  function forward(sender: string, now: Date): string {
    if (sender === '') return '';
    const parts = splitAddress(sender);
    if (!parts) return sender;
    const { local, domain: host } = parts;
    if (host.toLowerCase() === domain && SRS_RE.test(local)) return sender; // already ours
    const m = SRS_RE.exec(local);
    if (m && m[1].toUpperCase() === 'SRS1') {
      // SRS1=hash=orighost==rest: keep the first forwarder, re-sign for our domain.
      const rest = m[2].slice(m[2].indexOf(SEP) + 1);
      const [origHost, ...tail] = rest.split(SEP);
      const opaque = tail.join(SEP);
      return `SRS1${SEP}${hash(secrets[0], [origHost, opaque])}${SEP}${origHost}${SEP}${opaque}@${domain}`;
    }
    if (m) {
      // Someone else's SRS0 address: wrap it as SRS1 pointing back at that forwarder.
      const opaque = `${SEP}${m[2]}`;
      return `SRS1${SEP}${hash(secrets[0], [host, opaque])}${SEP}${host}${SEP}${opaque}@${domain}`;
    }
    const stamp = encodeStamp(dayNumber(now));
    return `SRS0${SEP}${hash(secrets[0], [stamp, host, local])}${SEP}${stamp}${SEP}${host}${SEP}${local}@${domain}`;
  }

  function reverse(address: string, now: Date): SrsReverse {
    const parts = splitAddress(address);
    if (!parts || parts.domain.toLowerCase() !== domain) return { ok: false, reason: 'not-srs' };
    const m = SRS_RE.exec(parts.local);
    if (!m) return { ok: false, reason: 'not-srs' };
    const body = m[2];
    if (m[1].toUpperCase() === 'SRS1') {
      const f = body.split(SEP);
      // hash, orighost, then the opaque part which itself starts with a separator
      if (f.length < 4 || f[2] !== '') return { ok: false, reason: 'malformed' };
      const [given, origHost] = f;
      const opaque = SEP + f.slice(3).join(SEP);
      if (!origHost) return { ok: false, reason: 'malformed' };
      if (!hashOk(given, [origHost, opaque])) return { ok: false, reason: 'bad-hash' };
      return { ok: true, address: `SRS0${opaque}@${origHost}` };
    }
    const f = body.split(SEP);
    if (f.length < 4) return { ok: false, reason: 'malformed' };
    const [given, stamp, host] = f;
    const local = f.slice(3).join(SEP);
    const day = decodeStamp(stamp);
    if (day === null || !host || !local) return { ok: false, reason: 'malformed' };
    if (!hashOk(given, [stamp, host, local])) return { ok: false, reason: 'bad-hash' };
    const age = ((((dayNumber(now) % TS_SLOTS) - day) % TS_SLOTS) + TS_SLOTS) % TS_SLOTS;
    if (age > maxAge) return { ok: false, reason: 'expired' };
    return { ok: true, address: `${local}@${host}` };
  }

  return {
    domain,
    forward,
    reverse,
    isSrsAddress: (address) => {
      const p = splitAddress(address);
      return !!p && p.domain.toLowerCase() === domain && SRS_RE.test(p.local);
    },
  };
}
