// Every task verb of /api/v1 through the real app: list/filter/sort/page, get, create, edit, comment, close, reopen, phases, history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json } from './api-harness.ts';
import type { Task, TaskPage, HistoryEntry } from '#data/contracts/tasks.ts';
import { Task as TaskSchema, TaskPage as TaskPageSchema } from '#data/contracts/tasks.ts';

async function idOf(h: ReturnType<typeof makeHarness>, path: string, name: string): Promise<number> {
  const { items } = await json<{ items: { id: number; name: string }[] }>(await h.request('GET', `/api/v1/${path}`));
  const found = items.find((i) => i.name === name);
  assert.ok(found, `${path} ${name}`);
  return found.id;
}

async function newTask(h: ReturnType<typeof makeHarness>, s: Awaited<ReturnType<typeof h.admin>>, extra: Record<string, unknown> = {}) {
  const body = {
    summary: 'DNS resolver upgrade',
    details: 'Rolling **restart**.',
    typeId: await idOf(h, 'task-types', 'Maintenance'),
    categoryId: await idOf(h, 'categories', 'DNS'),
    sectionId: await idOf(h, 'sections', 'DNS'),
    statusId: await idOf(h, 'statuses', 'Planned'),
    percent: 10,
    ...extra,
  };
  const res = await h.request('POST', '/api/v1/tasks', { session: s, body });
  assert.equal(res.status, 201, await res.clone().text());
  return json<Task>(res);
}

const history = async (h: ReturnType<typeof makeHarness>, id: number) =>
  (await json<{ items: HistoryEntry[] }>(await h.request('GET', `/api/v1/tasks/${id}/history`))).items;

test('reads are public and match the contract', async () => {
  const h = makeHarness();
  const page = await json<TaskPage>(await h.request('GET', '/api/v1/tasks'));
  TaskPageSchema.parse(page);
  assert.equal(page.total, 1);
  assert.equal(page.items[0].ref, 'FS#2733');
  const one = await h.request('GET', '/api/v1/tasks/2733');
  assert.equal(one.status, 200);
  TaskSchema.parse(await json(one));
  const missing = await h.request('GET', '/api/v1/tasks/99999');
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('content-type'), 'application/problem+json');
  assert.equal((await json<{ detail: string }>(missing)).detail, 'FS#99999 does not exist.');
});

test('create: 201 with Location, opened by the session user, one "opened" history row, change counter bumped', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const before = h.changes.version();
  const t = await newTask(h, s);
  assert.equal(t.summary, 'DNS resolver upgrade');
  assert.equal(t.details.html, '<p>Rolling <strong>restart</strong>.</p>');
  assert.equal(t.openedBy.displayName, 'alice (display)');
  assert.equal(t.openedAt, h.now().toISOString());
  assert.equal(t.closed, false);
  assert.equal(t.version, 1);
  assert.ok(t.id > 2733, 'new ids follow the imported ones');
  assert.ok(h.changes.version() > before);
  const hist = await history(h, t.id);
  assert.deepEqual(
    hist.map((r) => [r.field, r.oldValue, r.newValue, r.user?.displayName]),
    [['task', null, 'opened', 'alice (display)']],
  );
  const kept = await newTask(h, s, { id: 4242, openedAt: '2021-10-08T00:00:00Z' });
  assert.equal(kept.id, 4242);
  assert.equal(kept.openedAt, '2021-10-08T00:00:00.000Z');
  const again = await h.request('POST', '/api/v1/tasks', {
    session: s,
    body: { summary: 'dup', typeId: 1, categoryId: 1, statusId: 1, id: 4242 },
  });
  assert.equal(again.status, 409);
});

