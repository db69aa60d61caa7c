// Control characters other than tab, CR and LF are refused at the edge with a 400 naming the field, on every API route
// and staff form that takes text (a NUL used to slip past SQLite's length() checks and end as a 500).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, type RequestOptions } from './api-harness.ts';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

const NUL = '\u0000';

/** Writing routes under /api/v1 and /staff that take no text at all (the path's id is checked by parseId). */
const NO_TEXT = new Set([
  'DELETE /api/v1/categories/:id',
  'DELETE /api/v1/close-reasons/:id',
  'DELETE /api/v1/sections/:id',
  'DELETE /api/v1/statuses/:id',
  'DELETE /api/v1/task-types/:id',
  'DELETE /api/v1/sections/:slug/override',
  'DELETE /api/v1/mail/aliases/:address',
  'DELETE /api/v1/mail/domains/:name',
  'DELETE /api/v1/mail/mailboxes/:address',
  'DELETE /api/v1/mail/policies/:scope/:key',
  'DELETE /api/v1/mail/domains/:name/switches/:id',
  'POST /api/v1/auth/logout',
  'POST /api/v1/tasks/:id/reopen',
  'POST /api/v1/users/:id/disable',
  'POST /api/v1/users/:id/enable',
  'POST /staff/logout',
  'POST /staff/lists/:kind/:id/delete',
  'POST /staff/mail/aliases/:address/remove',
  'POST /staff/mail/domains/:name/remove',
  'POST /staff/mail/domains/:name/switches/:id/cancel',
  'POST /staff/mail/mailboxes/:address/remove',
  'POST /staff/overrides/:slug/clear',
  'POST /staff/tasks/:id/reopen',
  'POST /staff/users/:id/disable',
  'POST /staff/users/:id/enable',
  // no body; the path's subscriber id is checked by parseId
  'POST /api/v1/notify/subscribers/:id/enable',
  'POST /staff/notify/subscribers/:id/enable',
  'POST /api/v1/tasks/:id/history/:entryId/redact',
  'POST /staff/tasks/:id/history/:entryId/redact',
  'POST /api/v1/telemetry/heartbeat',
  // no body; the path's node name and delivery id are refused by their rules (quarantine-api.test.ts: a NUL is a 400)
  'POST /api/v1/mail/quarantine/:node/:delivery/release',
  'POST /api/v1/mail/quarantine/:node/:delivery/delete',
  'POST /staff/mail/quarantine/:node/:delivery/release',
  'POST /staff/mail/quarantine/:node/:delivery/delete',
  'DELETE /api/v1/webhooks/:id',
  'POST /api/v1/webhooks/:id/enable',
  'POST /api/v1/webhooks/:id/disable',
  'POST /staff/webhooks/:id/remove',
  'POST /staff/webhooks/:id/enable',
  'POST /staff/webhooks/:id/disable',
]);

/** Text-taking routes whose control-character case lives in another file (node routes: their refusals are counted). */
const TESTED_ELSEWHERE = new Set([
  'POST /api/v1/telemetry', // test/integration/telemetry-ingest.test.ts (a NUL in messageId)
]);

interface ApiCase {
  path: string;
  body: Record<string, unknown>;
  field: string;
  anonymous?: boolean;
}
const USER_ID = 2; // the admin the harness adds after the seed's legacy account

