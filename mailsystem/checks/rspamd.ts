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
// - A bounded pool: a node:http Agent with keepAlive and maxSockets. Checks beyond maxSockets wait for a socket in
//   arrival order, and that wait counts against timeoutMs, so the DATA hook always has an answer within timeoutMs.
//   rspamd 3.4's normal worker answers every request with `Connection: close`, so against it each check opens a
//   connection (tens of microseconds on loopback); a server that keeps connections (a newer rspamd, a proxy) gets
//   them reused.
// - A reused keep-alive connection that the server closed while idle shows up as a reset of the next request on it;
//   that request is retried once on a new connection (node's documented pattern). A check is idempotent.
// - timeoutMs covers the whole check; past it the request is destroyed (its socket is not returned to the pool).
// - The reply is validated by hand and strictly: finite numbers, a known action, every symbol a name and a finite
//   score. Anything else, or a reply over MAX_REPLY_BYTES, is 'garbage'.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AuthResultKeyword, DmarcRecordPolicy } from './auth.ts';

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
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets, scheduling: 'lifo' });
  let closed = false;

  return {
    async check(message, envelope) {
      const started = performance.now();
      const ms = (): number => Math.round((performance.now() - started) * 1000) / 1000;
      const error = (reason: SpamErrorReason, detail: string): SpamVerdict => ({ status: 'error', reason, detail, ms: ms() });
      if (closed) return error('unavailable', 'rspamd client closed');
      let headers: http.OutgoingHttpHeaders;
      try {
        headers = requestHeaders(message, envelope, opts.mtaName);
      } catch (err) {
        return error('unavailable', `cannot build the request: ${(err as Error).message}`);
      }
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
      try {
        for (let attempt = 1; ; attempt++) {
          const outcome = await post(agent, base, path, headers, message, controller.signal);
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
      closed = true;
      agent.destroy();
    },
  };
}

type PostOutcome =
  | { kind: 'reply'; status: number; body: Buffer }
  | { kind: 'timeout' }
  | { kind: 'too-long' }
  | { kind: 'failed'; code: string | undefined; detail: string; reused: boolean };

/** One HTTP exchange; resolves with what happened, never rejects. */
function post(
  agent: http.Agent,
  base: URL,
  path: string,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
  signal: AbortSignal,
): Promise<PostOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ kind: 'timeout' });
    let settled = false;
    const finish = (outcome: PostOutcome): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    let req: http.ClientRequest;
    const onAbort = (): void => {
      finish({ kind: 'timeout' });
      req?.destroy();
    };
    try {
      req = http.request({ agent, host: base.hostname.replace(/^\[(.*)\]$/, '$1'), port: base.port || 80, path, method: 'POST', headers });
    } catch (err) {
      return finish({ kind: 'failed', code: (err as NodeJS.ErrnoException).code, detail: (err as Error).message, reused: false });
    }
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ kind: 'failed', code: err.code, detail: `${err.code ?? 'error'}: ${err.message}`, reused: req.reusedSocket });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > MAX_REPLY_BYTES) {
          finish({ kind: 'too-long' });
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish({ kind: 'reply', status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', (err: NodeJS.ErrnoException) => {
        finish({ kind: 'failed', code: err.code, detail: `reply broken: ${err.code ?? 'error'}: ${err.message}`, reused: false });
      });
      res.on('close', () => {
        if (!res.complete) finish({ kind: 'failed', code: 'ECONNRESET', detail: 'reply broken: connection closed', reused: false });
      });
    });
    req.end(body);
  });
}

/**
 * Header values go out as latin1 bytes: a UTF-8 address (SMTPUTF8) is sent as its UTF-8 bytes, as rspamd reads
 * them. Control characters cannot be in a header value and are replaced by '?', so an odd HELO cannot break the
 * request (node would throw on it).
 */
function headerValue(s: string): string {
  return Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '?');
}

function requestHeaders(message: Buffer, env: SpamEnvelope, mtaName: string | undefined): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {
    'Content-Length': message.length,
    IP: headerValue(env.ip),
    Helo: headerValue(env.helo),
    // rspamd parses `<>` as the null sender.
    From: env.from === '' ? '<>' : headerValue(env.from),
    'Queue-Id': headerValue(env.queueId),
  };
  if (env.rcpts.length > 0) headers.Rcpt = env.rcpts.map(headerValue);
  if (env.hostname) headers.Hostname = headerValue(env.hostname);
  if (env.user) headers.User = headerValue(env.user);
  if (mtaName) headers['MTA-Name'] = headerValue(mtaName);
  const auth = env.authResults;
  if (auth?.spf) {
    const result = SPF_RESULTS[auth.spf.result];
    if (result) headers.SPF = JSON.stringify({ result });
  }
  if (auth?.dkim) {
    const results = auth.dkim
      .filter((s) => s.result !== 'none')
      .map((s) => ({ domain: headerValue(s.domain), result: DKIM_RESULTS[s.result] }));
    headers.DKIM = JSON.stringify(results.length > 0 ? { results } : { result: 'na' });
  }
  if (auth?.dmarc) {
    const result = dmarcResult(auth.dmarc);
    if (result) headers.DMARC = JSON.stringify({ result });
  }
  return headers;
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
