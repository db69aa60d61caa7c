// Staff login: cookie attributes, hashed session ids, wrong passwords, lockout per account and IP, CSRF, rotation, expiry, logout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { makeHarness, json, cookieOf } from './api-harness.ts';
import { Hono } from 'hono';
import { recentAudit } from '#server/store/audit.ts';
import { requireCsrf, requireAdmin, currentStaff } from '#server/http/auth.ts';
import { Problem, problemResponse } from '#server/http/problem.ts';

const login = (h: ReturnType<typeof makeHarness>, username: string, password: string, o: { ip?: string; cookie?: string } = {}) =>
  h.request('POST', '/api/v1/auth/login', { body: { username, password }, ip: o.ip, headers: o.cookie ? { cookie: o.cookie } : {} });

const whoAmI = async (h: ReturnType<typeof makeHarness>, cookie: string) =>
  (await json<{ user: { username: string } | null }>(await h.request('GET', '/api/v1/auth/session', { headers: { cookie } }))).user
    ?.username ?? null;

test('login sets an HttpOnly SameSite=Lax cookie whose sha256 (not the value) is stored; session endpoint answers', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  const res = await login(h, 'alice', 'correct horse battery');
  assert.equal(res.status, 200);
  const setCookie = res.headers.get('set-cookie')!;
  assert.match(setCookie, /^tidings_session=[A-Za-z0-9_-]{40,}; /);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Lax/);
  assert.match(setCookie, /Path=\//);
  assert.doesNotMatch(setCookie, /Secure/);
  const body = await json<{ user: { username: string; role: string }; csrfToken: string }>(res);
  assert.deepEqual([body.user.username, body.user.role], ['alice', 'admin']);
  assert.ok(body.csrfToken.length >= 32);

  const value = cookieOf(res).split('=')[1];
  const stored = h.db.prepare('SELECT id_hash FROM sessions').all() as { id_hash: string }[];
  assert.deepEqual(
    stored.map((r) => r.id_hash),
    [createHash('sha256').update(value).digest('hex')],
  );

  const session = await json<{ user: { username: string }; csrfToken: string }>(
    await h.request('GET', '/api/v1/auth/session', { headers: { cookie: cookieOf(res) } }),
  );
  assert.equal(session.user.username, 'alice');
  assert.equal(session.csrfToken, body.csrfToken);
  assert.deepEqual(await json(await h.request('GET', '/api/v1/auth/session')), { user: null, csrfToken: null, expiresAt: null });
  assert.ok(recentAudit(h.db).some((a) => a.action === 'login' && a.actor === 'alice'));
});

test('on an https public URL the cookie is __Host- prefixed and Secure', async () => {
  const h = makeHarness({ publicUrl: 'https://status.example.net' });
  await h.addUser('alice', 'admin');
  const res = await login(h, 'alice', 'correct horse battery');
  const setCookie = res.headers.get('set-cookie')!;
  assert.match(setCookie, /^__Host-tidings_session=/);
  assert.match(setCookie, /Secure/);
  assert.match(setCookie, /Path=\//);
  assert.doesNotMatch(setCookie, /Domain=/);
  assert.equal(await whoAmI(h, cookieOf(res)), 'alice');
  assert.equal(await whoAmI(h, cookieOf(res).replace('__Host-', '')), null, 'the unprefixed name is not accepted');
});

test('wrong password and unknown user get the same 401 and are audited', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  const wrong = await login(h, 'alice', 'not the password');
  const unknown = await login(h, 'mallory', 'not the password');
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.equal((await json<{ detail: string }>(wrong)).detail, (await json<{ detail: string }>(unknown)).detail);
  assert.equal(wrong.headers.get('set-cookie'), null);
  const failed = recentAudit(h.db)
    .filter((a) => a.action === 'login.failed')
    .map((a) => a.actor)
    .sort();
  assert.deepEqual(failed, ['alice', 'mallory']);
  assert.equal((await login(h, 'legacy-admin', '')).status, 400, 'empty password is a validation error');
  assert.equal((await login(h, 'legacy-admin', 'anything at all')).status, 401, 'the seeded author cannot log in');
});

test('lockout: after 5 failures the account answers 429 with Retry-After, even to the right password, until the window passes', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  for (let i = 0; i < 5; i++) assert.equal((await login(h, 'alice', `guess ${i}`, { ip: `198.51.100.${i}` })).status, 401);
  const blocked = await login(h, 'ALICE', 'correct horse battery', { ip: '203.0.113.9' });
  assert.equal(blocked.status, 429);
  const retry = Number(blocked.headers.get('retry-after'));
  assert.ok(retry > 0 && retry <= 900, `Retry-After ${retry}`);
  assert.equal(blocked.headers.get('set-cookie'), null);
  assert.ok(recentAudit(h.db).some((a) => a.action === 'login.limited'));
  h.advance(retry * 1000 + 1000);
  assert.equal((await login(h, 'alice', 'correct horse battery')).status, 200);
  // A success clears the account's count: one more failure does not lock again.
  assert.equal((await login(h, 'alice', 'wrong once more')).status, 401);
  assert.equal((await login(h, 'alice', 'correct horse battery')).status, 200);
});

test('per-IP limit: many failures from one address block it for every account, other addresses still work', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  for (let i = 0; i < 20; i++) await login(h, `user${i}`, 'spray password', { ip: '203.0.113.66' });
  assert.equal((await login(h, 'alice', 'correct horse battery', { ip: '203.0.113.66' })).status, 429);
  assert.equal((await login(h, 'alice', 'correct horse battery', { ip: '203.0.113.67' })).status, 200);
});

