// The queue store's event observer, as mailsystem/app.ts wires it for the node's metrics: through the group
// committer's afterCommit, so an observer sees an event only once its row is committed, never a rolled-back one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIGRATIONS, openDatabase } from '#data/db.ts';
import { GroupCommitter } from '#mailsystem/queue/group-commit.ts';
import { type ObservedEvent, QueueStore } from '#mailsystem/queue/store.ts';

function setup() {
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  const committer = new GroupCommitter(db);
  const seen: ObservedEvent[] = [];
  const store = new QueueStore(db, (e) => committer.afterCommit(() => seen.push(e)));
  const rows = () => db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  return { db, committer, store, seen, rows };
}

test('an event is observed after its batch commits, not while the work runs', async () => {
  const { committer, store, seen, rows } = setup();
  const done = committer.submit(() => {
    store.insertRejected({ at: 1, reason: 'unknown-user' });
    assert.equal(seen.length, 0, 'not before the commit');
  });
  assert.equal(seen.length, 0);
  await done;
  assert.deepEqual(seen, [{ type: 'rejected', reason: 'unknown-user' }]);
  assert.equal(rows(), 1);
});

test('an item rolled back to its savepoint is not observed; the rest of its batch is', async () => {
  const { committer, store, seen, rows } = setup();
  const failed = committer.submit(() => {
    store.insertRejected({ at: 1, reason: 'too-big' });
    throw new Error('this item fails after writing its event');
  });
  const ok = committer.submit(() => store.insertRejected({ at: 2, reason: 'unknown-user' }));
  await assert.rejects(failed);
  await ok;
  assert.deepEqual(seen, [{ type: 'rejected', reason: 'unknown-user' }]);
  assert.equal(rows(), 1);
});

test('a failed commitNow is not observed; one that commits is, at once', () => {
  const { committer, store, seen, rows } = setup();
  assert.throws(() =>
    committer.commitNow(() => {
      store.insertRejected({ at: 1, reason: 'too-big' });
      throw new Error('rolled back');
    }),
  );
  assert.deepEqual(seen, []);
  committer.commitNow(() => store.insertRejected({ at: 2, reason: 'bare-newline' }));
  assert.deepEqual(seen, [{ type: 'rejected', reason: 'bare-newline' }]);
  assert.equal(rows(), 1);
});

test('a failed COMMIT observes nothing of its batch', async () => {
  const { db, committer, store, seen } = setup();
  // A deferred foreign-key violation makes COMMIT itself fail, after every item succeeded.
  db.exec(
    'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)',
  );
  db.pragma('foreign_keys = ON');
  const a = committer.submit(() => store.insertRejected({ at: 1, reason: 'unknown-user' }));
  const b = committer.submit(() => db.prepare('INSERT INTO child (p) VALUES (42)').run());
  await assert.rejects(a);
  await assert.rejects(b);
  assert.deepEqual(seen, []);
});
