// POST /api/v1/tasks/:id/history/:entryId/redact: admins wipe an entry's values for good; the entry says who and when.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json } from './api-harness.ts';
import { HistoryEntry, type Task } from '#data/contracts/tasks.ts';

const SECRET = 'hunter2-S3CRET-api';

async function idOf(h: ReturnType<typeof makeHarness>, path: string, name: string): Promise<number> {
  const { items } = await json<{ items: { id: number; name: string }[] }>(await h.request('GET', `/api/v1/${path}`));
  return items.find((i) => i.name === name)!.id;
}

/** A task whose summary had a secret pasted in and edited out again: two history entries hold it. */
async function taskWithEditedOutSecret(h: ReturnType<typeof makeHarness>, s: Awaited<ReturnType<typeof h.admin>>) {
  const res = await h.request('POST', '/api/v1/tasks', {
    session: s,
    body: {
      summary: 'Database failover',
      typeId: await idOf(h, 'task-types', 'Maintenance'),
      categoryId: await idOf(h, 'categories', 'Databases'),
      statusId: await idOf(h, 'statuses', 'Planned'),
    },
  });
  assert.equal(res.status, 201, await res.clone().text());
  const t = await json<Task>(res);
  for (const summary of [`Database failover (root pw ${SECRET})`, 'Database failover']) {
    h.advance(60_000);
    assert.equal((await h.request('PATCH', `/api/v1/tasks/${t.id}`, { session: s, body: { summary } })).status, 200);
  }
  return t.id;
}

const historyOf = async (h: ReturnType<typeof makeHarness>, id: number) =>
  (await json<{ items: HistoryEntry[] }>(await h.request('GET', `/api/v1/tasks/${id}/history`))).items;

test('an admin redacts an entry: values gone, entry kept with who and when, task untouched, audited without the values', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const id = await taskWithEditedOutSecret(h, s);
  const holding = (await historyOf(h, id)).filter((e) => `${e.oldValue} ${e.newValue}`.includes(SECRET));
  assert.equal(holding.length, 2, 'the paste and the edit that removed it');
  const before = h.changes.version();
  h.advance(60_000);
  const at = h.now().toISOString();
  for (const e of holding) {
    const res = await h.request('POST', `/api/v1/tasks/${id}/history/${e.id}/redact`, { session: s });
    assert.equal(res.status, 200, await res.clone().text());
    const entry = HistoryEntry.parse(await res.json());
    assert.deepEqual(
      { ...entry },
      { ...e, oldValue: null, newValue: null, redacted: { by: { id: s.userId, displayName: 'alice (display)' }, at } },
    );
  }
  assert.ok(h.changes.version() > before, 'the public caches rebuild');
  const history = await historyOf(h, id);
  assert.deepEqual(
    history.map((e) => e.field),
    ['task', 'summary', 'summary'],
    'every entry is still there',
  );
  assert.ok(!JSON.stringify(history).includes(SECRET));
  assert.deepEqual(
    history.filter((e) => e.redacted).map((e) => [e.field, e.redacted?.by.displayName, e.redacted?.at]),
    [
      ['summary', 'alice (display)', at],
      ['summary', 'alice (display)', at],
    ],
  );
  assert.equal((await json<Task>(await h.request('GET', `/api/v1/tasks/${id}`))).summary, 'Database failover', 'the current value stays');
  const rows = h.db
    .prepare(`SELECT old_value, new_value, redacted_by, redacted_at FROM task_history WHERE id IN (${holding.map((e) => e.id).join(',')})`)
    .all();
  assert.deepEqual(
    rows,
    holding.map(() => ({ old_value: null, new_value: null, redacted_by: s.userId, redacted_at: at })),
  );
  const audit = h.db.prepare(`SELECT actor, action, target, detail FROM audit_log WHERE action = 'task.redact' ORDER BY id`).all() as {
    detail: string;
  }[];
  assert.deepEqual(
    audit.map((a) => ({ ...a })),
    holding.map((e) => ({
      actor: 'alice',
      action: 'task.redact',
      target: `FS#${id}`,
      detail: `history entry ${e.id} (summary, ${e.at})`,
    })),
  );
  assert.ok(!JSON.stringify(h.db.prepare('SELECT * FROM audit_log').all()).includes(SECRET), 'no audit row copies the secret');
});

