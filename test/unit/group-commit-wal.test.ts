// With synchronous=NORMAL the committer, not COMMIT, makes commits durable: no submission resolves before an fsync of
// the WAL that started after its commit, and one fsync serves every commit made while the previous one ran.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS, openDatabase, type DB } from '#data/db.ts';
import { GroupCommitter, type WalSync } from '#mailsystem/queue/group-commit.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tidings-walsync-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function table(db: DB): DB {
  db.exec('CREATE TABLE IF NOT EXISTS t (v INTEGER)');
  return db;
}

/** A WAL sync that runs only when the test lets it, recording how many commits each call covered. */
function heldSync(db: DB): { sync: WalSync; calls: { rowsAtStart: number; release: () => void; fail: (e: Error) => void }[] } {
  const calls: { rowsAtStart: number; release: () => void; fail: (e: Error) => void }[] = [];
  const count = db.prepare('SELECT count(*) FROM t').pluck();
  const sync: WalSync = () =>
    new Promise<void>((resolve, reject) => calls.push({ rowsAtStart: count.get() as number, release: resolve, fail: reject }));
  return { sync, calls };
}

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  // Two macrotask turns: the flush (setImmediate) and any promise callbacks after it have run.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('group commit with synchronous=NORMAL', () => {
  it('resolves a submission only after the WAL fsync that follows its commit', async () => {
    const db = table(openNodeDatabase(join(tmp, `q${n++}.sqlite`)));
    const { sync, calls } = heldSync(db);
    const committer = new GroupCommitter(db, { walSync: sync });
    const first = committer.submit(() => db.prepare('INSERT INTO t VALUES (1)').run());
    assert.equal(await settled(first), false, 'committed but not yet synced: not resolved');
    assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 1, 'the row is committed');
    assert.equal(calls.length, 1);
    // Commits made while that fsync runs wait for the next one, which starts when it returns.
    const second = committer.submit(() => db.prepare('INSERT INTO t VALUES (2)').run());
    const third = committer.submit(() => db.prepare('INSERT INTO t VALUES (3)').run());
    assert.equal(await settled(second), false);
    assert.equal(calls.length, 1, 'one fsync at a time');
    calls[0].release();
    await first;
    assert.equal(await settled(second), false, 'the first fsync started before the second commit: it does not cover it');
    assert.equal(calls.length, 2, 'the next fsync started as soon as the first returned');
    assert.equal(calls[1].rowsAtStart, 3, 'and it covers both commits made meanwhile');
    calls[1].release();
    await Promise.all([second, third]);
    assert.equal(committer.stats.walSyncs, 2);
    await committer.close();
    db.close();
  });

  it('rejects the submissions whose fsync failed, and a later one succeeds', async () => {
    const db = table(openNodeDatabase(join(tmp, `q${n++}.sqlite`)));
    const { sync, calls } = heldSync(db);
    const committer = new GroupCommitter(db, { walSync: sync });
    const lost = committer.submit(() => db.prepare('INSERT INTO t VALUES (1)').run());
    await settled(lost);
    calls[0].fail(new Error('EIO'));
    await assert.rejects(lost, /EIO/);
    const next = committer.submit(() => db.prepare('INSERT INTO t VALUES (2)').run());
    await settled(next);
    calls[1].release();
    await next;
    db.close();
  });

  it('syncs the WAL itself on a NORMAL database and leaves it to SQLite on a FULL one', async () => {
    const normal = table(openNodeDatabase(join(tmp, `q${n++}.sqlite`)));
    assert.equal(normal.pragma('synchronous', { simple: true }), 1);
    const c1 = new GroupCommitter(normal);
    await Promise.all(Array.from({ length: 20 }, (_, i) => c1.submit(() => normal.prepare('INSERT INTO t VALUES (?)').run(i))));
    assert.ok(c1.stats.walSyncs >= 1 && c1.stats.walSyncs <= 2, `one or two fsyncs for one batch, got ${c1.stats.walSyncs}`);
    await c1.close();
    normal.close();

    const full = table(openDatabase(join(tmp, `q${n++}.sqlite`), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' }));
    const c2 = new GroupCommitter(full);
    await c2.submit(() => full.prepare('INSERT INTO t VALUES (1)').run());
    assert.equal(c2.stats.walSyncs, 0);
    await c2.close();
    full.close();
  });

  it('refuses a database that never syncs', () => {
    const db = openDatabase(join(tmp, `q${n++}.sqlite`));
    db.pragma('synchronous = OFF');
    assert.throws(() => new GroupCommitter(db), /synchronous=OFF/);
    db.close();
  });
});
