// One webhook POST, guarded: http(s) only, the host resolved first (by the resolver given: tests never use real DNS),
// every address checked, and the connection made to the checked address (so a second, different DNS answer cannot
// slip past the check); no redirect is followed; one overall timeout.
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { forbiddenAddressReason } from '../domain/webhook-address.ts';
import type { AttemptResult } from '../store/webhooks.ts';

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Every address of a host name, as dns.promises.lookup(name, { all: true }) answers. */
export type Resolve = (hostname: string) => Promise<ResolvedAddress[]>;

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  resolve: Resolve;
  allowPrivate: boolean;
}

/** The answer of one attempt: error null only for a 2xx status. */
export async function postWebhook(r: WebhookRequest): Promise<AttemptResult> {
  const started = performance.now();
  const done = (status: number | null, error: string | null): AttemptResult => ({ status, error, durationMs: performance.now() - started });
  const deadline = AbortSignal.timeout(r.timeoutMs);
  const u = new URL(r.url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return done(null, `refused: ${u.protocol} is not http or https`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let addresses: ResolvedAddress[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await abortable(r.resolve(host), deadline);
  } catch (e) {
    return done(
      null,
      deadline.aborted ? `timed out after ${r.timeoutMs} ms resolving ${host}` : `cannot resolve ${host}: ${(e as Error).message}`,
    );
  }
  if (addresses.length === 0) return done(null, `cannot resolve ${host}: no address`);
  if (!r.allowPrivate) {
    for (const a of addresses) {
      const why = forbiddenAddressReason(a.address);
      if (why) return done(null, `refused: ${host} has the ${why} address ${a.address} (TIDINGS_WEBHOOK_ALLOW_PRIVATE is off)`);
    }
  }
  const target = addresses[0];
  const lookup: LookupFunction = (_name, options, callback) => {
    if (options.all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
  return new Promise((resolve) => {
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {
      method: 'POST',
      headers: { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) },
      lookup,
      agent: false,
      signal: deadline,
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume(); // the receiver's body is not read: only its status counts
      res.on('error', () => {});
      const ok = status >= 200 && status < 300;
      const error = ok
        ? null
        : status >= 300 && status < 400
          ? `redirect to ${res.headers.location ?? '(none)'} not followed`
          : `HTTP ${status}`;
      resolve(done(status, error));
      req.destroy();
    });
    req.on('error', (e) => resolve(done(null, deadline.aborted ? `timed out after ${r.timeoutMs} ms` : e.message || String(e))));
    req.end(r.body);
  });
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    p.then(resolve, reject);
  });
}
