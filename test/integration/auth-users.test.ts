// Account management is admin-only: staff get 403; disabling or resetting a password ends that user's sessions at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json } from './api-harness.ts';
import { recentAudit } from '#server/store/audit.ts';

type StaffView = { id: number; username: string; role: string; disabled: boolean; canLogIn: boolean };

test('staff cannot manage users; anonymous callers are asked to log in', async () => {
  const h = makeHarness();
  await h.addUser('sam', 'staff');
  const s = await h.login('sam');
  assert.equal((await h.request('GET', '/api/v1/users')).status, 401);
  assert.equal((await h.request('GET', '/api/v1/users', { session: s })).status, 403);
  assert.equal((await h.request('POST', '/api/v1/users', { session: s, body: { username: 'eve', role: 'admin' } })).status, 403);
  assert.equal((await h.request('POST', `/api/v1/users/${s.userId}/password`, { session: s, body: {} })).status, 403);
  assert.equal((await h.request('POST', '/api/v1/users/1/disable', { session: s })).status, 403);
  assert.equal((h.db.prepare("SELECT count(*) AS n FROM users WHERE username = 'eve'").get() as { n: number }).n, 0);
  // Staff may still do staff work.
  assert.equal((await h.request('PATCH', '/api/v1/tasks/2733', { session: s, body: { percent: 90 } })).status, 200);
});

test('admin lists, adds (with a one-time password), resets and disables accounts; hashes never leave', async () => {
  const h = makeHarness();
  const admin = await h.admin();
  const added = await h.request('POST', '/api/v1/users', {
    session: admin,
    body: { username: 'bob', displayName: 'Bob B.', role: 'staff' },
  });
  assert.equal(added.status, 201);
  const { user, password } = await json<{ user: StaffView; password: string }>(added);
  assert.deepEqual([user.username, user.role, user.disabled, user.canLogIn], ['bob', 'staff', false, true]);
  assert.ok(password.length >= 20);
  const bob = await h.login('bob', password);
  assert.equal(
    (await h.request('POST', '/api/v1/users', { session: admin, body: { username: 'BOB' } })).status,
    409,
    'usernames are case-insensitive',
  );
  assert.equal((await h.request('POST', '/api/v1/users', { session: admin, body: { username: 'carol', password: 'short' } })).status, 400);
  assert.equal((await h.request('POST', '/api/v1/users', { session: admin, body: { username: 'bad name' } })).status, 400);
  assert.equal((await h.request('POST', '/api/v1/users', { session: admin, body: { username: 'dave', role: 'root' } })).status, 400);

  const listing = await h.request('GET', '/api/v1/users', { session: admin });
  const text = await listing.text();
  assert.doesNotMatch(text, /argon2|password/i);
  const items = (JSON.parse(text) as { items: StaffView[] }).items;
  assert.deepEqual(items.map((u) => u.username).sort(), ['alice', 'bob', 'legacy-admin']);
  assert.equal(items.find((u) => u.username === 'legacy-admin')!.canLogIn, false);

  // Reset: old password and every existing session of bob stop working.
  const reset = await json<{ password: string }>(
    await h.request('POST', `/api/v1/users/${bob.userId}/password`, { session: admin, body: {} }),
  );
  assert.notEqual(reset.password, password);
  assert.equal((await h.request('PATCH', '/api/v1/tasks/2733', { session: bob, body: { percent: 3 } })).status, 401);
  assert.equal((await h.request('POST', '/api/v1/auth/login', { body: { username: 'bob', password } })).status, 401);
  await h.login('bob', reset.password);
  assert.equal(
    (await h.request('POST', `/api/v1/users/${bob.userId}/password`, { session: admin, body: { password: 'a chosen passphrase' } })).status,
    200,
  );
  const bob2 = await h.login('bob', 'a chosen passphrase');

  // Disable: the live session dies at once, and login is refused.
  const disabled = await json<StaffView>(await h.request('POST', `/api/v1/users/${bob.userId}/disable`, { session: admin }));
  assert.equal(disabled.disabled, true);
  assert.equal((h.db.prepare('SELECT count(*) AS n FROM sessions WHERE user_id = ?').get(bob.userId) as { n: number }).n, 0);
  assert.equal((await h.request('PATCH', '/api/v1/tasks/2733', { session: bob2, body: { percent: 3 } })).status, 401);
  assert.equal((await h.request('POST', '/api/v1/auth/login', { body: { username: 'bob', password: 'a chosen passphrase' } })).status, 401);
  await h.request('POST', `/api/v1/users/${bob.userId}/enable`, { session: admin });
  await h.login('bob', 'a chosen passphrase');

  const audit = recentAudit(h.db)
    .filter((a) => a.actor === 'alice')
    .map((a) => a.action);
  for (const action of ['user.add', 'user.reset-password', 'user.disable', 'user.enable']) assert.ok(audit.includes(action), action);
  assert.equal((await h.request('POST', '/api/v1/users/9999/disable', { session: admin })).status, 404);
});

test('the last admin who can log in cannot be disabled', async () => {
  const h = makeHarness();
  const admin = await h.admin();
  const res = await h.request('POST', `/api/v1/users/${admin.userId}/disable`, { session: admin });
  assert.equal(res.status, 409);
  await h.addUser('second', 'admin');
  assert.equal((await h.request('POST', `/api/v1/users/${admin.userId}/disable`, { session: admin })).status, 200);
  assert.equal((await h.request('GET', '/api/v1/users', { session: admin })).status, 401, 'disabling yourself ends your own session');
});

test('a user changes their own password: needs the current one, other sessions end, this one stays', async () => {
  const h = makeHarness();
  await h.addUser('sam', 'staff');
  const here = await h.login('sam');
  const elsewhere = await h.login('sam');
  const change = (currentPassword: string, newPassword: string) =>
    h.request('POST', '/api/v1/auth/password', { session: here, body: { currentPassword, newPassword } });
  assert.equal((await change('wrong guess', 'a brand new passphrase')).status, 403);
  assert.equal((await change('correct horse battery', 'short')).status, 400);
  assert.equal(
    (
      await h.request('POST', '/api/v1/auth/password', {
        session: here,
        csrf: false,
        body: { currentPassword: 'correct horse battery', newPassword: 'a brand new passphrase' },
      })
    ).status,
    403,
  );
  assert.equal((await change('correct horse battery', 'a brand new passphrase')).status, 204);
  assert.equal((await h.request('PATCH', '/api/v1/tasks/2733', { session: here, body: { percent: 7 } })).status, 200, 'this session stays');
  assert.equal(
    (await h.request('PATCH', '/api/v1/tasks/2733', { session: elsewhere, body: { percent: 8 } })).status,
    401,
    'the other one ended',
  );
  assert.equal(
    (await h.request('POST', '/api/v1/auth/login', { body: { username: 'sam', password: 'correct horse battery' } })).status,
    401,
  );
  await h.login('sam', 'a brand new passphrase');
  assert.ok(recentAudit(h.db).some((a) => a.action === 'password.change' && a.actor === 'sam'));
});
