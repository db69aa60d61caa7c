// What every CLI command receives: the opened store, config, clock and the three standard streams.
import type { Readable, Writable } from 'node:stream';
import type { DB } from '#data/db.ts';
import type { Config } from '#data/config.ts';
import type { Clock } from '../deps.ts';

export interface CliContext {
  db: DB;
  config: Config;
  clock: Clock;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}
