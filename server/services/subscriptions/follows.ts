// How a follow reads on the subscription pages and in the confirmation mail.
import type { FollowView } from '#data/contracts/subscriptions.ts';
import type { FollowRow } from '../../store/subscriptions.ts';

export function followView(r: FollowRow): FollowView {
  const base = { id: r.id, scope: r.scope, confirmed: r.confirmed_at !== null };
  if (r.scope === 'section') return { ...base, label: r.section_name ?? 'a section', href: `/section/${r.section_slug ?? ''}` };
  if (r.scope === 'task') return { ...base, label: `FS#${r.task_id}: ${r.task_summary ?? ''}`, href: `/task/${r.task_id}` };
  return { ...base, label: 'Everything', href: '/' };
}

/** "everything", "the Email section", "FS#2733: …": the follow in a sentence. */
export function followPhrase(v: FollowView): string {
  if (v.scope === 'section') return `the ${v.label} section`;
  if (v.scope === 'task') return `task ${v.label}`;
  return 'everything on the status page';
}
