// Staff actions on this node's quarantine (issue 12, data/contracts/quarantine.ts): the backend keeps each release or
// deletion staff asked for as a pending action; the node fetches its pending ones right after each config sync
// (GET /api/v1/mx/quarantine/actions with the node token) and applies each in a transaction with its event. The
// backend learns the result only from that event ('released' / 'purged' with the action's id), so a fetch that fails
// or an answer that cannot be read just waits for the next sync; nothing here throws.
import { type QuarantineAction, QuarantineActionsPayload } from '#data/contracts/quarantine.ts';

export type FetchActionsOutcome = { ok: true; actions: QuarantineAction[] } | { ok: false; error: string };

/** Fetches this node's pending actions; never throws. */
export type FetchQuarantineActions = () => Promise<FetchActionsOutcome>;

export interface ActionsClientOptions {
  /** Base URL of the backend, e.g. http://127.0.0.1:8080 */
  backendUrl: string;
  token: string;
  fetch?: typeof globalThis.fetch;
  /** The whole exchange, body included. Default 10 s. */
  requestTimeoutMs?: number;
  /** A longer answer is refused (100 actions take a few KiB). Default 1 MiB. */
  maxResponseBytes?: number;
}

const QUARANTINE_ACTIONS_PATH = '/api/v1/mx/quarantine/actions';

export function createQuarantineActionsClient(opts: ActionsClientOptions): FetchQuarantineActions {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const timeout = opts.requestTimeoutMs ?? 10_000;
  const maxBytes = opts.maxResponseBytes ?? 1024 * 1024;
  return async () => {
    try {
      const res = await doFetch(new URL(QUARANTINE_ACTIONS_PATH, opts.backendUrl), {
        headers: { authorization: `Bearer ${opts.token}`, accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(timeout),
      });
      // A backend older than the quarantine index has no such route: it has no actions for us either.
      if (res.status === 404) {
        await res.body?.cancel();
        return { ok: true, actions: [] };
      }
      if (!res.ok) {
        await res.body?.cancel();
        return { ok: false, error: `backend answered HTTP ${res.status}` };
      }
      const length = Number(res.headers.get('content-length') ?? 0);
      if (length > maxBytes) {
        await res.body?.cancel();
        return { ok: false, error: `the answer exceeds ${maxBytes} bytes` };
      }
      const text = await res.text();
      if (Buffer.byteLength(text) > maxBytes) return { ok: false, error: `the answer exceeds ${maxBytes} bytes` };
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return { ok: false, error: 'the answer is not JSON' };
      }
      const payload = QuarantineActionsPayload.safeParse(json);
      if (!payload.success) {
        const issue = payload.error.issues[0];
        return { ok: false, error: `the answer is not a QuarantineActionsPayload (${issue?.path.join('.')}: ${issue?.message})` };
      }
      return { ok: true, actions: payload.data.actions };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  };
}
