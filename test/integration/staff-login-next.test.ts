// The login form's `next` is followed only as a same-site /staff path: anything else (header-splitting CR/LF, other hosts,
// backslashes, schemes) goes to /staff, never to a 500, and a login that does not succeed leaves no session behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness } from './staff-harness.ts';
import { safeNext } from '#server/routes/staff/guard.ts';

const HOSTILE = [
  '/staff/\r\nSet-Cookie: planted=1',
  '/staff\r\n',
  '/staff/%0d%0a',
  '/staff/tasks\n',
  '/staff\u0000',
  '/staff/\t',
  '//evil.example',
  '//evil.example/staff',
  '/\\evil.example',
  '/staff\\@evil.example',
  '\\\\evil.example/staff',
  'https://evil.example',
  'https://evil.example/staff',
  'http:/staff',
  'javascript:alert(1)//staff',
  ' /staff',
  '/staffing',
  '/staff/../evil',
  '/staff/./x/..',
  '/staff/\u00e9',
  'evil.example/staff',
  '',
];
const KEPT = ['/staff', '/staff/', '/staff/tasks/2733', '/staff/mail?domain=example.com', '/staff/tasks/2733#h-plan', '/staff?done=saved'];

const sessions = (h: ReturnType<typeof makeStaffHarness>) => (h.db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;

test('safeNext keeps local /staff paths and turns everything else into /staff', () => {
  for (const next of KEPT) assert.equal(safeNext(next), next, JSON.stringify(next));
  for (const next of HOSTILE) assert.equal(safeNext(next), '/staff', JSON.stringify(next));
  assert.equal(safeNext(undefined), '/staff');
});

test('GET /staff/login with a hostile next: the form (anonymous) or a redirect to /staff (logged in), never a 500', async () => {
  const h = makeStaffHarness();
  await h.addUser('alice');
  const anonymous = h.browser();
  const alice = h.browser();
  await alice.login('alice');
  for (const next of HOSTILE) {
    const query = `/staff/login?next=${encodeURIComponent(next)}`;
    const form = await anonymous.get(query);
    assert.equal(form.status, 200, JSON.stringify(next));
    assert.match(form.text, /<input type="hidden" name="next" value="\/staff">/, `${JSON.stringify(next)} becomes /staff in the form`);
    const r = await alice.get(query);
    assert.equal(r.status, 303, JSON.stringify(next));
    assert.equal(r.location, '/staff', JSON.stringify(next));
  }
  // The raw percent-encoded CR/LF as a browser would send it.
  const raw = await h.app.request('/staff/login?next=/staff/%0d%0aSet-Cookie:%20planted=1', { headers: { cookie: alice.cookie } });
  assert.equal(raw.status, 303);
  assert.equal(raw.headers.get('location'), '/staff');
});

test('POST /staff/login with a hostile next: a good login lands on /staff, a failed one creates no session and sets no cookie', async () => {
  for (const next of HOSTILE) {
    // A fresh store per case, so failed logins never add up to the rate limit.
    const h = makeStaffHarness();
    await h.addUser('alice');
    // A NUL is refused with the whole form (400) before the password is looked at; CR, LF and tab reach safeNext.
    const refusedAtEdge = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(next);
    const before = sessions(h);
    const wrong = h.browser();
    await wrong.get('/staff/login');
    const failed = await wrong.post('/staff/login', { username: 'alice', password: 'not the password', next });
    assert.equal(failed.status, refusedAtEdge ? 400 : 401, JSON.stringify(next));
    assert.equal(sessions(h), before, `${JSON.stringify(next)}: a failed login creates no session`);
    assert.ok(!wrong.jar.has('tidings_session'), `${JSON.stringify(next)}: no session cookie`);

    const b = h.browser();
    await b.get('/staff/login');
    const r = await b.post('/staff/login', { username: 'alice', password: 'correct horse battery', next });
    assert.ok(!b.jar.has('planted'), 'no header was split into the answer');
    if (refusedAtEdge) {
      assert.equal(r.status, 400, JSON.stringify(next));
      assert.equal(sessions(h), before, `${JSON.stringify(next)}: a refused request creates no session`);
      assert.ok(!b.jar.has('tidings_session'));
      continue;
    }
    assert.equal(r.status, 303, `${JSON.stringify(next)}: ${r.text.slice(0, 200)}`);
    assert.equal(r.location, '/staff', JSON.stringify(next));
    assert.equal(sessions(h), before + 1, `${JSON.stringify(next)}: one session, for the login that succeeded`);
    assert.ok(b.jar.has('tidings_session'));
  }
  const h = makeStaffHarness();
  await h.addUser('alice');
  const kept = h.browser();
  await kept.get('/staff/login');
  const r = await kept.post('/staff/login', { username: 'alice', password: 'correct horse battery', next: '/staff/tasks/2733#h-plan' });
  assert.equal(r.location, '/staff/tasks/2733#h-plan');
});
