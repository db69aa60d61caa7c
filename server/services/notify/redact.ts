// A redacted history value must not live on in the outbox (issue 14): the task's events have it replaced wherever they
// quote it, raw, escaped, or rendered from Markdown the way the page and the payload show it.
import type { DB } from '#data/db.ts';
import { renderMarkdown } from '../../domain/markdown.ts';
import { escapeHtml, htmlToText } from '../../domain/html.ts';
import { rewriteEventPayload, taskEventPayloads } from '../../store/notify-facts.ts';

export const REDACTED = '[redacted]';

/** The forms a value takes in a payload, longest first. */
function formsOf(values: readonly (string | null)[]): string[] {
  const forms = new Set<string>();
  for (const v of values) {
    if (!v?.trim()) continue;
    const html = renderMarkdown(v);
    for (const f of [v, escapeHtml(v), html, htmlToText(html)]) if (f.trim()) forms.add(f);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

function scrub(value: unknown, forms: readonly string[], key: string): unknown {
  if (typeof value === 'string') return key === 'url' ? value : forms.reduce((s, f) => s.split(f).join(REDACTED), value);
  if (Array.isArray(value)) return value.map((v) => scrub(v, forms, key));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, forms, k)]));
  return value;
}

/** Call in the redaction's transaction with the entry's values (before they are wiped). Returns how many events changed. */
export function redactNotifyEvents(db: DB, taskId: number, values: readonly (string | null)[]): number {
  const forms = formsOf(values);
  if (forms.length === 0) return 0;
  let n = 0;
  for (const e of taskEventPayloads(db, taskId)) {
    const next = JSON.stringify(scrub(JSON.parse(e.payload), forms, ''));
    if (next === e.payload) continue;
    rewriteEventPayload(db, e.id, next);
    n++;
  }
  return n;
}
