// Bad input at the edge: each case is a clear 4xx problem naming the field, never a 500 and never a partial write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json, type RequestOptions } from './api-harness.ts';
import type { TaskPage } from '#data/contracts/tasks.ts';

interface ProblemBody {
  status: number;
  title: string;
  detail: string;
  errors?: { field: string; message: string }[];
}

function snapshot(h: ReturnType<typeof makeHarness>) {
  const n = (sql: string) => (h.db.prepare(sql).get() as { n: number }).n;
  return {
    tasks: n('SELECT count(*) AS n FROM tasks'),
    history: n('SELECT count(*) AS n FROM task_history'),
    comments: n('SELECT count(*) AS n FROM comments'),
    phases: n('SELECT count(*) AS n FROM phases'),
    version: n('SELECT version AS n FROM tasks WHERE id = 2733'),
    summary: (h.db.prepare('SELECT summary FROM tasks WHERE id = 2733').get() as { summary: string }).summary,
  };
}

async function expectProblem(
  h: ReturnType<typeof makeHarness>,
  method: string,
  path: string,
  o: RequestOptions,
  status: number,
  field?: string,
) {
  const before = snapshot(h);
  const res = await h.request(method, path, o);
  const text = await res.text();
  assert.equal(res.status, status, `${method} ${path}: ${text}`);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = JSON.parse(text) as ProblemBody;
  assert.equal(body.status, status);
  assert.ok(body.title && body.detail, 'title and detail');
  if (field)
    assert.ok(
      body.errors?.some((e) => e.field === field),
      `error on ${field}: ${text}`,
    );
  assert.deepEqual(snapshot(h), before, `no write for ${method} ${path}`);
  return body;
}

const validTask = { summary: 'ok', typeId: 1, categoryId: 1, statusId: 1 };

test('bad ids in the path: 400, a well-formed missing id: 404', async () => {
  const h = makeHarness();
  const s = await h.admin();
  for (const id of ['abc', '-1', '0', '1.5', '99999999999999999999', '2147483648', '1e3', '%20']) {
    await expectProblem(h, 'GET', `/api/v1/tasks/${id}`, {}, 400, 'id');
    await expectProblem(h, 'PATCH', `/api/v1/tasks/${id}`, { session: s, body: { percent: 5 } }, 400, 'id');
    await expectProblem(h, 'GET', `/api/v1/task-types/${id}`, {}, 400, 'id');
  }
  await expectProblem(h, 'GET', '/api/v1/tasks/2147483647', {}, 404);
  await expectProblem(h, 'PATCH', '/api/v1/tasks/424242', { session: s, body: { percent: 5 } }, 404);
  await expectProblem(h, 'POST', '/api/v1/tasks/424242/comments', { session: s, body: { body: 'x' } }, 404);
  await expectProblem(h, 'GET', '/api/v1/tasks/424242/history', {}, 404);
});

test('bad bodies: malformed JSON, wrong content type, unknown fields, wrong types', async () => {
  const h = makeHarness();
  const s = await h.admin();
  await expectProblem(h, 'POST', '/api/v1/tasks', { session: s, raw: '{"summary": "x",' }, 400, '(body)');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, raw: 'not json at all' }, 400, '(body)');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, raw: '[1,2]' }, 400);
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, raw: 'null' }, 400);
  await expectProblem(
    h,
    'PATCH',
    '/api/v1/tasks/2733',
    { session: s, raw: 'summary=x', headers: { 'content-type': 'text/plain' } },
    400,
    '(body)',
  );
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { summary: 'x', isAdmin: true } }, 400, 'isAdmin');
  await expectProblem(h, 'POST', '/api/v1/tasks', { session: s, body: { ...validTask, opened_by: 1 } }, 400, 'opened_by');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { percent: '50' } }, 400, 'percent');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { typeId: 'Upgrade' } }, 400, 'typeId');
  await expectProblem(h, 'POST', '/api/v1/tasks', { session: s, body: { summary: 'missing the rest' } }, 400, 'typeId');
});