test('patch: one history row per changed field with names, Markdown re-rendered and sanitized, version check', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const t = await newTask(h, s);
  h.advance(60_000);
  const incident = await idOf(h, 'task-types', 'Incident');
  const email = await idOf(h, 'categories', 'Email');
  const res = await h.request('PATCH', `/api/v1/tasks/${t.id}`, {
    session: s,
    body: {
      summary: 'Resolver outage',
      typeId: incident,
      categoryId: email,
      sectionId: null,
      percent: 55,
      details: 'x <script>alert(1)</script> [y](javascript:alert(1))',
      version: 1,
    },
  });
  assert.equal(res.status, 200);
  const after = await json<Task>(res);
  assert.equal(after.version, 2);
  assert.equal(after.type.name, 'Incident');
  assert.equal(after.section, null);
  assert.deepEqual(after.category.path, ['All Services', 'Email']);
  assert.equal(after.lastEditedAt, h.now().toISOString());
  assert.doesNotMatch(after.details.html, /<script|href="javascript:/);
  assert.match(after.details.html, /&lt;script&gt;/, 'raw HTML is shown as text, not run');
  const rows = (await history(h, t.id)).filter((r) => r.field !== 'task');
  assert.deepEqual(rows.map((r) => [r.field, r.oldValue, r.newValue]).sort(), [
    ['category', 'All Services → DNS', 'All Services → Email'],
    ['details', 'Rolling **restart**.', 'x <script>alert(1)</script> [y](javascript:alert(1))'],
    ['percent', '10', '55'],
    ['section', 'DNS', null],
    ['summary', 'DNS resolver upgrade', 'Resolver outage'],
    ['type', 'Maintenance', 'Incident'],
  ]);
  assert.ok(rows.every((r) => r.at === h.now().toISOString() && r.user?.id === s.userId));

  // Same values again: nothing changes, no history, no version bump.
  const same = await json<Task>(
    await h.request('PATCH', `/api/v1/tasks/${t.id}`, { session: s, body: { summary: 'Resolver outage', percent: 55 } }),
  );
  assert.equal(same.version, 2);
  assert.equal((await history(h, t.id)).length, rows.length + 1);

  // A stale version is refused and writes nothing.
  const stale = await h.request('PATCH', `/api/v1/tasks/${t.id}`, { session: s, body: { summary: 'lost update', version: 1 } });
  assert.equal(stale.status, 409);
  assert.equal((await json<Task>(await h.request('GET', `/api/v1/tasks/${t.id}`))).summary, 'Resolver outage');
  assert.equal((await history(h, t.id)).length, rows.length + 1);
});

test('comments: Markdown rendered on save, back-dating allowed, history row, version bump', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const t = await newTask(h, s, { openedAt: '2021-10-08T00:00:00Z' });
  const res = await h.request('POST', `/api/v1/tasks/${t.id}/comments`, {
    session: s,
    body: { body: 'Now *active*.\n<img src=x onerror=alert(1)>', at: '2021-10-13T16:40:00+02:00' },
  });
  assert.equal(res.status, 201);
  const { comment, task } = await json<{ comment: Task['comments'][number]; task: Task }>(res);
  assert.equal(comment.at, '2021-10-13T14:40:00.000Z');
  assert.match(comment.html, /<em>active<\/em>/);
  assert.doesNotMatch(comment.html, /<img/);
  assert.equal(comment.author.displayName, 'alice (display)');
  assert.equal(task.version, 2);
  const rows = await history(h, t.id);
  assert.deepEqual(rows.at(-1) && [rows.at(-1)!.field, rows.at(-1)!.at], ['comment', '2021-10-13T14:40:00.000Z']);
  const plain = await json<{ comment: { at: string } }>(
    await h.request('POST', `/api/v1/tasks/${t.id}/comments`, { session: s, body: { body: 'now' } }),
  );
  assert.equal(plain.comment.at, h.now().toISOString());
  const early = await h.request('POST', `/api/v1/tasks/${t.id}/comments`, {
    session: s,
    body: { body: 'too early', at: '2020-01-01T00:00:00Z' },
  });
  assert.equal(early.status, 400, 'a comment cannot predate its task');
  const future = await h.request('POST', `/api/v1/tasks/${t.id}/comments`, {
    session: s,
    body: { body: 'from the future', at: '2099-01-01T00:00:00Z' },
  });
  assert.equal(future.status, 400);
  assert.equal((await json<Task>(await h.request('GET', `/api/v1/tasks/${t.id}`))).comments.length, 2);
});