/** One JSON body per text-taking API route, with a NUL in the field named. */
const API_CASES: Record<string, ApiCase> = {
  'POST /api/v1/auth/login': {
    path: '/api/v1/auth/login',
    body: { username: `${NUL}alice`, password: 'correct horse battery' },
    field: 'username',
    anonymous: true,
  },
  'POST /api/v1/tasks': { path: '/api/v1/tasks', body: { summary: `${NUL}x`, typeId: 1, categoryId: 1, statusId: 1 }, field: 'summary' },
  'PATCH /api/v1/tasks/:id': { path: '/api/v1/tasks/2733', body: { details: `ok${NUL}` }, field: 'details' },
  'POST /api/v1/tasks/:id/comments': { path: '/api/v1/tasks/2733/comments', body: { body: `${NUL}hello` }, field: 'body' },
  'POST /api/v1/tasks/:id/close': { path: '/api/v1/tasks/2733/close', body: { reason: `${NUL}Finished` }, field: 'reason' },
  'PUT /api/v1/tasks/:id/phases': {
    path: '/api/v1/tasks/2733/phases',
    body: { phases: [{ title: 'one' }, { title: `${NUL}two`, note: '' }] },
    field: 'phases.1.title',
  },
  'POST /api/v1/sections': { path: '/api/v1/sections', body: { slug: 'backups', name: `${NUL}Backups` }, field: 'name' },
  'PATCH /api/v1/sections/:id': { path: '/api/v1/sections/1', body: { description: `x${NUL}` }, field: 'description' },
  'POST /api/v1/task-types': { path: '/api/v1/task-types', body: { name: `${NUL}Type` }, field: 'name' },
  'PATCH /api/v1/task-types/:id': { path: '/api/v1/task-types/1', body: { name: `${NUL}Type` }, field: 'name' },
  'POST /api/v1/statuses': { path: '/api/v1/statuses', body: { name: `${NUL}Status` }, field: 'name' },
  'PATCH /api/v1/statuses/:id': { path: '/api/v1/statuses/1', body: { name: `${NUL}Status` }, field: 'name' },
  'POST /api/v1/close-reasons': { path: '/api/v1/close-reasons', body: { name: `${NUL}Reason` }, field: 'name' },
  'PATCH /api/v1/close-reasons/:id': { path: '/api/v1/close-reasons/1', body: { name: `${NUL}Reason` }, field: 'name' },
  'POST /api/v1/categories': { path: '/api/v1/categories', body: { name: `${NUL}Cat`, parentId: 1 }, field: 'name' },
  'PATCH /api/v1/categories/:id': { path: '/api/v1/categories/2', body: { name: `${NUL}Cat` }, field: 'name' },
  'PUT /api/v1/sections/:slug/override': {
    path: '/api/v1/sections/email/override',
    body: { state: 'issues', note: `${NUL}slow`, expiresAt: '2026-01-16T00:00:00Z' },
    field: 'note',
  },
  'POST /api/v1/users': { path: '/api/v1/users', body: { username: 'carol', displayName: `${NUL}Carol` }, field: 'displayName' },
  'POST /api/v1/mail/domains': { path: '/api/v1/mail/domains', body: { name: `example.org${NUL}` }, field: 'name' },
  'PATCH /api/v1/mail/domains/:name': {
    path: '/api/v1/mail/domains/example.com',
    body: { legacyHost: `${NUL}mx.old` },
    field: 'legacyHost',
  },
  'PUT /api/v1/mail/policies/:scope/:key': {
    path: '/api/v1/mail/policies/installation/*',
    body: { spam: 'tag', subjectPrefix: `[SPAM${NUL}] ` },
    field: 'subjectPrefix',
  },
  'POST /api/v1/mail/mailboxes': { path: '/api/v1/mail/mailboxes', body: { address: `${NUL}bob@example.com` }, field: 'address' },
  'POST /api/v1/mail/aliases': {
    path: '/api/v1/mail/aliases',
    body: { address: 'info@example.com', targets: ['a@example.net', `${NUL}b@example.net`] },
    field: 'targets.1',
  },
  'POST /api/v1/mail/domains/:name/switches': {
    path: '/api/v1/mail/domains/example.com/switches',
    body: { mode: 'active', taskId: 2733, phase: `${NUL}parallel service` },
    field: 'phase',
  },
  'POST /api/v1/mail/domains/:name/switch-now': {
    path: '/api/v1/mail/domains/example.com/switch-now',
    body: { mode: `active${NUL}` },
    field: 'mode',
  },
  'POST /api/v1/mail/import': {
    path: '/api/v1/mail/import',
    body: { csv: `domain,address,type,targets\nexample.com,x@example.com,mailbox,${NUL}\n`, dryRun: false, newDomainMode: 'active' },
    field: 'csv',
  },
  'POST /api/v1/webhooks': {
    path: '/api/v1/webhooks',
    body: { url: `https://hooks.example.net/${NUL}`, section: 'email' },
    field: 'url',
  },
  'POST /api/v1/auth/password': {
    path: '/api/v1/auth/password',
    body: { currentPassword: 'correct horse battery', newPassword: `${NUL}a new long password` },
    field: 'newPassword',
  },
  'POST /api/v1/subscriptions': {
    path: '/api/v1/subscriptions',
    body: { email: `${NUL}ann@example.net` },
    field: 'email',
    anonymous: true,
  },
  'POST /api/v1/users/:id/password': {
    path: `/api/v1/users/${USER_ID}/password`,
    body: { password: `${NUL}a fresh long password` },
    field: 'password',
  },
};

