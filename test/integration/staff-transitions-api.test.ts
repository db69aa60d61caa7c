// A planned maintenance through the API and the scheduler: comments, status and the public section state follow the plan.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ensureSiteBuilt } from '#server/site/build.ts';
import { runTransitions } from '#server/jobs/transitions.ts';
import { makeHarness, json } from './api-harness.ts';
import type { HistoryEntry, Task } from '#data/contracts/tasks.ts';
import type { StatusJson } from '#data/contracts/status.ts';

before(async () => {
  await ensureSiteBuilt({ info: () => {} });
});

// Near the real date: the session cookie's expiry must lie within the 400 days browsers (and Hono) accept.
const DAY = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
const at = (hhmm: string) => `${DAY}T${hhmm}:00.000Z`;

test('upcoming → running → done: one automatic comment per transition, status and section state follow', async () => {
  const h = makeHarness({ start: at('08:00') });
  const admin = await h.admin();
  const lists = async (kind: string) =>
    (await json<{ items: { id: number; name: string; slug?: string }[] }>(await h.request('GET', `/api/v1/${kind}`))).items;
  const id = (items: { id: number; name: string }[], name: string) => items.find((x) => x.name === name)!.id;
  const created = await h.request('POST', '/api/v1/tasks', {
    session: admin,
    body: {
      summary: 'MX switch',
      typeId: id(await lists('task-types'), 'Maintenance'),
      categoryId: id(await lists('categories'), 'Email'),
      sectionId: id(await lists('sections'), 'Email'),
      statusId: id(await lists('statuses'), 'Planned'),
    },
  });
  assert.equal(created.status, 201);
  const taskId = (await json<{ id: number }>(created)).id;
  const put = await h.request('PUT', `/api/v1/tasks/${taskId}/phases`, {
    session: admin,
    body: {
      phases: [
        { title: 'drain', startsAt: at('10:00'), endsAt: at('11:00') },
        { title: 'switch', startsAt: at('11:00'), endsAt: at('12:00') },
      ],
    },
  });
  assert.equal(put.status, 200);

  const job = () =>
    runTransitions({ db: h.db, clock: () => h.now(), log: pino({ level: 'silent' }), changes: h.changes, publicUrl: 'http://localhost' });
  const task = async () => json<Task>(await h.request('GET', `/api/v1/tasks/${taskId}`));
  const email = async () =>
    (await json<StatusJson>(await h.request('GET', '/status.json'))).sections.find((s) => s.slug === 'email')!.state;

  job();
  assert.equal((await task()).comments.length, 0);
  assert.equal(await email(), 'announcement', 'upcoming maintenance is announced');

  h.advance(2 * 3_600_000); // 10:00
  job();
  job();
  let t = await task();
  assert.equal(t.status.name, 'In progress');
  assert.deepEqual(
    t.comments.map((c: { author: { displayName: string }; at: string }) => [c.author.displayName, c.at]),
    [['Tidings (automatic)', at('10:00')]],
  );
  assert.equal(await email(), 'announcement', 'running maintenance is announced too');

  h.advance(3_600_000 + 30_000); // 11:00:30, the hand-over
  job();
  assert.equal((await task()).comments.length, 2);
  h.advance(3_600_000 - 29_000); // 12:00:01
  job();
  t = await task();
  assert.equal(t.comments.length, 3);
  assert.equal(t.status.name, 'Monitoring');
  assert.equal(await email(), 'operational', 'a finished plan no longer announces anything');
  const history = (await json<{ items: HistoryEntry[] }>(await h.request('GET', `/api/v1/tasks/${taskId}/history`))).items;
  assert.deepEqual(
    history.filter((x) => x.field === 'status').map((x) => [x.newValue, x.user?.displayName]),
    [
      ['In progress', 'Tidings (automatic)'],
      ['Monitoring', 'Tidings (automatic)'],
    ],
  );

  // A stale editor is told: the scheduler's change raised the version.
  const stale = await h.request('PATCH', `/api/v1/tasks/${taskId}`, { session: admin, body: { percent: 50, version: 1 } });
  assert.equal(stale.status, 409);
});
