// /status.json and the feeds: shape, caching headers, valid XML; and the snapshot that spares the database per view.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { StatusJson } from '#data/contracts/status.ts';
import { openBackendStore } from '#server/store/open.ts';
import type { DB } from '#data/db.ts';
import { countingPrepares, startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';
import { decodeEntities } from '../support/html-text.ts';

let site: SiteServer;
let prepares = 0;

/** Counts statements prepared through the app's handle: a page view served from the snapshot prepares none. */
const countingDb = (db: DB): DB =>
  countingPrepares(db, () => {
    prepares++;
  });

before(async () => {
  const now = '2026-01-15T12:00:00.000Z';
  site = await startSiteServer({ now, db: countingDb(openBackendStore(':memory:', () => new Date(now))) });
});
after(async () => {
  await site.close();
});

test('/status.json has the published shape, CDN-friendly caching, CORS and a working ETag', async () => {
  const res = await site.get('/status.json');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const cc = res.headers.get('cache-control') ?? '';
  assert.match(cc, /\bpublic\b/);
  assert.match(cc, /\bs-maxage=\d+/);
  assert.match(cc, /\bstale-if-error=\d+/);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const body = StatusJson.parse(await res.json());
  assert.equal(body.generatedAt, '2026-01-15T12:00:00.000Z');
  assert.equal(body.lastUpdated, '2021-11-10T16:09:00.000Z', 'FS#2733 closing is the latest change');
  assert.deepEqual(
    body.sections.map((s) => s.slug),
    ['email', 'webhosting', 'databases', 'dns', 'controlpanel'],
  );
  const email = body.sections[0];
  assert.equal(email.state, 'operational');
  assert.equal(email.legend, 'normal work for all services');
  assert.equal(email.lastUpdated, '2021-11-10T16:09:00.000Z');
  assert.equal(email.url, 'http://status.example.test/section/email');
  assert.deepEqual(body.openTasks, [], 'FS#2733 is closed');
  const etag = res.headers.get('etag')!;
  assert.equal((await site.get('/status.json', { headers: { 'if-none-match': etag } })).status, 304);
});

test('the snapshot rebuilds after a write (change counter) and when the clock crosses a phase boundary', async () => {
  const id = insertTask(site.db, {
    summary: 'Mail queue migration',
    type: 'Maintenance',
    section: 'email',
    openedAt: '2026-01-14T08:00:00.000Z',
    phases: [{ title: 'switch', startsAt: '2026-01-16T00:00:00.000Z', endsAt: '2026-01-16T05:59:59.999Z' }],
  });
  let body = StatusJson.parse(await (await site.get('/status.json')).json());
  assert.deepEqual(body.openTasks, [], 'no rebuild before the counter moves');
  site.changes.bump();
  body = StatusJson.parse(await (await site.get('/status.json')).json());
  assert.equal(body.openTasks[0]?.id, id);
  assert.equal(body.openTasks[0].stage, 'upcoming');
  assert.equal(body.openTasks[0].url, `http://status.example.test/task/${id}`);
  assert.equal(body.sections[0].state, 'announcement');
  assert.match(body.sections[0].reason, new RegExp(`FS#${id} Mail queue migration`));

  site.setNow('2026-01-16T00:00:00.000Z');
  body = StatusJson.parse(await (await site.get('/status.json')).json());
  assert.equal(body.openTasks[0].stage, 'running', 'the phase start rebuilt the snapshot without a write');
  assert.equal(body.openTasks[0].phases[0].state, 'running');
  site.setNow('2026-01-16T06:00:00.000Z');
  body = StatusJson.parse(await (await site.get('/status.json')).json());
  assert.equal(body.openTasks[0].phases[0].state, 'done');
  assert.equal(body.sections[0].state, 'operational', 'all phases done: the announcement light goes off');
});

test('page views between writes do no database work', async () => {
  for (const p of ['/', '/tasks', '/task/2733', '/section/email', '/status.json', '/feed.atom']) await site.get(p);
  const before = prepares;
  for (let i = 0; i < 20; i++) {
    for (const p of ['/', '/tasks?sort=summary&dir=asc', '/task/2733', '/section/email', '/status.json', '/feed.rss', `/tasks?q=x${i}`]) {
      assert.equal((await site.get(p)).status, 200, p);
    }
  }
  assert.equal(prepares, before, 'no statement was prepared while nothing changed');
  site.changes.bump();
  await site.get('/');
  assert.ok(prepares > before, 'a write makes the next view read the database once');
});

const parser = new XMLParser({ ignoreAttributes: false });

test('Atom and RSS feeds are valid XML with the task updates, newest first, for all and per section', async () => {
  for (const [path, type] of [
    ['/feed.atom', 'atom'],
    ['/feed.rss', 'rss'],
    ['/section/email/feed.atom', 'atom'],
    ['/section/email/feed.rss', 'rss'],
  ] as const) {
    const res = await site.get(path);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type') ?? '', type === 'atom' ? /^application\/atom\+xml/ : /^application\/rss\+xml/);
    const xml = await res.text();
    assert.equal(XMLValidator.validate(xml), true, `${path} is well-formed XML`);
    const doc = parser.parse(xml);
    const items: { title: string }[] = type === 'atom' ? [doc.feed.entry].flat() : [doc.rss.channel.item].flat();
    const titles = items.map((i) =>
      decodeEntities(String(typeof i.title === 'object' ? (i.title as { '#text': string })['#text'] : i.title)),
    );
    assert.ok(titles.includes('FS#2733 closed: Reworking / Scaling mailsystem inbound'), `${path}: ${titles.join(' | ')}`);
    assert.ok(titles.includes('FS#2733 opened: Reworking / Scaling mailsystem inbound'), path);
    assert.equal(
      titles.filter((t) => t === 'FS#2733 Reworking / Scaling mailsystem inbound: update').length,
      3,
      `${path}: one entry per comment`,
    );
    assert.ok(
      titles.indexOf('FS#2733 closed: Reworking / Scaling mailsystem inbound') <
        titles.indexOf('FS#2733 opened: Reworking / Scaling mailsystem inbound'),
      'newest first',
    );
  }
  const dns = parser.parse(await (await site.get('/section/dns/feed.atom')).text());
  assert.equal(dns.feed.entry, undefined, 'the DNS feed has none of the Email updates');
  assert.equal((await site.get('/section/nope/feed.atom')).status, 404);
});

test('a staff override sets the section light until it expires, then the task rules apply again', async () => {
  site.setNow('2026-02-01T10:00:00.000Z');
  const dns = (site.db.prepare("SELECT id FROM sections WHERE slug = 'dns'").get() as { id: number }).id;
  site.db
    .prepare('INSERT INTO section_overrides (section_id, state, note, set_by, set_at, expires_at) VALUES (?, ?, ?, NULL, ?, ?)')
    .run(dns, 'issues', 'Resolver upgrade under way', '2026-02-01T09:00:00.000Z', '2026-02-01T11:00:00.000Z');
  site.changes.bump();
  let body = StatusJson.parse(await (await site.get('/status.json')).json());
  let state = body.sections.find((s) => s.slug === 'dns')!;
  assert.deepEqual([state.state, state.reason, state.lastUpdated], ['issues', 'Resolver upgrade under way', '2026-02-01T09:00:00.000Z']);
  const html = await (await site.get('/')).text();
  assert.match(html, /<li data-section="dns">[\s\S]*?data-state="issues"[\s\S]*?Resolver upgrade under way/);
  site.setNow('2026-02-01T11:00:00.000Z');
  body = StatusJson.parse(await (await site.get('/status.json')).json());
  state = body.sections.find((s) => s.slug === 'dns')!;
  assert.equal(state.state, 'operational', 'the expiry is a boundary: no write needed');
});
