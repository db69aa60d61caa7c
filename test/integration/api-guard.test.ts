// /api/v1 is deny-by-default: every route of the composed app is walked, and only the ones declared public answer an
// anonymous caller; admin routes refuse staff, the MX node route takes only a node token, and no node token opens staff routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json, type Session } from './api-harness.ts';
import { adminRoute, nodeRoute, publicRoute, sessionRoute } from '#server/http/api-access.ts';
import { ONE_TIME_PASSWORD_REFUSED } from '#server/http/auth.ts';
import { addStaff } from '#server/services/users/addStaff.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';

type Harness = ReturnType<typeof makeHarness>;

/** Written out rather than read from the code: opening a route to the public must change this test too. */
const EXPECTED_PUBLIC = [
  'GET /api/v1/auth/session',
  'POST /api/v1/auth/login',
  'GET /api/v1/tasks',
  'GET /api/v1/tasks/:id',
  'GET /api/v1/tasks/:id/history',
  'GET /api/v1/sections/:slug/telemetry',
  // Anyone may ask to subscribe; only a confirmation mail follows (server/routes/subscriptions.ts).
  'POST /api/v1/subscriptions',
  ...['sections', 'task-types', 'statuses', 'close-reasons', 'categories'].flatMap((k) => [`GET /api/v1/${k}`, `GET /api/v1/${k}/:id`]),
].sort();
const EXPECTED_NODE = [
  'GET /api/v1/mx/config',
  'GET /api/v1/mx/quarantine/actions',
  'POST /api/v1/telemetry',
  'POST /api/v1/telemetry/heartbeat',
].sort();
const EXPECTED_SESSION = ['POST /api/v1/auth/logout', 'POST /api/v1/auth/password'];

type Access = 'public' | 'session' | 'staff' | 'admin' | 'node';
const MARKERS = new Map<unknown, Access>([
  [publicRoute, 'public'],
  [sessionRoute, 'session'],
  [adminRoute, 'admin'],
  [nodeRoute, 'node'],
]);

/** Every /api/v1 route of the app's own table as "METHOD /path" with the access its handlers declare (staff when none). */
function apiRoutes(h: Harness): Map<string, Access> {
  const out = new Map<string, Access>();
  for (const r of h.app.routes) {
    if (!r.path.startsWith('/api/v1/') || r.method === 'ALL') continue;
    const key = `${r.method} ${r.path}`;
    const declared = MARKERS.get(r.handler);
    if (declared) out.set(key, declared);
    else if (!out.has(key)) out.set(key, 'staff');
  }
  return out;
}

const fill = (path: string) =>
  path
    .replace(/:(id|entryId)\b/g, '2733')
    .replace(/:slug\b/g, 'email')
    .replace(/:name\b/g, 'example.test')
    .replace(/:scope\b/g, 'domain')
    .replace(/:key\b/g, 'example.test')
    .replace(/:node\b/g, 'mx1')
    .replace(/:delivery\b/g, '1')
    .replace(/:address\b/g, 'postmaster@example.test');

/** Bodies a node route accepts, so that "the node token passes" is proven by a 200, not by any answer but 401. */
const NODE_BODIES: Record<string, unknown> = {
  'POST /api/v1/telemetry': { after: 0, events: [{ seq: 1, at: 0, type: 'accepted', messageId: 'm1' }] },
  'POST /api/v1/telemetry/heartbeat': {
    at: 0,
    queueDepth: 0,
    oldestQueuedMs: null,
    inRetry: 0,
    configVersion: 0,
    lastSyncAt: null,
    lastSeq: 0,
  },
};

function send(h: Harness, key: string, o: { session?: Session; headers?: Record<string, string> } = {}): Promise<Response> {
  const [method, path] = key.split(' ');
  assert.doesNotMatch(fill(path), /[:*]/, `${key}: a parameter the test does not fill`);
  return h.request(method, fill(path), {
    session: o.session,
    headers: o.headers,
    body: method === 'GET' ? undefined : (NODE_BODIES[key] ?? {}),
  });
}

async function assertProblem(res: Response, status: number, what: string): Promise<{ detail: string }> {
  assert.equal(res.status, status, what);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  const body = await json<{ status: number; detail: string }>(res);
  assert.equal(body.status, status, what);
  return body;
}

