// Issue 14's producers: every announced task change appends exactly one outbox event in the change's own transaction,
// built from what the public page shows; a no-op or failed change leaves none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { NotifyPayload } from '#data/contracts/notify.ts';
import type { CloseTaskInput } from '#data/contracts/tasks.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createChangeCounter } from '#server/deps.ts';
import { createTask } from '#server/services/tasks/createTask.ts';
import { addComment } from '#server/services/tasks/addComment.ts';
import { updateTask } from '#server/services/tasks/updateTask.ts';
import { closeTask } from '#server/services/tasks/closeTask.ts';
import { reopenTask } from '#server/services/tasks/reopenTask.ts';
import { replacePhases } from '#server/services/tasks/replacePhases.ts';
import { redactHistoryEntry } from '#server/services/tasks/redactHistoryEntry.ts';
import { runTransitions } from '#server/jobs/transitions.ts';

const PUBLIC = 'https://status.example.net';

interface Ev {
  id: number;
  kind: string;
  task_id: number | null;
  section_id: number | null;
  at: string;
  payload: NotifyPayload;
}

function setup(start = '2026-05-01T12:00:00.000Z') {
  let now = new Date(start);
  const clock = () => new Date(now.getTime());
  const db = openBackendStore(':memory:', clock);
  const user = db
    .prepare(
      `INSERT INTO users (username, display_name, role, password_hash, created_at) VALUES ('alice', 'Alice <Ops>', 'staff', NULL, ?)`,
    )
    .run(start);
  const ctx = { db, clock, changes: createChangeCounter(), publicUrl: PUBLIC };
  const actor = { userId: Number(user.lastInsertRowid), name: 'alice' };
  const idOf = (table: string, name: string) => (db.prepare(`SELECT id FROM ${table} WHERE name = ?`).get(name) as { id: number }).id;
  return {
    db,
    ctx,
    actor,
    idOf,
    advance: (ms: number) => {
      now = new Date(now.getTime() + ms);
    },
    events: (): Ev[] =>
      (db.prepare('SELECT * FROM notify_events ORDER BY id').all() as (Omit<Ev, 'payload'> & { payload: string })[]).map((r) => ({
        ...r,
        payload: JSON.parse(r.payload) as NotifyPayload,
      })),
  };
}

type Setup = ReturnType<typeof setup>;

function newTask(s: Setup, summary = 'Rework of the inbound mail system'): number {
  return createTask({
    ctx: s.ctx,
    actor: s.actor,
    input: {
      summary,
      details: 'We **rework** the inbound mail system.',
      typeId: s.idOf('task_types', 'Upgrade'),
      categoryId: s.idOf('categories', 'Email'),
      sectionId: s.idOf('sections', 'Email'),
      statusId: s.idOf('statuses', 'New'),
      percent: 0,
    },
  });
}

