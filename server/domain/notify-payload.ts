// Pure: the outbox payload (data/contracts/notify.ts) of each announced change. HTML is built only from the stored,
// sanitized HTML the public page shows (comments, task details) and escaped text; the plain text is that same content.
import { STATE_LEGEND, type ServiceState } from '#data/contracts/states.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import type { NotifyChange, NotifyPayload } from '#data/contracts/notify.ts';
import { escapeHtml, htmlToText } from './html.ts';
import { utcMinute } from './timezone.ts';

/** The task as the event announces it (after the change). */
export interface NotifyTask {
  id: number;
  summary: string;
  status: string;
  percent: number;
  closed: boolean;
  section: { slug: string; name: string } | null;
}

export interface NotifyPhase {
  title: string;
  startsAt: string | null;
  endsAt: string | null;
}

/** What happened to the task; bodyHtml / detailsHtml are stored sanitized HTML (server/domain/markdown.ts). */
export type TaskNews =
  | { kind: 'task-opened'; type: string; by: string; detailsHtml: string }
  | { kind: 'comment'; author: string; bodyHtml: string }
  | { kind: 'task-changed'; changes: NotifyChange[] }
  | { kind: 'phases-changed'; phases: NotifyPhase[] }
  | { kind: 'phase-transition'; bodyHtml: string; changes: NotifyChange[] }
  | { kind: 'task-closed'; reason: string }
  | { kind: 'task-reopened' };

/** The task fields whose change is announced (task-changed): the ones the public task list shows. */
export const ANNOUNCED_FIELDS: ReadonlySet<string> = new Set(['summary', 'type', 'category', 'section', 'status', 'percent']);

/** How a changed field is named in messages. */
export const FIELD_LABELS: Record<string, string> = {
  summary: 'summary',
  type: 'task type',
  category: 'category',
  section: 'section',
  status: 'status',
  percent: 'percent complete',
  state: 'state',
};

/** One line for a Subject: controls (CR, LF, tabs) become spaces, at most `max` characters. */
export function oneLine(s: string, max = 300): string {
  const line = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

const percentText = (v: string | null) => (v === null ? 'none' : `${v}%`);

function valueText(c: NotifyChange, v: string | null): string {
  if (c.field === 'percent') return percentText(v);
  if (c.field === 'state' && v !== null) return `${v} (${STATE_LEGEND[v as ServiceState] ?? v})`;
  return v ?? 'none';
}

/** "status: New → In progress" per change, in words. */
function changeLines(changes: readonly NotifyChange[]): string[] {
  return changes.map((c) => `${FIELD_LABELS[c.field] ?? c.field}: ${valueText(c, c.from)} → ${valueText(c, c.to)}`);
}

function phaseLine(p: NotifyPhase): string {
  const when = (iso: string | null) => (iso === null ? 'open' : utcMinute(iso));
  return `${p.title}: ${when(p.startsAt)} – ${when(p.endsAt)}`;
}

function joinWords(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/** The subject's ending and the body (HTML, text) of each kind. */
function newsBody(n: TaskNews): { what: string; html: string; text: string } {
  const lines = (ls: string[]) => ({
    html: `<ul>${ls.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
    text: ls.map((l) => `- ${l}`).join('\n'),
  });
  switch (n.kind) {
    case 'task-opened': {
      const intro = `New ${n.type} task, opened by ${n.by}.`;
      return {
        what: 'new task',
        html: `<p>${escapeHtml(intro)}</p>${n.detailsHtml}`,
        text: [intro, htmlToText(n.detailsHtml)].filter(Boolean).join('\n\n'),
      };
    }
    case 'comment': {
      const intro = `${n.author} wrote:`;
      return { what: 'new comment', html: `<p>${escapeHtml(intro)}</p>${n.bodyHtml}`, text: `${intro}\n\n${htmlToText(n.bodyHtml)}` };
    }
    case 'task-changed':
      return { what: `${joinWords(n.changes.map((c) => FIELD_LABELS[c.field] ?? c.field))} changed`, ...lines(changeLines(n.changes)) };
    case 'phases-changed': {
      const ls = n.phases.length ? n.phases.map(phaseLine) : ['(no phases)'];
      const l = lines(ls);
      return {
        what: 'deployment plan changed',
        html: `<p>The deployment plan is now:</p>${l.html}`,
        text: `The deployment plan is now:\n${l.text}`,
      };
    }
    case 'phase-transition': {
      const extra = n.changes.length ? lines(changeLines(n.changes)) : { html: '', text: '' };
      return {
        what: 'deployment plan update',
        html: n.bodyHtml + extra.html,
        text: [htmlToText(n.bodyHtml), extra.text].filter(Boolean).join('\n\n'),
      };
    }
    case 'task-closed': {
      const line = `Reason for closing: ${n.reason}`;
      return { what: `closed (${n.reason})`, html: `<p>${escapeHtml(line)}</p>`, text: line };
    }
    case 'task-reopened':
      return { what: 'reopened', html: '<p>The task was reopened.</p>', text: 'The task was reopened.' };
  }
}

const taskUrl = (publicUrl: string, id: number) => `${publicUrl}/task/${id}`;
const sectionUrl = (publicUrl: string, slug: string) => `${publicUrl}/section/${encodeURIComponent(slug)}`;

/** The payload of a task event; `task` is the task after the change. */
export function taskPayload(publicUrl: string, task: NotifyTask, news: TaskNews): NotifyPayload {
  const url = taskUrl(publicUrl, task.id);
  const title = `${taskRef(task.id)} ${task.summary}`;
  const body = newsBody(news);
  const status = task.closed ? 'Closed' : task.status;
  const facts = `Status: ${status} · ${task.percent}% complete${task.section ? ` · Section: ${task.section.name}` : ''}`;
  return {
    subject: oneLine(`${title}: ${body.what}`),
    html: [
      `<h1><a href="${escapeHtml(url)}">${escapeHtml(title)}</a></h1>`,
      body.html,
      `<p>${escapeHtml(facts)}</p>`,
      `<p><a href="${escapeHtml(url)}">${escapeHtml(url)}</a></p>`,
    ].join('\n'),
    text: `${title}\n\n${body.text}\n\n${facts}\n\n${url}\n`,
    url,
    task: { id: task.id, summary: task.summary, status: task.status, percent: task.percent, closed: task.closed },
    section: task.section,
    changes: news.kind === 'task-changed' || news.kind === 'phase-transition' ? news.changes : [],
  };
}

/** The payload of a section's public state change ("Email: active issues or failures"). */
export function sectionStatePayload(
  publicUrl: string,
  section: { slug: string; name: string },
  change: { from: ServiceState | null; to: ServiceState; reason: string },
): NotifyPayload {
  const url = sectionUrl(publicUrl, section.slug);
  const headline = `${section.name}: ${STATE_LEGEND[change.to]}`;
  const changes: NotifyChange[] = [{ field: 'state', from: change.from, to: change.to }];
  const line = changeLines(changes)[0];
  return {
    subject: oneLine(headline),
    html: [
      `<h1><a href="${escapeHtml(url)}">${escapeHtml(headline)}</a></h1>`,
      `<p>${escapeHtml(line)}</p>`,
      `<p>${escapeHtml(change.reason)}</p>`,
      `<p><a href="${escapeHtml(url)}">${escapeHtml(url)}</a></p>`,
    ].join('\n'),
    text: `${headline}\n\n${line}\n${change.reason}\n\n${url}\n`,
    url,
    task: null,
    section,
    changes,
  };
}
