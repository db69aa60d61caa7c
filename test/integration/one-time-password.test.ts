// Generated passwords are one-time: the session they open may only set a new password (every other staff page
// redirects there, every other staff API answers 403), a second login with them fails, and unused they expire after 24 h.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';
import { runCliInProcess } from '../support/cli-in-process.ts';
import { recentAudit } from '#server/store/audit.ts';
import { nodeRoute } from '#server/http/api-access.ts';

type Harness = ReturnType<typeof makeStaffHarness>;

const DAY_MS = 24 * 3_600_000;

/** `staff add`/`reset-password` through the CLI; the generated password is the last line it prints. */
async function cli(h: Harness, argv: string[], stdin = ''): Promise<string> {
  const r = await runCliInProcess({ db: h.db, config: h.config, clock: h.clock }, argv, stdin);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').at(-1)!;
}

async function apiLogin(h: Harness, username: string, password: string, ip = '192.0.2.30') {
  const res = await h.app.request(
    '/api/v1/auth/login',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    },
    { incoming: { socket: { remoteAddress: ip } } },
  );
  const body = res.status === 200 ? ((await res.json()) as { csrfToken: string; mustChangePassword: boolean }) : null;
  return {
    status: res.status,
    cookie: res.headers.get('set-cookie')?.split(';')[0] ?? '',
    csrf: body?.csrfToken ?? '',
    mustChangePassword: body?.mustChangePassword,
  };
}

const api = (h: Harness, s: { cookie: string; csrf: string }, method: string, path: string, body?: unknown) =>
  h.app.request(
    path,
    {
      method,
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
    { incoming: { socket: { remoteAddress: '192.0.2.30' } } },
  );

/** Each registered route under a prefix as "METHOD /concrete/path", parameters filled with values that exist. */
function concreteRoutes(h: Harness, prefix: string): string[] {
  const fill = (p: string) =>
    p
      .replace(/:id(\{[^}]*\})?/g, '2733')
      .replace(/:slug(\{[^}]*\})?/g, 'email')
      .replace(/:name(\{[^}]*\})?/g, 'example.test')
      .replace(/:address(\{[^}]*\})?/g, 'postmaster@example.test')
      .replace(/:[A-Za-z]+(\{[^}]*\})?/g, 'x')
      .replace(/\/\*$/, '/x');
  return [
    ...new Set(
      h.app.routes
        .filter((r) => r.path.startsWith(prefix) && ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))
        .map((r) => `${r.method} ${fill(r.path)}`),
    ),
  ];
}

test('CLI admin with a one-time password: login leads to "set a new password"; every other page and staff API refuses; after the change all works', async () => {
  const h = makeStaffHarness();
  const password = await cli(h, ['staff', 'add', 'root', '--admin']);

  // The staff pages, as a browser sees them.
  const b = h.browser();
  const loggedIn = await b.submitLogin('root', password, '/staff/users');
  assert.equal(loggedIn.status, 303);
  assert.equal(loggedIn.location, '/staff/password?next=%2Fstaff%2Fusers');
  const form = await b.get(loggedIn.location!);
  assert.equal(form.status, 200);
  assert.match(visibleText(form.text), /one-time password.*choose your own/i);

  let checked = 0;
  for (const line of concreteRoutes(h, '/staff')) {
    const [method, path] = line.split(' ');
    if (['/staff/password', '/staff/logout', '/staff/assets/enhance.js'].includes(path) || line === 'POST /staff/login') continue;
    const r = method === 'GET' ? await b.get(path) : await b.post(path, { x: '1' });
    assert.equal(r.status, 303, `${line}: ${r.status}`);
    assert.match(r.location ?? '', /^\/staff\/password(\?|$)/, `${line} leads to the change form`);
    checked++;
  }
  assert.ok(checked >= 20, `only ${checked} staff routes checked`);

  // The API with a session opened by the same one-time password (a second login with it is refused, so
  // this one comes from a fresh CLI reset of another admin).
  const apiPassword = await cli(h, ['staff', 'add', 'ops', '--admin']);
  const s = await apiLogin(h, 'ops', apiPassword);
  assert.equal(s.status, 200);
  assert.equal(s.mustChangePassword, true);
  const session = (await (await api(h, s, 'GET', '/api/v1/auth/session')).json()) as {
    user: { username: string };
    mustChangePassword: boolean;
  };
  assert.deepEqual([session.user.username, session.mustChangePassword], ['ops', true]);
  let refused = 0;
  // The MX nodes' token API (declared nodeRoute): no session opens it, so it answers 401 here, not 403.
  const nodeRoutes = new Set(h.app.routes.filter((r) => r.handler === nodeRoute).map((r) => `${r.method} ${r.path}`));
  assert.ok(nodeRoutes.has('GET /api/v1/mx/config'));
  for (const line of concreteRoutes(h, '/api/v1')) {
    const [method, path] = line.split(' ');
    if (path.startsWith('/api/v1/auth/')) continue;
    const anonymous = await h.app.request(path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : '{}',
    });
    if (anonymous.status !== 401 || nodeRoutes.has(line)) continue; // public reads, and the MX nodes' token API
    const r = await api(h, s, method, path, method === 'GET' ? undefined : {});
    assert.equal(r.status, 403, `${line}: ${r.status}`);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.match(((await r.json()) as { detail: string }).detail, /one-time password.*POST \/api\/v1\/auth\/password/, line);
    refused++;
  }
  assert.ok(refused >= 15, `only ${refused} staff API routes checked`);

  // Choosing the one-time password again is no change; a wrong current password is refused.
  assert.equal((await api(h, s, 'POST', '/api/v1/auth/password', { currentPassword: apiPassword, newPassword: apiPassword })).status, 400);
  assert.equal(
    (await api(h, s, 'POST', '/api/v1/auth/password', { currentPassword: 'not the password', newPassword: 'ops own passphrase' })).status,
    403,
  );
  assert.equal(
    (await api(h, s, 'POST', '/api/v1/auth/password', { currentPassword: apiPassword, newPassword: 'ops own passphrase' })).status,
    204,
  );
  assert.equal((await api(h, s, 'GET', '/api/v1/users')).status, 200, 'the same session works normally after the change');
  assert.equal((await api(h, s, 'PATCH', '/api/v1/tasks/2733', { percent: 12 })).status, 200);
  assert.equal(
    ((await (await api(h, s, 'GET', '/api/v1/auth/session')).json()) as { mustChangePassword: boolean }).mustChangePassword,
    false,
  );

  // The change form in the browser: same rules, then on to the page the user first asked for.
  let r = await b.post('/staff/password?next=%2Fstaff%2Fusers', { currentPassword: password, newPassword: password, next: '/staff/users' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /different from the one-time password|different from the current/i);
  r = await b.post('/staff/password', { currentPassword: 'wrong wrong wrong', newPassword: 'roots own passphrase', next: '/staff/users' });
  assert.equal(r.status, 403);
  r = await b.post('/staff/password', { currentPassword: password, newPassword: 'roots own passphrase', next: '/staff/users' });
  assert.equal(r.status, 303);
  assert.equal(r.location, '/staff/users?done=password');
  assert.equal((await b.get('/staff/users')).status, 200);
  assert.equal((await b.get('/staff')).status, 200);
  assert.equal((await b.post('/staff/overrides/email', { state: 'issues', note: '', expiresAt: '2026-01-15T18:00' })).status, 303);

  // The one-time password is gone; the chosen one is permanent.
  assert.equal((await apiLogin(h, 'root', password)).status, 401);
  const again = await apiLogin(h, 'root', 'roots own passphrase');
  assert.deepEqual([again.status, again.mustChangePassword], [200, false]);
  h.advance(3 * DAY_MS);
  assert.equal((await apiLogin(h, 'root', 'roots own passphrase')).status, 200, 'a chosen password does not expire');
  const actions = recentAudit(h.db, 500)
    .filter((a) => a.actor === 'root')
    .map((a) => a.action);
  assert.ok(actions.includes('password.change'));
  assert.ok(actions.includes('password.change-failed'));
});

