// Staff pages for lists, overrides, the audit log and users: what an admin does day to day, without JavaScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

test('sections and lists: add, rename, reorder, delete; conflicts and references are explained, not 500s', async () => {
  const h = makeStaffHarness();
  await h.addUser('alice', 'admin');
  const b = h.browser();
  await b.login('alice');
  let r = await b.post('/staff/lists/sections', { name: 'Backups', slug: 'backups', description: 'Nightly backups', position: '9' });
  assert.equal(r.status, 303);
  const id = (h.db.prepare(`SELECT id FROM sections WHERE slug = 'backups'`).get() as { id: number }).id;
  r = await b.post(`/staff/lists/sections/${id}`, { name: 'Backup & restore', slug: 'backups', description: 'Nightly', position: '0' });
  assert.equal(r.status, 303);
  assert.deepEqual(h.db.prepare('SELECT name, position FROM sections WHERE id = ?').get(id), { name: 'Backup & restore', position: 0 });
  r = await b.post('/staff/lists/sections', { name: 'Email', slug: 'email2', position: '1' });
  assert.ok(r.status === 409 || r.status === 400, String(r.status));
  assert.match(visibleText(r.text), /email|taken|exists/i);
  r = await b.post('/staff/lists/sections', { name: 'Bad slug', slug: 'Not A Slug', position: '1' });
  assert.equal(r.status, 400);
  assert.match(r.text, /lower-case letters/);

  const root = (h.db.prepare(`SELECT id FROM categories WHERE parent_id IS NULL`).get() as { id: number }).id;
  r = await b.post('/staff/lists/categories', { name: 'Backups', parentId: String(root), position: '7' });
  assert.equal(r.status, 303);
  const page = visibleText((await b.get('/staff/lists')).text);
  assert.match(page, /All Services → Backups/);

  // An empty "Order" puts a new entry after the others, not among the first ones.
  r = await b.post('/staff/lists/statuses', { name: 'Blocked', position: '' });
  assert.equal(r.status, 303);
  const statuses = h.db.prepare('SELECT name FROM statuses ORDER BY position, id').all() as { name: string }[];
  assert.equal(statuses.at(-1)!.name, 'Blocked');

  const upgrade = (h.db.prepare(`SELECT id FROM task_types WHERE name = 'Upgrade'`).get() as { id: number }).id;
  r = await b.post(`/staff/lists/task-types/${upgrade}/delete`, {});
  assert.ok(r.status >= 400 && r.status < 500, 'a type in use cannot be deleted');
  assert.ok(h.db.prepare('SELECT 1 FROM task_types WHERE id = ?').get(upgrade));
  r = await b.post(`/staff/lists/sections/${id}/delete`, {});
  assert.equal(r.status, 303);
  assert.equal(h.db.prepare('SELECT 1 FROM sections WHERE id = ?').get(id), undefined);
});

test('overrides page: set in the display zone with a note, shown until it expires by itself, cleared early', async () => {
  const h = makeStaffHarness({ env: { TIDINGS_DISPLAY_TZ: 'Europe/Berlin' }, start: '2026-07-01T10:00:00.000Z' });
  await h.addUser('bob', 'staff');
  const b = h.browser();
  await b.login('bob');
  let r = await b.post('/staff/overrides/email', { state: 'issues', note: 'Delays at one provider', expiresAt: '2026-07-01T14:00' });
  assert.equal(r.status, 303, r.text.slice(0, 400));
  assert.deepEqual(h.db.prepare('SELECT state, note, expires_at AS e FROM section_overrides').get(), {
    state: 'issues',
    note: 'Delays at one provider',
    e: '2026-07-01T12:00:00.000Z',
  });
  let text = visibleText((await b.get('/staff/overrides')).text);
  assert.match(
    text,
    /Email Override in force: issues \(active issues or failures\) until 2026-07-01 14:00 — “Delays at one provider”, set by bob \(display\)/,
  );
  h.advance(2 * 3_600_000);
  text = visibleText((await b.get('/staff/overrides')).text);
  assert.doesNotMatch(text, /Override in force/, 'expired on its own at 14:00 Berlin');

  r = await b.post('/staff/overrides/dns', { state: 'announcement', note: '', expiresAt: '2026-07-01T18:00' });
  assert.equal(r.status, 303);
  r = await b.post('/staff/overrides/dns/clear', {});
  assert.equal(r.status, 303);
  assert.equal(
    h.db.prepare(`SELECT 1 FROM section_overrides o JOIN sections s ON s.id = o.section_id WHERE s.slug = 'dns'`).get(),
    undefined,
  );
  r = await b.post('/staff/overrides/email', { state: 'purple', expiresAt: '2026-07-01T18:00' });
  assert.equal(r.status, 400);
  r = await b.post('/staff/overrides/email', { state: 'issues', expiresAt: '2026-07-01T11:00' });
  assert.equal(r.status, 400, 'an expiry in the past is refused');
  assert.match(r.text, /already be over/);
});