test('bad values: percent 140, over-long or empty summary, bad dates, unknown references', async () => {
  const h = makeHarness();
  const s = await h.admin();
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { percent: 140 } }, 400, 'percent');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { percent: -1 } }, 400, 'percent');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { percent: 50.5 } }, 400, 'percent');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { summary: 'x'.repeat(201) } }, 400, 'summary');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { summary: '   ' } }, 400, 'summary');
  // A valid field next to an invalid one: nothing of it is written.
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { summary: 'half', percent: 140 } }, 400, 'percent');
  await expectProblem(h, 'PATCH', '/api/v1/tasks/2733', { session: s, body: { summary: 'half', typeId: 999 } }, 400, 'typeId');
  await expectProblem(h, 'POST', '/api/v1/tasks', { session: s, body: { ...validTask, typeId: 999 } }, 400, 'typeId');
  await expectProblem(h, 'POST', '/api/v1/tasks', { session: s, body: { ...validTask, sectionId: 77, statusId: 88 } }, 400, 'sectionId');
  await expectProblem(
    h,
    'POST',
    '/api/v1/tasks',
    { session: s, body: { ...validTask, openedAt: '2021-13-45T00:00:00Z' } },
    400,
    'openedAt',
  );
  await expectProblem(h, 'POST', '/api/v1/tasks', { session: s, body: { ...validTask, openedAt: 'yesterday' } }, 400, 'openedAt');
  await expectProblem(
    h,
    'POST',
    '/api/v1/tasks',
    { session: s, body: { ...validTask, openedAt: '2099-01-01T00:00:00Z' } },
    400,
    'openedAt',
  );
  await expectProblem(h, 'POST', '/api/v1/tasks/2733/comments', { session: s, body: { body: 'x', at: '2021-02-30T10:00:00Z' } }, 400, 'at');
  await expectProblem(h, 'POST', '/api/v1/tasks/2733/comments', { session: s, body: { body: '' } }, 400, 'body');
  await expectProblem(h, 'POST', '/api/v1/tasks/2733/close', { session: s, body: { reasonId: 1, at: 'soon' } }, 400, 'at');
  await expectProblem(h, 'POST', '/api/v1/tasks/2733/close', { session: s, body: { reasonId: 1 } }, 409);
  await expectProblem(h, 'POST', '/api/v1/tasks/2733/close', { session: s, body: {} }, 400, 'reasonId');
  await expectProblem(
    h,
    'PUT',
    '/api/v1/tasks/2733/phases',
    { session: s, body: { phases: [{ title: 'a', startsAt: '2021-10-13T00:00:00Z', endsAt: '2021-10-12T00:00:00Z' }] } },
    400,
    'phases.0.endsAt',
  );
  await expectProblem(
    h,
    'PUT',
    '/api/v1/tasks/2733/phases',
    { session: s, body: { phases: [{ title: 'a', startsAt: '13.10.2021' }] } },
    400,
    'phases.0.startsAt',
  );
  await expectProblem(h, 'PUT', '/api/v1/tasks/2733/phases', { session: s, body: { phases: 'none' } }, 400, 'phases');
});

test('bad queries: unknown filter values, sort column, paging', async () => {
  const h = makeHarness();
  await expectProblem(h, 'GET', '/api/v1/tasks?type=Nonsense', {}, 400, 'type');
  await expectProblem(h, 'GET', '/api/v1/tasks?section=nowhere', {}, 400, 'section');
  await expectProblem(h, 'GET', '/api/v1/tasks?status=Gone', {}, 400, 'status');
  await expectProblem(h, 'GET', '/api/v1/tasks?sort=password_hash', {}, 400, 'sort');
  await expectProblem(h, 'GET', '/api/v1/tasks?order=sideways', {}, 400, 'order');
  await expectProblem(h, 'GET', '/api/v1/tasks?page=0', {}, 400, 'page');
  await expectProblem(h, 'GET', '/api/v1/tasks?page=abc', {}, 400, 'page');
  await expectProblem(h, 'GET', '/api/v1/tasks?per_page=1000', {}, 400, 'per_page');
  await expectProblem(h, 'GET', '/api/v1/tasks?state=maybe', {}, 400, 'state');
  await expectProblem(h, 'GET', '/api/v1/tasks?limit=5', {}, 400, 'limit');
  const far = await json<TaskPage>(await h.request('GET', '/api/v1/tasks?page=999'));
  assert.deepEqual([far.items, far.total], [[], 1], 'a page past the end is empty, not an error');
});

test('server errors do not leak internals', async () => {
  const h = makeHarness();
  const s = await h.admin();
  h.db.exec('DROP TABLE phases');
  const res = await h.request('PUT', '/api/v1/tasks/2733/phases', { session: s, body: { phases: [] } });
  assert.equal(res.status, 500);
  const body = await json<ProblemBody>(res);
  assert.doesNotMatch(JSON.stringify(body), /phases|SQLITE|no such table/i);
});
