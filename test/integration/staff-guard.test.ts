// Every staff page is closed to anonymous visitors unless it is the login form: checked over the app's own route table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness } from './staff-harness.ts';

test('each registered /staff route sends an anonymous GET to the login page and refuses an anonymous POST', async () => {
  const h = makeStaffHarness();
  const routes = h.app.routes.filter((r) => r.path.startsWith('/staff') && (r.method === 'GET' || r.method === 'POST'));
  const concrete = [
    ...new Set(routes.map((r) => `${r.method} ${r.path.replace(/:[A-Za-z]+(\{[^}]*\})?/g, '2733').replace(/\/\*$/, '/x')}`)),
  ];
  assert.ok(concrete.length >= 20, `expected the staff UI's routes, found ${concrete.length}`);
  let checked = 0;
  for (const line of concrete) {
    const [method, path] = line.split(' ');
    if (path === '/staff/login' || path === '/staff/assets/enhance.js') continue; // the form and its static script
    const res = await h.app.request(path, {
      method,
      headers: method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
      body: method === 'POST' ? 'x=1' : undefined,
    });
    if (method === 'GET') {
      assert.ok([302, 303].includes(res.status), `${line}: ${res.status}`);
      assert.match(res.headers.get('location') ?? '', /^\/staff\/login/, `${line} redirects to the login page`);
    } else {
      assert.ok([401, 403].includes(res.status), `${line}: ${res.status}`);
    }
    checked++;
  }
  assert.ok(checked >= 20);
});