test('users: an admin adds staff (one-time password shown once), resets a password, and disabling ends a session at once', async () => {
  const h = makeStaffHarness();
  await h.addUser('alice', 'admin');
  const a = h.browser();
  await a.login('alice');
  let r = await a.post('/staff/users', { username: 'carol', displayName: 'Carol', role: 'staff', password: '' });
  assert.equal(r.status, 200);
  const pw = /One-time password for <strong>carol<\/strong>: <code>([^<]+)<\/code>/.exec(r.text)?.[1];
  assert.ok(pw, 'generated password shown');
  assert.doesNotMatch((await a.get('/staff/users')).text, new RegExp(pw!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'and never again');

  const carol = h.browser();
  const first = await carol.submitLogin('carol', pw!);
  assert.equal(first.location, '/staff/password?next=%2Fstaff', 'a one-time password is replaced before anything else');
  await carol.get(first.location!);
  assert.equal(
    (await carol.post('/staff/password', { currentPassword: pw!, newPassword: 'carols own passphrase', next: '/staff' })).location,
    '/staff?done=password',
  );
  assert.equal((await carol.get('/staff')).status, 200);
  const carolId = (h.db.prepare(`SELECT id FROM users WHERE username = 'carol'`).get() as { id: number }).id;
  r = await a.post(`/staff/users/${carolId}/disable`, {});
  assert.equal(r.status, 303);
  assert.equal((await carol.get('/staff')).status, 303, 'her open session ended with the disable');
  assert.equal((await carol.post('/staff/tasks/2733/comments', { body: 'still here?' })).status, 401);
  const relogin = await carol.submitLogin('carol', 'carols own passphrase');
  assert.equal(relogin.status, 401);

  r = await a.post(`/staff/users/${carolId}/enable`, {});
  assert.equal(r.status, 303);
  r = await a.post(`/staff/users/${carolId}/password`, {});
  const pw2 = /<code>([^<]+)<\/code>/.exec(r.text)?.[1];
  assert.ok(pw2 && pw2 !== pw);
  await carol.login('carol', pw2!);

  r = await a.post('/staff/users', { username: 'bad name!', role: 'staff' });
  assert.equal(r.status, 400);
  r = await a.post('/staff/users', { username: 'carol', role: 'staff', password: 'another long password' });
  assert.equal(r.status, 409);
});

test('audit page: admins see logins, failed logins and staff actions, filtered and paged', async () => {
  const h = makeStaffHarness();
  await h.addUser('alice', 'admin');
  await h.addUser('bob', 'staff');
  const nobody = h.browser();
  await nobody.submitLogin('bob', 'wrong wrong wrong');
  const bob = h.browser();
  await bob.login('bob');
  await bob.post('/staff/overrides/email', { state: 'unknown', note: '<b>hi</b>', expiresAt: '2026-01-15T14:00' });
  const a = h.browser();
  await a.login('alice');
  const text = visibleText((await a.get('/staff/audit')).text);
  assert.match(text, /bob.*section\.override\.set email/);
  assert.match(text, /bob.*login[\w.-]*fail|bob.*fail/);
  const raw = (await a.get('/staff/audit')).text;
  assert.doesNotMatch(raw, /<b>hi<\/b>/, 'details are escaped');
  const filtered = visibleText((await a.get('/staff/audit?action=section.')).text);
  assert.doesNotMatch(filtered, /login/i);
  const paged = (await a.get('/staff/audit?action=&actor=&before=2')).text;
  assert.equal((paged.match(/<tr><td>/g) ?? []).length, 1, 'only entry 1 is older than 2');
});
