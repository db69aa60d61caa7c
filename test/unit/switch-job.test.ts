// The switch job over a database file shared by two connections (as two backend processes share it): a run that listed
// the due switches before another run applied them applies nothing twice and writes no second comment. And the
// scheduler runs it right after the plan transitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { DB } from '#data/db.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createChangeCounter } from '#server/deps.ts';
import { runSwitches } from '#server/jobs/switches.ts';
import { startJobs } from '#server/jobs/schedule.ts';
import { addDomain } from '#server/services/mail/addDomain.ts';
import { scheduleSwitch } from '#server/services/mail/switches.ts';
import { insertTask } from '../support/task-rows.ts';

const log = pino({ level: 'silent' });
const CLI = { userId: null, name: 'cli' };
const START = '2030-03-01T10:00:00.000Z';

function setUp(dir: string) {
  let now = new Date('2030-03-01T09:00:00.000Z');
  const clock = () => new Date(now.getTime());
  const db = openBackendStore(dir, clock);
  const ctx = { db, clock, changes: createChangeCounter() };
  const taskId = insertTask(db, {
    summary: 'Inbound mail rework',
    openedAt: '2030-02-01T00:00:00.000Z',
    phases: [{ title: 'parallel service', startsAt: START, endsAt: null }],
  });
  const names = ['a.test', 'b.test', 'c.test'];
  for (const name of names) {
    addDomain({ ctx, actor: CLI, input: { name, mode: 'legacy', legacyHost: 'mx.old.test', legacyPort: null, catchAll: null } });
    scheduleSwitch({ ctx, actor: CLI, name, input: { mode: 'shadow', taskId, phase: 'parallel service' } });
  }
  scheduleSwitch({ ctx, actor: CLI, name: 'a.test', input: { mode: 'active', at: '2030-03-01T10:30:00.000Z' } });
  const advanceTo = (iso: string) => {
    now = new Date(iso);
  };
  return { db, clock, ctx, taskId, advanceTo };
}

const count = (db: DB, sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;

test('two connections racing: each due switch applied once, one comment for the phase', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-switches-'));
  try {
    const s = setUp(dir);
    s.advanceTo('2030-03-01T11:00:00.000Z');
    const other = openBackendStore(dir, s.clock);
    const otherDeps = { db: other, clock: s.clock, log, changes: createChangeCounter() };
    // This connection's run has listed the due switches; the other one applies them all before its first transaction.
    let raced = false;
    const racing = new Proxy(s.db, {
      get(target, key) {
        if (key === 'transaction')
          return (fn: () => unknown) => {
            const tx = target.transaction(fn);
            return {
              immediate: () => {
                if (!raced) {
                  raced = true;
                  assert.deepEqual(runSwitches(otherDeps), { applied: 4, cancelled: 0, comments: 1 });
                }
                return tx.immediate();
              },
            };
          };
        const v = Reflect.get(target, key);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as DB;
    const run = runSwitches({ db: racing, clock: s.clock, log, changes: createChangeCounter() });
    assert.ok(raced);
    assert.deepEqual(run, { applied: 0, cancelled: 0, comments: 0 });
    assert.equal(count(s.db, "SELECT count(*) AS n FROM mail_domain_switches WHERE state = 'applied'"), 4);
    assert.equal(count(s.db, "SELECT count(*) AS n FROM audit_log WHERE action = 'mail.domain.switch.apply'"), 4);
    assert.equal(count(s.db, 'SELECT count(*) AS n FROM comments WHERE task_id = ?', s.taskId), 1);
    const modes = s.db.prepare('SELECT name, mode FROM mail_domains ORDER BY name').all();
    assert.deepEqual(modes, [
      { name: 'a.test', mode: 'active' },
      { name: 'b.test', mode: 'shadow' },
      { name: 'c.test', mode: 'shadow' },
    ]);
    const comment = s.db.prepare('SELECT created_at AS at, body_md AS body FROM comments WHERE task_id = ?').get(s.taskId);
    assert.deepEqual(comment, {
      at: START,
      body: 'Mail routing: a.test, b.test and c.test switched to shadow (parallel operation) at 2030-03-01 10:00 UTC.',
    });
    other.close();
    s.db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the scheduler runs the switch job with the plan transitions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-switches-'));
  try {
    const s = setUp(dir);
    const jobs = startJobs({ db: s.db, clock: s.clock, log, changes: s.ctx.changes, publicUrl: 'http://localhost' });
    try {
      jobs.runNow();
      assert.equal(count(s.db, "SELECT count(*) AS n FROM mail_domain_switches WHERE state = 'applied'"), 0, 'nothing due yet');
      s.advanceTo('2030-03-01T10:00:00.000Z');
      jobs.runNow();
      assert.equal(count(s.db, "SELECT count(*) AS n FROM mail_domain_switches WHERE state = 'applied'"), 3);
      const bodies = (
        s.db.prepare('SELECT body_md AS body FROM comments WHERE task_id = ? ORDER BY id').all(s.taskId) as { body: string }[]
      ).map((c) => c.body);
      assert.equal(bodies.length, 2, 'the phase comment, then the switch comment');
      assert.match(bodies[0], /Phase "parallel service" has started/);
      assert.match(bodies[1], /^Mail routing: a\.test, b\.test and c\.test switched to shadow/);
    } finally {
      await jobs.stop();
      s.db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