interface StaffCase {
  path: string;
  fields: Record<string, string>;
  field: string;
  anonymous?: boolean;
}

/** One form per text-taking staff page, with a NUL in the field named. */
const STAFF_CASES: Record<string, StaffCase> = {
  'POST /staff/login': {
    path: '/staff/login',
    fields: { username: `${NUL}alice`, password: 'correct horse battery', next: '/staff' },
    field: 'username',
    anonymous: true,
  },
  'POST /staff/preview': { path: '/staff/preview', fields: { markdown: `${NUL}*x*` }, field: 'markdown' },
  'POST /staff/tasks': {
    path: '/staff/tasks',
    fields: { summary: `${NUL}x`, typeId: '1', categoryId: '1', statusId: '1', action: 'save' },
    field: 'summary',
  },
  'POST /staff/tasks/:id': { path: '/staff/tasks/2733', fields: { summary: 'ok', details: `${NUL}`, action: 'save' }, field: 'details' },
  'POST /staff/tasks/:id/comments': { path: '/staff/tasks/2733/comments', fields: { body: `${NUL}hello`, action: 'save' }, field: 'body' },
  'POST /staff/tasks/:id/close': { path: '/staff/tasks/2733/close', fields: { reasonId: '1', at: `${NUL}2026-01-15T10:00` }, field: 'at' },
  'POST /staff/tasks/:id/phases': {
    path: '/staff/tasks/2733/phases',
    fields: { count: '1', phase_pos_0: '1', phase_title_0: `${NUL}one`, move: 'save' },
    field: 'phase_title_0',
  },
  'POST /staff/lists/:kind': { path: '/staff/lists/sections', fields: { name: `${NUL}Backups`, slug: 'backups' }, field: 'name' },
  'POST /staff/lists/:kind/:id': { path: '/staff/lists/statuses/1', fields: { name: `${NUL}Open` }, field: 'name' },
  'POST /staff/overrides/:slug': {
    path: '/staff/overrides/email',
    fields: { state: 'issues', note: `${NUL}slow`, expiresAt: '2026-01-16T10:00' },
    field: 'note',
  },
  'POST /staff/users': {
    path: '/staff/users',
    fields: { username: 'carol', displayName: `${NUL}Carol`, role: 'staff' },
    field: 'displayName',
  },
  'POST /staff/mail/domains': { path: '/staff/mail/domains', fields: { name: `example.org${NUL}`, mode: 'active' }, field: 'name' },
  'POST /staff/mail/domains/:name': {
    path: '/staff/mail/domains/example.com',
    fields: { mode: 'legacy', legacyHost: `${NUL}mx.old` },
    field: 'legacyHost',
  },
  'POST /staff/mail/domains/:name/switches': {
    path: '/staff/mail/domains/example.com/switches',
    fields: { form: 'schedule', mode: 'active', at: `2026-01-16T10:00${NUL}`, phase: '' },
    field: 'at',
  },
  'POST /staff/mail/domains/:name/switch-now': {
    path: '/staff/mail/domains/example.com/switch-now',
    fields: { mode: `active${NUL}` },
    field: 'mode',
  },
  'POST /staff/mail/mailboxes': {
    path: '/staff/mail/mailboxes',
    fields: { address: `${NUL}bob@example.com`, delivery: 'maildir' },
    field: 'address',
  },
  'POST /staff/mail/aliases': {
    path: '/staff/mail/aliases',
    fields: { address: 'info@example.com', targets: `a@example.net ${NUL}b@example.net` },
    field: 'targets',
  },
  'POST /staff/mail/policies/:scope/:key': {
    path: '/staff/mail/policies/installation/*',
    fields: { spam: 'tag', spamThresholdInherit: '1', subjectPrefix: `[SPAM${NUL}] ` },
    field: 'subjectPrefix',
  },
  'POST /staff/mail/import': {
    path: '/staff/mail/import',
    fields: { csv: `domain,address,type,targets\nexample.com,x@example.com,mailbox,${NUL}\n`, newDomainMode: 'active', action: 'import' },
    field: 'csv',
  },
  'POST /staff/webhooks': {
    path: '/staff/webhooks',
    fields: { url: 'https://hooks.example.net/', section: '', description: `ops${NUL}` },
    field: 'description',
  },
  'POST /staff/password': {
    path: '/staff/password',
    fields: { currentPassword: 'correct horse battery', newPassword: `${NUL}a new long password`, next: '/staff' },
    field: 'newPassword',
  },
  'POST /staff/users/:id/password': {
    path: `/staff/users/${USER_ID}/password`,
    fields: { password: `${NUL}a fresh long password` },
    field: 'password',
  },
};

