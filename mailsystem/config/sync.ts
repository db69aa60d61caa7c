// Polls the backend for configuration changes with the node token and applies them to the replica, with no restart.
import type { DB } from '#data/db.ts';
import { MxConfigPayload } from '#data/contracts/mx-config.ts';
import type { Clock, Log } from '../deps.ts';
import { applyConfigChanges, recordSyncError } from './apply.ts';
import { replicaVersion } from './replica.ts';

export interface ConfigSyncOptions {
  db: DB;
  /** Base URL of the backend, e.g. http://127.0.0.1:8080 */
  backendUrl: string;
  token: string;
  clock: Clock;
  log: Log;
  fetch?: typeof globalThis.fetch;
  intervalMs?: number;
  requestTimeoutMs?: number;
  /**
   * Runs right after each successful sync, on the same timer and inside syncOnce (the quarantine's staff actions,
   * mailsystem/quarantine/actions.ts). Its failure is its own: logged, never the sync's.
   */
  afterSync?: () => Promise<unknown>;
  /**
   * Told after each page that changed something: the domains whose record, mailboxes or aliases changed, or that the
   * whole replica was replaced (the composition root clears the legacy probe's answers with it).
   */
  onApplied?: (changed: { domains: string[]; reset: boolean }) => void;
}

export interface SyncOutcome {
  ok: boolean;
  applied: number;
  version: number;
  error?: string;
}

export interface ConfigSync {
  /**
   * Fetches and applies every page of pending changes, then runs afterSync; never throws: the replica simply stays as
   * it was.
   */
  syncOnce(): Promise<SyncOutcome>;
  start(): void;
  stop(): void;
}

export function createConfigSync(opts: ConfigSyncOptions): ConfigSync {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const interval = opts.intervalMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SyncOutcome> | undefined;
  let stopped = true;

  async function fetchPage(since: number): Promise<MxConfigPayload> {
    const url = new URL('/api/v1/mx/config', opts.backendUrl);
    url.searchParams.set('since', String(since));
    const res = await doFetch(url, {
      headers: { authorization: `Bearer ${opts.token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(opts.requestTimeoutMs ?? 10_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`backend answered HTTP ${res.status}`);
    }
    return MxConfigPayload.parse(await res.json());
  }

  async function run(): Promise<SyncOutcome> {
    let applied = 0;
    try {
      for (let page = 0; page < 1000; page++) {
        const payload = await fetchPage(replicaVersion(opts.db));
        const r = applyConfigChanges(opts.db, payload, new Date(opts.clock.now()));
        applied += r.applied;
        if (r.applied > 0 || r.reset) opts.onApplied?.({ domains: r.domains, reset: r.reset });
        if (!payload.more) break;
      }
      const version = replicaVersion(opts.db);
      if (applied) opts.log.info({ applied, version }, 'mx config: applied changes');
      return { ok: true, applied, version };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      recordSyncError(opts.db, message, new Date(opts.clock.now()));
      opts.log.warn({ err: message, version: replicaVersion(opts.db) }, 'mx config: backend unreachable, serving from the replica');
      return { ok: false, applied, version: replicaVersion(opts.db), error: message };
    }
  }

  // One sync at a time: a slow backend must not stack up overlapping polls.
  async function runWithAfter(): Promise<SyncOutcome> {
    const outcome = await run();
    if (outcome.ok && opts.afterSync) {
      try {
        await opts.afterSync();
      } catch (err) {
        opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'mx config: the step after the sync failed');
      }
    }
    return outcome;
  }

  function syncOnce(): Promise<SyncOutcome> {
    running ??= runWithAfter().finally(() => {
      running = undefined;
    });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void syncOnce().finally(schedule);
    }, interval);
    timer.unref();
  }

  return {
    syncOnce,
    start() {
      if (!stopped) return;
      stopped = false;
      void syncOnce().finally(schedule);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