test('a one-time password logs in once: the second login with it fails like a wrong password, audited as spent', async () => {
  const h = makeStaffHarness();
  const password = await cli(h, ['staff', 'add', 'alice', '--admin']);
  assert.equal((await apiLogin(h, 'alice', password)).status, 200);
  assert.equal((await apiLogin(h, 'alice', password)).status, 401);
  const audit = recentAudit(h.db, 20);
  assert.ok(
    audit.some((a) => a.action === 'login.one-time-spent' && a.actor === 'alice'),
    audit.map((a) => a.action).join(),
  );
});

test('an unused one-time password expires after 24 hours (injected clock): 401, audited as expired', async () => {
  const h = makeStaffHarness();
  const early = await cli(h, ['staff', 'add', 'early', '--admin']);
  const late = await cli(h, ['staff', 'add', 'late']);
  h.advance(DAY_MS - 1000);
  assert.equal((await apiLogin(h, 'early', early)).status, 200, 'one second before expiry it still works');
  h.advance(2000);
  const expired = await apiLogin(h, 'late', late);
  assert.equal(expired.status, 401);
  const row = recentAudit(h.db, 5).find((a) => a.actor === 'late')!;
  assert.equal(row.action, 'login.one-time-expired');

  // An admin reset issues a fresh one-time password, again good for 24 hours and one login.
  const fresh = await cli(h, ['staff', 'reset-password', 'late']);
  const s = await apiLogin(h, 'late', fresh);
  assert.deepEqual([s.status, s.mustChangePassword], [200, true]);
  assert.equal((await api(h, s, 'GET', '/api/v1/overrides')).status, 403);
});

test('operator-chosen passwords (--password-stdin, or given to the admin API) are not one-time; generated ones from the admin API are', async () => {
  const h = makeStaffHarness();
  await cli(h, ['staff', 'add', 'bob', '--admin', '--password-stdin'], 'bobs own passphrase\n');
  const bob = await apiLogin(h, 'bob', 'bobs own passphrase');
  assert.deepEqual([bob.status, bob.mustChangePassword], [200, false]);
  assert.equal((await api(h, bob, 'GET', '/api/v1/users')).status, 200);
  assert.equal((await apiLogin(h, 'bob', 'bobs own passphrase')).status, 200, 'and it logs in again');

  const added = await api(h, bob, 'POST', '/api/v1/users', { username: 'carol', role: 'staff' });
  const { password } = (await added.json()) as { password: string };
  const carol = await apiLogin(h, 'carol', password);
  assert.equal(carol.mustChangePassword, true);
  assert.equal((await api(h, carol, 'PATCH', '/api/v1/tasks/2733', { percent: 4 })).status, 403);

  const carolId = (h.db.prepare("SELECT id FROM users WHERE username = 'carol'").get() as { id: number }).id;
  assert.equal((await api(h, bob, 'POST', `/api/v1/users/${carolId}/password`, { password: 'chosen for carol' })).status, 200);
  const chosen = await apiLogin(h, 'carol', 'chosen for carol');
  assert.deepEqual([chosen.status, chosen.mustChangePassword], [200, false]);
  h.advance(2 * DAY_MS);
  assert.equal((await apiLogin(h, 'carol', 'chosen for carol')).status, 200);
});