test('close sets percent 100, closed by/at and reason; reopen clears them; both refuse a second time', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const t = await newTask(h, s);
  const finished = await idOf(h, 'close-reasons', 'Finished');
  h.advance(3_600_000);
  const closed = await json<Task>(await h.request('POST', `/api/v1/tasks/${t.id}/close`, { session: s, body: { reasonId: finished } }));
  assert.equal(closed.closed, true);
  assert.equal(closed.percent, 100);
  assert.equal(closed.closeReason?.name, 'Finished');
  assert.equal(closed.closedBy?.displayName, 'alice (display)');
  assert.equal(closed.closedAt, h.now().toISOString());
  let rows = (await history(h, t.id)).slice(1);
  assert.deepEqual(
    rows.map((r) => [r.field, r.oldValue, r.newValue]),
    [
      ['closed', 'open', 'closed'],
      ['close_reason', null, 'Finished'],
      ['percent', '10', '100'],
    ],
  );
  assert.equal((await h.request('POST', `/api/v1/tasks/${t.id}/close`, { session: s, body: { reasonId: finished } })).status, 409);
  const open = (await json<TaskPage>(await h.request('GET', '/api/v1/tasks?state=closed'))).items.map((i) => i.id);
  assert.ok(open.includes(t.id));

  const reopened = await json<Task>(await h.request('POST', `/api/v1/tasks/${t.id}/reopen`, { session: s }));
  assert.equal(reopened.closed, false);
  assert.equal(reopened.closeReason, null);
  assert.equal(reopened.closedBy, null);
  assert.equal(reopened.closedAt, null);
  rows = (await history(h, t.id)).slice(4);
  assert.deepEqual(
    rows.map((r) => [r.field, r.oldValue, r.newValue]),
    [
      ['closed', 'closed', 'open'],
      ['close_reason', 'Finished', null],
    ],
  );
  assert.equal((await h.request('POST', `/api/v1/tasks/${t.id}/reopen`, { session: s })).status, 409);
  assert.equal((await h.request('POST', `/api/v1/tasks/${t.id}/close`, { session: s, body: { reasonId: 999 } })).status, 400);
  assert.equal((await h.request('POST', `/api/v1/tasks/${t.id}/close`, { session: s, body: { reason: 'Bored' } })).status, 400);
  assert.equal(
    (await h.request('POST', `/api/v1/tasks/${t.id}/close`, { session: s, body: { reason: 'Finished', reasonId: finished } })).status,
    400,
  );
  const byName = await json<Task>(await h.request('POST', `/api/v1/tasks/${t.id}/close`, { session: s, body: { reason: "won't fix" } }));
  assert.equal(byName.closeReason?.name, "Won't fix", 'the reason may be given by name');
});

test('phases: PUT replaces the ordered plan, one history row, no row when unchanged', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const t = await newTask(h, s);
  const plan = {
    phases: [
      { title: 'prepare', endsAt: '2026-02-01T00:00:00Z' },
      { title: 'switch', startsAt: '2026-02-02T00:00:00Z', endsAt: '2026-02-03T00:00:00Z', note: 'parallel old/new' },
      { title: 'clean up', startsAt: '2026-02-04T00:00:00Z' },
    ],
  };
  const put = await h.request('PUT', `/api/v1/tasks/${t.id}/phases`, { session: s, body: plan });
  assert.equal(put.status, 200);
  const after = await json<Task>(put);
  assert.deepEqual(
    after.phases.map((p) => [p.position, p.title, p.startsAt, p.endsAt, p.note]),
    [
      [0, 'prepare', null, '2026-02-01T00:00:00.000Z', ''],
      [1, 'switch', '2026-02-02T00:00:00.000Z', '2026-02-03T00:00:00.000Z', 'parallel old/new'],
      [2, 'clean up', '2026-02-04T00:00:00.000Z', null, ''],
    ],
  );
  let rows = await history(h, t.id);
  assert.equal(rows.at(-1)!.field, 'phases');
  assert.equal(rows.at(-1)!.oldValue, null);
  assert.match(rows.at(-1)!.newValue!, /^prepare: … – 2026-02-01/);
  await h.request('PUT', `/api/v1/tasks/${t.id}/phases`, { session: s, body: plan });
  assert.equal((await history(h, t.id)).length, rows.length, 'same plan → no new row');
  const reordered = await json<Task>(
    await h.request('PUT', `/api/v1/tasks/${t.id}/phases`, { session: s, body: { phases: [plan.phases[1]] } }),
  );
  assert.deepEqual(
    reordered.phases.map((p) => [p.position, p.title]),
    [[0, 'switch']],
  );
  rows = await history(h, t.id);
  assert.match(rows.at(-1)!.oldValue!, /clean up/);
});

