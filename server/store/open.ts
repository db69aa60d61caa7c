// Opens (and migrates, and seeds) the backend database under the state folder.
import { join } from 'node:path';
import { openDatabase, MIGRATIONS, type DB } from '#data/db.ts';
import { systemClock, type Clock } from '../deps.ts';
import { seedAll } from './seed.ts';

export function openBackendStore(stateDir: string | ':memory:', now: Clock = systemClock): DB {
  const file = stateDir === ':memory:' ? ':memory:' : join(stateDir, 'backend.sqlite');
  const db = openDatabase(file, { migrationsDir: MIGRATIONS.backend });
  // Overwritten and deleted text is zeroed in the file, not left in free space: a redacted history value or a
  // secret edited out of a task must be gone from the disk too. The backend writes little, so the cost is small.
  db.pragma('secure_delete = ON');
  seedAll(db, now().toISOString());
  return db;
}
