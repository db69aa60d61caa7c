// Sender authentication during DATA: SPF, DKIM, DMARC and ARC by mailauth, through the node's injectable
// Resolver, with a deadline. The facts only: what to do with a DMARC failure is the policy's decision, and
// failing closed on an error verdict is the caller's.
import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';
import { dnsErrorCode, type Resolver } from '../dns/resolver.ts';

/** Result keywords of RFC 8601 §2.7 as mailauth reports them (`skipped`/`declined` only for BIMI, which is off). */
export type AuthResultKeyword = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';

export interface SpfFact {
  result: AuthResultKeyword;
  /** The domain checked: MAIL FROM's, or the HELO name's for the null sender. */
  domain: string;
}

export interface DkimSignatureFact {
  /** d= */
  domain: string;
  /** s= */
  selector: string;
  result: AuthResultKeyword;
  /** mailauth's comment, e.g. "body hash did not verify". */
  comment?: string;
}

export type DmarcRecordPolicy = 'none' | 'quarantine' | 'reject';

export interface DmarcAuthResult {
  /** `none` when the author domain publishes no record (or the From header has no single domain). */
  result: AuthResultKeyword;
  /** The policy that applies to this author domain (p=, or sp=/np= for a subdomain, one level lower for t=y); null without a record. */
  policy: DmarcRecordPolicy | null;
  /** The author (From header) domain; null when there is none to evaluate. */
  domain: string | null;
  /** Why DMARC was not evaluated, when the From header did not give one author domain. */
  skipped?: string;
}

export interface ArcFact {
  result: AuthResultKeyword;
  /** Instance of the newest ARC set; null without a chain. */
  instance: number | null;
}

export type AuthErrorReason = 'timeout' | 'dns' | 'internal';

export type AuthVerdict =
  | {
      status: 'done';
      spf: SpfFact;
      dkim: DkimSignatureFact[];
      dmarc: DmarcAuthResult;
      arc: ArcFact;
      /** The whole header field, "Authentication-Results: <our authserv-id>; …", folded with CRLF, no final CRLF. */
      header: string;
      ms: number;
    }
  | { status: 'error'; reason: AuthErrorReason; detail: string; ms: number };

export interface AuthEnvelope {
  ip: string;
  helo: string;
  /** MAIL FROM; '' for the null sender. */
  mailFrom: string;
}

export interface AuthCheckOptions {
  resolver: Resolver;
  /** Our authserv-id: the MX host name. */
  authServId: string;
  timeoutMs: number;
  /**
   * mailauth's strict mode (default true): the RFCs as written. Among others a body hash mismatch is
   * dkim=fail (lenient mailauth says neutral), rsa-sha1 is dkim=policy (RFC 8301), and SPF records are
   * validated whole. false is mailauth's lenient default.
   */
  strict?: boolean;
  now?: () => number;
}

export type AuthCheck = (message: Buffer, envelope: AuthEnvelope) => Promise<AuthVerdict>;

/** node:dns error codes: an exception carrying one of these is a DNS failure, anything else a fault of ours or mailauth's. */
const DNS_CODES = new Set([
  'ENODATA',
  'EFORMERR',
  'ESERVFAIL',
  'ENOTFOUND',
  'ENOTIMP',
  'EREFUSED',
  'EBADQUERY',
  'EBADNAME',
  'EBADFAMILY',
  'EBADRESP',
  'ECONNREFUSED',
  'ETIMEOUT',
  'EOF',
  'ENONAME',
  'ECANCELLED',
]);

