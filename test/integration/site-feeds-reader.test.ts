// Hostile section, user and list names read as a feed reader reads them: XML first, then HTML where readers render HTML.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { XMLParser } from 'fast-xml-parser';
import { assertWellFormedXml } from '../support/xml-strict.ts';
import { decodeEntities } from '../support/html-text.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';

// Markup, an entity that must stay literal, quotes: whatever a reader shows must be exactly these characters.
const SECTION = `<b>x</b> & <script>alert(1)</script> &amp; "q'`;
const PERSON = `<img src=x onerror=alert(2)> Eve &lt;3`;
const REASON = `<i>done</i> & dusted`;
// A dash in the slug: the Atom category label once kept an internal placeholder for it.
const SLUG = 'hostile-svc';
let site: SiteServer;

before(async () => {
  site = await startSiteServer({ now: '2026-01-15T12:00:00.000Z' });
  const db = site.db;
  const root = (db.prepare('SELECT id FROM categories WHERE parent_id IS NULL').get() as { id: number }).id;
  db.prepare('INSERT INTO sections (slug, name, description, position) VALUES (?, ?, ?, 99)').run(SLUG, SECTION, SECTION);
  db.prepare('INSERT INTO categories (parent_id, name, position) VALUES (?, ?, 99)').run(root, SECTION);
  db.prepare('INSERT INTO close_reasons (name, position) VALUES (?, 99)').run(REASON);
  const userId = Number(
    db
      .prepare(`INSERT INTO users (username, display_name, role, created_at) VALUES ('eve', ?, 'staff', '2026-01-01T00:00:00.000Z')`)
      .run(PERSON).lastInsertRowid,
  );
  const id = insertTask(db, {
    summary: 'Plain summary',
    section: SLUG,
    openedAt: '2026-01-14T10:00:00.000Z',
    comments: [{ at: '2026-01-14T11:00:00.000Z', html: '<p>update</p>' }],
    closed: { at: '2026-01-14T12:00:00.000Z', reason: REASON },
  });
  // The fixture writes as the seeded legacy admin; the hostile user opens, comments and closes instead.
  db.prepare('UPDATE tasks SET opened_by = ?, closed_by = ? WHERE id = ?').run(userId, userId, id);
  db.prepare('UPDATE comments SET author_id = ? WHERE task_id = ?').run(userId, id);
  site.changes.bump();
});
after(async () => {
  await site?.close();
});

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  htmlEntities: false,
  parseTagValue: false,
  trimValues: false,
});

/** The parts of the parsed feeds that these tests read: an element is its text, or an object of '#text' and '@attribute's. */
type XmlElement = string | Record<string, string>;
type Rss = { rss: { channel: { title: XmlElement; description: XmlElement; item: RssItem | RssItem[] } } };
type RssItem = { title: XmlElement; author: XmlElement; category: XmlElement | XmlElement[]; description: XmlElement };
type Atom = { feed: { title: Record<string, string>; subtitle: Record<string, string>; entry: AtomEntry | AtomEntry[] } };
type AtomEntry = { title: XmlElement; author: { name: XmlElement }; category: Record<string, string> };

const textOf = (v: unknown): string => String(typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['#text'] : v);

/** What a reader shows of a field it renders as HTML: the XML text is HTML source, so it must hold no markup at all. */
function shownAsHtml(xmlText: string, what: string): string {
  assert.ok(!xmlText.includes('<'), `${what}: readers would render markup: ${JSON.stringify(xmlText)}`);
  return decodeEntities(xmlText);
}

async function feed<T extends Rss | Atom>(path: string): Promise<T> {
  const res = await site.get(path);
  assert.equal(res.status, 200, path);
  const xml = await res.text();
  assertWellFormedXml(xml, path);
  assert.ok(!xml.includes('tidings-label-'), `${path}: an internal placeholder leaked into the feed`);
  return parser.parse(xml);
}

test('RSS: channel title and description, item author and category show the literal names', async () => {
  for (const path of [`/section/${SLUG}/feed.rss`, '/feed.rss']) {
    const channel = (await feed<Rss>(path)).rss.channel;
    if (path.startsWith('/section')) {
      assert.equal(shownAsHtml(textOf(channel.title), `${path} title`), `${SECTION} · Tidings status`);
      assert.equal(shownAsHtml(textOf(channel.description), `${path} description`), `Incidents, planned work and updates for ${SECTION}`);
    }
    const items = [channel.item].flat().filter((i: Record<string, unknown>) => textOf(i.title).includes('Plain summary'));
    assert.equal(items.length, 3, `${path}: opened, comment and closed items`);
    for (const item of items) {
      assert.equal(shownAsHtml(textOf(item.author), `${path} item author`), PERSON);
      assert.deepEqual(
        [item.category].flat().map((c) => shownAsHtml(textOf(c), `${path} item category`)),
        [SECTION],
      );
    }
    const closed = items.find((i) => textOf(i.title).includes('closed'));
    assert.ok(closed, `${path}: the closed item`);
    assert.ok(!textOf(closed.description).includes('<i>'), `${path}: the close reason is text in the item HTML`);
    assert.match(decodeEntities(textOf(closed.description).replace(/<[^>]*>/g, '')), new RegExp(`Reason for closing: ${REASON}`));
  }
});

test('Atom: feed title and subtitle are HTML text, author names show literally, a dashed slug gets its real category label', async () => {
  for (const path of [`/section/${SLUG}/feed.atom`, '/feed.atom']) {
    const doc = (await feed<Atom>(path)).feed;
    if (path.startsWith('/section')) {
      // Marked as HTML so readers that follow the type decode exactly as those that always render HTML.
      assert.equal(doc.title['@type'], 'html', `${path}: feed title type`);
      assert.equal(doc.subtitle['@type'], 'html', `${path}: feed subtitle type`);
      assert.equal(shownAsHtml(textOf(doc.title), `${path} title`), `${SECTION} · Tidings status`);
      assert.equal(shownAsHtml(textOf(doc.subtitle), `${path} subtitle`), `Incidents, planned work and updates for ${SECTION}`);
    }
    const entries = [doc.entry].flat().filter((e: Record<string, unknown>) => textOf(e.title).includes('Plain summary'));
    assert.equal(entries.length, 3, `${path}: opened, comment and closed entries`);
    for (const entry of entries) {
      assert.equal(shownAsHtml(textOf(entry.author.name), `${path} author name`), PERSON);
      const category = entry.category as Record<string, string>;
      assert.equal(category['@term'], SLUG, `${path}: category term`);
      // A label is an attribute of plain text: one XML decoding gives the name.
      assert.equal(category['@label'], SECTION, `${path}: category label`);
    }
  }
});
