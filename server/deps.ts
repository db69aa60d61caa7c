// What every route, service and job receives instead of importing singletons.
import type { DB } from '#data/db.ts';
import type { Config } from '#data/config.ts';
import type { Logger } from 'pino';

/** A counter bumped after every committed write that the public may see; readers rebuild caches when it moves. */
export interface ChangeCounter {
  bump(): void;
  version(): number;
}

export function createChangeCounter(): ChangeCounter {
  let v = 0;
  return { bump: () => { v++; }, version: () => v };
}

export interface ServerDeps {
  db: DB;
  config: Config;
  clock: () => Date;
  log: Logger;
  changes: ChangeCounter;
}