test('list: filters, text search over summary/details/comments, every sort column, paging with total', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const a = await newTask(h, s, { summary: 'alpha', percent: 30 });
  const b = await newTask(h, s, {
    summary: 'beta',
    percent: 70,
    sectionId: await idOf(h, 'sections', 'Email'),
    typeId: await idOf(h, 'task-types', 'Incident'),
  });
  await h.request('POST', `/api/v1/tasks/${a.id}/comments`, { session: s, body: { body: 'resolver needle_% here' } });
  const ids = async (qs: string) => (await json<TaskPage>(await h.request('GET', `/api/v1/tasks?${qs}`))).items.map((i) => i.id);

  assert.deepEqual((await ids('section=email')).sort(), [2733, b.id].sort());
  assert.deepEqual(await ids('section=dns'), [a.id]);
  assert.deepEqual(await ids('type=Incident'), [b.id]);
  assert.deepEqual(await ids('type=upgrade'), [2733], 'names match case-insensitively');
  assert.deepEqual((await ids('status=Planned')).sort(), [a.id, b.id].sort());
  assert.deepEqual(await ids('state=closed'), [2733]);
  assert.deepEqual((await ids('state=open')).sort(), [a.id, b.id].sort());
  assert.deepEqual(await ids('q=needle_%25'), [a.id], 'comment text, with LIKE wildcards taken literally');
  assert.deepEqual(await ids('q=needle%25%25'), []);
  assert.deepEqual(await ids('q=no%20spam%20forwarding'), [2733], 'the long FS#2733 comment is searched');
  assert.deepEqual(await ids('q=Scaling'), [2733], 'summary');
  assert.deepEqual((await ids('q=restart')).sort(), [a.id, b.id].sort(), 'details');

  assert.deepEqual(await ids('sort=progress&order=asc'), [a.id, b.id, 2733]);
  assert.deepEqual(await ids('sort=progress&order=desc'), [2733, b.id, a.id]);
  assert.deepEqual(await ids('sort=summary&order=asc'), [a.id, b.id, 2733], 'alpha < beta < Reworking, case-insensitive');
  assert.deepEqual(await ids('sort=id&order=desc'), [b.id, a.id, 2733]);
  assert.deepEqual(await ids('sort=type&order=asc'), [b.id, a.id, 2733], 'Incident < Maintenance < Upgrade');
  assert.deepEqual(await ids('sort=status&order=desc'), [b.id, a.id, 2733], 'Planned before In progress (desc), ties by id desc');
  assert.deepEqual(await ids('sort=category&order=asc'), [a.id, b.id, 2733], 'DNS < Email');
  assert.deepEqual((await ids('sort=last_edited&order=desc'))[2], 2733);

  const p1 = await json<TaskPage>(await h.request('GET', '/api/v1/tasks?sort=id&order=asc&per_page=2&page=1'));
  const p2 = await json<TaskPage>(await h.request('GET', '/api/v1/tasks?sort=id&order=asc&per_page=2&page=2'));
  assert.deepEqual([p1.total, p1.perPage, p1.page, p1.items.map((i) => i.id)], [3, 2, 1, [2733, a.id]]);
  assert.deepEqual([p2.total, p2.page, p2.items.map((i) => i.id)], [3, 2, [b.id]]);
});

test('FS#2733 can be rebuilt through the API alone, back-dated, and reads like the seed', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const seeded = await json<Task>(await h.request('GET', '/api/v1/tasks/2733'));
  const body = {
    id: 12733,
    summary: seeded.summary,
    details: seeded.details.markdown,
    typeId: seeded.type.id,
    categoryId: seeded.category.id,
    sectionId: seeded.section!.id,
    statusId: seeded.status.id,
    openedAt: seeded.openedAt,
  };
  assert.equal((await h.request('POST', '/api/v1/tasks', { session: s, body })).status, 201);
  for (const c of seeded.comments) {
    assert.equal(
      (await h.request('POST', '/api/v1/tasks/12733/comments', { session: s, body: { body: c.markdown, at: c.at } })).status,
      201,
    );
  }
  await h.request('PUT', '/api/v1/tasks/12733/phases', {
    session: s,
    body: { phases: seeded.phases.map(({ title, startsAt, endsAt }) => ({ title, startsAt, endsAt })) },
  });
  const closed = await h.request('POST', '/api/v1/tasks/12733/close', {
    session: s,
    body: { reasonId: seeded.closeReason!.id, at: seeded.closedAt },
  });
  assert.equal(closed.status, 200);
  const rebuilt = await json<Task>(closed);
  assert.deepEqual(
    rebuilt.comments.map((c) => [c.at, c.markdown, c.html]),
    seeded.comments.map((c) => [c.at, c.markdown, c.html]),
  );
  assert.deepEqual(rebuilt.phases, seeded.phases);
  assert.equal(rebuilt.closedAt, seeded.closedAt);
  assert.equal(rebuilt.percent, 100);
  assert.equal(rebuilt.closeReason?.name, 'Finished');
});

