// The node queue's durability rests on synchronous=FULL (250 only after fsync): openDatabase must
// apply the option it is given, on the connection it returns (the pragma is per connection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, MIGRATIONS } from '#data/db.ts';

test('openDatabase honours synchronous FULL (2) and defaults to NORMAL (1), in WAL mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-sync-'));
  try {
    const full = openDatabase(join(dir, 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
    assert.equal(full.pragma('synchronous', { simple: true }), 2);
    assert.equal(full.pragma('journal_mode', { simple: true }), 'wal');
    full.close();
    const normal = openDatabase(join(dir, 'other.sqlite'));
    assert.equal(normal.pragma('synchronous', { simple: true }), 1);
    normal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
