// Opens (and migrates, and seeds) the backend database under the state folder.
import { join } from 'node:path';
import { openDatabase, MIGRATIONS, type DB } from '#data/db.ts';
import { seedAll } from './seed.ts';

export function openBackendStore(stateDir: string | ':memory:', now: () => Date = () => new Date()): DB {
  const file = stateDir === ':memory:' ? ':memory:' : join(stateDir, 'backend.sqlite');
  const db = openDatabase(file, { migrationsDir: MIGRATIONS.backend });
  seedAll(db, now().toISOString());
  return db;
}
