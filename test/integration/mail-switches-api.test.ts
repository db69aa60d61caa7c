// Scheduled domain switches (issue 13): the nodes' config feed carries them, the job applies each once (a phase's with
// one automatic comment on its task), plan edits move or cancel them, switch-now rolls back and cancels the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MxConfigPayload, type DomainRecord } from '#data/contracts/mx-config.ts';
import type { Task } from '#data/contracts/tasks.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { runTransitions } from '#server/jobs/transitions.ts';
import { runSwitches } from '#server/jobs/switches.ts';
import { makeHarness, json, type Session } from './api-harness.ts';

const T0 = '2026-01-15T12:00:00.000Z';
const at = (hours: number) => new Date(Date.parse(T0) + hours * 3_600_000).toISOString();

async function setup() {
  const h = makeHarness({ start: T0 });
  const session: Session = await h.admin();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await h.request(method, path, { body, session });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
  };
  const token = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' });
  /** The domain records a node replaying the log from `since` gets, oldest first. */
  const records = async (since = 0): Promise<{ version: number; record: DomainRecord }[]> => {
    const res = await h.request('GET', `/api/v1/mx/config?since=${since}`, { headers: { authorization: `Bearer ${token}` } });
    const p = MxConfigPayload.parse(await res.json());
    return p.changes.flatMap((c) => (c.op === 'upsert' && c.entity === 'domain' ? [{ version: c.version, record: c.record }] : []));
  };
  const version = () => (h.db.prepare('SELECT max(version) AS v FROM mail_config_changes').get() as { v: number }).v;
  const job = () => {
    const deps = { db: h.db, clock: () => h.now(), log: pino({ level: 'silent' }), changes: h.changes, publicUrl: 'http://localhost' };
    runTransitions(deps);
    return runSwitches(deps);
  };
  const audit = (action: string) => h.db.prepare('SELECT actor, target FROM audit_log WHERE action = ? ORDER BY id').all(action);
  for (const name of ['example.com', 'example.net'])
    assert.equal((await call('POST', '/api/v1/mail/domains', { name, legacyHost: 'mx.old.test', mode: 'legacy' })).status, 201);
  return { h, call, records, version, job, audit, session };
}

test('a switch at a time: nodes get it with the domain record; the job applies it once the clock passes, once, audited', async () => {
  const { h, call, records, version, job, audit } = await setup();
  const v0 = version();
  const r = await call('POST', '/api/v1/mail/domains/example.com/switches', { mode: 'shadow', at: at(2) });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.state, 'pending');
  assert.equal(r.body.at, at(2));
  let recs = await records(v0);
  assert.equal(recs.length, 1);
  assert.deepEqual(recs[0].record, {
    name: 'example.com',
    mode: 'legacy',
    legacyHost: 'mx.old.test',
    legacyPort: null,
    catchAll: null,
    switches: [{ mode: 'shadow', at: Date.parse(at(2)) }],
  });
  assert.deepEqual(job(), { applied: 0, cancelled: 0, comments: 0 }, 'not due yet');

  h.advance(2 * 3_600_000);
  const v1 = version();
  assert.deepEqual(job(), { applied: 1, cancelled: 0, comments: 0 });
  assert.deepEqual(job(), { applied: 0, cancelled: 0, comments: 0 }, 'applied exactly once');
  recs = await records(v1);
  assert.equal(recs.length, 1);
  assert.equal(recs[0].record.mode, 'shadow');
  assert.equal(recs[0].record.switches, undefined, 'no pending switch left');
  const list = await call('GET', '/api/v1/mail/domains/example.com/switches');
  assert.equal(list.body.mode, 'shadow');
  assert.deepEqual(
    list.body.switches.map((s: { state: string; appliedAt: string }) => [s.state, s.appliedAt]),
    [['applied', at(2)]],
  );
  assert.deepEqual(audit('mail.domain.switch.schedule'), [{ actor: 'alice', target: 'example.com' }]);
  assert.deepEqual(audit('mail.domain.switch.apply'), [{ actor: 'system', target: 'example.com' }]);
});

