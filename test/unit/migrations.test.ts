// Migrations apply once: opening a database a second time applies nothing and keeps user_version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, migrate, readMigrations, MIGRATIONS } from '#data/db.ts';
import { openBackendStore } from '#server/store/open.ts';

test('backend migrations: second open applies 0 and user_version stays at the newest migration', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-mig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const expected = readMigrations(MIGRATIONS.backend).length;
  assert.ok(expected >= 1);

  const first = openBackendStore(dir);
  assert.equal(first.pragma('user_version', { simple: true }), expected);
  const tables = (first.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
  for (const name of ['tasks', 'comments', 'phases', 'task_history', 'users', 'sessions', 'login_failures', 'audit_log'])
    assert.ok(tables.includes(name), name);
  first.close();

  const second = openDatabase(join(dir, 'backend.sqlite'));
  assert.equal(migrate(second, MIGRATIONS.backend), 0);
  assert.equal(second.pragma('user_version', { simple: true }), expected);
  second.close();
  const third = openBackendStore(dir);
  assert.equal(third.pragma('user_version', { simple: true }), expected);
  assert.equal((third.prepare('SELECT count(*) AS n FROM tasks WHERE id = 2733').get() as { n: number }).n, 1);
  third.close();
});

test('node migrations apply cleanly and idempotently too', () => {
  const db = openDatabase(':memory:');
  const n = readMigrations(MIGRATIONS.node).length;
  assert.equal(migrate(db, MIGRATIONS.node), n);
  assert.equal(migrate(db, MIGRATIONS.node), 0);
  assert.equal(db.pragma('user_version', { simple: true }), n);
});

test('a half-applied migration set rolls back as a whole', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-mig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(':memory:');
  writeFileSync(join(dir, '001_ok.sql'), 'CREATE TABLE a (x INTEGER);');
  writeFileSync(join(dir, '002_broken.sql'), 'CREATE TABLE b (x INTEGER); THIS IS NOT SQL;');
  assert.throws(() => migrate(db, dir));
  assert.equal(db.pragma('user_version', { simple: true }), 0);
  assert.equal((db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('a', 'b')").get() as { n: number }).n, 0);
});
