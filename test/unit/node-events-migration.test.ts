// Node migration 007 rebuilds the event log to allow 'released' and 'purged'. The log's seq is the telemetry shipper's
// cursor: after the rebuild it continues above every seq ever handed out, also when pruning had emptied the log
// (a restart at 1 would write events under seqs the backend already holds, and they would never be counted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DB, MIGRATIONS, migrate, openDatabase, readMigrations } from '#data/db.ts';

/** A node database at the version before 007 (as a node running the previous release has it). */
function databaseBefore007(dir: string): DB {
  const old = join(dir, 'before-007');
  mkdirSync(old);
  for (const m of readMigrations(MIGRATIONS.node).filter((m) => m.version < 7))
    copyFileSync(join(MIGRATIONS.node, m.name), join(old, m.name));
  return openDatabase(join(dir, 'node.sqlite'), { migrationsDir: old });
}

const insert = (db: DB, type: string): number =>
  Number(db.prepare('INSERT INTO events (at, type, message_id) VALUES (?, ?, ?)').run(1_000, type, 'm1').lastInsertRowid);

test('the rebuilt event log continues above the highest seq ever handed out, though pruning emptied it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-mig7-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = databaseBefore007(dir);
  assert.equal(db.pragma('user_version', { simple: true }), 6);
  for (let i = 0; i < 5; i++) insert(db, 'accepted');
  assert.throws(() => insert(db, 'released'), /CHECK constraint failed/, 'before 007 the log refuses the new types');
  db.exec('DELETE FROM events'); // the shipper's prune after the backend acknowledged all five
  assert.equal(migrate(db, MIGRATIONS.node), readMigrations(MIGRATIONS.node).length - 6);
  assert.equal(insert(db, 'released'), 6, 'seq 6, not 1');
  assert.equal(insert(db, 'purged'), 7);
  assert.equal(insert(db, 'quarantine-refused'), 8, 'a staff action the node applied no change for');
  assert.throws(() => insert(db, 'exploded'), /CHECK constraint failed/, 'the CHECK still lists the types');
  db.close();
});

test('the rebuild keeps every row as it was; the quarantine keeps no entry column (the event holds the entry)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-mig7-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = databaseBefore7WithRows(dir);
  const before = db.prepare('SELECT * FROM events ORDER BY seq').all();
  migrate(db, MIGRATIONS.node);
  assert.deepEqual(db.prepare('SELECT * FROM events ORDER BY seq').all(), before);
  assert.equal(insert(db, 'accepted'), 13, 'above the highest seq ever written (12, pruned), not the highest left (10)');
  const columns = (db.prepare("SELECT name FROM pragma_table_info('quarantine')").pluck().all() as string[]).sort();
  assert.deepEqual(columns, ['delivery_id', 'quarantined_at', 'reason', 'verdict']);
  assert.deepEqual(db.prepare("SELECT name FROM sqlite_sequence WHERE name LIKE 'events%'").pluck().all(), ['events']);
  db.close();
});

function databaseBefore7WithRows(dir: string): DB {
  const db = databaseBefore007(dir);
  for (let i = 0; i < 12; i++) insert(db, i % 2 ? 'delivered' : 'accepted');
  db.prepare('UPDATE events SET detail = ?, reason = ? WHERE seq = 3').run('{"deliveries":2}', 'spam');
  db.exec('DELETE FROM events WHERE seq <= 2 OR seq > 10');
  return db;
}
