// Section names, task summaries and comment bodies with XML metacharacters keep every Atom and RSS feed well-formed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { XMLParser } from 'fast-xml-parser';
import { assertWellFormedXml } from '../support/xml-strict.ts';
import { decodeEntities } from '../support/html-text.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

const PAYLOADS = ['<b>x', 'a&b', `"q'`, ']]>', `<a href="x">&amp;]]>]]></a>`];
let site: SiteServer;

before(async () => {
  site = await startSiteServer({ now: '2026-01-15T12:00:00.000Z' });
  const root = (site.db.prepare('SELECT id FROM categories WHERE parent_id IS NULL').get() as { id: number }).id;
  PAYLOADS.forEach((name, i) => {
    site.db.prepare('INSERT INTO sections (slug, name, description, position) VALUES (?, ?, ?, ?)').run(`payload${i}`, name, name, 10 + i);
    site.db.prepare('INSERT INTO categories (parent_id, name, position) VALUES (?, ?, ?)').run(root, name, 10 + i);
    insertTask(site.db, {
      summary: `summary ${name}`,
      section: `payload${i}`,
      openedAt: `2026-01-1${i}T10:00:00.000Z`,
      comments: [{ at: `2026-01-1${i}T11:00:00.000Z`, html: `<p>${name} ]]> ${name}</p>` }],
    });
  });
  site.changes.bump();
});
after(async () => {
  await site?.close();
});

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', htmlEntities: false });
const text = (v: unknown): string => String(typeof v === 'object' && v !== null ? (v as { '#text': unknown })['#text'] : v);
/** Fields readers render as HTML (RSS categories, feed titles) arrive HTML-escaped: no markup, the name once decoded. */
const html = (v: unknown): string => {
  const s = text(v);
  assert.ok(!s.includes('<'), `markup in a field rendered as HTML: ${JSON.stringify(s)}`);
  return decodeEntities(s);
};

test('every feed stays well-formed XML and carries the names unchanged when they hold <, &, quotes or ]]>', async () => {
  const feeds = [
    '/feed.atom',
    '/feed.rss',
    ...PAYLOADS.flatMap((_, i) => [`/section/payload${i}/feed.atom`, `/section/payload${i}/feed.rss`]),
  ];
  for (const path of feeds) {
    const res = await site.get(path);
    assert.equal(res.status, 200, path);
    const xml = await res.text();
    assertWellFormedXml(xml, path);
    const doc = parser.parse(xml);
    const atom = path.endsWith('.atom');
    const entries: Record<string, unknown>[] = [atom ? doc.feed.entry : doc.rss.channel.item].flat();
    const categories = entries
      .flatMap((e) => [e.category ?? []].flat())
      .map((c) => (atom ? (c as Record<string, string>)['@label'] : html(c)));
    const section = /payload(\d)/.exec(path);
    const expected = section ? [PAYLOADS[Number(section[1])]] : PAYLOADS;
    for (const name of expected) {
      assert.ok(categories.includes(name), `${path}: category ${JSON.stringify(name)} in ${JSON.stringify(categories)}`);
    }
    if (section) {
      const title = html(atom ? doc.feed.title : doc.rss.channel.title);
      assert.equal(title, `${PAYLOADS[Number(section[1])]} · Tidings status`, `${path}: feed title`);
    }
    if (atom) {
      for (const c of entries.flatMap((e) => [e.category ?? []].flat()) as Record<string, string>[]) {
        assert.match(c['@term'] ?? '', /^[a-z0-9]+$/, `${path}: an Atom category needs a term`);
      }
    }
  }
});
