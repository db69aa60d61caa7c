// What every route, service and job receives instead of importing singletons.
import type { DB } from '#data/db.ts';
import type { Config } from '#data/config.ts';
import type { BackendMetrics } from './http/metrics.ts';

/** The backend's one clock: every "now" of a route, service, job or the CLI comes from it, so tests can set the time. */
export type Clock = () => Date;

/** Real time; only the composition roots (server/main.ts, server/cli.ts) and defaults for tests take it. */
export const systemClock: Clock = () => new Date();

/** Structured fields (optional) and then the message, in pino's order; server/main.ts passes a pino logger. */
export type LogFn = (fieldsOrMessage: object | string, message?: string) => void;

/** The backend's one logger shape; a part that only reports progress asks for Pick<Log, 'info'>. */
export interface Log {
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** A counter bumped after every committed write that the public may see; readers rebuild caches when it moves. */
export interface ChangeCounter {
  bump(): void;
  version(): number;
}

export function createChangeCounter(): ChangeCounter {
  let v = 0;
  return {
    bump: () => {
      v++;
    },
    version: () => v,
  };
}

/**
 * A bump that moves the counter at most once per `minIntervalMs` of the clock: for writes that come in floods (MX
 * telemetry) and whose readers also refresh on their own, so a skipped bump is picked up at their next refresh.
 */
export function throttledBump(changes: ChangeCounter, clock: Clock, minIntervalMs: number): () => void {
  let last: number | null = null;
  return () => {
    const t = clock().getTime();
    // A clock set back (tests) counts as time passed, rather than silencing bumps until it catches up.
    if (last !== null && t >= last && t - last < minIntervalMs) return;
    last = t;
    changes.bump();
  };
}

export interface ServerDeps {
  db: DB;
  config: Config;
  clock: Clock;
  log: Log;
  changes: ChangeCounter;
  /** Prometheus counters for GET /metrics; createApp makes its own when none is given. */
  metrics?: BackendMetrics;
}
