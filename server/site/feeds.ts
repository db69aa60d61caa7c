// Atom and RSS feeds of task updates (opened, commented, closed) and section state changes, for everything or one section.
import { randomUUID } from 'node:crypto';
import { Feed, type FeedOptions } from 'feed';
import { STATE_LEGEND } from '#data/contracts/states.ts';
import type { StatusSnapshot, TaskView } from '#data/contracts/status.ts';
import type { StateChange } from '../store/state-changes.ts';
import { escapeHtml } from '../domain/html.ts';

export const FEED_ITEMS = 50;

interface Update {
  id: string;
  at: string;
  title: string;
  html: string;
  /** The page the entry links to (its id is this plus `#` and the update's id). */
  link: string;
  section: { slug: string; name: string } | null;
  author: string;
}

function updatesOf(t: TaskView, publicUrl: string): Update[] {
  const task = { link: `${publicUrl}/task/${t.id}`, section: t.section };
  const out: Update[] = [
    {
      id: `task-${t.id}-opened`,
      at: t.openedAt,
      title: `FS#${t.id} opened: ${t.summary}`,
      html: t.detailsHtml,
      ...task,
      author: t.openedBy,
    },
  ];
  for (const c of t.comments) {
    out.push({
      id: `task-${t.id}-comment-${c.id}`,
      at: c.at,
      title: `FS#${t.id} ${t.summary}: update`,
      html: c.bodyHtml,
      ...task,
      author: c.author,
    });
  }
  if (t.isClosed && t.closedAt) {
    out.push({
      id: `task-${t.id}-closed`,
      at: t.closedAt,
      title: `FS#${t.id} closed: ${t.summary}`,
      html: `<p>Reason for closing: ${escapeHtml(t.closeReason ?? '')}</p>`,
      ...task,
      author: t.closedBy ?? '',
    });
  }
  return out;
}

/** A section's stored state change as a feed entry: "Email: service status unknown or not updated yet", the reason. */
function stateUpdate(c: StateChange & { id: number }, section: { slug: string; name: string }, publicUrl: string): Update {
  return {
    id: `section-${section.slug}-state-${c.id}`,
    at: c.at,
    title: `${section.name}: ${STATE_LEGEND[c.state]}`,
    html: `<p>${escapeHtml(c.reason)}</p>`,
    link: `${publicUrl}/section/${section.slug}`,
    section,
    author: '',
  };
}

