// What every route, service and job receives instead of importing singletons.
import type { DB } from '#data/db.ts';
import type { Config } from '#data/config.ts';
import type { Logger } from 'pino';

export interface ServerDeps {
  db: DB;
  config: Config;
  clock: () => Date;
  log: Logger;
}
