// A secret pasted into a task and edited out, then redacted through the staff forms: gone from every page, feed, API and the database file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackendStore } from '#server/store/open.ts';
import { addStaff } from '#server/services/users/addStaff.ts';
import type { HistoryEntry, Task } from '#data/contracts/tasks.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';

const SECRET = 'sk_live_9fT3xQ-do-not-share';
const NOW = '2026-01-15T12:00:00.000Z';
let site: SiteServer;
let dir: string;
let session: { cookie: string; csrf: string };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidings-redact-'));
  site = await startSiteServer({ now: NOW, db: openBackendStore(dir, () => new Date(NOW)) });
  await addStaff({
    ctx: { db: site.db, clock: () => new Date(NOW), changes: site.changes },
    actor: { userId: null, name: 'test' },
    input: { username: 'alice', displayName: 'Alice Admin', role: 'admin', password: 'correct horse battery' },
  });
  const res = await site.get('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  session = { cookie: res.headers.get('set-cookie')!.split(';')[0], csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
});
after(async () => {
  await site?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { cookie: session.cookie, 'x-csrf-token': session.csrf };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return site.get(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}
const staffGet = (path: string) => site.get(path, { headers: { cookie: session.cookie } });
const idOf = (table: string, name: string) => (site.db.prepare(`SELECT id FROM ${table} WHERE name = ?`).get(name) as { id: number }).id;

/** Every readable place the public or staff can reach that shows a task: none may hold the secret. */
function placesToLook(id: number): string[] {
  return [
    '/',
    '/tasks',
    `/task/${id}`,
    '/section/email',
    '/status.json',
    '/feed.atom',
    '/feed.rss',
    '/section/email/feed.atom',
    '/section/email/feed.rss',
    `/api/v1/tasks/${id}`,
    `/api/v1/tasks/${id}/history`,
    '/api/v1/tasks?q=sk_live',
    '/staff',
    `/staff/tasks/${id}`,
    '/staff/audit',
  ];
}

test('paste, edit out, redact in the staff UI: the secret is nowhere, the current text and the entries stay', async () => {
  const created = await api('POST', '/tasks', {
    summary: 'Payment gateway maintenance',
    details: 'Rotating the API keys.',
    typeId: idOf('task_types', 'Maintenance'),
    categoryId: idOf('categories', 'Email'),
    sectionId: idOf('sections', 'Email'),
    statusId: idOf('statuses', 'Planned'),
  });
  assert.equal(created.status, 201);
  const id = ((await created.json()) as Task).id;
  assert.equal(
    (
      await api('PATCH', `/tasks/${id}`, {
        summary: `Payment gateway maintenance ${SECRET}`,
        details: `Rotating the API keys: \`${SECRET}\``,
      })
    ).status,
    200,
  );
  // Readers and caches see it while it is there, so the redaction must make them forget it.
  for (const path of [`/task/${id}`, '/feed.atom', '/feed.rss', '/section/email/feed.rss']) {
    assert.ok((await (await staffGet(path)).text()).includes(SECRET), `${path} showed the pasted secret`);
  }
  assert.equal(
    (await api('PATCH', `/tasks/${id}`, { summary: 'Payment gateway maintenance', details: 'Rotating the API keys.' })).status,
    200,
  );
  assert.equal((await api('POST', `/tasks/${id}/comments`, { body: 'Keys rotated.' })).status, 201);

  const history = ((await (await api('GET', `/tasks/${id}/history`)).json()) as { items: HistoryEntry[] }).items;
  const holding = history.filter((e) => `${e.oldValue} ${e.newValue}`.includes(SECRET));
  assert.deepEqual(
    holding.map((e) => e.field),
    ['summary', 'details', 'summary', 'details'],
    'pasted in, then edited out',
  );

  // An admin without JavaScript: the history table links each entry to its confirmation form.
  const staffPage = await (await staffGet(`/staff/tasks/${id}`)).text();
  for (const e of holding) {
    const link = `/staff/tasks/${id}/history/${e.id}/redact`;
    assert.ok(staffPage.includes(`href="${link}"`), `a Redact link for entry ${e.id}`);
    const confirm = await staffGet(link);
    assert.equal(confirm.status, 200);
    const form = await confirm.text();
    assert.ok(form.includes(SECRET), 'the form shows what will be wiped');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form)![1];
    const posted = await site.get(link, {
      method: 'POST',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    assert.equal(posted.status, 303, await posted.clone().text());
    assert.equal(posted.headers.get('location'), `/staff/tasks/${id}?done=redacted#history-${e.id}`);
  }

  for (const path of placesToLook(id)) {
    const res = await staffGet(path);
    assert.equal(res.status, 200, path);
    assert.ok(!(await res.text()).includes(SECRET), `${path} still shows the secret`);
  }
  const after = await (await staffGet(`/staff/tasks/${id}?done=redacted`)).text();
  assert.match(after, /History entry redacted\./);
  assert.equal(after.match(/Redacted by Alice Admin at 2026-01-15 12:00 \(UTC\)/g)?.length, 4, 'each redacted entry says who and when');
  const publicPage = await (await staffGet(`/task/${id}`)).text();
  assert.match(publicPage, /FS#\d+ - Payment gateway maintenance</, 'the current summary is untouched');
  const apiHistory = ((await (await staffGet(`/api/v1/tasks/${id}/history`)).json()) as { items: HistoryEntry[] }).items;
  assert.deepEqual(
    apiHistory.map((e) => e.redacted?.by.displayName ?? null),
    history.map((e) => (holding.includes(e) ? 'Alice Admin' : null)),
  );

  // The database: no row of any table holds it, and neither do the bytes of the file and its write-ahead log.
  const tables = (site.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name);
  for (const table of tables) {
    assert.ok(!JSON.stringify(site.db.prepare(`SELECT * FROM "${table}"`).all()).includes(SECRET), `table ${table} holds the secret`);
  }
  for (const file of ['backend.sqlite', 'backend.sqlite-wal']) {
    const path = join(dir, file);
    if (existsSync(path)) assert.equal(readFileSync(path).indexOf(SECRET), -1, `${file} still holds the secret's bytes`);
  }
  assert.ok(existsSync(join(dir, 'backend.sqlite')));
});
