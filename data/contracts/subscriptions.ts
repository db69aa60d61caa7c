// Email subscriptions (issue 14): the subscribe request (form and POST /api/v1/subscriptions) and what the server hands
// the public subscription pages (site/pages/subscriptions/*) through their locals.
import { z } from 'zod';

export const SUBSCRIPTION_SCOPES = ['all', 'section', 'task'] as const;
export const SubscriptionScope = z.enum(SUBSCRIPTION_SCOPES);
export type SubscriptionScope = z.infer<typeof SubscriptionScope>;

/** The form's honeypot: a field people never see or fill; anything in it marks the request as a robot's. */
export const HONEYPOT_FIELD = 'website';

/**
 * What a visitor sends. `section` is a section's slug (scope section), `task` a task id (scope task). The honeypot is
 * read apart, before this schema runs.
 */
export const SubscribeRequest = z
  .object({
    email: z.string().trim().min(3).max(254),
    scope: SubscriptionScope.default('all'),
    section: z.string().max(60).optional(),
    task: z.coerce.number().int().min(1).max(2_147_483_647).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.scope === 'section' && !v.section) ctx.addIssue({ code: 'custom', path: ['section'], message: 'name the section' });
    if (v.scope === 'task' && v.task === undefined) ctx.addIssue({ code: 'custom', path: ['task'], message: 'name the task' });
  });
export type SubscribeRequest = z.infer<typeof SubscribeRequest>;

/** The one answer to every accepted request, whatever the address's state (never revealed). */
export const SUBSCRIBE_ANSWER = {
  status: 'pending',
  detail: 'If the address can receive mail, a message with a confirmation link is on its way. Nothing is sent until the link is followed.',
} as const;

/** One follow as the pages list it. */
export interface FollowView {
  id: number;
  scope: SubscriptionScope;
  /** "Everything", the section's name or "FS#2733: summary". */
  label: string;
  /** The public page it is about ("/" for everything). */
  href: string;
  confirmed: boolean;
}

export interface FieldProblem {
  field: string;
  message: string;
}

/** What a subscription page shows; the server sets it in locals.subscription. */
export type SubscriptionPage =
  /** The answer to a subscribe form (always the same). */
  | { kind: 'requested' }
  /** The form sent back with what was wrong (a malformed address, an unknown section). */
  | { kind: 'invalid'; errors: FieldProblem[] }
  /** Too many requests from this client; the form may be sent again after that many seconds. */
  | { kind: 'limited'; retryAfterSeconds: number }
  /** GET of a confirmation link: a button that POSTs it (link scanners only GET). */
  | { kind: 'confirm'; action: string; follow: FollowView | null }
  | { kind: 'confirmed'; follow: FollowView; manageUrl: string }
  /** A manage or unsubscribe link whose token matches nobody (deleted, or never valid). */
  | { kind: 'unknown-link' }
  | { kind: 'manage'; action: string; email: string; follows: FollowView[]; notice: string | null }
  | { kind: 'unsubscribe'; action: string }
  | { kind: 'deleted' };
