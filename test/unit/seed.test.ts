// FS#2733 is seeded exactly as the record shows it, once, and a re-seed never overwrites staff edits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackendStore } from '#server/store/open.ts';
import { seedAll } from '#server/store/seed.ts';
import { taskView } from '#server/store/task-views.ts';
import { createChangeCounter } from '#server/deps.ts';
import { updateTask } from '#server/services/tasks/updateTask.ts';
import { addComment } from '#server/services/tasks/addComment.ts';
import { addStaff } from '#server/services/users/addStaff.ts';

const count = (db: ReturnType<typeof openBackendStore>, sql: string) => (db.prepare(sql).get() as { n: number }).n;

test('FS#2733 is seeded field by field', () => {
  const db = openBackendStore(':memory:');
  const t = taskView(db, 2733);
  assert.ok(t, 'FS#2733 exists with id 2733');
  assert.equal(t.ref, 'FS#2733');
  assert.equal(t.summary, 'Reworking / Scaling mailsystem inbound');
  assert.equal(t.details.markdown, 'We are going to rework the inbound mailsystem.');
  assert.equal(t.details.html, '<p>We are going to rework the inbound mailsystem.</p>');
  assert.equal(t.type.name, 'Upgrade');
  assert.deepEqual(t.category.path, ['All Services', 'Email']);
  assert.equal(t.section?.name, 'Email');
  assert.equal(t.section?.slug, 'email');
  assert.equal(t.openedBy.displayName, 'Admin');
  assert.equal(t.openedAt.slice(0, 10), '2021-10-08');
  assert.equal(t.closed, true);
  assert.equal(t.closedBy?.displayName, 'Admin');
  assert.equal(t.closedAt, '2021-11-10T16:09:00.000Z');
  assert.equal(t.closeReason?.name, 'Finished');
  assert.equal(t.percent, 100);

  assert.equal(t.comments.length, 3);
  assert.deepEqual(
    t.comments.map((c) => c.at),
    ['2021-10-12T10:40:00.000Z', '2021-10-13T14:40:00.000Z', '2021-11-10T16:09:00.000Z'],
  );
  assert.ok(t.comments.every((c) => c.author.displayName === 'Admin'));
  const long = t.comments[0].markdown;
  assert.ok(long.startsWith('We are going to rework the entire inbound mailsystem. The new mailsystem will have more scalability'));
  for (const line of [
    'All customers with Forwarding Mails and/or Mailaccounts and/or Domains are affected.',
    'During the activation of the new inbound mailsystem: no impact (seamless change)',
    'Activation of "no spam forwarding" - policy for all email-forwarding to external providers',
    'deployment and parallel service new/old: 13.10.2021 - 20.10.2021',
    '1.) Do I lose EMails during the deployment?',
    '4.) Do I get more or less spam / virus after the deployment?',
    'No tagged EMails become delivered in future.',
  ])
    assert.ok(long.includes(line), line);
  assert.match(t.comments[0].html, /<li>Change of the internal routing of mails \(only headers affected\)<\/li>/);
  assert.equal(t.comments[1].markdown, 'The new mailsystem is now active.');
  assert.equal(t.comments[2].markdown, 'Review done. Everything looks good.');

  assert.deepEqual(
    t.phases.map((p) => [p.title, p.startsAt?.slice(0, 10) ?? null, p.endsAt?.slice(0, 10) ?? null]),
    [
      ['development and test', null, '2021-10-12'],
      ['deployment and parallel service new/old', '2021-10-13', '2021-10-20'],
      ['deactivation of old inbound mailsystem', '2021-10-21', '2021-10-21'],
    ],
  );
  // The historical author cannot log in.
  const author = db.prepare('SELECT password_hash, disabled FROM users WHERE id = ?').get(t.openedBy.id) as {
    password_hash: string | null;
    disabled: number;
  };
  assert.equal(author.password_hash, null);
});

test('seeding twice adds nothing and never overwrites edits, also across reopening the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-seed-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clock = () => new Date('2026-01-01T00:00:00.000Z');
  const db = openBackendStore(dir, clock);
  const before = {
    tasks: count(db, 'SELECT count(*) AS n FROM tasks'),
    types: count(db, 'SELECT count(*) AS n FROM task_types'),
    comments: count(db, 'SELECT count(*) AS n FROM comments'),
  };
  seedAll(db, clock().toISOString());
  assert.equal(count(db, 'SELECT count(*) AS n FROM tasks'), before.tasks);
  assert.equal(count(db, 'SELECT count(*) AS n FROM task_types'), before.types);
  assert.equal(count(db, 'SELECT count(*) AS n FROM comments'), before.comments);

  const ctx = { db, clock, changes: createChangeCounter(), publicUrl: 'http://localhost' };
  const { user } = await addStaff({
    ctx,
    actor: { userId: null, name: 'test' },
    input: { username: 'bob', role: 'staff', password: 'long enough pw' },
  });
  const actor = { userId: user.id, name: 'bob' };
  updateTask({ ctx, actor, id: 2733, input: { summary: 'Edited summary', percent: 40 } });
  addComment({ ctx, actor, taskId: 2733, input: { body: 'later note' } });
  db.prepare("UPDATE task_types SET name = 'Upgrade (renamed)' WHERE name = 'Upgrade'").run();
  db.close();

  const again = openBackendStore(dir, clock);
  seedAll(again, clock().toISOString());
  const task = taskView(again, 2733)!;
  assert.equal(task.summary, 'Edited summary');
  assert.equal(task.percent, 40);
  assert.equal(task.comments.length, 4);
  assert.equal(task.type.name, 'Upgrade (renamed)');
  assert.equal(count(again, "SELECT count(*) AS n FROM task_types WHERE name = 'Upgrade'"), 0);
  assert.equal(count(again, 'SELECT count(*) AS n FROM tasks'), before.tasks);
  again.close();
});

test('a deleted seed task is not brought back', () => {
  const db = openBackendStore(':memory:');
  db.prepare('DELETE FROM tasks WHERE id = 2733').run();
  seedAll(db, new Date().toISOString());
  assert.equal(taskView(db, 2733), undefined);
});