const KEYWORDS = new Set<string>(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy']);

function keyword(value: unknown): AuthResultKeyword {
  if (value === 'temperr') return 'temperror';
  return typeof value === 'string' && KEYWORDS.has(value) ? (value as AuthResultKeyword) : 'permerror';
}

function dnsError(code: string, name: string, rrtype: string): Error {
  return Object.assign(new Error(`${code} ${rrtype} ${name}`), { code, hostname: name });
}

/**
 * mailauth asks `resolver(name, rrtype)` in the shape of node:dns `resolve()`: TXT as string[][], MX as
 * {exchange, priority}[], A/AAAA as string[]. Types our Resolver does not ask (PTR for SPF's ptr
 * mechanism, CNAME for DMARC's existence test) answer ENODATA, which mailauth reads as "no records".
 * Once `signal` aborts, every pending and later query fails with ETIMEOUT so that mailauth unwinds
 * instead of holding on to a stalled resolver.
 */
export function mailauthResolver(resolver: Resolver, signal?: AbortSignal): DNSResolver {
  const ask = (name: string, rrtype: string): Promise<unknown> => {
    switch (rrtype.toUpperCase()) {
      case 'TXT':
        return resolver.resolveTxt(name);
      case 'MX':
        return resolver.resolveMx(name);
      case 'A':
        return resolver.resolve4(name);
      case 'AAAA':
        return resolver.resolve6(name);
      default:
        return Promise.reject(dnsError('ENODATA', name, rrtype));
    }
  };
  // One abort listener for all queries (a listener per query would trip Node's listener-leak warning
  // on a message with many signatures): it fails whatever is still pending.
  const pending = new Set<() => void>();
  signal?.addEventListener('abort', () => {
    for (const fail of pending) fail();
    pending.clear();
  });
  return (name, rrtype) => {
    if (signal?.aborted) return Promise.reject(dnsError('ETIMEOUT', name, rrtype));
    const answer = ask(name, rrtype) as Promise<string[][] | string[]>;
    if (!signal) return answer;
    return new Promise((resolve, reject) => {
      const fail = () => reject(dnsError('ETIMEOUT', name, rrtype));
      pending.add(fail);
      answer.then(resolve, reject).finally(() => pending.delete(fail));
    });
  };
}

/** The Authentication-Results field out of mailauth's CRLF-joined header block (which may also hold Received-SPF). */
function authResultsField(headers: string): string | null {
  const fields = headers.split(/\r\n(?![ \t])/);
  return fields.find((f) => /^authentication-results:/i.test(f)) ?? null;
}

function facts(result: AuthenticateResult, envelope: AuthEnvelope) {
  const spf: SpfFact = result.spf
    ? { result: keyword(result.spf.status.result), domain: result.spf.domain }
    : { result: 'none', domain: envelope.mailFrom.split('@').pop() || envelope.helo };
  // An unsigned message has one result, "none" without a signing domain: no signature, no entry.
  const signatures = result.dkim.results.filter((r) => r.signingDomain || r.status.result !== 'none');
  const dkim: DkimSignatureFact[] = signatures.map((r) => ({
    domain: r.signingDomain ?? '',
    selector: r.selector ?? '',
    result: keyword(r.status.result),
    ...(r.status.comment ? { comment: r.status.comment } : {}),
  }));
  const d = result.dmarc;
  const policy = d && ['none', 'quarantine', 'reject'].includes(d.policy) ? (d.policy as DmarcRecordPolicy) : null;
  const dmarc: DmarcAuthResult = d
    ? { result: keyword(d.status.result), policy: d.rr ? policy : null, domain: d.status.header?.from ?? d.domain }
    : { result: 'none', policy: null, domain: null, ...(result.dmarcSkipReason ? { skipped: result.dmarcSkipReason } : {}) };
  const arc: ArcFact = result.arc
    ? { result: keyword(result.arc.status.result), instance: typeof result.arc.i === 'number' && result.arc.i > 0 ? result.arc.i : null }
    : { result: 'none', instance: null };
  return { spf, dkim, dmarc, arc };
}

/** Why a finished check's signal aborts (it only releases what is still waiting on its DNS). */
const FINISHED = Symbol('auth check finished');

export function createAuthCheck(opts: AuthCheckOptions): AuthCheck {
  const now = opts.now ?? (() => performance.now());
  const strict = opts.strict ?? true;
  return async (message, envelope) => {
    const started = now();
    const ms = () => Math.round(now() - started);
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<AuthVerdict>((resolve) => {
      timer = setTimeout(() => {
        abort.abort();
        resolve({ status: 'error', reason: 'timeout', detail: `no result within ${opts.timeoutMs} ms`, ms: ms() });
      }, opts.timeoutMs);
    });
    const run = async (): Promise<AuthVerdict> => {
      try {
        // An IPv4-mapped client address (::ffff:a.b.c.d, as node gives it on a dual-stack socket) is fine:
        // mailauth evaluates SPF for it as the IPv4 client (RFC 7208 §5).
        const result = await authenticate(message, {
          ip: envelope.ip,
          helo: envelope.helo,
          ...(envelope.mailFrom ? { sender: envelope.mailFrom } : {}),
          mta: opts.authServId,
          resolver: mailauthResolver(opts.resolver, abort.signal),
          trustReceived: false,
          disableBimi: true,
          strict,
        });
        const header = authResultsField(result.headers);
        if (!header) return { status: 'error', reason: 'internal', detail: 'mailauth gave no Authentication-Results', ms: ms() };
        return { status: 'done', ...facts(result, envelope), header, ms: ms() };
      } catch (err) {
        const code = dnsErrorCode(err);
        const detail = err instanceof Error ? err.message : String(err);
        return { status: 'error', reason: DNS_CODES.has(code) ? 'dns' : 'internal', detail, ms: ms() };
      }
    };
    try {
      return await Promise.race([run(), deadline]);
    } finally {
      clearTimeout(timer);
      // With a reason of ours: abort() without one builds a DOMException with its stack, for every message.
      abort.abort(FINISHED);
    }
  };
}