/** The public site's forms (no session; the secret in a link is their authorization): a NUL is a 400 naming the field. */
const PUBLIC_CASES: Record<string, { path: string; fields: Record<string, string>; field: string }> = {
  'POST /subscribe': { path: '/subscribe', fields: { email: `ann${NUL}@example.net`, scope: 'all', website: '' }, field: 'email' },
  'POST /subscriptions/confirm': { path: '/subscriptions/confirm?token=x', fields: { x: NUL }, field: 'x' },
  'POST /subscriptions/manage': { path: '/subscriptions/manage?token=x', fields: { action: `delete${NUL}` }, field: 'action' },
  'POST /subscriptions/unsubscribe': {
    path: '/subscriptions/unsubscribe?token=x',
    fields: { 'List-Unsubscribe': `One-Click${NUL}` },
    field: 'List-Unsubscribe',
  },
};

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Rows written since the connection opened: equal before and after means the request wrote nothing. */
const changes = (db: { prepare(sql: string): { get(): unknown } }) => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;

test('every writing route under /api/v1 and /staff is listed here, as taking text (and tested) or as taking none', () => {
  const h = makeHarness();
  const writing = [
    ...new Set(h.app.routes.filter((r) => WRITES.has(r.method) && /^\/(api\/v1|staff)\//.test(r.path)).map((r) => `${r.method} ${r.path}`)),
  ];
  assert.ok(writing.length >= 50, `found only ${writing.length} writing routes`);
  const unlisted = writing.filter((k) => !(k in API_CASES) && !(k in STAFF_CASES) && !NO_TEXT.has(k) && !TESTED_ELSEWHERE.has(k));
  assert.deepEqual(unlisted, [], 'new writing routes: add a control-character case for each one that takes text');
  const stale = [...Object.keys(API_CASES), ...Object.keys(STAFF_CASES), ...NO_TEXT, ...TESTED_ELSEWHERE].filter(
    (k) => !writing.includes(k),
  );
  assert.deepEqual(stale, [], 'listed routes that no longer exist');
});

test('public forms: every writing route outside /api/v1 and /staff is listed; a NUL is a 400 naming the field, nothing written', async () => {
  const h = makeHarness();
  const writing = [
    ...new Set(h.app.routes.filter((r) => WRITES.has(r.method) && !/^\/(api|staff)\//.test(r.path)).map((r) => `${r.method} ${r.path}`)),
  ];
  assert.deepEqual(writing.sort(), Object.keys(PUBLIC_CASES).sort());
  // The pages render from the status snapshot, whose first build stores each section's state: built before counting.
  assert.equal((await h.request('GET', '/')).status, 200);
  for (const [route, c] of Object.entries(PUBLIC_CASES)) {
    const before = changes(h.db);
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const res = await h.request('POST', c.path, { raw: new URLSearchParams(c.fields).toString(), headers });
    const text = await res.text();
    assert.equal(res.status, 400, `${route}: ${text.slice(0, 300)}`);
    assert.ok(
      text.includes(`${c.field}: contains a control character`) || text.includes(`"field":"${c.field}"`),
      `${route} names ${c.field}`,
    );
    assert.equal(changes(h.db), before, `${route} wrote nothing`);
  }
});

test('API: a NUL in any text field is a 400 problem naming the field, and nothing is written', async () => {
  const h = makeHarness();
  const s = await h.admin();
  assert.equal(s.userId, USER_ID);
  const domain = await h.request('POST', '/api/v1/mail/domains', { session: s, body: { name: 'example.com' } });
  assert.equal(domain.status, 201);
  for (const [route, c] of Object.entries(API_CASES)) {
    const before = changes(h.db);
    const o: RequestOptions = { body: c.body, ...(c.anonymous ? {} : { session: s }) };
    const [method] = route.split(' ');
    const res = await h.request(method, c.path, o);
    const text = await res.text();
    assert.equal(res.status, 400, `${route}: ${text}`);
    assert.equal(res.headers.get('content-type'), 'application/problem+json', route);
    const body = JSON.parse(text) as { errors?: { field: string; message: string }[] };
    assert.ok(
      body.errors?.some((e) => e.field === c.field && /control character/.test(e.message)),
      `${route} names ${c.field}: ${text}`,
    );
    assert.equal(changes(h.db), before, `${route} wrote nothing`);
  }
});

test('staff forms: a NUL in any text field is a 400 page naming the field, and nothing is written', async () => {
  const h = makeStaffHarness();
  await h.addUser('alice', 'admin');
  const admin = h.browser();
  await admin.login('alice');
  assert.equal((h.db.prepare(`SELECT id FROM users WHERE username = 'alice'`).get() as { id: number }).id, USER_ID);
  assert.equal((await admin.post('/staff/mail/domains', { name: 'example.com', mode: 'active' })).status, 303);
  for (const [route, c] of Object.entries(STAFF_CASES)) {
    const b = c.anonymous ? h.browser() : admin;
    if (c.anonymous) await b.get('/staff/login');
    else await b.get('/staff');
    const before = changes(h.db);
    const r = await b.post(c.path, c.fields);
    assert.equal(r.status, 400, `${route}: ${visibleText(r.text).slice(0, 300)}`);
    assert.match(r.text, /^<!doctype html>/, `${route} answers with a page`);
    assert.ok(
      visibleText(r.text).includes(`${c.field} : contains a control character`),
      `${route} names ${c.field}: ${visibleText(r.text).slice(0, 400)}`,
    );
    assert.equal(changes(h.db), before, `${route} wrote nothing`);
  }
});

test('tab, CR and LF pass; other C0 and C1 controls and DEL are refused, in bodies, queries and path parameters', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const ok = await h.request('POST', '/api/v1/tasks/2733/comments', { session: s, body: { body: 'a\tb\r\nc\nd' } });
  assert.equal(ok.status, 201);
  for (const ch of ['\u0001', '\u0008', '\u000b', '\u000c', '\u001b', '\u007f', '\u0085', '\u009f']) {
    const res = await h.request('POST', '/api/v1/tasks/2733/comments', { session: s, body: { body: `a${ch}b` } });
    assert.equal(res.status, 400, `U+${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  // A key is named with the character escaped, so the answer never carries it raw.
  const key = await h.request('PATCH', '/api/v1/tasks/2733', { session: s, body: { [`sum${NUL}mary`]: 'x' } });
  assert.equal(key.status, 400);
  assert.ok(JSON.parse(await key.text()).errors.some((e: { field: string }) => e.field === 'sum\\u0000mary'));
  const query = await h.request('GET', '/api/v1/tasks?q=%00x');
  assert.equal(query.status, 400);
  assert.ok(JSON.parse(await query.text()).errors.some((e: { field: string }) => e.field === 'q'));
  const param = await h.request('GET', '/api/v1/mail/domains/%00example.com', { session: s });
  assert.equal(param.status, 400);
  assert.ok(JSON.parse(await param.text()).errors.some((e: { field: string }) => e.field === 'name'));
});