test('the route table: only middleware the gate knows, and the public, session and node routes are exactly the declared ones', () => {
  const h = makeHarness();
  // The gate decides by method and path, so an app.all() route under /api/v1 would pass it unseen; app.use() is the gate.
  const all = [...new Set(h.app.routes.filter((r) => r.path.startsWith('/api/v1') && r.method === 'ALL').map((r) => r.path))];
  assert.deepEqual(all, ['/api/v1/*']);
  const routes = apiRoutes(h);
  assert.ok(routes.size >= 40, `expected the API's routes, found ${routes.size}`);
  const having = (a: Access) =>
    [...routes]
      .filter(([, v]) => v === a)
      .map(([k]) => k)
      .sort();
  assert.deepEqual(having('public'), EXPECTED_PUBLIC);
  assert.deepEqual(having('session'), EXPECTED_SESSION);
  assert.deepEqual(having('node'), EXPECTED_NODE);
});

test('anonymous: every /api/v1 route but the declared public ones answers 401 problem details; the node route asks for a Bearer token', async () => {
  const h = makeHarness();
  const open: string[] = [];
  for (const [key, access] of apiRoutes(h)) {
    const res = await send(h, key);
    if (access === 'public') {
      assert.ok(res.status < 500 && res.status !== 401 && res.status !== 403, `${key}: ${res.status}`);
    } else {
      await assertProblem(res, 401, key);
      if (access === 'node') assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="tidings-mx"', key);
    }
    if (res.status !== 401) open.push(key);
  }
  assert.deepEqual(open.sort(), EXPECTED_PUBLIC, 'what answers anonymous callers is exactly the declared public list');
});

test('credentials of one kind open no other: staff vs admin routes, node token vs staff routes, staff session vs the node route', async () => {
  const h = makeHarness();
  await h.addUser('sam', 'staff');
  const staff = await h.login('sam');
  const token = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'test' }, name: 'mx1' });
  const bearer = { authorization: `Bearer ${token}` };
  let admin = 0;
  for (const [key, access] of apiRoutes(h)) {
    if (access === 'public') continue;
    if (access === 'node') {
      await assertProblem(await send(h, key, { session: staff }), 401, `${key} with a staff session`);
      assert.equal((await send(h, key, { headers: bearer })).status, 200, `${key} with the node token`);
      continue;
    }
    await assertProblem(await send(h, key, { headers: bearer }), 401, `${key} with a node token`);
    if (access === 'admin') {
      const body = await assertProblem(await send(h, key, { session: staff }), 403, `${key} as staff`);
      assert.equal(body.detail, 'Only admins may do this.', key);
      admin++;
    }
  }
  assert.ok(admin >= 7, `users, audit and redaction are admin routes (found ${admin})`);
});

test('a session opened with a one-time password passes only the session routes', async () => {
  const h = makeHarness();
  const { generatedPassword } = await addStaff({
    ctx: h.ctx,
    actor: { userId: null, name: 'test' },
    input: { username: 'otto', role: 'admin' },
  });
  const s = await h.login('otto', generatedPassword);
  const routes = [...apiRoutes(h)].filter(([, a]) => a === 'staff' || a === 'admin' || a === 'session');
  // Logging out ends the session, so it goes last.
  routes.sort(([a], [b]) => Number(a === 'POST /api/v1/auth/logout') - Number(b === 'POST /api/v1/auth/logout'));
  for (const [key, access] of routes) {
    const res = await send(h, key, { session: s });
    if (access === 'session') {
      assert.ok(res.status !== 401 && res.status !== 403, `${key}: ${res.status}`);
    } else {
      assert.equal((await assertProblem(res, 403, key)).detail, ONE_TIME_PASSWORD_REFUSED, key);
    }
  }
});

test('a route added under /api/v1 without a declaration is closed to anonymous callers; with publicRoute it is open', async () => {
  const h = makeHarness();
  h.app.get('/api/v1/zz-undeclared', (c) => c.text('reached'));
  h.app.get('/api/v1/zz-declared', publicRoute, (c) => c.text('reached'));
  await assertProblem(await h.request('GET', '/api/v1/zz-undeclared'), 401, 'undeclared, anonymous');
  assert.notEqual((await h.request('GET', '/api/v1/zz-declared')).status, 401, 'declared public, anonymous');
  // No route there at all: nothing to guard, so the API's 404 as before.
  await assertProblem(await h.request('GET', '/api/v1/nonsense'), 404, 'unknown path');
});