/** XML attribute text: the feed library escapes only `&` and `"` in attributes, so `<` in a section name broke the Atom feed. */
function escapeXmlAttr(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/**
 * The feed library wraps HTML in CDATA and splits only the first `]]>` inside; a second one ended the section early.
 * `]]&gt;` reads the same once the HTML is parsed (text and attribute values alike).
 */
const cdataSafe = (html: string) => html.replaceAll(']]>', ']]&gt;');

/**
 * Element text: the library turns every `&amp;` back into `&` before escaping, which corrupted a name holding
 * a literal `&amp;`. Doubling each `&` first is exactly undone by that step.
 */
const libText = (s: string) => s.replaceAll('&', '&amp;');

/**
 * Element text that readers render as HTML (RSS channel title and description, item author and category; Atom feed
 * title, subtitle and author name): escaped for HTML here and for XML by the library, as item titles are, so
 * `<b>` in a name shows as `<b>` instead of bold text or a running script.
 */
const htmlText = (s: string) => libText(escapeHtml(s));

/** The Atom feed's own title and subtitle are text constructs; `type="html"` makes readers that honour it decode as the rest do. */
function markAtomHeadAsHtml(atom: string): string {
  const firstEntry = atom.indexOf('<entry>');
  const headEnd = firstEntry < 0 ? atom.length : firstEntry;
  let head = atom.slice(0, headEnd);
  for (const tag of ['title', 'subtitle']) {
    if (!head.includes(`<${tag}>`)) throw new Error(`feeds: the Atom feed has no <${tag}> before its entries`);
    head = head.replace(`<${tag}>`, `<${tag} type="html">`);
  }
  return head + atom.slice(headEnd);
}

export interface Feeds {
  atom: string;
  rss: string;
}

/**
 * Returns null for an unknown section so the route can answer 404. `stateChanges`: the sections' stored state changes
 * (each section's first stored state, its state when recording began, is no change and is left out by the caller).
 */
export function buildFeeds(
  snap: StatusSnapshot,
  publicUrl: string,
  sectionSlug?: string,
  stateChanges: readonly (StateChange & { id: number })[] = [],
): Feeds | null {
  const section = sectionSlug === undefined ? null : snap.sections.find((s) => s.slug === sectionSlug);
  if (sectionSlug !== undefined && !section) return null;
  const tasks = section ? snap.tasks.filter((t) => t.section?.slug === section.slug) : snap.tasks;
  const sections = new Map(snap.sections.map((s) => [s.slug, { slug: s.slug, name: s.name }]));
  const changes = stateChanges.flatMap((c) => {
    const sec = sections.get(c.slug);
    return sec && (!section || section.slug === c.slug) ? [stateUpdate(c, sec, publicUrl)] : [];
  });
  const updates = tasks
    .flatMap((t) => updatesOf(t, publicUrl))
    .concat(changes)
    .sort((a, b) => b.at.localeCompare(a.at) || a.id.localeCompare(b.id))
    .slice(0, FEED_ITEMS);
  const base = section ? `${publicUrl}/section/${section.slug}` : publicUrl;
  const options: FeedOptions = {
    title: htmlText(section ? `${section.name} · Tidings status` : 'Tidings status: all task updates'),
    description: htmlText(
      section ? `Incidents, planned work and updates for ${section.name}` : 'Incidents, planned work and updates for all services',
    ),
    id: `${base}/`,
    link: section ? base : `${publicUrl}/`,
    language: 'en',
    copyright: '',
    updated: new Date(updates[0]?.at ?? snap.generatedAt),
    generator: 'Tidings',
    feedLinks: { atom: `${base}/feed.atom`, rss: `${base}/feed.rss` },
  };
  // Atom categories carry the slug as term and the section name as label. The library writes the label unescaped
  // but for `&`, so it gets a per-build placeholder (unguessable, so no task text can contain it) numbered per
  // section, swapped for the escaped name afterwards. RSS writes the name as element text, which the library escapes.
  const marker = `tidings-label-${randomUUID()}-`;
  const labelKeys = new Map<string, number>();
  const labels: string[] = [];
  const rssFeed = new Feed(options);
  const atomFeed = new Feed(options);
  for (const u of updates) {
    const link = u.link;
    const html = cdataSafe(u.html);
    const sec = u.section;
    const item = {
      // Atom marks titles type="html" and readers render RSS titles as HTML too: the text must arrive escaped.
      title: escapeHtml(u.title),
      id: `${link}#${u.id}`,
      guid: `${link}#${u.id}`,
      link,
      date: new Date(u.at),
      content: html,
      description: html,
      author: u.author ? [{ name: htmlText(u.author) }] : undefined,
    };
    let labelKey = sec ? labelKeys.get(sec.slug) : undefined;
    if (sec && labelKey === undefined) {
      labelKey = labels.push(sec.name) - 1;
      labelKeys.set(sec.slug, labelKey);
    }
    rssFeed.addItem({ ...item, category: sec ? [{ name: htmlText(sec.name) }] : undefined });
    atomFeed.addItem({
      ...item,
      category: sec ? [{ term: sec.slug, name: `${marker}${labelKey}`, scheme: `${publicUrl}/section/` }] : undefined,
    });
  }
  const rss = rssFeed.rss2();
  const atom = markAtomHeadAsHtml(atomFeed.atom1()).replace(
    new RegExp(`label="${marker}(\\d+)"`, 'g'),
    (_, key: string) => `label="${escapeXmlAttr(labels[Number(key)])}"`,
  );
  return { atom, rss };
}
