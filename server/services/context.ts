// What every service verb receives: the store, the clock, the change counter and who is acting.
import type { DB } from '#data/db.ts';
import type { ChangeCounter, Clock } from '../deps.ts';

export interface ServiceContext {
  db: DB;
  clock: Clock;
  changes: ChangeCounter;
}

/** userId is null only for the CLI and the system; tasks always need a real user. */
export interface Actor {
  userId: number | null;
  name: string;
}

/** Services whose changes are announced to subscribers (issue 14) also link to the public page: TIDINGS_PUBLIC_URL. */
export interface NotifyingContext extends ServiceContext {
  publicUrl: string;
}