test('redacting twice is harmless: 200 with the first redaction, no second audit row', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const id = await taskWithEditedOutSecret(h, s);
  const [entry] = (await historyOf(h, id)).filter((e) => e.newValue?.includes(SECRET));
  const path = `/api/v1/tasks/${id}/history/${entry.id}/redact`;
  const first = await json<HistoryEntry>(await h.request('POST', path, { session: s }));
  const version = h.changes.version();
  h.advance(60_000);
  await h.addUser('bob', 'admin');
  const second = await h.request('POST', path, { session: await h.login('bob') });
  assert.equal(second.status, 200);
  assert.deepEqual(await second.json(), first, 'still redacted by alice at the first time');
  assert.equal(h.changes.version(), version, 'nothing changed, nothing to rebuild');
  assert.equal((h.db.prepare(`SELECT count(*) AS n FROM audit_log WHERE action = 'task.redact'`).get() as { n: number }).n, 1);
});

test('only admins redact; a missing or foreign entry is 404, a bad id 400, and a refused request changes nothing', async () => {
  const h = makeHarness();
  const admin = await h.admin();
  const id = await taskWithEditedOutSecret(h, admin);
  const [entry] = (await historyOf(h, id)).filter((e) => e.newValue?.includes(SECRET));
  const path = `/api/v1/tasks/${id}/history/${entry.id}/redact`;
  await h.addUser('sam', 'staff');
  const staff = await h.login('sam');
  const expect = async (status: number, p: string, o: Parameters<typeof h.request>[2], detail: RegExp) => {
    const res = await h.request('POST', p, o);
    assert.equal(res.status, status, `${p}: ${await res.clone().text()}`);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.match((await json<{ detail: string }>(res)).detail, detail);
  };
  await expect(401, path, {}, /Log in as an admin/);
  await expect(403, path, { session: staff }, /Only admins/);
  await expect(403, path, { session: admin, csrf: false }, /CSRF/);
  await expect(404, `/api/v1/tasks/${id}/history/999999/redact`, { session: admin }, new RegExp(`FS#${id} has no history entry 999999`));
  // The id of another task's entry does not reach into it through this task's path.
  const other = await h.request('POST', '/api/v1/tasks', {
    session: admin,
    body: {
      summary: 'Other',
      typeId: await idOf(h, 'task-types', 'Maintenance'),
      categoryId: await idOf(h, 'categories', 'DNS'),
      statusId: await idOf(h, 'statuses', 'Planned'),
    },
  });
  const otherEntry = (await historyOf(h, (await json<Task>(other)).id))[0];
  await expect(404, `/api/v1/tasks/${id}/history/${otherEntry.id}/redact`, { session: admin }, /has no history entry/);
  await expect(404, `/api/v1/tasks/99999/history/${entry.id}/redact`, { session: admin }, /FS#99999 does not exist/);
  await expect(400, `/api/v1/tasks/${id}/history/abc/redact`, { session: admin }, /not a valid entryId/);
  const after = (await historyOf(h, id)).find((e) => e.id === entry.id);
  assert.equal(after?.redacted, null);
  assert.ok(after?.newValue?.includes(SECRET), 'still there: nobody was allowed to redact it');
  assert.equal((h.db.prepare(`SELECT count(*) AS n FROM audit_log WHERE action = 'task.redact'`).get() as { n: number }).n, 0);
});

test('a secret typed into a new task summary leaves no copy in the audit log once its edit entry is redacted', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const res = await h.request('POST', '/api/v1/tasks', {
    session: s,
    body: {
      summary: `Failover ${SECRET}`,
      typeId: await idOf(h, 'task-types', 'Maintenance'),
      categoryId: await idOf(h, 'categories', 'DNS'),
      statusId: await idOf(h, 'statuses', 'Planned'),
    },
  });
  const id = (await json<Task>(res)).id;
  assert.equal((await h.request('PATCH', `/api/v1/tasks/${id}`, { session: s, body: { summary: 'Failover' } })).status, 200);
  const [entry] = (await historyOf(h, id)).filter((e) => e.oldValue?.includes(SECRET));
  assert.equal((await h.request('POST', `/api/v1/tasks/${id}/history/${entry.id}/redact`, { session: s })).status, 200);
  const everything = JSON.stringify([
    h.db.prepare('SELECT * FROM audit_log').all(),
    h.db.prepare('SELECT * FROM task_history').all(),
    h.db.prepare('SELECT * FROM tasks').all(),
  ]);
  assert.ok(!everything.includes(SECRET));
});
