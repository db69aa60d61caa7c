// 39 XSS payloads typed into every text field through the staff forms (and brought in as quarantined mail and as shadow
// samples) stay inert on every public and staff page in Chromium.
/// <reference lib="dom" />
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { addStaff } from '#server/services/users/addStaff.ts';
import { hashNodeToken, issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { ingestBatch } from '#server/services/telemetry/ingestBatch.ts';
import { findNodeByTokenHash, type MxNode } from '#server/store/mail.ts';
import { addDomain } from '#server/services/mail/addDomain.ts';
import { scheduleSwitch } from '#server/services/mail/switches.ts';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';

/** Each one would open a dialog, or leave a live handler or URL, if it got through. At most 100 characters (list names). */
const PAYLOADS = [
  `<script>alert('x1')</script>`,
  `<img src=x onerror=alert('x2')>`,
  `<svg onload=alert('x3')>`,
  `<svg><script>alert('x4')</script></svg>`,
  `"><script>alert('x5')</script>`,
  `'><img src=x onerror=alert('x6')>`,
  `javascript:alert('x7')`,
  `[click x8](javascript:alert('x8'))`,
  `<a href="javascript:alert('x9')">x9</a>`,
  `<iframe src="javascript:alert('x10')"></iframe>`,
  `<body onload=alert('x11')>`,
  `<input autofocus onfocus=alert('x12')>`,
  `<details open ontoggle=alert('x13')>`,
  `<math><mtext><table><mglyph><style><img src=x onerror=alert('x14')>`,
  `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x15</a>`,
  `[x16](data:text/html,<script>alert('x16')</script>)`,
  `<object data="javascript:alert('x17')">`,
  `<embed src="javascript:alert('x18')">`,
  `<scr<script>ipt>alert('x19')</script>`,
  `<<script>alert('x20');//<</script>`,
  `<img src="x\` \`<script>alert('x21')</script>"\` \`>`,
  `</textarea><script>alert('x22')</script>`,
  `</title><script>alert('x23')</script>`,
  `</style><script>alert('x24')</script>`,
  `<style>@import 'javascript:alert("x25")';</style>`,
  `<div style="background:url(javascript:alert('x26'))">x26</div>`,
  `<svg><a xlink:href="javascript:alert('x27')"><text>x27</text></a></svg>`,
  `<form action="javascript:alert('x28')"><button>x28</button></form>`,
  `<meta http-equiv="refresh" content="0;url=javascript:alert('x29')">`,
  `![x30](x" onerror="alert('x30'))`,
  `<video><source onerror="alert('x31')">`,
  `<img src=x onerror=&#97;lert('x32')>`,
  `<marquee onstart=alert('x33')>x33</marquee>`,
  `{{constructor.constructor('alert("x34")')()}}`,
  `\${alert('x35')}`,
  `<a href="  JaVaScRiPt:alert('x36')">x36</a>`,
  `<noscript><p title="</noscript><img src=x onerror=alert('x37')>">`,
  `<base href="javascript:alert('x38')//">`,
  `"'><svg/onload=alert('x39')>`,
];

const PASSWORD = 'a long staff password';
const NOW = new Date(Math.floor(Date.now() / 60_000) * 60_000);
const wall = (ms: number) => new Date(NOW.getTime() + ms).toISOString().slice(0, 16);
let site: SiteServer;
let chrome: LaunchedBrowser;

/** A browser without JavaScript, as far as forms go: cookie, CSRF token from the last page, urlencoded posts. */
class FormClient {
  readonly jar = new Map<string, string>();
  csrf = '';
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }
  get cookie(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  keepCookies(res: Response): void {
    for (const set of res.headers.getSetCookie()) {
      const [pair] = set.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      if (/Max-Age=0/i.test(set)) this.jar.delete(name);
      else this.jar.set(name, pair.slice(pair.indexOf('=') + 1));
    }
  }
  async get(path: string): Promise<string> {
    const res = await fetch(this.base + path, { headers: { cookie: this.cookie }, redirect: 'manual' });
    this.keepCookies(res);
    const text = await res.text();
    this.csrf = /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? this.csrf;
    return text;
  }
  async post(path: string, fields: Record<string, string>, expect = 303): Promise<string> {
    const body = new URLSearchParams({ _csrf: this.csrf, ...fields });
    const res = await fetch(this.base + path, {
      method: 'POST',
      body,
      headers: { cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
    });
    this.keepCookies(res);
    const text = await res.text();
    assert.equal(res.status, expect, `POST ${path}: ${text.replace(/<style[\s\S]*?<\/style>/, '').slice(0, 600)}`);
    return res.headers.get('location') ?? text;
  }
  async login(username: string) {
    await this.get('/staff/login');
    await this.post('/staff/login', { username, password: PASSWORD, next: '/staff' });
    await this.get('/staff');
  }
}

const idOf = (table: string, column: string, value: string) =>
  (site.db.prepare(`SELECT id FROM ${table} WHERE ${column} = ?`).get(value) as { id: number }).id;

const taskIds: number[] = [];
const CLI = { userId: null, name: 'cli' };

before(async () => {
  site = await startSiteServer({ now: NOW.toISOString() });
  const ctx = { db: site.db, clock: () => NOW, changes: site.changes };
  await addStaff({
    ctx,
    actor: { userId: null, name: 'cli' },
    input: { username: 'root', displayName: 'Root', role: 'admin', password: PASSWORD },
  });
  addDomain({ ctx, actor: CLI, input: { name: 'xss.example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null } });
  const admin = new FormClient(site.url);
  await admin.login('root');
  const root = idOf('categories', 'name', 'All Services');

  // Quarantined copies whose mail-supplied strings (subject, sender, recipient, symbols, virus name) are the payloads,
  // as an MX node's events would bring them in (issue 12): /staff/mail/quarantine shows them.
  const node = findNodeByTokenHash(
    site.db,
    hashNodeToken(issueNodeToken({ ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' })),
  ) as MxNode;
  ingestBatch({
    db: site.db,
    clock: () => NOW,
    node,
    batch: {
      after: 0,
      events: PAYLOADS.map((p, i) => ({
        seq: i + 1,
        at: NOW.getTime() - 1000 + i,
        type: 'quarantined' as const,
        messageId: p,
        reason: i % 2 === 0 ? ('spam' as const) : ('virus' as const),
        entry: {
          deliveryId: i + 1,
          recipient: p,
          route: 'forward' as const,
          target: p,
          sender: p,
          subject: p,
          size: 100,
          score: i % 2 === 0 ? 10 : null,
          symbols: i % 2 === 0 ? [p, 'GTUBE'] : [],
          virus: i % 2 === 0 ? null : p,
        },
      })),
    },
  });
  // Shadow verdicts whose sample headers (From, Subject, Date, Message-ID) are the payloads (issue 13): /staff/mail/shadow.
  ingestBatch({
    db: site.db,
    clock: () => NOW,
    node,
    batch: {
      after: PAYLOADS.length,
      events: PAYLOADS.map((p, i) => ({
        seq: PAYLOADS.length + i + 1,
        at: NOW.getTime() - 1000 + i,
        type: 'shadow-verdict' as const,
        messageId: p,
        verdict: {
          // A domain each: the report shows at most 20 samples per domain, verdict and reason.
          domain: `x${i}.example.com`,
          address: `a@x${i}.example.com`,
          verdict: 'quarantine' as const,
          reason: 'spam' as const,
          score: 10,
          sample: { from: p, subject: p, date: p, messageId: p },
        },
      })),
    },
  });

  for (const [i, p] of PAYLOADS.entries()) {
    // Every list entry and the author's display name carry the payload, entered on the staff pages.
    await admin.get('/staff/lists');
    await admin.post('/staff/lists/sections', { name: p, slug: `xss${i}`, description: p, position: String(100 + i) });
    await admin.post('/staff/lists/task-types', { name: p, position: String(100 + i) });
    await admin.post('/staff/lists/statuses', { name: p, position: String(100 + i) });
    await admin.post('/staff/lists/close-reasons', { name: p, position: String(100 + i) });
    await admin.post('/staff/lists/categories', { name: p, parentId: String(root), position: String(100 + i) });
    await admin.get('/staff/users');
    await admin.post('/staff/users', { username: `u${i}`, displayName: p, role: 'staff', password: PASSWORD });
    await admin.get('/staff/overrides');
    await admin.post(`/staff/overrides/xss${i}`, { state: 'issues', note: p, expiresAt: wall(2 * 3_600_000) });

    const author = new FormClient(site.url);
    await author.login(`u${i}`);
    await author.get('/staff/tasks/new');
    const location = await author.post('/staff/tasks', {
      summary: p,
      details: p,
      typeId: String(idOf('task_types', 'name', p)),
      categoryId: String(idOf('categories', 'name', p)),
      sectionId: String(idOf('sections', 'slug', `xss${i}`)),
      statusId: String(idOf('statuses', 'name', p)),
      percent: '50',
      openedAt: '',
      id: '',
      action: 'save',
    });
    const id = Number(/\/staff\/tasks\/(\d+)/.exec(location)![1]);
    taskIds.push(id);
    await author.get(`/staff/tasks/${id}`);
    await author.post(`/staff/tasks/${id}/comments`, { body: p, at: '', action: 'save' });
    const day = (ms: number) => new Date(NOW.getTime() + ms).toISOString().slice(0, 10);
    await author.post(`/staff/tasks/${id}/phases`, {
      count: '1',
      move: 'save',
      phase_pos_0: '1',
      phase_title_0: p,
      phase_note_0: p,
      phase_sdate_0: day(-86_400_000),
      phase_stime_0: '',
      phase_edate_0: day(86_400_000),
      phase_etime_0: '',
    });
    // Half closed, so reasons and "closed by" show; half open, so they run on the overview.
    if (i % 2 === 1) await author.post(`/staff/tasks/${id}/close`, { reasonId: String(idOf('close_reasons', 'name', p)), at: '' });
    // An open task's phase still to come, and a domain switch following it: the domain's switch page shows both (issue 13).
    if (i % 2 === 0) {
      const starts = new Date(NOW.getTime() + 2 * 86_400_000).toISOString();
      site.db.prepare('INSERT INTO phases (task_id, position, title, starts_at) VALUES (?, 1, ?, ?)').run(id, `next: ${p}`, starts);
      scheduleSwitch({ ctx, actor: CLI, name: 'xss.example.com', input: { mode: 'active', taskId: id, phase: `next: ${p}` } });
    }
  }
});
after(async () => {
  await chrome?.close();
  await site?.close();
});

/** What would make a payload live: a handler attribute, a script URL, an embedding element, or a dialog. */
async function assertInert(page: Page, what: string, dialogs: string[]) {
  const live = await page.evaluate(() => {
    const found: string[] = [];
    for (const el of Array.from(document.querySelectorAll('*'))) {
      for (const a of Array.from(el.attributes)) {
        if (/^on/i.test(a.name)) found.push(`${el.tagName} ${a.name}`);
        if (
          /(href|src|action|formaction|data|content)$/i.test(a.name) &&
          /^\s*(javascript|data|vbscript):/i.test(a.value.replace(/^\d+;\s*url=/i, ''))
        )
          found.push(`${el.tagName} ${a.name}=${a.value}`);
      }
      if (/^(IFRAME|OBJECT|EMBED|BASE|FRAME)$/.test(el.tagName)) found.push(el.tagName);
      if (el.tagName === 'SCRIPT' && /alert/.test(el.textContent ?? '')) found.push('SCRIPT');
    }
    return found;
  });
  assert.deepEqual(live, [], `${what}: live markup`);
  assert.deepEqual(dialogs, [], `${what}: a dialog opened`);
}

test('every payload stays text on every public and staff page', async () => {
  chrome = await launchChromium();
  const page = await chrome.context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`${site.url}/staff/login`);
  await page.fill('#username', 'root');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log in' }).click()]);
  assert.equal(await page.locator('h1').innerText(), 'Open tasks');
  // Failed logins with payload names reach the audit log; after every real login, since the per-IP limit then locks logins out.
  for (const p of PAYLOADS) {
    const visitor = new FormClient(site.url);
    await visitor.get('/staff/login');
    // 401, or 429 once the per-IP limit has kicked in; never the login-CSRF 403.
    const res = await fetch(`${site.url}/staff/login`, {
      method: 'POST',
      body: new URLSearchParams({ _csrf: visitor.csrf, username: p, password: 'wrong password' }),
      headers: { cookie: visitor.cookie },
      redirect: 'manual',
    });
    assert.notEqual(res.status, 403, await res.text());
  }
  const visit = async (path: string) => {
    const res = await page.goto(site.url + path, { waitUntil: 'load' });
    assert.ok(res && res.status() < 400, `${path}: ${res?.status()}`);
    await assertInert(page, path, dialogs);
  };

  for (const path of ['/', '/tasks', '/tasks?page=2', '/tasks?state=closed']) await visit(path);
  for (const [i, id] of taskIds.entries()) {
    await visit(`/task/${id}`);
    // The payload is shown as the text it is, not dropped or parsed.
    assert.equal(await page.locator('article h1').innerText(), `FS#${id} - ${PAYLOADS[i].trim().replace(/\s+/g, ' ')}`);
    await visit(`/section/xss${i}`);
  }

  for (const path of [
    '/staff',
    '/staff?state=closed',
    '/staff/lists',
    '/staff/overrides',
    '/staff/audit',
    '/staff/audit?before=100',
    '/staff/users',
    '/staff/mail',
    '/staff/mail/quarantine',
    '/staff/mail/domains/xss.example.com/switches',
    '/staff/mail/shadow',
  ])
    await visit(path);
  const switches = await page.goto(`${site.url}/staff/mail/domains/xss.example.com/switches`).then(() => page.locator('main').innerText());
  for (const p of PAYLOADS.filter((_, i) => i % 2 === 0))
    assert.ok(switches.includes(`next: ${p}`.trim().replace(/\s+/g, ' ')), `the switch page shows the phase ${p} as text`);
  const quarantine = await page.goto(`${site.url}/staff/mail/quarantine`).then(() => page.locator('main').innerText());
  for (const p of PAYLOADS) assert.ok(quarantine.includes(p.trim().replace(/\s+/g, ' ')), `the quarantine shows ${p} as text`);
  const shadow = await page.goto(`${site.url}/staff/mail/shadow`).then(() => page.locator('main').innerText());
  for (const p of PAYLOADS) assert.ok(shadow.includes(p.trim().replace(/\s+/g, ' ')), `the shadow report shows ${p} as text`);
  const audit = await page.goto(`${site.url}/staff/audit?action=login`).then(() => page.locator('main').innerText());
  assert.ok(audit.includes(PAYLOADS[0]), 'a payload login name shows as text in the audit log');
  for (const [i, id] of taskIds.entries()) {
    await visit(`/staff/tasks/${id}`);
    assert.equal(await page.inputValue('#summary'), PAYLOADS[i].trim());
    // The Markdown preview is rendered by the server's sanitizer: the same treatment the public gets.
    await page.fill('#body', PAYLOADS[i]);
    // The comment form's Preview button, by CSS: a role query computes every accessible name of a long page.
    await Promise.all([page.waitForNavigation(), page.locator('form:has(#body) button[value="preview"]').click()]);
    await assertInert(page, `/staff/tasks/${id} comment preview`, dialogs);
    assert.equal(await page.inputValue('#body'), PAYLOADS[i].replace(/\r\n/g, '\n'));
  }
});
