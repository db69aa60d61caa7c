// Statements prepared once per database handle, for the stores that run the same SQL per message or per event: the
// telemetry ingest's accounts (server/store/telemetry-accounting.ts) and quarantine index, the shadow report's counts
// and the subscriber-mail sender (server/store/notify-mail.ts).
import type { Statement } from 'better-sqlite3';
import type { DB } from '#data/db.ts';

const PREPARED = new WeakMap<DB, Map<string, Statement<unknown[]>>>();

/** `db.prepare(sql)`, prepared on the first call for this database and reused after; positional or named parameters. */
export function stmt(db: DB, sql: string): Statement<unknown[]> {
  let m = PREPARED.get(db);
  if (!m) {
    m = new Map();
    PREPARED.set(db, m);
  }
  let s = m.get(sql);
  if (!s) {
    s = db.prepare(sql);
    m.set(sql, s);
  }
  return s;
}