async function plannedTask(call: Awaited<ReturnType<typeof setup>>['call'], h: ReturnType<typeof makeHarness>, s: Session) {
  const lists = async (kind: string) =>
    (await json<{ items: { id: number; name: string }[] }>(await h.request('GET', `/api/v1/${kind}`))).items;
  const id = (items: { id: number; name: string }[], name: string) => items.find((x) => x.name === name)!.id;
  const created = await h.request('POST', '/api/v1/tasks', {
    session: s,
    body: {
      summary: 'Inbound mail rework',
      typeId: id(await lists('task-types'), 'Maintenance'),
      categoryId: id(await lists('categories'), 'Email'),
      statusId: id(await lists('statuses'), 'Planned'),
    },
  });
  assert.equal(created.status, 201);
  const taskId = (await json<{ id: number }>(created)).id;
  const plan = async (parallelStart: string | null, titles = ['deployment', 'parallel service', 'deactivation']) => {
    const phases = titles.map((title, i) => ({ title, startsAt: i === 1 ? parallelStart : at(1 + 2 * i), endsAt: null }));
    const r = await call('PUT', `/api/v1/tasks/${taskId}/phases`, { phases });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  return { taskId, plan };
}

test('a switch with a phase applies when the phase starts, with one automatic comment dated at the start; moving the phase moves it', async () => {
  const { h, call, records, version, job, session } = await setup();
  const { taskId, plan } = await plannedTask(call, h, session);
  await plan(at(3));
  for (const name of ['example.com', 'example.net']) {
    const r = await call('POST', `/api/v1/mail/domains/${name}/switches`, { mode: 'shadow', taskId, phase: 'parallel service' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.task, { id: taskId, phase: 'parallel service' });
    assert.equal(r.body.at, at(3));
  }
  // Staff move the phase by an hour: the switches follow, and the nodes get the new time with each domain's record.
  const v0 = version();
  await plan(at(4));
  const moved = await records(v0);
  assert.deepEqual(
    moved.map((x) => [x.record.name, x.record.switches]),
    [
      ['example.com', [{ mode: 'shadow', at: Date.parse(at(4)) }]],
      ['example.net', [{ mode: 'shadow', at: Date.parse(at(4)) }]],
    ],
  );
  // Saving the plan unchanged in time re-sends nothing.
  const v1 = version();
  await plan(at(4), ['deployment', 'parallel service', 'deactivation', 'clean-up']);
  assert.equal(version(), v1);

  h.advance(3 * 3_600_000 + 30_000); // 15:00:30, the parallel phase not started yet
  job();
  assert.equal((await call('GET', '/api/v1/mail/domains/example.com')).body.mode, 'legacy');
  h.advance(3_600_000); // 16:00:30
  assert.deepEqual(job(), { applied: 2, cancelled: 0, comments: 1 });
  job();
  for (const name of ['example.com', 'example.net']) assert.equal((await call('GET', `/api/v1/mail/domains/${name}`)).body.mode, 'shadow');
  const task = await json<Task>(await h.request('GET', `/api/v1/tasks/${taskId}`));
  const mail = task.comments.filter((c) => /Mail routing/.test(c.markdown));
  assert.deepEqual(
    mail.map((c) => [c.author.displayName, c.at, c.markdown]),
    [
      [
        'Tidings (automatic)',
        at(4),
        `Mail routing: example.com and example.net switched to shadow (parallel operation) at ${at(4).slice(0, 16).replace('T', ' ')} UTC.`,
      ],
    ],
  );
});

test('a deleted phase cancels its switches; switch-now records the mode at once and cancels what is pending', async () => {
  const { h, call, records, version, session } = await setup();
  const { taskId, plan } = await plannedTask(call, h, session);
  await plan(at(3));
  assert.equal(
    (await call('POST', '/api/v1/mail/domains/example.com/switches', { mode: 'shadow', taskId, phase: 'parallel service' })).status,
    201,
  );
  let v = version();
  await plan(at(3), ['deployment', 'deactivation']);
  let recs = await records(v);
  assert.deepEqual(
    recs.map((x) => [x.record.name, x.record.switches]),
    [['example.com', undefined]],
  );
  let list = (await call('GET', '/api/v1/mail/domains/example.com/switches')).body.switches;
  assert.deepEqual(
    list.map((s: { state: string; cancelReason: string }) => [s.state, s.cancelReason]),
    [['cancelled', 'phase-removed']],
  );

  // Active at 13:00 and again at 15:00 are pending; a rollback to legacy now cancels both, so no node flips back.
  assert.equal((await call('POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', at: at(1) })).status, 201);
  assert.equal((await call('POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', at: at(3) })).status, 201);
  v = version();
  const now = await call('POST', '/api/v1/mail/domains/example.com/switch-now', { mode: 'shadow' });
  assert.equal(now.status, 200, JSON.stringify(now.body));
  assert.equal(now.body.cancelled, 2);
  recs = await records(v);
  assert.deepEqual(
    recs.map((x) => [x.record.mode, x.record.switches]),
    [['shadow', undefined]],
  );
  list = (await call('GET', '/api/v1/mail/domains/example.com/switches')).body.switches;
  assert.equal(list.filter((s: { cancelReason: string }) => s.cancelReason === 'switch-now').length, 2);
});

