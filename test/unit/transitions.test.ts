// The plan-transition job with an injected clock: one comment per transition whatever re-runs, restarts and clock jumps do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { DB } from '#data/db.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createChangeCounter } from '#server/deps.ts';
import { runTransitions } from '#server/jobs/transitions.ts';
import { startJobs } from '#server/jobs/schedule.ts';
import { waitFor } from '../support/wait.ts';

const log = pino({ level: 'silent' });

function makeClock(iso: string) {
  let now = new Date(iso);
  const clock = () => new Date(now);
  return {
    clock,
    set: (s: string) => {
      now = new Date(s);
    },
  };
}

function idOf(db: DB, table: string, name: string): number {
  return (db.prepare(`SELECT id FROM ${table} WHERE name = ?`).get(name) as { id: number }).id;
}

interface PhaseSpec {
  title: string;
  startsAt: string | null;
  endsAt: string | null;
}

function createPlannedTask(db: DB, phases: PhaseSpec[], status = 'Planned'): number {
  const user = db
    .prepare(
      `INSERT INTO users (username, display_name, role, password_hash, created_at) VALUES (?, 'Op', 'staff', NULL, '2030-01-01T00:00:00.000Z')`,
    )
    .run(`op${Math.random()}`);
  const r = db
    .prepare(`INSERT INTO tasks (summary, type_id, category_id, section_id, status_id, opened_by, opened_at, last_edited_at)
    VALUES ('Mail maintenance', ?, 1, 1, ?, ?, '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z')`)
    .run(idOf(db, 'task_types', 'Maintenance'), idOf(db, 'statuses', status), user.lastInsertRowid);
  const id = Number(r.lastInsertRowid);
  replacePhases(db, id, phases);
  return id;
}

/** The way the API saves a plan: every phase row replaced, so ids change. */
function replacePhases(db: DB, taskId: number, phases: PhaseSpec[]): void {
  db.prepare('DELETE FROM phases WHERE task_id = ?').run(taskId);
  for (const [i, p] of phases.entries()) {
    db.prepare('INSERT INTO phases (task_id, position, title, starts_at, ends_at) VALUES (?, ?, ?, ?, ?)').run(
      taskId,
      i,
      p.title,
      p.startsAt,
      p.endsAt,
    );
  }
}

const comments = (db: DB, taskId: number) =>
  db.prepare('SELECT created_at AS at, body_md AS body FROM comments WHERE task_id = ? ORDER BY id').all(taskId) as {
    at: string;
    body: string;
  }[];
const statusOf = (db: DB, taskId: number) =>
  (db.prepare('SELECT s.name FROM tasks t JOIN statuses s ON s.id = t.status_id WHERE t.id = ?').get(taskId) as { name: string }).name;

const PLAN: PhaseSpec[] = [
  { title: 'drain old MX', startsAt: '2030-03-01T10:00:00.000Z', endsAt: '2030-03-01T11:00:00.000Z' },
  { title: 'switch to new MX', startsAt: '2030-03-01T11:00:00.000Z', endsAt: '2030-03-01T12:00:00.000Z' },
];

