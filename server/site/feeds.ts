// Atom and RSS feeds of task updates (opened, commented, closed), for everything or one section.
import { Feed } from 'feed';
import type { StatusSnapshot, TaskView } from '#data/contracts/status.ts';

export const FEED_ITEMS = 50;

interface Update { id: string; at: string; title: string; html: string; task: TaskView; author: string }

function updatesOf(t: TaskView): Update[] {
  const out: Update[] = [{
    id: `task-${t.id}-opened`, at: t.openedAt, title: `FS#${t.id} opened: ${t.summary}`, html: t.detailsHtml, task: t, author: t.openedBy,
  }];
  for (const c of t.comments) {
    out.push({ id: `task-${t.id}-comment-${c.id}`, at: c.at, title: `FS#${t.id} ${t.summary}: update`, html: c.bodyHtml, task: t, author: c.author });
  }
  if (t.isClosed && t.closedAt) {
    out.push({
      id: `task-${t.id}-closed`, at: t.closedAt, title: `FS#${t.id} closed: ${t.summary}`,
      html: `<p>Reason for closing: ${escapeHtml(t.closeReason ?? '')}</p>`, task: t, author: t.closedBy ?? '',
    });
  }
  return out;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Feeds { atom: string; rss: string }

/** Returns null for an unknown section so the route can answer 404. */
export function buildFeeds(snap: StatusSnapshot, publicUrl: string, sectionSlug?: string): Feeds | null {
  const section = sectionSlug === undefined ? null : snap.sections.find((s) => s.slug === sectionSlug);
  if (sectionSlug !== undefined && !section) return null;
  const tasks = section ? snap.tasks.filter((t) => t.section?.slug === section.slug) : snap.tasks;
  const updates = tasks.flatMap(updatesOf).sort((a, b) => b.at.localeCompare(a.at) || a.id.localeCompare(b.id)).slice(0, FEED_ITEMS);
  const base = section ? `${publicUrl}/section/${section.slug}` : publicUrl;
  const feed = new Feed({
    title: section ? `${section.name} · Tidings status` : 'Tidings status: all task updates',
    description: section ? `Incidents, planned work and updates for ${section.name}` : 'Incidents, planned work and updates for all services',
    id: `${base}/`,
    link: section ? base : `${publicUrl}/`,
    language: 'en',
    copyright: '',
    updated: new Date(updates[0]?.at ?? snap.generatedAt),
    generator: 'Tidings',
    feedLinks: { atom: `${base}/feed.atom`, rss: `${base}/feed.rss` },
  });
  for (const u of updates) {
    const link = `${publicUrl}/task/${u.task.id}`;
    feed.addItem({
      // Atom marks titles type="html" and readers render RSS titles as HTML too: the text must arrive escaped.
      title: escapeHtml(u.title), id: `${link}#${u.id}`, guid: `${link}#${u.id}`, link, date: new Date(u.at),
      content: u.html, description: u.html, author: u.author ? [{ name: u.author }] : undefined,
      category: u.task.section ? [{ name: u.task.section.name }] : undefined,
    });
  }
  return { atom: feed.atom1(), rss: feed.rss2() };
}