test('writes: 401 without a session, 403 without or with a wrong CSRF token, the _csrf form field works', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const before = h.db.prepare('SELECT version FROM tasks WHERE id = 2733').get();
  const anon = await h.request('PATCH', '/api/v1/tasks/2733', { body: { percent: 5 } });
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get('content-type'), 'application/problem+json');
  assert.equal((await h.request('PATCH', '/api/v1/tasks/2733', { session: s, csrf: false, body: { percent: 5 } })).status, 403);
  assert.equal((await h.request('PATCH', '/api/v1/tasks/2733', { session: s, csrf: 'x'.repeat(43), body: { percent: 5 } })).status, 403);
  assert.equal((await h.request('POST', '/api/v1/tasks/2733/reopen', { session: s, csrf: '' })).status, 403);
  assert.deepEqual(h.db.prepare('SELECT version FROM tasks WHERE id = 2733').get(), before, 'nothing was written');
  const other = await h.login('alice');
  assert.equal(
    (await h.request('PATCH', '/api/v1/tasks/2733', { session: s, csrf: other.csrf, body: { percent: 5 } })).status,
    403,
    "another session's token",
  );
  assert.equal((await h.request('PATCH', '/api/v1/tasks/2733', { session: s, body: { percent: 5 } })).status, 200);

  const formLogout = await h.app.request('/api/v1/auth/logout', {
    method: 'POST',
    headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: `_csrf=${encodeURIComponent(s.csrf)}`,
  });
  assert.equal(formLogout.status, 204);
  const badForm = await h.app.request('/api/v1/auth/logout', {
    method: 'POST',
    headers: { cookie: other.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: '_csrf=nope',
  });
  assert.equal(badForm.status, 403);
});

test('session rotation: a new id on every login, the old cookie stops working', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  const first = await h.login('alice');
  const second = await h.login('alice', undefined, { cookie: first.cookie });
  assert.notEqual(second.cookie, first.cookie);
  assert.notEqual(second.csrf, first.csrf);
  assert.equal(await whoAmI(h, first.cookie), null);
  assert.equal(await whoAmI(h, second.cookie), 'alice');
  assert.equal((await h.request('PATCH', '/api/v1/tasks/2733', { session: first, body: { percent: 1 } })).status, 401);
  // A cookie planted before login (fixation) is not promoted to a session either.
  const planted = `tidings_session=${'A'.repeat(43)}`;
  const third = await h.login('alice', undefined, { cookie: planted });
  assert.notEqual(third.cookie, planted);
  assert.equal(await whoAmI(h, planted), null);
});

test('logout ends the session and clears the cookie; sessions expire', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  const s = await h.login('alice');
  const out = await h.request('POST', '/api/v1/auth/logout', { session: s });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie')!, /tidings_session=;.*Max-Age=0/);
  assert.equal(await whoAmI(h, s.cookie), null);
  assert.equal((await h.request('POST', '/api/v1/auth/logout', { session: s })).status, 401);

  const t = await h.login('alice');
  h.advance(11 * 3_600_000);
  assert.equal(await whoAmI(h, t.cookie), 'alice');
  h.advance(2 * 3_600_000);
  assert.equal(await whoAmI(h, t.cookie), null, 'expired after 12 hours');
});

test('the exported middleware guards any router: requireCsrf lets anonymous writes through, requireAdmin checks role and token', async () => {
  const h = makeHarness();
  const admin = await h.admin();
  await h.addUser('sam', 'staff');
  const staff = await h.login('sam');
  const deps = { db: h.db, config: h.config, clock: h.now };
  const other = new Hono();
  other.onError((err, c) => (err instanceof Problem ? problemResponse(c, err) : c.text('boom', 500)));
  other.post('/feedback', requireCsrf(deps), (c) => c.text('thanks'));
  other.post('/danger', requireAdmin(deps), (c) => c.text(`ok ${currentStaff(c).user.username}`));
  other.get('/danger', requireAdmin(deps), (c) => c.text('read ok'));
  const send = (method: string, path: string, headers: Record<string, string>) => other.request(path, { method, headers });

  assert.equal((await send('POST', '/feedback', {})).status, 200, 'no session: nothing to forge');
  assert.equal((await send('POST', '/feedback', { cookie: staff.cookie })).status, 403);
  assert.equal((await send('POST', '/feedback', { cookie: staff.cookie, 'x-csrf-token': staff.csrf })).status, 200);
  assert.equal((await send('POST', '/danger', {})).status, 401);
  assert.equal((await send('POST', '/danger', { cookie: staff.cookie, 'x-csrf-token': staff.csrf })).status, 403);
  assert.equal((await send('POST', '/danger', { cookie: admin.cookie })).status, 403, 'admin without token');
  assert.equal(await (await send('POST', '/danger', { cookie: admin.cookie, 'x-csrf-token': admin.csrf })).text(), 'ok alice');
  assert.equal((await send('GET', '/danger', { cookie: admin.cookie })).status, 200, 'reads need no token');
});

test('an oversized body is refused before it is read', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const res = await h.request('PATCH', '/api/v1/tasks/2733', {
    session: s,
    raw: JSON.stringify({ details: 'x'.repeat(1_100_000) }),
    headers: { 'content-length': '1100020' },
  });
  assert.equal(res.status, 413);
});