test('each transition is commented exactly once across re-runs, restarts and clock jumps both ways', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-transitions-'));
  try {
    const c = makeClock('2030-03-01T09:59:00.000Z');
    let db = openBackendStore(dir, c.clock);
    const changes = createChangeCounter();
    const deps = () => ({ db, clock: c.clock, log, changes, publicUrl: 'http://localhost' });
    const id = createPlannedTask(db, PLAN);

    runTransitions(deps());
    assert.equal(comments(db, id).length, 0, 'nothing before the first phase starts');
    assert.equal(statusOf(db, id), 'Planned');

    c.set('2030-03-01T10:00:00.000Z');
    for (let i = 0; i < 3; i++) runTransitions(deps());
    assert.deepEqual(
      comments(db, id).map((x) => x.at),
      ['2030-03-01T10:00:00.000Z'],
    );
    assert.match(comments(db, id)[0].body, /Phase "drain old MX" has started\./);
    assert.equal(statusOf(db, id), 'In progress', 'Planned → In progress when the first phase starts');
    assert.equal(changes.version(), 1, 'public caches told once');

    // Clock jumps back an hour and forward again: the marks hold.
    c.set('2030-03-01T09:00:00.000Z');
    runTransitions(deps());
    c.set('2030-03-01T10:30:00.000Z');
    runTransitions(deps());
    assert.equal(comments(db, id).length, 1);

    // Restart: a new connection to the same file, a new change counter.
    db.close();
    db = openBackendStore(dir, c.clock);
    runTransitions(deps());
    assert.equal(comments(db, id).length, 1);

    c.set('2030-03-01T11:00:00.001Z');
    runTransitions(deps());
    runTransitions(deps());
    const after = comments(db, id);
    assert.equal(after.length, 2, 'the hand-over of two phases at one instant is one comment');
    assert.match(after[1].body, /"drain old MX" has ended\.\nPhase "switch to new MX" has started\./);

    c.set('2030-03-01T12:00:01.000Z');
    runTransitions(deps());
    c.set('2030-03-01T08:00:00.000Z');
    runTransitions(deps());
    c.set('2030-03-01T12:30:00.000Z');
    runTransitions(deps());
    const all = comments(db, id);
    assert.equal(all.length, 3);
    assert.match(all[2].body, /"switch to new MX" has ended\.\nAll phases of the deployment plan are done\./);
    assert.equal(statusOf(db, id), 'Monitoring');

    const history = db.prepare(`SELECT field, old_value AS o, new_value AS n FROM task_history WHERE task_id = ? ORDER BY id`).all(id);
    assert.deepEqual(history, [
      { field: 'status', o: 'Planned', n: 'In progress' },
      { field: 'status', o: 'In progress', n: 'Monitoring' },
    ]);
    const audit = db
      .prepare(`SELECT count(*) AS n FROM audit_log WHERE action = 'task.plan_transition' AND target = ?`)
      .get(`FS#${id}`) as { n: number };
    assert.equal(audit.n, 3);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a clock jumping far ahead marks old boundaries silently; coming back never comments them', () => {
  const c = makeClock('2030-03-01T09:00:00.000Z');
  const db = openBackendStore(':memory:', c.clock);
  const id = createPlannedTask(db, PLAN);
  c.set('2030-03-03T09:00:00.000Z');
  const run = runTransitions({ db, clock: c.clock, log, changes: createChangeCounter(), publicUrl: 'http://localhost' });
  assert.equal(run.silent, 4);
  assert.equal(comments(db, id).length, 0);
  assert.equal(statusOf(db, id), 'Planned', 'a silent catch-up does not rewrite status behind staff');
  c.set('2030-03-01T10:30:00.000Z');
  runTransitions({ db, clock: c.clock, log, changes: createChangeCounter(), publicUrl: 'http://localhost' });
  c.set('2030-03-01T12:30:00.000Z');
  runTransitions({ db, clock: c.clock, log, changes: createChangeCounter(), publicUrl: 'http://localhost' });
  assert.equal(comments(db, id).length, 0);
});

test('saving the plan again (new phase ids), renaming or re-timing a started phase adds no second comment', () => {
  const c = makeClock('2030-03-01T10:05:00.000Z');
  const db = openBackendStore(':memory:', c.clock);
  const deps = { db, clock: c.clock, log, changes: createChangeCounter(), publicUrl: 'http://localhost' };
  const id = createPlannedTask(db, PLAN);
  runTransitions(deps);
  assert.equal(comments(db, id).length, 1);
  replacePhases(db, id, PLAN);
  runTransitions(deps);
  replacePhases(db, id, [{ ...PLAN[0], title: 'drain the old MX' }, PLAN[1]]);
  runTransitions(deps);
  replacePhases(db, id, [{ ...PLAN[0], startsAt: '2030-03-01T10:01:00.000Z' }, PLAN[1]]);
  runTransitions(deps);
  assert.equal(comments(db, id).length, 1);
});

test('two processes on one database never both comment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-transitions-'));
  try {
    const c = makeClock('2030-03-01T10:00:00.000Z');
    const a = openBackendStore(dir, c.clock);
    const b = openBackendStore(dir, c.clock);
    const id = createPlannedTask(a, PLAN);
    for (let i = 0; i < 5; i++) {
      runTransitions({ db: a, clock: c.clock, log, changes: createChangeCounter(), publicUrl: 'http://localhost' });
      runTransitions({ db: b, clock: c.clock, log, changes: createChangeCounter(), publicUrl: 'http://localhost' });
    }
    assert.equal(comments(a, id).length, 1);
    a.close();
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('closed tasks are left alone (the seeded FS#2733 gets no automatic comments)', () => {
  const c = makeClock('2021-10-13T00:00:00.000Z');
  const db = openBackendStore(':memory:', c.clock);
  runTransitions({ db, clock: c.clock, log, changes: createChangeCounter(), publicUrl: 'http://localhost' });
  assert.equal(comments(db, 2733).length, 3);
  assert.equal((db.prepare('SELECT count(*) AS n FROM transition_marks').get() as { n: number }).n, 0);
});

test('the cron schedule runs the job on its own and stops cleanly', async () => {
  const c = makeClock('2030-03-01T10:00:00.000Z');
  const db = openBackendStore(':memory:', c.clock);
  const id = createPlannedTask(db, PLAN);
  const jobs = startJobs(
    { db, clock: c.clock, log, changes: createChangeCounter(), publicUrl: 'http://localhost' },
    { every: '* * * * * *' },
  );
  try {
    await waitFor(() => comments(db, id).length > 0, 'the scheduled run (every second) to comment the start', {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    assert.equal(comments(db, id).length, 1, 'the scheduled run commented the start');
  } finally {
    await jobs.stop();
  }
  jobs.runNow();
  assert.equal(comments(db, id).length, 1);
});