test('a PATCH that changes the mode acts as switch-now: pending switches are cancelled, so none flips the domain back', async () => {
  const { h, call, records, version, job } = await setup();
  assert.equal((await call('POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', at: at(2) })).status, 201);
  // Other edits (the staff form sends the current mode along) keep the schedule.
  assert.equal((await call('PATCH', '/api/v1/mail/domains/example.com', { mode: 'legacy', catchAll: 'all@example.com' })).status, 200);
  assert.equal((await call('GET', '/api/v1/mail/domains/example.com/switches')).body.switches[0].state, 'pending');
  const v = version();
  const r = await call('PATCH', '/api/v1/mail/domains/example.com', { mode: 'shadow' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const recs = await records(v);
  assert.deepEqual(
    recs.map((x) => [x.record.mode, x.record.switches]),
    [['shadow', undefined]],
  );
  const list = (await call('GET', '/api/v1/mail/domains/example.com/switches')).body.switches;
  assert.deepEqual(
    list.map((s: { state: string; cancelReason: string }) => [s.state, s.cancelReason]),
    [['cancelled', 'switch-now']],
  );
  h.advance(3 * 3_600_000);
  assert.deepEqual(job(), { applied: 0, cancelled: 0, comments: 0 }, 'nothing left to flip it back');
  assert.equal((await call('GET', '/api/v1/mail/domains/example.com/switches')).body.mode, 'shadow');
});

test('bad requests are problem+json 4xx with a message, and change nothing', async () => {
  const { call, version, session, h } = await setup();
  const { taskId, plan } = await plannedTask(call, h, session);
  await plan(null);
  assert.equal((await call('POST', '/api/v1/mail/domains', { name: 'new.test' })).status, 201);
  const v = version();
  const cases: [string, string, unknown, number, RegExp][] = [
    ['POST', '/api/v1/mail/domains/new.test/switches', { mode: 'shadow', at: at(1) }, 400, /legacyHost/],
    ['POST', '/api/v1/mail/domains/new.test/switch-now', { mode: 'legacy' }, 400, /legacyHost/],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', at: at(-1) }, 400, /switch now/],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active' }, 400, /./],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', at: at(1), taskId, phase: 'deployment' }, 400, /./],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', at: 'tomorrow' }, 400, /./],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'sideways', at: at(1) }, 400, /./],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', taskId, phase: 'no such phase' }, 400, /no phase titled/],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', taskId, phase: 'parallel service' }, 400, /no start/],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', taskId, phase: 'deployment' }, 400, /already started/],
    ['POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', taskId: 999999, phase: 'x' }, 404, /does not exist/],
    ['POST', '/api/v1/mail/domains/nowhere.test/switches', { mode: 'active', at: at(1) }, 404, /not hosted/],
    ['DELETE', '/api/v1/mail/domains/example.com/switches/12345', undefined, 404, /no switch/],
    ['POST', '/api/v1/mail/domains/example.com/switch-now', { mode: 'active', extra: 1 }, 400, /./],
  ];
  h.advance(2 * 3_600_000); // 14:00: the deployment phase (13:00) has started
  for (const [method, path, body, status, detail] of cases) {
    const r = await call(method, path, body);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.type, 'application/problem+json');
    assert.match(r.body.detail, detail);
  }
  assert.equal(version(), v, 'nothing reached the nodes');
  // Cancelling twice: the second is a conflict.
  const s = await call('POST', '/api/v1/mail/domains/example.com/switches', { mode: 'active', at: at(5) });
  assert.equal((await call('DELETE', `/api/v1/mail/domains/example.com/switches/${s.body.id}`)).body.state, 'cancelled');
  const again = await call('DELETE', `/api/v1/mail/domains/example.com/switches/${s.body.id}`);
  assert.equal(again.status, 409);
  assert.match(again.body.detail, /cancelled, not pending/);
  // A pending switch to shadow keeps the domain's legacy host.
  await call('POST', '/api/v1/mail/domains/example.com/switch-now', { mode: 'active' });
  await call('POST', '/api/v1/mail/domains/example.com/switches', { mode: 'shadow', at: at(5) });
  const clear = await call('PATCH', '/api/v1/mail/domains/example.com', { legacyHost: null });
  assert.equal(clear.status, 400);
  assert.match(clear.body.detail, /pending switch/);
});