test('each announced change writes one event of its kind, with the task as the change left it', () => {
  const s = setup();
  const email = s.idOf('sections', 'Email');
  const id = newTask(s, '<script>alert(1)</script> Rework of the inbound mail system');
  let ev = s.events();
  assert.equal(ev.length, 1);
  assert.deepEqual([ev[0].kind, ev[0].task_id, ev[0].section_id, ev[0].at], ['task-opened', id, email, '2026-05-01T12:00:00.000Z']);
  const opened = ev[0].payload;
  assert.equal(opened.url, `${PUBLIC}/task/${id}`);
  assert.deepEqual(opened.section, { slug: 'email', name: 'Email' });
  assert.deepEqual(opened.task, {
    id,
    summary: '<script>alert(1)</script> Rework of the inbound mail system',
    status: 'New',
    percent: 0,
    closed: false,
  });
  assert.ok(!opened.html.includes('<script>'), 'the summary is escaped in the HTML');
  assert.ok(opened.html.includes('&lt;script&gt;alert(1)&lt;/script&gt; Rework'));
  assert.ok(opened.html.includes('<p>We <strong>rework</strong> the inbound mail system.</p>'), 'the details as the page shows them');
  assert.ok(opened.text.includes('We rework the inbound mail system.'));

  s.advance(60_000);
  const commentId = addComment({ ctx: s.ctx, actor: s.actor, taskId: id, input: { body: 'Phase **two** <img src=x onerror=alert(1)>' } });
  ev = s.events();
  assert.equal(ev.length, 2);
  const stored = s.db.prepare('SELECT body_html FROM comments WHERE id = ?').get(commentId) as { body_html: string };
  assert.equal(ev[1].kind, 'comment');
  assert.equal(ev[1].payload.subject, `FS#${id} <script>alert(1)</script> Rework of the inbound mail system: new comment`);
  assert.ok(ev[1].payload.html.includes(stored.body_html), 'the stored sanitized comment');
  assert.ok(!ev[1].payload.html.includes('<img'), ev[1].payload.html);
  assert.ok(ev[1].payload.html.includes('Alice &lt;Ops&gt; wrote:'));
  assert.ok(ev[1].payload.text.includes('Alice <Ops> wrote:\n\nPhase two'));

  s.advance(60_000);
  updateTask({ ctx: s.ctx, actor: s.actor, id, input: { statusId: s.idOf('statuses', 'In progress'), percent: 40 } });
  ev = s.events();
  assert.equal(ev.length, 3);
  assert.equal(ev[2].kind, 'task-changed');
  assert.deepEqual(ev[2].payload.changes, [
    { field: 'status', from: 'New', to: 'In progress' },
    { field: 'percent', from: '0', to: '40' },
  ]);
  assert.deepEqual(ev[2].payload.task, { id, summary: opened.task?.summary, status: 'In progress', percent: 40, closed: false });

  // No-ops and a details-only edit (not something subscribers follow) write nothing.
  updateTask({ ctx: s.ctx, actor: s.actor, id, input: { statusId: s.idOf('statuses', 'In progress'), percent: 40 } });
  updateTask({ ctx: s.ctx, actor: s.actor, id, input: {} });
  updateTask({ ctx: s.ctx, actor: s.actor, id, input: { details: 'Now with more detail.' } });
  assert.equal(s.events().length, 3);

  const dnsCategory = s.idOf('categories', 'DNS');
  updateTask({ ctx: s.ctx, actor: s.actor, id, input: { sectionId: s.idOf('sections', 'DNS'), categoryId: dnsCategory } });
  ev = s.events();
  assert.equal(ev.length, 4);
  assert.deepEqual(
    ev[3].payload.changes.map((c) => [c.field, c.from, c.to]),
    [
      ['category', 'All Services → Email', 'All Services → DNS'],
      ['section', 'Email', 'DNS'],
    ],
  );
  assert.equal(ev[3].section_id, s.idOf('sections', 'DNS'), 'the section it is in now');

  const plan = { phases: [{ title: 'drain the old MX', startsAt: '2026-05-02T10:00:00.000Z', endsAt: null, note: '' }] };
  assert.equal(replacePhases({ ctx: s.ctx, actor: s.actor, taskId: id, input: plan }).changed, true);
  assert.equal(replacePhases({ ctx: s.ctx, actor: s.actor, taskId: id, input: plan }).changed, false);
  ev = s.events();
  assert.equal(ev.length, 5, 'the unchanged plan wrote nothing');
  assert.equal(ev[4].kind, 'phases-changed');
  assert.ok(ev[4].payload.text.includes('- drain the old MX: 2026-05-02 10:00 UTC – open'));

  closeTask({ ctx: s.ctx, actor: s.actor, taskId: id, input: { reason: 'Finished' } as CloseTaskInput });
  reopenTask({ ctx: s.ctx, actor: s.actor, taskId: id });
  ev = s.events();
  assert.deepEqual(
    ev.map((e) => e.kind),
    ['task-opened', 'comment', 'task-changed', 'task-changed', 'phases-changed', 'task-closed', 'task-reopened'],
  );
  assert.equal(ev[5].payload.task?.closed, true);
  assert.equal(ev[5].payload.task?.percent, 100);
  assert.ok(ev[5].payload.text.includes('Reason for closing: Finished'));
  assert.equal(ev[6].payload.task?.closed, false);
  assert.ok(ev.every((e) => e.task_id === id && e.payload.url === `${PUBLIC}/task/${id}`));
});

