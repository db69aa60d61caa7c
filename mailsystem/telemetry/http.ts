// The telemetry shipper's one way out: a JSON POST to the backend with the node token (built in main.ts).
//
// node:http(s) with a keep-alive Agent rather than global fetch: undici's fetch cost the node 3.5-5 ms of main-thread
// CPU per 1,000-event batch (bench/smtp-accept/README.md), spent while SMTP is busiest. What fetch gave is kept:
// one timeout for the whole exchange, the shipper's abort, the status and the JSON body. Redirects are not followed
// (fetch followed them; the backend never redirects this path, and a 3xx is a failure the shipper retries).
import http from 'node:http';
import https from 'node:https';

export interface PostResult {
  status: number;
  /** The parsed JSON body; null when there was none or it was not JSON. */
  body: unknown;
}

/** Throws on a network error, a timeout or an abort (the shipper keeps its cursor and backs off). */
export type TelemetryPost = (path: string, body: unknown, signal: AbortSignal) => Promise<PostResult>;

export interface BackendPostOptions {
  /** Base URL of the backend, e.g. http://127.0.0.1:8080 */
  backendUrl: string;
  token: string;
  /** A request that has not been answered (body included) by then is abandoned (and retried later). */
  requestTimeoutMs?: number;
  /** A larger answer is abandoned as a failure (the backend's answers are a few dozen bytes). Default 1 MiB. */
  maxResponseBytes?: number;
}

export function createBackendPost(opts: BackendPostOptions): TelemetryPost {
  const timeout = opts.requestTimeoutMs ?? 10_000;
  const maxResponse = opts.maxResponseBytes ?? 1024 * 1024;
  const base = new URL(opts.backendUrl);
  const secure = base.protocol === 'https:';
  if (!secure && base.protocol !== 'http:') throw new Error(`backend URL must be http(s): ${opts.backendUrl}`);
  // One connection is reused for batches and heartbeats (they take turns); idle sockets do not keep the process alive.
  const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 4 }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
  const request = secure ? https.request : http.request;
  const authorization = `Bearer ${opts.token}`;

  return (path, body, signal) =>
    new Promise<PostResult>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason ?? new Error('aborted'));
      const payload = Buffer.from(JSON.stringify(body));
      const url = new URL(path, base);
      let settled = false;
      const finish = (err: Error | null, result?: PostResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(result as PostResult);
      };
      const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      const req = request(url, {
        method: 'POST',
        agent,
        headers: {
          authorization,
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': payload.length,
        },
      });
      const timer = setTimeout(() => finish(new Error(`no answer from the backend within ${timeout} ms`)), timeout);
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponse) return finish(new Error(`the backend's answer exceeds ${maxResponse} bytes`));
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(err));
        res.on('close', () => {
          if (!res.complete) finish(new Error('the backend closed the connection mid-answer'));
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = null;
          }
          finish(null, { status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.end(payload);
    });
}
