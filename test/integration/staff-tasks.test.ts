// Staff task pages without JavaScript: login, create, edit, plan, comment, close, reopen, preview, conflicts, CSRF, roles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

const BERLIN = { TIDINGS_DISPLAY_TZ: 'Europe/Berlin' };
const ids = (h: ReturnType<typeof makeStaffHarness>) => {
  const id = (table: string, name: string) =>
    String((h.db.prepare(`SELECT id FROM ${table} WHERE name = ?`).get(name) as { id: number }).id);
  return {
    type: id('task_types', 'Maintenance'),
    status: id('statuses', 'Planned'),
    category: id('categories', 'Email'),
    section: id('sections', 'Email'),
    finished: id('close_reasons', 'Finished'),
  };
};

test('anonymous visitors get the login page, staff cannot open admin pages, writes without a session are refused', async () => {
  const h = makeStaffHarness();
  await h.addUser('bob', 'staff');
  const anon = h.browser();
  for (const path of [
    '/staff',
    '/staff/tasks/new',
    '/staff/tasks/2733',
    '/staff/users',
    '/staff/audit',
    '/staff/lists',
    '/staff/overrides',
  ]) {
    const r = await anon.get(path);
    assert.equal(r.status, 303, path);
    assert.equal(r.location, `/staff/login?next=${encodeURIComponent(path)}`);
  }
  const login = await anon.get('/staff/login?next=//evil.example/');
  assert.match(login.text, /name="next" value="\/staff"/, 'an outside "next" is never followed');
  const post = await anon.post('/staff/tasks/2733/comments', { body: 'hi' }, { csrf: 'x' });
  assert.equal(post.status, 401);
  assert.match(post.text, /log in again/i);

  const bad = await anon.submitLogin('bob', 'not the password');
  assert.equal(bad.status, 401);
  assert.match(bad.text, /Wrong username or password/);
  assert.ok(h.db.prepare(`SELECT 1 FROM audit_log WHERE actor = 'bob' AND action LIKE '%fail%'`).get(), 'failed login audited');

  const bob = h.browser();
  await bob.login('bob');
  for (const path of ['/staff/users', '/staff/audit']) assert.equal((await bob.get(path)).status, 403, path);
  assert.equal((await bob.post('/staff/users', { username: 'eve', displayName: 'Eve', role: 'admin' })).status, 403);
});

test('create a task with a back-dated opening in the display zone, then edit it; every change is in the history', async () => {
  const h = makeStaffHarness({ env: BERLIN, start: '2026-01-15T12:00:00.000Z' });
  await h.addUser('alice', 'admin');
  const b = h.browser();
  await b.login('alice');
  const i = ids(h);
  const created = await b.post('/staff/tasks', {
    summary: 'Mail relay maintenance',
    typeId: i.type,
    categoryId: i.category,
    sectionId: i.section,
    statusId: i.status,
    percent: '0',
    details: 'Swap the **disks**.',
    openedAt: '2021-10-08T02:00',
    id: '',
    action: 'save',
  });
  assert.equal(created.status, 303, created.text.slice(0, 500));
  const id = Number(/\/staff\/tasks\/(\d+)/.exec(created.location ?? '')?.[1]);
  const row = h.db.prepare('SELECT summary, opened_at, details_html, percent FROM tasks WHERE id = ?').get(id) as Record<string, unknown>;
  assert.deepEqual(row, {
    summary: 'Mail relay maintenance',
    opened_at: '2021-10-08T00:00:00.000Z',
    details_html: '<p>Swap the <strong>disks</strong>.</p>',
    percent: 0,
  });

  const page = await b.get(`/staff/tasks/${id}?done=created`);
  assert.match(page.text, /Task created\./);
  assert.match(page.text, /opened by alice \(display\) at 2021-10-08 02:00/);
  const version = /name="version" value="(\d+)"/.exec(page.text)![1];
  const saved = await b.post(`/staff/tasks/${id}`, {
    summary: 'Mail relay maintenance (extended)',
    typeId: i.type,
    categoryId: i.category,
    sectionId: '',
    statusId: i.status,
    percent: '40',
    details: 'Swap the **disks**.',
    version,
    action: 'save',
  });
  assert.equal(saved.status, 303);
  const after = await b.get(`/staff/tasks/${id}`);
  const text = visibleText(after.text);
  assert.match(text, /summary Mail relay maintenance Mail relay maintenance \(extended\)/);
  assert.match(text, /section Email —/);
  assert.match(text, /percent 0 40/);
});