test('every task write is in the global audit log (target FS#<id>), and a refused write leaves none', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const audit = async () =>
    (
      await json<{ items: { action: string; target: string | null; actor: string }[] }>(
        await h.request('GET', '/api/v1/audit?action=task.', { session: s }),
      )
    ).items.reverse();
  const t = await newTask(h, s);
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await h.request(method, `/api/v1/tasks/${t.id}${path}`, { session: s, body });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
  };
  await send('PATCH', '', { summary: 'Resolver outage', version: 1 });
  await send('POST', '/comments', { body: 'Looking into it.' });
  await send('PUT', '/phases', { phases: [{ title: 'switch', startsAt: '2026-02-02T00:00:00Z' }] });
  await send('POST', '/close', { reason: 'Finished' });
  await send('POST', '/reopen');
  const ref = `FS#${t.id}`;
  assert.deepEqual(
    (await audit()).map((a) => [a.action, a.target, a.actor]),
    [
      ['task.create', ref, 'alice'],
      ['task.update', ref, 'alice'],
      ['task.comment', ref, 'alice'],
      ['task.phases', ref, 'alice'],
      ['task.close', ref, 'alice'],
      ['task.reopen', ref, 'alice'],
    ],
  );
  // Refused or empty writes change nothing, so they are not audited either.
  assert.equal((await h.request('POST', `/api/v1/tasks/${t.id}/reopen`, { session: s })).status, 409);
  assert.equal((await h.request('PATCH', `/api/v1/tasks/${t.id}`, { session: s, body: { summary: 'stale', version: 1 } })).status, 409);
  await send('PUT', '/phases', { phases: [{ title: 'switch', startsAt: '2026-02-02T00:00:00Z' }] });
  assert.equal((await audit()).length, 6);
});

test('phases: PUT checks the version like PATCH; a stale one is a 409 and the plan stays', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const t = await newTask(h, s);
  const plan = (title: string, version?: number) => ({
    phases: [{ title, startsAt: '2026-02-02T00:00:00Z' }],
    ...(version === undefined ? {} : { version }),
  });
  const first = await h.request('PUT', `/api/v1/tasks/${t.id}/phases`, { session: s, body: plan('mine', 1) });
  assert.equal(first.status, 200, await first.clone().text());
  assert.equal((await json<Task>(first)).version, 2);
  // Someone who loaded the task at version 1 saves their plan: refused, nothing overwritten.
  const stale = await h.request('PUT', `/api/v1/tasks/${t.id}/phases`, { session: s, body: plan('theirs', 1) });
  assert.equal(stale.status, 409);
  assert.match(
    (await json<{ detail: string }>(stale)).detail,
    new RegExp(`FS#${t.id} was changed by someone else \\(now version 2, you sent 1\\)`),
  );
  const now = await json<Task>(await h.request('GET', `/api/v1/tasks/${t.id}`));
  assert.deepEqual([now.version, now.phases.map((p) => p.title)], [2, ['mine']]);
  assert.equal((await h.request('PUT', `/api/v1/tasks/${t.id}/phases`, { session: s, body: plan('theirs', 2) })).status, 200);
  assert.equal(
    (await h.request('PUT', `/api/v1/tasks/${t.id}/phases`, { session: s, body: plan('no check') })).status,
    200,
    'the version stays optional',
  );
});

test('create refuses an id the API could not address: past the largest, explicit or automatic', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const max = await newTask(h, s, { id: 2_147_483_647 });
  assert.equal((await h.request('GET', `/api/v1/tasks/${max.id}`)).status, 200);
  const count = () => (h.db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
  const before = count();
  const next = await h.request('POST', '/api/v1/tasks', {
    session: s,
    body: { summary: 'one more', typeId: 1, categoryId: 1, statusId: 1 },
  });
  assert.equal(next.status, 409, await next.clone().text());
  assert.equal(next.headers.get('content-type'), 'application/problem+json');
  assert.match((await json<{ detail: string }>(next)).detail, /No automatic task number is left: FS#2147483647 is the highest/);
  const tooBig = await h.request('POST', '/api/v1/tasks', {
    session: s,
    body: { summary: 'too big', typeId: 1, categoryId: 1, statusId: 1, id: 2_147_483_648 },
  });
  assert.equal(tooBig.status, 400);
  assert.equal(count(), before, 'nothing was created');
  assert.equal((await h.request('GET', '/api/v1/tasks/2147483648')).status, 400, 'which is the id GET would have refused');
  // A free number below the top can still be given explicitly.
  assert.equal((await newTask(h, s, { id: 5000 })).id, 5000);
});
