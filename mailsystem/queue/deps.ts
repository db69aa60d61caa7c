// The small capabilities the mail path receives instead of importing globals: time and logging.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

type LogFn = (obj: object | string, msg?: string) => void;

/** The subset of pino's logger the mail path uses; tests pass a recorder or a silent one. */
export interface Log {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};
export const silentLog: Log = { debug: noop, info: noop, warn: noop, error: noop };
