// The telemetry shipper's one way out: a JSON POST to the backend with the node token (built in main.ts).

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
  fetch?: typeof globalThis.fetch;
  /** A request that has not been answered by then is abandoned (and retried later). */
  requestTimeoutMs?: number;
}

export function createBackendPost(opts: BackendPostOptions): TelemetryPost {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const timeout = opts.requestTimeoutMs ?? 10_000;
  return async (path, body, signal) => {
    const res = await doFetch(new URL(path, opts.backendUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeout)]),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed };
  };
}
