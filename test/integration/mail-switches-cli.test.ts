// `cli mail switch schedule|list|cancel|now`: the same services and audit as the API; refusals on stderr (exit 2 for bad
// input, 1 for any other refusal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mailCliInProcess } from '../support/cli-in-process.ts';
import { insertTask } from '../support/task-rows.ts';

test('mail switch: schedule at a time and with a phase, list, cancel, switch now', async () => {
  const { db, run } = mailCliInProcess('2026-11-30T12:00:00.000Z');
  assert.equal((await run('domain', 'add', 'example.com', '--mode', 'legacy', '--legacy-host', 'mx.old.test')).code, 0);
  const taskId = insertTask(db, {
    summary: 'Inbound mail rework',
    openedAt: '2026-11-01T00:00:00.000Z',
    phases: [{ title: 'parallel service', startsAt: '2026-12-10T00:00:00.000Z', endsAt: null }],
  });
  let r = await run('switch', 'schedule', 'example.com', 'shadow', '--at', '2026-12-01T00:00:00+01:00');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Scheduled switch 1: example.com to shadow at 2026-11-30T23:00:00.000Z.\n');
  r = await run('switch', 'schedule', 'example.com', 'active', '--task', String(taskId), '--phase', 'parallel service');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`at 2026-12-10T00:00:00.000Z \\(when FS#${taskId}'s phase "parallel service" starts\\)`));
  r = await run('switch', 'list', 'example.com');
  assert.match(
    r.stdout,
    /^ID\s+AT\s+MODE\s+STATE\s+PHASE\n1\s+2026-11-30T23:00:00\.000Z\s+shadow\s+pending\s+-\n2\s+2026-12-10T00:00:00\.000Z\s+active\s+pending\s+FS#\d+ parallel service\n$/,
  );

  assert.equal((await run('switch', 'cancel', 'example.com', '1')).code, 0);
  r = await run('switch', 'cancel', 'example.com', '1');
  assert.equal(r.code, 1, 'a conflict, not bad input');
  assert.match(r.stderr, /cancelled, not pending/);
  r = await run('switch', 'now', 'example.com', 'active');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Switched example.com to active now; cancelled 1 pending switch(es).\n');
  assert.match((await run('switch', 'list', 'example.com')).stdout, /cancelled \(switch-now\)/);
  const audit = db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'mail.domain.switch.%' ORDER BY id").all();
  assert.equal(audit.length, 4);
  assert.ok(audit.every((a) => (a as { actor: string }).actor === 'cli'));
});

test('mail switch: bad input is refused with a message and changes nothing', async () => {
  const { db, run } = mailCliInProcess('2026-11-30T12:00:00.000Z');
  assert.equal((await run('domain', 'add', 'example.com')).code, 0);
  const cases: [string[], RegExp][] = [
    [['switch', 'schedule', 'example.com', 'shadow', '--at', '2026-12-01T00:00:00Z'], /needs a legacyHost/],
    [['switch', 'schedule', 'example.com', 'active', '--at', 'tomorrow'], /at:/],
    [['switch', 'schedule', 'example.com', 'active'], /give a time, or a taskId and phase/],
    [['switch', 'schedule', 'example.com', 'active', '--at', '2026-11-01T00:00:00Z'], /use switch now/],
    [['switch', 'now', 'example.com', 'sideways'], /input:/],
    [['switch', 'list', 'nowhere.test'], /not hosted/],
    [['switch', 'cancel', 'example.com', '99'], /has no switch 99/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(...argv);
    assert.ok(r.code === 1 || r.code === 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, argv.join(' '));
  }
  const bad = await run('switch', 'flip', 'example.com');
  assert.equal(bad.code, 2);
  assert.equal(db.prepare('SELECT count(*) FROM mail_domain_switches').pluck().get(), 0);
});
