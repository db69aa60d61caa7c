// Override and audit APIs over HTTP: session + CSRF + role on every write, expiry by the clock, audit readable by admins only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json } from './api-harness.ts';
import type { AuditItem } from '#server/routes/audit.ts';

interface OverrideView {
  section: { slug: string; name: string };
  state: string;
  note: string;
  setBy: string | null;
  setAt: string;
  expiresAt: string;
  active: boolean;
}
type Overrides = { items: OverrideView[] };
type AuditPage = { items: AuditItem[]; nextBefore: number | null };

test('anonymous callers get 401 for every override and audit route', async () => {
  const h = makeHarness();
  for (const [method, path] of [
    ['GET', '/api/v1/overrides'],
    ['PUT', '/api/v1/sections/email/override'],
    ['DELETE', '/api/v1/sections/email/override'],
    ['GET', '/api/v1/audit'],
  ]) {
    const res = await h.request(method, path, {
      body: method === 'PUT' ? { state: 'issues', expiresAt: '2026-01-15T13:00:00Z' } : undefined,
    });
    assert.equal(res.status, 401, `${method} ${path}`);
  }
});

test('staff set and clear an override with the CSRF token; without it nothing changes', async () => {
  const h = makeHarness({ start: '2026-01-15T12:00:00.000Z' });
  await h.addUser('bob', 'staff');
  const bob = await h.login('bob');
  const body = { state: 'issues', note: 'Mail delayed at one provider', expiresAt: '2026-01-15T14:00:00+01:00' };

  let res = await h.request('PUT', '/api/v1/sections/email/override', { session: bob, csrf: false, body });
  assert.equal(res.status, 403);
  res = await h.request('PUT', '/api/v1/sections/email/override', { session: bob, csrf: 'forged', body });
  assert.equal(res.status, 403);
  assert.equal((await json<Overrides>(await h.request('GET', '/api/v1/overrides', { session: bob }))).items.length, 0);

  res = await h.request('PUT', '/api/v1/sections/email/override', { session: bob, body });
  assert.equal(res.status, 200);
  const set = await json<OverrideView>(res);
  assert.deepEqual(
    { ...set, setAt: undefined },
    {
      section: { slug: 'email', name: 'Email' },
      state: 'issues',
      note: 'Mail delayed at one provider',
      setBy: 'bob (display)',
      setAt: undefined,
      expiresAt: '2026-01-15T13:00:00.000Z',
      active: true,
    },
  );

  h.advance(60 * 60_000); // 13:00: the expiry itself
  const listed = await json<Overrides>(await h.request('GET', '/api/v1/overrides', { session: bob }));
  assert.equal(listed.items[0].active, false, 'expired by the clock alone');

  res = await h.request('DELETE', '/api/v1/sections/email/override', { session: bob, csrf: false });
  assert.equal(res.status, 403);
  res = await h.request('DELETE', '/api/v1/sections/email/override', { session: bob });
  assert.equal(res.status, 204);
  assert.equal((await json<Overrides>(await h.request('GET', '/api/v1/overrides', { session: bob }))).items.length, 0);
});

test('bad input is a 4xx naming the field, never a write', async () => {
  const h = makeHarness();
  const admin = await h.admin();
  const cases: [string, unknown, number][] = [
    ['/api/v1/sections/email/override', { state: 'broken', expiresAt: '2026-01-15T13:00:00Z' }, 400],
    ['/api/v1/sections/email/override', { state: 'issues', expiresAt: 'tomorrow' }, 400],
    ['/api/v1/sections/email/override', { state: 'issues', expiresAt: '2026-01-15T11:00:00Z' }, 400],
    ['/api/v1/sections/email/override', { state: 'issues', expiresAt: '2026-03-15T11:00:00Z' }, 400],
    ['/api/v1/sections/email/override', { state: 'issues', expiresAt: '2026-01-15T13:00:00Z', extra: 1 }, 400],
    ['/api/v1/sections/email/override', { state: 'issues', note: 'x'.repeat(1001), expiresAt: '2026-01-15T13:00:00Z' }, 400],
    ['/api/v1/sections/nope/override', { state: 'issues', expiresAt: '2026-01-15T13:00:00Z' }, 404],
  ];
  for (const [path, body, status] of cases) {
    const res = await h.request('PUT', path, { session: admin, body });
    assert.equal(res.status, status, JSON.stringify(body));
    assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
  }
  assert.equal((await json<Overrides>(await h.request('GET', '/api/v1/overrides', { session: admin }))).items.length, 0);
});

test('the audit log shows logins, failed logins and override changes to admins, and is closed to staff', async () => {
  const h = makeHarness();
  const admin = await h.admin();
  await h.addUser('bob', 'staff');
  const bad = await h.request('POST', '/api/v1/auth/login', { body: { username: 'bob', password: 'wrong password' } });
  assert.equal(bad.status, 401);
  const bob = await h.login('bob');
  await h.request('PUT', '/api/v1/sections/dns/override', { session: bob, body: { state: 'unknown', expiresAt: '2026-01-15T13:00:00Z' } });

  assert.equal((await h.request('GET', '/api/v1/audit', { session: bob })).status, 403);
  const res = await h.request('GET', '/api/v1/audit', { session: admin });
  assert.equal(res.status, 200);
  const { items } = await json<AuditPage>(res);
  const actions = items.map((i: { action: string; actor: string }) => `${i.actor} ${i.action}`);
  assert.ok(actions.includes('bob section.override.set'), actions.join(', '));
  assert.ok(
    actions.some((a: string) => a.startsWith('bob ') && /fail/.test(a)),
    `a failed login is audited: ${actions.join(', ')}`,
  );
  assert.ok(actions.filter((a: string) => /login/.test(a) && !/fail/.test(a)).length >= 2, 'successful logins are audited');

  const page1 = await json<AuditPage>(await h.request('GET', '/api/v1/audit?limit=2', { session: admin }));
  assert.equal(page1.items.length, 2);
  const page2 = await json<AuditPage>(await h.request('GET', `/api/v1/audit?limit=2&before=${page1.nextBefore}`, { session: admin }));
  assert.ok(page2.items[0].id < page1.items[1].id);
  const filtered = await json<AuditPage>(await h.request('GET', '/api/v1/audit?action=section.', { session: admin }));
  assert.deepEqual(
    filtered.items.map((i: { action: string }) => i.action),
    ['section.override.set'],
  );
  assert.equal((await h.request('GET', '/api/v1/audit?limit=0', { session: admin })).status, 400);
});