test('saving over a newer version is refused with a clear message and nothing is lost', async () => {
  const h = makeStaffHarness();
  await h.addUser('alice', 'admin');
  await h.addUser('bob', 'staff');
  const a = h.browser();
  await a.login('alice');
  const b = h.browser();
  await b.login('bob');
  const i = ids(h);
  const base = {
    typeId: i.type,
    categoryId: i.category,
    sectionId: i.section,
    statusId: i.status,
    percent: '0',
    details: '',
    action: 'save',
  };
  const pageA = await a.get('/staff/tasks/2733');
  const pageB = await b.get('/staff/tasks/2733');
  const vA = /name="version" value="(\d+)"/.exec(pageA.text)![1];
  const vB = /name="version" value="(\d+)"/.exec(pageB.text)![1];
  assert.equal((await a.post('/staff/tasks/2733', { ...base, summary: 'Alice was here', version: vA })).status, 303);
  const refused = await b.post('/staff/tasks/2733', { ...base, summary: 'Bob was here', version: vB });
  assert.equal(refused.status, 409);
  assert.match(refused.text, /Not saved: someone else changed FS#2733 after you opened it/);
  assert.match(refused.text, /value="Bob was here"/, "Bob's typing is still in the form");
  assert.equal((h.db.prepare('SELECT summary FROM tasks WHERE id = 2733').get() as { summary: string }).summary, 'Alice was here');
  // Saving again is a deliberate choice, made with the version shown.
  const newVersion = /name="version" value="(\d+)"/.exec(refused.text)![1];
  assert.equal((await b.post('/staff/tasks/2733', { ...base, summary: 'Bob was here', version: newVersion })).status, 303);
});

test('plan editor: add, reorder, edit and remove phases; times in the display zone, whole days inclusive', async () => {
  const h = makeStaffHarness({ env: BERLIN });
  await h.addUser('alice', 'admin');
  const b = h.browser();
  await b.login('alice');
  const phasesOf = () =>
    h.db.prepare('SELECT title, starts_at AS s, ends_at AS e FROM phases WHERE task_id = 2733 ORDER BY position').all();
  const empty = { title: '', sdate: '', stime: '', edate: '', etime: '', note: '' };
  const rows = (list: Record<string, string>[]) =>
    Object.fromEntries([
      ['count', String(list.length)],
      ...list.flatMap((r, n) => Object.entries({ ...empty, ...r }).map(([k, v]) => [`phase_${k}_${n}`, v])),
    ]);
  let r = await b.post('/staff/tasks/2733/phases', {
    ...rows([
      { title: 'prepare', edate: '2021-10-12', pos: '1' },
      { title: 'switch', sdate: '2021-10-31', stime: '02:30', edate: '2021-10-31', etime: '03:30', pos: '2' },
    ]),
    move: 'save',
  });
  assert.equal(r.status, 303, r.text.slice(0, 800));
  assert.equal(r.location, '/staff/tasks/2733?done=phases&tz=repeated#h-plan');
  assert.match((await b.get(r.location!)).text, /happened twice on that day \(the clocks went back\); the earlier one was used/);
  assert.deepEqual(phasesOf(), [
    { title: 'prepare', s: null, e: '2021-10-12T21:59:59.999Z' },
    // 02:30 happened twice in Berlin that night: the first one (CEST) is taken.
    { title: 'switch', s: '2021-10-31T00:30:00.000Z', e: '2021-10-31T02:30:00.000Z' },
  ]);
  const page = await b.get('/staff/tasks/2733');
  assert.match(page.text, /name="phase_edate_0" value="2021-10-12"/);
  assert.match(page.text, /name="phase_etime_0" value=""/, 'an inclusive whole day shows as the date alone');
  assert.equal((page.text.match(/data-phase-state="done"/g) ?? []).length, 2, 'each saved phase says where it stands');

  r = await b.post('/staff/tasks/2733/phases', {
    ...rows([
      { title: 'prepare', edate: '2021-10-12', pos: '1' },
      { title: 'switch', sdate: '2021-10-31', pos: '2' },
      { title: 'cleanup', sdate: '2021-11-01', pos: '3' },
    ]),
    move: 'up-2',
  });
  assert.equal(r.status, 200, 'moving re-renders the form without saving');
  assert.doesNotMatch(r.text, /data-phase-state/, 'an unsaved draft claims no state');
  assert.ok(r.text.indexOf('value="cleanup"') < r.text.indexOf('value="switch"'));
  assert.equal(phasesOf().length, 2);

  r = await b.post('/staff/tasks/2733/phases', {
    ...rows([
      { title: 'prepare', edate: '2021-10-12', pos: '3' },
      { title: 'switch', sdate: '2021-10-31', pos: '1', remove: '1' },
      { title: 'cleanup', sdate: '2021-11-01', pos: '2' },
    ]),
    move: 'save',
  });
  assert.equal(r.status, 303);
  assert.deepEqual(
    phasesOf().map((p) => (p as { title: string }).title),
    ['cleanup', 'prepare'],
  );

  r = await b.post('/staff/tasks/2733/phases', { ...rows([{ title: 'bad', sdate: '2021-11-05', edate: '2021-11-01' }]), move: 'save' });
  assert.equal(r.status, 400);
  assert.match(r.text, /must not end before it starts/);
  assert.equal(phasesOf().length, 2, 'a refused plan changes nothing');
});

test('comment with an explicit time, Markdown preview through the sanitizer, close with a reason, reopen', async () => {
  const h = makeStaffHarness({ env: BERLIN });
  await h.addUser('alice', 'admin');
  const b = h.browser();
  await b.login('alice');
  const i = ids(h);
  await b.post('/staff/tasks/2733/reopen', {});
  const preview = await b.post('/staff/tasks/2733/comments', {
    body: 'Now **active** <script>alert(1)</script> [x](javascript:alert(1))',
    at: '',
    action: 'preview',
  });
  assert.equal(preview.status, 200);
  assert.match(
    preview.text,
    /<section class="preview" aria-label="Preview of the comment"><p>Now <strong>active<\/strong> &lt;script&gt;alert\(1\)&lt;\/script&gt; \[x\]\(javascript:alert\(1\)\)<\/p><\/section>/,
  );
  const before = (h.db.prepare('SELECT count(*) AS n FROM comments WHERE task_id = 2733').get() as { n: number }).n;

  const posted = await b.post('/staff/tasks/2733/comments', {
    body: 'The new mailsystem is now active.',
    at: '2021-10-13T16:40',
    action: 'save',
  });
  assert.equal(posted.status, 303);
  assert.equal(posted.location, '/staff/tasks/2733?done=commented#h-comments', 'an ordinary time carries no daylight-saving note');
  const skipped = await b.post('/staff/tasks/2733/comments', { body: 'In the gap.', at: '2022-03-27T02:30', action: 'save' });
  assert.match(skipped.location ?? '', /tz=skipped/);
  assert.match((await b.get(skipped.location!)).text, /does not exist on that day/);
  assert.ok(h.db.prepare(`SELECT 1 FROM comments WHERE body_md = 'In the gap.' AND created_at = '2022-03-27T01:30:00.000Z'`).get());
  h.db.prepare(`DELETE FROM comments WHERE body_md = 'In the gap.'`).run();
  const last = h.db.prepare('SELECT created_at, body_md FROM comments WHERE task_id = 2733 ORDER BY id DESC LIMIT 1').get();
  assert.deepEqual(last, { created_at: '2021-10-13T14:40:00.000Z', body_md: 'The new mailsystem is now active.' });
  assert.equal((h.db.prepare('SELECT count(*) AS n FROM comments WHERE task_id = 2733').get() as { n: number }).n, before + 1);

  const closed = await b.post('/staff/tasks/2733/close', { reasonId: i.finished, at: '2021-11-10T17:09' });
  assert.equal(closed.status, 303);
  assert.deepEqual(h.db.prepare('SELECT is_closed, percent, closed_at FROM tasks WHERE id = 2733').get(), {
    is_closed: 1,
    percent: 100,
    closed_at: '2021-11-10T16:09:00.000Z',
  });
  const again = await b.post('/staff/tasks/2733/close', { reasonId: i.finished, at: '' });
  assert.equal(again.status, 409);
  assert.match(again.text, /already closed/);
  assert.equal((await b.post('/staff/tasks/2733/reopen', {})).status, 303);
  assert.equal((h.db.prepare('SELECT is_closed FROM tasks WHERE id = 2733').get() as { is_closed: number }).is_closed, 0);
  const history = visibleText((await b.get('/staff/tasks/2733')).text);
  assert.match(history, /closed open closed/);
  assert.match(history, /close_reason — Finished/);
});

test("a POST without the CSRF token, or with another session's, is refused and writes nothing", async () => {
  const h = makeStaffHarness();
  await h.addUser('alice', 'admin');
  await h.addUser('bob', 'staff');
  const a = h.browser();
  await a.login('alice');
  const b = h.browser();
  await b.login('bob');
  const count = () => (h.db.prepare('SELECT count(*) AS n FROM comments').get() as { n: number }).n;
  const n = count();
  assert.equal((await a.post('/staff/tasks/2733/comments', { body: 'forged', action: 'save' }, { csrf: false })).status, 403);
  assert.equal((await a.post('/staff/tasks/2733/comments', { body: 'forged', action: 'save' }, { csrf: b.csrf })).status, 403);
  assert.equal(count(), n);
  const out = await a.post('/staff/logout', {});
  assert.equal(out.status, 303);
  assert.equal((await a.get('/staff')).status, 303, 'logged out: back to the login page');
});

test('incident update in seconds: a quick comment from the dashboard, and the live preview endpoint behind staff + CSRF', async () => {
  const h = makeStaffHarness();
  await h.addUser('bob', 'staff');
  const b = h.browser();
  await b.login('bob');
  await b.post('/staff/tasks/2733/reopen', {});
  const dash = await b.get('/staff');
  assert.match(dash.text, /<form method="post" action="\/staff\/tasks\/2733\/comments">/);
  const r = await b.post('/staff/tasks/2733/comments', { from: 'dashboard', body: 'We are **on it**.', action: 'save' });
  assert.equal(r.status, 303);
  assert.equal(r.location, '/staff?done=commented');
  assert.ok(h.db.prepare(`SELECT 1 FROM comments WHERE task_id = 2733 AND body_html = '<p>We are <strong>on it</strong>.</p>'`).get());

  const js = await h.app.request('/staff/assets/enhance.js');
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  const preview = await b.post('/staff/preview', { markdown: '**bold** <img src=x onerror=alert(1)>' });
  assert.equal(preview.status, 200);
  assert.deepEqual(JSON.parse(preview.text), { html: '<p><strong>bold</strong> &lt;img src=x onerror=alert(1)&gt;</p>' });
  assert.equal((await b.post('/staff/preview', { markdown: 'x' }, { csrf: false })).status, 403);
  assert.equal((await h.browser().post('/staff/preview', { markdown: 'x' }, { csrf: 'x' })).status, 401);
});

test('saving the plan over a newer version is refused with the same clear message, and the draft is kept', async () => {
  const h = makeStaffHarness();
  await h.addUser('alice', 'admin');
  await h.addUser('bob', 'staff');
  const a = h.browser();
  await a.login('alice');
  const b = h.browser();
  await b.login('bob');
  const planVersion = (html: string) => /action="\/staff\/tasks\/2733\/phases">[\s\S]*?name="version" value="(\d+)"/.exec(html)![1];
  const titles = () =>
    (h.db.prepare('SELECT title FROM phases WHERE task_id = 2733 ORDER BY position').all() as { title: string }[]).map((p) => p.title);
  const plan = (title: string, version: string) => ({
    count: '1',
    phase_title_0: title,
    phase_sdate_0: '2026-02-02',
    phase_pos_0: '1',
    version,
    move: 'save',
  });
  const vA = planVersion((await a.get('/staff/tasks/2733')).text);
  const vB = planVersion((await b.get('/staff/tasks/2733')).text);
  assert.equal((await a.post('/staff/tasks/2733/phases', plan('Alice plan', vA))).status, 303);
  // Bob moves a row first (a re-render, not a save): the form keeps the version he opened it at.
  const moved = await b.post('/staff/tasks/2733/phases', { ...plan('Bob plan', vB), move: 'down-0' });
  assert.equal(moved.status, 200);
  assert.equal(planVersion(moved.text), vB);
  const refused = await b.post('/staff/tasks/2733/phases', plan('Bob plan', vB));
  assert.equal(refused.status, 409);
  assert.match(refused.text, /Not saved: someone else changed FS#2733 after you opened it/);
  assert.match(refused.text, /name="phase_title_0" maxlength="200" value="Bob plan"/, "Bob's plan is still in the form");
  assert.deepEqual(titles(), ['Alice plan']);
  // Saving again, with the version the refusal shows, is the deliberate overwrite.
  const current = planVersion(refused.text);
  assert.notEqual(current, vB);
  assert.equal((await b.post('/staff/tasks/2733/phases', plan('Bob plan', current))).status, 303);
  assert.deepEqual(titles(), ['Bob plan']);
});

test('login form CSRF: the form carries a token bound to a short-lived cookie; a post without it is refused', async () => {
  const h = makeStaffHarness();
  await h.addUser('bob', 'staff');
  const env = { incoming: { socket: { remoteAddress: '192.0.2.9' } } };
  const form = await h.app.request('/staff/login');
  const set = form.headers.getSetCookie().find((c) => c.startsWith('tidings_login_csrf='));
  assert.ok(set, 'the login page sets the login-CSRF cookie');
  assert.match(set, /HttpOnly/i);
  assert.match(set, /SameSite=Lax/i);
  assert.match(set, /Max-Age=\d+/i, 'short-lived');
  const cookieValue = set.split(';')[0].split('=')[1];
  assert.match(await form.text(), new RegExp(`name="_csrf" value="${cookieValue}"`), 'the hidden field carries the cookie value');

  const post = (fields: Record<string, string>, cookie?: string) =>
    h.app.request(
      '/staff/login',
      {
        method: 'POST',
        body: new URLSearchParams({ username: 'bob', password: 'correct horse battery', next: '/staff', ...fields }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      },
      env,
    );
  // A forged post from another site: no token, or a token without our cookie, or the wrong one.
  for (const [fields, cookie] of [
    [{}, undefined],
    [{ _csrf: cookieValue }, undefined],
    [{}, `tidings_login_csrf=${cookieValue}`],
    [{ _csrf: 'x'.repeat(43) }, `tidings_login_csrf=${cookieValue}`],
  ] as const) {
    const res = await post(fields, cookie);
    assert.equal(res.status, 403, JSON.stringify([fields, cookie]));
    assert.match(await res.text(), /The login form has expired or was not sent from this site/);
    assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('tidings_session=')), 'no session');
  }
  assert.equal(h.db.prepare(`SELECT 1 FROM audit_log WHERE action LIKE 'auth.%'`).get(), undefined, 'not even a failed login counted');

  const ok = await post({ _csrf: cookieValue }, `tidings_login_csrf=${cookieValue}`);
  assert.equal(ok.status, 303);
  const cookies = ok.headers.getSetCookie();
  assert.ok(cookies.some((c) => c.startsWith('tidings_session=')));
  assert.ok(
    cookies.some((c) => /^tidings_login_csrf=;.*Max-Age=0/i.test(c)),
    'the login token is dropped once used',
  );

  // The form fields of the JSON API need the same token; JSON itself is not something a form can send.
  const apiForm = await h.app.request(
    '/api/v1/auth/login',
    {
      method: 'POST',
      body: new URLSearchParams({ username: 'bob', password: 'correct horse battery' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    },
    env,
  );
  assert.equal(apiForm.status, 403);
  const apiJson = await h.app.request(
    '/api/v1/auth/login',
    {
      method: 'POST',
      body: JSON.stringify({ username: 'bob', password: 'correct horse battery' }),
      headers: { 'content-type': 'application/json' },
    },
    env,
  );
  assert.equal(apiJson.status, 200);

  const https = makeStaffHarness({ env: { TIDINGS_PUBLIC_URL: 'https://status.example.test' } });
  const secure = (await https.app.request('/staff/login')).headers.getSetCookie().find((c) => c.startsWith('__Host-tidings_login_csrf='));
  assert.ok(secure, '__Host- prefixed on https');
  assert.match(secure, /Secure/);
  assert.match(secure, /Path=\//);
});
