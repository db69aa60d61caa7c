// Time and logging for the whole MX process: one Clock and one Log, built by the composition root and passed to every part.

/** Parts that need a Date (SRS day stamps, ISO timestamps) make one from now(): tests move one clock for all of them. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

type LogFn = (obj: object | string, msg?: string) => void;

/** The subset of pino's logger the MX process uses; tests pass a recorder or a silent one. */
export interface Log {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};
export const silentLog: Log = { debug: noop, info: noop, warn: noop, error: noop };
