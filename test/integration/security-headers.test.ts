// Security headers by kind of answer: a strict CSP on the script-free public pages, our own script only on staff pages,
// nosniff on everything, no-store on staff pages and staff API answers, and a staff 404 (never the public, cached one).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ensureSiteBuilt } from '#server/site/build.ts';
import { makeStaffHarness } from './staff-harness.ts';

before(async () => {
  await ensureSiteBuilt({ info: () => {} });
});

/** The CSP as directive → sources, for checks that do not depend on the order it is written in. */
function csp(res: Response): Map<string, string[]> {
  const raw = res.headers.get('content-security-policy');
  assert.ok(raw, `${res.url || 'response'} has a Content-Security-Policy`);
  return new Map(
    raw
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name, sources]),
  );
}

function assertFramingAndSniffing(res: Response, what: string) {
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  assert.deepEqual(csp(res).get('frame-ancestors'), ["'none'"], `${what}: frame-ancestors 'none'`);
  assert.equal(res.headers.get('referrer-policy'), 'same-origin', `${what}: Referrer-Policy`);
}

async function loggedIn() {
  const h = makeStaffHarness();
  await h.addUser('alice', 'admin');
  const b = h.browser();
  await b.login('alice');
  const get = (path: string) => h.app.request(path, { headers: { cookie: b.cookie } });
  return { h, b, get };
}

test("public pages: a strict CSP (no script at all but the section charts' own file, styles from our own origin), no framing, a referrer policy, nosniff", async () => {
  const { h } = await loggedIn();
  let stylesheet = '';
  for (const path of ['/', '/tasks', '/task/2733', '/section/email', '/no-such-page']) {
    const res = await h.app.request(path);
    assert.equal(res.status, path === '/no-such-page' ? 404 : 200, path);
    assertFramingAndSniffing(res, path);
    const policy = csp(res);
    assert.deepEqual(policy.get('default-src'), ["'none'"], `${path}: nothing is allowed unless named`);
    // Section pages draw their telemetry charts with our own script file; no page may run inline code.
    if (path.startsWith('/section/')) assert.deepEqual(policy.get('script-src'), ["'self'"], `${path}: scripts from our origin only`);
    else assert.equal(policy.get('script-src'), undefined, `${path}: no script source, so no script runs`);
    assert.deepEqual(policy.get('style-src'), ["'self'"], `${path}: stylesheets from our origin only, no inline <style>`);
    assert.deepEqual(policy.get('base-uri'), ["'none'"]);
    assert.deepEqual(policy.get('form-action'), ["'self'"]);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    stylesheet ||= /<link rel="stylesheet" href="([^"]+)"/.exec(await res.text())?.[1] ?? '';
  }
  assert.match(stylesheet, /^\/_astro\/.+\.css$/);
  // Feeds, status.json and the build's files: never sniffed into something runnable, never framed.
  for (const path of [
    '/status.json',
    '/feed.atom',
    '/feed.rss',
    '/section/email/feed.atom',
    '/section/email/feed.rss',
    '/favicon.svg',
    stylesheet,
  ]) {
    const res = await h.app.request(path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`);
    assert.deepEqual(csp(res).get('default-src'), ["'none'"], `${path}: opened on its own, it may load nothing`);
  }
});

test('API answers carry nosniff; staff API answers (users, mail, overrides, session) are never stored', async () => {
  const { h, get } = await loggedIn();
  for (const path of ['/api/v1/tasks', '/api/v1/tasks/2733', '/api/v1/sections', '/api/v1/nothing-here', '/api/v1/tasks/abc']) {
    const res = await h.app.request(path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`);
  }
  for (const path of [
    '/api/v1/users',
    '/api/v1/mail/domains',
    '/api/v1/mail/mailboxes',
    '/api/v1/mail/aliases',
    '/api/v1/overrides',
    '/api/v1/auth/session',
    '/api/v1/tasks/2733',
  ]) {
    const res = await get(path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('cache-control'), 'no-store', `${path}: no-store`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`);
  }
  const denied = await h.app.request('/api/v1/users');
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get('cache-control'), 'no-store');
});

test('staff pages, redirects and errors: our own script only, no framing, no-store, nosniff; the inline style is pinned by hash', async () => {
  const { h, b, get } = await loggedIn();
  const anonymous = await h.app.request('/staff/login');
  const dashboard = await get('/staff');
  const redirect = await h.app.request('/staff/tasks/2733');
  const forbidden = await h.app.request('/staff/tasks/2733', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'x=1',
  });
  const posted = await b.post('/staff/tasks/2733/comments', { body: 'hello', action: 'save' });
  assert.equal(posted.status, 303);
  for (const [what, res, status] of [
    ['login page', anonymous, 200],
    ['dashboard', dashboard, 200],
    ['anonymous redirect', redirect, 303],
    ['refused post', forbidden, 401],
  ] as const) {
    assert.equal(res.status, status, what);
    assertFramingAndSniffing(res, what);
    assert.equal(res.headers.get('cache-control'), 'no-store', `${what}: no-store`);
    const policy = csp(res);
    assert.deepEqual(policy.get('script-src'), ["'self'"], `${what}: only our own script file`);
    assert.deepEqual(policy.get('default-src'), ["'none'"], what);
    assert.deepEqual(policy.get('form-action'), ["'self'"], what);
    assert.ok(!(policy.get('style-src') ?? []).includes("'unsafe-inline'"), `${what}: no inline <style> but ours`);
  }
  const html = await dashboard.text();
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1];
  assert.ok(style, 'the staff shell has its stylesheet inline');
  const hash = `'sha256-${createHash('sha256').update(style).digest('base64')}'`;
  assert.ok(csp(dashboard).get('style-src')!.includes(hash), `style-src allows exactly the shell's stylesheet (${hash})`);
  const script = await h.app.request('/staff/assets/enhance.js');
  assert.equal(script.headers.get('x-content-type-options'), 'nosniff');
  assert.match(script.headers.get('cache-control') ?? '', /^public/, 'the static script stays cacheable');
});

test('an unknown /staff path is the staff 404 page for staff (never cached), and the login page for anyone else', async () => {
  const { h, b, get } = await loggedIn();
  for (const path of ['/staff/no-such-page', '/staff/tasks/2733/nothing', '/staff/']) {
    const res = await get(path);
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get('cache-control'), 'no-store', `${path}: no-store`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const text = await res.text();
    assert.match(text, /Tidings staff/, `${path}: the staff shell`);
    assert.match(text, /href="\/staff\/logout"|action="\/staff\/logout"/, `${path}: still logged in`);
    const anonymous = await h.app.request(path);
    assert.equal(anonymous.status, 303, `${path} anonymously`);
    assert.match(anonymous.headers.get('location') ?? '', /^\/staff\/login\?next=/);
  }
  const post = await b.post('/staff/no-such-page', {});
  assert.equal(post.status, 404, 'a POST to an unknown staff path');
  assert.match(post.text, /Tidings staff/);
});
