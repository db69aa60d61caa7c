// A small rspamd client (issue 12): `POST /checkv2` over HTTP/1.1 (rspamd's protocol, doc/developers/protocol.md):
// the raw message as the body, the SMTP envelope as request headers (IP, Helo, Hostname, From, one Rcpt per
// recipient, Queue-Id, User), a JSON reply with score, required_score, action and symbols.
//
// Every outcome is a SpamVerdict; check() never throws. Only 'scored' is an answer: the caller fails closed
// (451 4.7.1) on every 'error'.
//
// Design choices:
// - Our own authentication results go along as rspamd's `SPF`, `DKIM` and `DMARC` request headers (JSON objects read
//   by rspamd's http_headers module), so rspamd does not repeat those checks and scores ours. rspamd ignores them
//   unless that module is enabled (`local.d/http_headers.conf: enabled = true;`, off in Debian's defaults); without
//   it rspamd runs its own SPF/DKIM/DMARC checks. With it, rspamd 3.4 runs none of its own, headers or not (the
//   module's conditions turn them off), so pass authResults with every check where that module is on.
// - A bounded pool of connections, spoken to by a minimal HTTP/1.1 client of our own (./http-exchange.ts: one request
//   shape, replies with Content-Length or chunked): node:http's ClientRequest, IncomingMessage and Agent cost about as much CPU per
//   check as everything else in this client (issue 12's bench/smtp-scan/client-cost.ts). Checks beyond maxSockets
//   wait for a connection in arrival order, and that wait counts against timeoutMs, so the DATA hook always has an
//   answer within timeoutMs.
// - Connections are kept where the server allows (`Connection: keep-alive` is asked for). rspamd 3.4's normal worker
//   does not: it answers every request with `Connection: close` and closes, asked or not (test/integration/rspamd.test.ts
//   checks this against the real one), so against it each check opens a connection (tens of microseconds on
//   loopback); a server that keeps connections (a newer rspamd, a proxy) gets them reused.
// - A reused keep-alive connection that the server closed while idle shows up as a reset of the next request on it
//   (before any byte of the reply); that request is retried once on a new connection. A check is idempotent.
// - timeoutMs covers the whole check; past it the request is destroyed (its socket is not returned to the pool).
// - The reply is validated by hand and strictly: finite numbers, a known action, every symbol a name and a finite
//   score. Anything else, or a reply over MAX_REPLY_BYTES, is 'garbage'.
import { performance } from 'node:perf_hooks';
import type { AuthResultKeyword, DmarcRecordPolicy } from './auth.ts';
import { createHttpExchangePool } from './http-exchange.ts';

/** rspamd's actions (protocol.md, "Rspamd HTTP reply"), with the space rspamd writes. */
export const RSPAMD_ACTIONS = ['no action', 'greylist', 'add header', 'rewrite subject', 'soft reject', 'reject'] as const;
export type RspamdAction = (typeof RSPAMD_ACTIONS)[number];

export interface SpamSymbol {
  name: string;
  score: number;
}

/**
 * Why a check gave no answer:
 * - unavailable: cannot connect (refused, unresolvable), the connection broke before a complete reply, or the client is closed;
 * - timeout: no complete reply within timeoutMs (a stalled rspamd, or every pool socket stayed busy); the request is aborted;
 * - garbage: a 200 reply whose body is not the JSON rspamd answers (not JSON, a field missing or of the wrong type, too long);
 * - refused: an HTTP status other than 200.
 */
export type SpamErrorReason = 'unavailable' | 'timeout' | 'garbage' | 'refused';

/** What rspamd said about a message. Only 'scored' is an answer. */
export type SpamVerdict =
  | {
      status: 'scored';
      score: number;
      /** The score at which rspamd's action would be 'reject'. */
      requiredScore: number;
      action: RspamdAction;
      /** By score, highest first, then by name. */
      symbols: SpamSymbol[];
      ms: number;
    }
  | { status: 'error'; reason: SpamErrorReason; detail: string; ms: number };

/** Our own SPF/DKIM/DMARC results (the auth check's facts fit this shape), passed to rspamd instead of its own checks. */
export interface RspamdAuthResults {
  spf?: { result: AuthResultKeyword };
  /** One entry per DKIM signature; empty when the message has none. */
  dkim?: { domain: string; result: AuthResultKeyword }[];
  dmarc?: { result: AuthResultKeyword; policy: DmarcRecordPolicy | null };
}

