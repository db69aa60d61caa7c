// Opens a SQLite database with the settings every Tidings store relies on, and applies migrations.
import Database from 'better-sqlite3';
import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type DB = Database.Database;

export const MIGRATIONS = {
  backend: join(dirname(fileURLToPath(import.meta.url)), 'migrations', 'backend'),
  node: join(dirname(fileURLToPath(import.meta.url)), 'migrations', 'node'),
} as const;

export interface OpenOptions {
  /** Folder of numbered `NNN_name.sql` files to apply. */
  migrationsDir?: string;
  /** `FULL` where a reply to a client depends on the commit being on disk (the mail queue). */
  synchronous?: 'NORMAL' | 'FULL';
  busyTimeoutMs?: number;
}

export function openDatabase(file: string, opts: OpenOptions = {}): DB {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
  if (opts.migrationsDir) migrate(db, opts.migrationsDir);
  return db;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir: string): Migration[] {
  const out: Migration[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^(\d+)_[\w-]+\.sql$/.exec(name);
    if (!m) continue;
    out.push({ version: Number(m[1]), name, sql: readFileSync(join(dir, name), 'utf8') });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 0; i < out.length; i++) {
    if (out[i].version !== i + 1) throw new Error(`migrations in ${dir} must be numbered 1..n without gaps; found ${out[i].name}`);
  }
  return out;
}

/** Applies every migration newer than `user_version` in one transaction; returns how many ran. */
export function migrate(db: DB, dir: string): number {
  const migrations = readMigrations(dir);
  const current = db.pragma('user_version', { simple: true }) as number;
  const pending = migrations.filter((m) => m.version > current);
  if (pending.length === 0) return 0;
  db.transaction(() => {
    for (const m of pending) db.exec(m.sql);
    db.pragma(`user_version = ${pending[pending.length - 1].version}`);
  }).immediate();
  return pending.length;
}
