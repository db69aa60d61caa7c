// Sections, task types, statuses, close reasons and the category tree: public reads, staff writes, audited, safe deletes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json } from './api-harness.ts';
import { recentAudit } from '#server/store/audit.ts';

type Entry = { id: number; name: string; position: number; [k: string]: unknown };

test('every list: read by anyone, created/renamed/deleted by staff, each write audited', async () => {
  const h = makeHarness();
  await h.addUser('sam', 'staff');
  const s = await h.login('sam');
  const cases: [string, Record<string, unknown>][] = [
    ['task-types', { name: 'Security' }],
    ['statuses', { name: 'Blocked', position: 9 }],
    ['close-reasons', { name: 'Obsolete' }],
    ['sections', { slug: 'backup', name: 'Backup', description: 'Nightly backups' }],
    ['categories', { name: 'Backup', parentId: 1 }],
  ];
  for (const [kind, body] of cases) {
    const list = await h.request('GET', `/api/v1/${kind}`);
    assert.equal(list.status, 200, kind);
    assert.equal((await h.request('POST', `/api/v1/${kind}`, { body })).status, 401, `${kind}: anonymous write`);
    const created = await h.request('POST', `/api/v1/${kind}`, { session: s, body });
    assert.equal(created.status, 201, `${kind}: ${await created.clone().text()}`);
    const entry = await json<Entry>(created);
    assert.equal(created.headers.get('location'), `/api/v1/${kind}/${entry.id}`);
    assert.equal(entry.name, body.name);
    assert.equal((await h.request('POST', `/api/v1/${kind}`, { session: s, body })).status, 409, `${kind}: duplicate name`);

    const renamed = await json<Entry>(
      await h.request('PATCH', `/api/v1/${kind}/${entry.id}`, { session: s, body: { name: `${body.name} 2`, position: 3 } }),
    );
    assert.deepEqual([renamed.name, renamed.position], [`${body.name} 2`, 3]);
    assert.equal((await json<Entry>(await h.request('GET', `/api/v1/${kind}/${entry.id}`))).name, `${body.name} 2`);

    assert.equal((await h.request('DELETE', `/api/v1/${kind}/${entry.id}`, { session: s })).status, 204);
    assert.equal((await h.request('GET', `/api/v1/${kind}/${entry.id}`)).status, 404);
    assert.equal((await h.request('DELETE', `/api/v1/${kind}/${entry.id}`, { session: s })).status, 404);
  }
  const actions = recentAudit(h.db)
    .filter((a) => a.actor === 'sam')
    .map((a) => `${a.action} ${a.target?.split('/')[0]}`);
  for (const [kind] of cases) {
    for (const action of ['list.create', 'list.update', 'list.delete'])
      assert.ok(actions.includes(`${action} ${kind}`), `${action} ${kind}`);
  }
});

test('entries used by a task cannot be deleted; renaming shows through on the task', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const task = await json<{
    type: { id: number };
    section: { id: number };
    category: { id: number };
    status: { id: number };
    closeReason: { id: number };
  }>(await h.request('GET', '/api/v1/tasks/2733'));
  for (const [kind, id] of [
    ['task-types', task.type.id],
    ['sections', task.section.id],
    ['categories', task.category.id],
    ['statuses', task.status.id],
    ['close-reasons', task.closeReason.id],
  ] as const) {
    const res = await h.request('DELETE', `/api/v1/${kind}/${id}`, { session: s });
    assert.equal(res.status, 409, kind);
    assert.match((await json<{ detail: string }>(res)).detail, /used by 1 task/);
  }
  assert.equal((await h.request('DELETE', '/api/v1/categories/1', { session: s })).status, 409, 'a category with children');
  await h.request('PATCH', `/api/v1/task-types/${task.type.id}`, { session: s, body: { name: 'Upgrade/Rework' } });
  assert.equal((await json<{ type: { name: string } }>(await h.request('GET', '/api/v1/tasks/2733'))).type.name, 'Upgrade/Rework');
});

test('category tree: paths, re-parenting, no loops, no unknown parents', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const email = (await json<{ items: Entry[] }>(await h.request('GET', '/api/v1/categories'))).items.find((c) => c.name === 'Email')!;
  const inbound = await json<Entry>(
    await h.request('POST', '/api/v1/categories', { session: s, body: { name: 'Inbound', parentId: email.id } }),
  );
  assert.deepEqual(inbound.path, ['All Services', 'Email', 'Inbound']);
  const loop = await h.request('PATCH', `/api/v1/categories/${email.id}`, { session: s, body: { parentId: inbound.id } });
  assert.equal(loop.status, 400);
  assert.equal((await json<{ errors: { field: string }[] }>(loop)).errors[0].field, 'parentId');
  assert.equal((await h.request('PATCH', `/api/v1/categories/${email.id}`, { session: s, body: { parentId: email.id } })).status, 400);
  assert.equal((await h.request('POST', '/api/v1/categories', { session: s, body: { name: 'Orphan', parentId: 9999 } })).status, 400);
  const root = await json<Entry>(await h.request('POST', '/api/v1/categories', { session: s, body: { name: 'Internal', parentId: null } }));
  const moved = await json<Entry>(
    await h.request('PATCH', `/api/v1/categories/${inbound.id}`, { session: s, body: { parentId: root.id } }),
  );
  assert.deepEqual(moved.path, ['Internal', 'Inbound']);
});

test('list input is validated: bad slugs, unknown fields, empty names', async () => {
  const h = makeHarness();
  const s = await h.admin();
  for (const body of [
    { slug: 'Bad Slug', name: 'x' },
    { slug: 'ok', name: '' },
    { slug: 'ok', name: 'x', colour: 'red' },
    { name: 'no slug' },
  ]) {
    const res = await h.request('POST', '/api/v1/sections', { session: s, body });
    assert.equal(res.status, 400, JSON.stringify(body));
  }
  assert.equal((await h.request('POST', '/api/v1/task-types', { session: s, body: { name: 'x'.repeat(101) } })).status, 400);
  assert.equal((await h.request('GET', '/api/v1/nonsense')).status, 404);
});

test('a new entry without a position goes last in every list; an explicit position is kept', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const cases: [string, Record<string, unknown>][] = [
    ['task-types', { name: 'Security' }],
    ['statuses', { name: 'Blocked' }],
    ['close-reasons', { name: 'Obsolete' }],
    ['sections', { slug: 'backup', name: 'Backup' }],
    ['categories', { name: 'Backup', parentId: 1 }],
  ];
  for (const [kind, body] of cases) {
    const before = (await json<{ items: Entry[] }>(await h.request('GET', `/api/v1/${kind}`))).items;
    const created = await json<Entry>(await h.request('POST', `/api/v1/${kind}`, { session: s, body }));
    assert.equal(created.position, Math.max(...before.map((e) => e.position)) + 1, kind);
    const after = (await json<{ items: Entry[] }>(await h.request('GET', `/api/v1/${kind}`))).items;
    assert.equal(after.at(-1)!.id, created.id, `${kind}: listed last`);
  }
  const first = await json<Entry>(await h.request('POST', '/api/v1/task-types', { session: s, body: { name: 'Urgent', position: 0 } }));
  assert.equal(first.position, 0);
});