export interface SpamEnvelope {
  /** The SMTP client's address. */
  ip: string;
  /** HELO/EHLO argument. */
  helo: string;
  /** The client's name from reverse DNS (forward-confirmed); left out when it has none. */
  hostname?: string;
  /** MAIL FROM; '' for the null sender. */
  from: string;
  /** RCPT TO, each accepted recipient. */
  rcpts: string[];
  queueId: string;
  /** The SASL user of an authenticated client. */
  user?: string;
  authResults?: RspamdAuthResults;
}

export interface RspamdClientOptions {
  /** Base URL of the normal worker, e.g. http://127.0.0.1:11333. */
  url: string;
  /** Upper bound for one whole check, waiting for a pool socket included. */
  timeoutMs: number;
  /** At most this many connections to rspamd at once. */
  maxSockets: number;
  /** Our host name, rspamd's `MTA-Name` (used by rspamd in the Authentication-Results it would write). */
  mtaName?: string;
}

export interface RspamdClient {
  check(message: Buffer, envelope: SpamEnvelope): Promise<SpamVerdict>;
  /** Closes the pool's sockets; later checks are 'unavailable'. */
  close(): void;
}

/** A reply longer than this is not one rspamd writes for a message (its symbols take a few KiB). */
export const MAX_REPLY_BYTES = 4 * 1024 * 1024;

const RETRYABLE_ON_REUSED = new Set(['ECONNRESET', 'EPIPE']);

export function createRspamdClient(opts: RspamdClientOptions): RspamdClient {
  const base = new URL(opts.url);
  if (base.protocol !== 'http:') throw new Error(`rspamd url must be http: (rspamd serves no TLS): ${opts.url}`);
  if (!(opts.timeoutMs > 0)) throw new Error(`rspamd timeoutMs must be positive: ${opts.timeoutMs}`);
  if (!Number.isInteger(opts.maxSockets) || opts.maxSockets < 1)
    throw new Error(`rspamd maxSockets must be a positive integer: ${opts.maxSockets}`);
  const path = `${base.pathname.replace(/\/+$/, '')}/checkv2`;
  // The part of the request head that is the same for every check.
  const fixedHead =
    `POST ${path} HTTP/1.1\r\nHost: ${base.host}\r\nConnection: keep-alive\r\n` +
    (opts.mtaName ? `MTA-Name: ${headerValue(opts.mtaName)}\r\n` : '');
  const pool = createHttpExchangePool({
    host: base.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(base.port || 80),
    maxSockets: opts.maxSockets,
    maxBodyBytes: MAX_REPLY_BYTES,
    closedDetail: 'rspamd client closed',
  });

  return {
    async check(message, envelope) {
      const started = performance.now();
      const ms = (): number => Math.round((performance.now() - started) * 1000) / 1000;
      const error = (reason: SpamErrorReason, detail: string): SpamVerdict => ({ status: 'error', reason, detail, ms: ms() });
      if (pool.closed) return error('unavailable', 'rspamd client closed');
      const head = Buffer.from(`${fixedHead}${requestHeaders(message, envelope)}\r\n`, 'latin1');
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
      try {
        for (let attempt = 1; ; attempt++) {
          const outcome = await pool.post(head, message, controller.signal);
          if (outcome.kind === 'reply') {
            if (outcome.status !== 200) return error('refused', `HTTP ${outcome.status}: ${snippet(outcome.body)}`);
            const parsed = parseCheckReply(outcome.body);
            if ('problem' in parsed) return error('garbage', parsed.problem);
            return { status: 'scored', ...parsed, ms: ms() };
          }
          if (outcome.kind === 'timeout') return error('timeout', `no reply within ${opts.timeoutMs} ms`);
          if (outcome.kind === 'too-long') return error('garbage', `reply longer than ${MAX_REPLY_BYTES} bytes`);
          if (outcome.reused && attempt === 1 && RETRYABLE_ON_REUSED.has(outcome.code ?? '')) continue;
          return error('unavailable', outcome.detail);
        }
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      pool.close();
    },
  };
}

/**
 * Header values go out as latin1 bytes: a UTF-8 address (SMTPUTF8) is sent as its UTF-8 bytes, as rspamd reads
 * them. Control characters (CR and LF among them) cannot be in a header value and are replaced by '?', so an odd HELO
 * cannot break the request.
 */
const PLAIN = /^[\x20-\x7e\t]*$/;
function headerValue(s: string): string {
  if (PLAIN.test(s)) return s;
  return Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '?');
}