test('a change that fails keeps no event, and an event that cannot be written keeps no change', () => {
  const s = setup();
  const id = newTask(s);
  const before = s.events().length;
  const count = (sql: string) => (s.db.prepare(sql).get() as { n: number }).n;
  const comments = () => count(`SELECT count(*) AS n FROM comments WHERE task_id = ${id}`);
  // The audit row is written after the event in every service: failing it must take the event back with it.
  s.db.exec(`CREATE TEMP TRIGGER fail_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'forced failure'); END`);
  const attempts: [string, () => unknown][] = [
    ['create', () => newTask(s, 'never stored')],
    ['comment', () => addComment({ ctx: s.ctx, actor: s.actor, taskId: id, input: { body: 'never stored' } })],
    ['update', () => updateTask({ ctx: s.ctx, actor: s.actor, id, input: { percent: 70 } })],
    [
      'phases',
      () =>
        replacePhases({
          ctx: s.ctx,
          actor: s.actor,
          taskId: id,
          input: { phases: [{ title: 'x', startsAt: null, endsAt: null, note: '' }] },
        }),
    ],
    ['close', () => closeTask({ ctx: s.ctx, actor: s.actor, taskId: id, input: { reason: 'Finished' } as CloseTaskInput })],
  ];
  for (const [what, run] of attempts) assert.throws(run, /forced failure/, what);
  assert.equal(s.events().length, before, 'no event outlived its failed change');
  assert.equal(count("SELECT count(*) AS n FROM tasks WHERE summary = 'never stored'"), 0);
  assert.equal(comments(), 0);
  s.db.exec('DROP TRIGGER fail_audit');

  // The other way round: the outbox refusing the row rolls the change back.
  s.db.exec(`CREATE TEMP TRIGGER fail_outbox BEFORE INSERT ON notify_events BEGIN SELECT RAISE(ABORT, 'outbox full'); END`);
  assert.throws(() => addComment({ ctx: s.ctx, actor: s.actor, taskId: id, input: { body: 'never stored' } }), /outbox full/);
  assert.throws(
    () => closeTask({ ctx: s.ctx, actor: s.actor, taskId: id, input: { reason: 'Finished' } as CloseTaskInput }),
    /outbox full/,
  );
  assert.equal(comments(), 0);
  assert.equal(count(`SELECT is_closed AS n FROM tasks WHERE id = ${id}`), 0);
  s.db.exec('DROP TRIGGER fail_outbox');

  // A close the database itself refuses (a constraint) writes nothing either.
  s.db.exec(`CREATE TEMP TRIGGER percent_check BEFORE UPDATE OF percent ON tasks WHEN NEW.percent = 100
             BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: percent'); END`);
  assert.throws(() => closeTask({ ctx: s.ctx, actor: s.actor, taskId: id, input: { reason: 'Finished' } as CloseTaskInput }), /CHECK/);
  assert.equal(s.events().length, before);
});

test('the transitions job writes one phase-transition event per comment it makes, with the status it moved', () => {
  const s = setup('2026-05-01T09:59:00.000Z');
  const id = newTask(s, 'Mail maintenance');
  updateTask({ ctx: s.ctx, actor: s.actor, id, input: { statusId: s.idOf('statuses', 'Planned') } });
  replacePhases({
    ctx: s.ctx,
    actor: s.actor,
    taskId: id,
    input: { phases: [{ title: 'drain <old> MX', startsAt: '2026-05-01T10:00:00.000Z', endsAt: '2026-05-01T11:00:00.000Z', note: '' }] },
  });
  const before = s.events().length;
  const deps = { db: s.db, clock: s.ctx.clock, log: pino({ level: 'silent' }), changes: s.ctx.changes, publicUrl: PUBLIC };
  runTransitions(deps);
  assert.equal(s.events().length, before, 'nothing before the phase starts');
  s.advance(60_000);
  runTransitions(deps);
  runTransitions(deps);
  const ev = s.events().slice(before);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].kind, 'phase-transition');
  assert.equal(ev[0].at, '2026-05-01T10:00:00.000Z');
  assert.deepEqual(ev[0].payload.changes, [{ field: 'status', from: 'Planned', to: 'In progress' }]);
  assert.equal(ev[0].payload.task?.status, 'In progress');
  const comment = s.db.prepare('SELECT body_html FROM comments WHERE task_id = ? ORDER BY id DESC LIMIT 1').get(id) as {
    body_html: string;
  };
  assert.ok(ev[0].payload.html.includes(comment.body_html));
  assert.ok(ev[0].payload.text.includes('drain <old> MX'));
});

test('redacting a history entry wipes both its values from the events of the task that quote them', () => {
  const s = setup();
  const secret = 'sk_live_<9fT3xQ>';
  const id = newTask(s, 'Payment gateway maintenance');
  updateTask({ ctx: s.ctx, actor: s.actor, id, input: { summary: `Payment gateway maintenance ${secret}` } });
  updateTask({ ctx: s.ctx, actor: s.actor, id, input: { summary: 'Payment gateway maintenance' } });
  addComment({ ctx: s.ctx, actor: s.actor, taskId: id, input: { body: 'Keys rotated.' } });
  const raw = () => JSON.stringify(s.db.prepare('SELECT payload FROM notify_events').all());
  assert.ok(raw().includes('sk_live_'), 'announced while it was there');
  s.db.prepare("UPDATE users SET role = 'admin' WHERE id = ?").run(s.actor.userId);
  const entries = s.db.prepare("SELECT id FROM task_history WHERE task_id = ? AND field = 'summary' ORDER BY id").all(id) as {
    id: number;
  }[];
  for (const e of entries) redactHistoryEntry({ ctx: s.ctx, actor: s.actor, taskId: id, entryId: e.id });
  assert.ok(!raw().includes('sk_live_'), raw());
  const ev = s.events();
  assert.equal(ev.length, 4, 'the events stay (they may not have been sent yet)');
  assert.deepEqual(ev[1].payload.changes, [{ field: 'summary', from: '[redacted]', to: '[redacted]' }]);
  assert.ok(ev[3].payload.html.includes('<p>Keys rotated.</p>'), 'what the entries did not hold stays');
  assert.equal(ev[3].payload.url, `${PUBLIC}/task/${id}`);
});