/** The per-check header fields, each ending in CRLF. */
function requestHeaders(message: Buffer, env: SpamEnvelope): string {
  // rspamd parses `<>` as the null sender.
  let head =
    `Content-Length: ${message.length}\r\nIP: ${headerValue(env.ip)}\r\nHelo: ${headerValue(env.helo)}\r\n` +
    `From: ${env.from === '' ? '<>' : headerValue(env.from)}\r\nQueue-Id: ${headerValue(env.queueId)}\r\n`;
  for (const rcpt of env.rcpts) head += `Rcpt: ${headerValue(rcpt)}\r\n`;
  if (env.hostname) head += `Hostname: ${headerValue(env.hostname)}\r\n`;
  if (env.user) head += `User: ${headerValue(env.user)}\r\n`;
  const auth = env.authResults;
  if (auth?.spf) {
    const result = SPF_RESULTS[auth.spf.result];
    if (result) head += `SPF: {"result":"${result}"}\r\n`;
  }
  if (auth?.dkim) {
    const results = auth.dkim
      .filter((s) => s.result !== 'none')
      .map((s) => ({ domain: headerValue(s.domain), result: DKIM_RESULTS[s.result] }));
    head += `DKIM: ${JSON.stringify(results.length > 0 ? { results } : { result: 'na' })}\r\n`;
  }
  if (auth?.dmarc) {
    const result = dmarcResult(auth.dmarc);
    if (result) head += `DMARC: {"result":"${result}"}\r\n`;
  }
  return head;
}

// The words rspamd's http_headers module understands (rspamd 3.4, plugins/http_headers.lua). A result it has no
// word for is still sent where rspamd accepts it silently, so that rspamd does not redo the check (SPF temperror).
const SPF_RESULTS: Record<AuthResultKeyword, string | undefined> = {
  pass: 'pass',
  fail: 'fail',
  softfail: 'softfail',
  neutral: 'neutral',
  none: 'na',
  permerror: 'permfail',
  temperror: 'tempfail',
  policy: undefined,
};

const DKIM_RESULTS: Record<AuthResultKeyword, string> = {
  pass: 'pass',
  fail: 'fail',
  policy: 'fail',
  softfail: 'fail',
  neutral: 'permfail',
  permerror: 'permfail',
  temperror: 'tempfail',
  none: 'na',
};

function dmarcResult(d: NonNullable<RspamdAuthResults['dmarc']>): string | undefined {
  switch (d.result) {
    case 'pass':
      return 'pass';
    case 'fail':
      return d.policy === 'reject' ? 'reject' : d.policy === 'quarantine' ? 'quarantine' : 'softfail';
    case 'none':
      return 'na';
    case 'temperror':
      return 'tempfail';
    case 'permerror':
      return 'permfail';
    default:
      return undefined;
  }
}

function snippet(body: Buffer): string {
  const text = body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
  return text || '(empty body)';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The fields of a /checkv2 reply that we use, or what is wrong with it. */
export function parseCheckReply(
  body: Buffer,
): { score: number; requiredScore: number; action: RspamdAction; symbols: SpamSymbol[] } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return { problem: `not JSON (${(err as Error).message}): ${snippet(body)}` };
  }
  if (!isObject(json)) return { problem: `not a JSON object: ${snippet(body)}` };
  const { score, required_score: requiredScore, action, symbols } = json;
  if (!isFiniteNumber(score)) return { problem: `score is not a number: ${JSON.stringify(score)}` };
  if (!isFiniteNumber(requiredScore)) return { problem: `required_score is not a number: ${JSON.stringify(requiredScore)}` };
  if (typeof action !== 'string' || !(RSPAMD_ACTIONS as readonly string[]).includes(action))
    return { problem: `unknown action: ${JSON.stringify(action)}` };
  if (!isObject(symbols)) return { problem: `symbols is not an object: ${JSON.stringify(symbols)?.slice(0, 100)}` };
  const list: SpamSymbol[] = [];
  for (const [key, s] of Object.entries(symbols)) {
    if (!isObject(s)) return { problem: `symbol ${key} is not an object` };
    if (typeof s.name !== 'string' || s.name === '') return { problem: `symbol ${key} has no name` };
    if (!isFiniteNumber(s.score)) return { problem: `symbol ${key} has no numeric score: ${JSON.stringify(s.score)}` };
    list.push({ name: s.name, score: s.score });
  }
  list.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { score, requiredScore, action: action as RspamdAction, symbols: list };
}
