// The shadow dry run (issue 13): for a domain in `shadow` mode the node relays every message to the legacy system as
// before, and also runs the new system's checks and policies on it, recording per recipient what the new system would
// have done — without doing it. Each record travels up as a 'shadow-verdict' event (data/contracts/telemetry.ts), and the
// backend's shadow report counts them per domain and per address, with samples (headers only).
import { z } from 'zod';

/** What the new system would have done with this recipient's copy. */
export const SHADOW_VERDICTS = ['deliver', 'tag', 'quarantine', 'reject', 'tempfail'] as const;
export const ShadowVerdictKind = z.enum(SHADOW_VERDICTS);
export type ShadowVerdictKind = z.infer<typeof ShadowVerdictKind>;

/**
 * Why. deliver: `clean` (scanned, not spam) or `unscanned` (scanning is off on the node); tag and quarantine: `spam` or
 * `virus`; reject: `spam`, `virus`, `dmarc` (550/554 after DATA) or `unknown-user` (550 at RCPT: the address is not in the
 * new system's configuration); tempfail: `scanner-unavailable` (451: a check could not answer).
 */
export const SHADOW_REASONS = ['clean', 'unscanned', 'spam', 'virus', 'dmarc', 'unknown-user', 'scanner-unavailable'] as const;
export const ShadowReason = z.enum(SHADOW_REASONS);
export type ShadowReason = z.infer<typeof ShadowReason>;

/** The pairs that can occur; anything else is a writer's bug, refused on both sides. */
export const SHADOW_PAIRS: Readonly<Record<ShadowVerdictKind, readonly ShadowReason[]>> = {
  deliver: ['clean', 'unscanned'],
  tag: ['spam'],
  quarantine: ['spam', 'virus'],
  reject: ['spam', 'virus', 'dmarc', 'unknown-user'],
  tempfail: ['scanner-unavailable'],
};

/** Longest header value kept in a sample; the node cuts longer ones (with a trailing '…'). */
export const SHADOW_HEADER_MAX = 200;
const header = z
  .string()
  .max(SHADOW_HEADER_MAX + 1)
  .nullable();

/**
 * A message's headers as a sample in the report (never its body). RFC 2047 words decoded, control characters removed,
 * cut to SHADOW_HEADER_MAX; null when the message has no such header.
 */
export const ShadowSample = z.object({
  from: header,
  subject: header,
  date: header,
  messageId: header,
});
export type ShadowSample = z.infer<typeof ShadowSample>;

/** One recipient's dry-run verdict, as the event carries it. */
export const ShadowVerdict = z
  .object({
    /** The hosted domain in shadow mode. */
    domain: z.string().min(1).max(253),
    /** The envelope recipient as resolved (lower-case; the matched address, e.g. without a +tag). */
    address: z.string().min(1).max(320),
    verdict: ShadowVerdictKind,
    reason: ShadowReason,
    /** rspamd's score, when the message was scored. */
    score: z.number().nullable(),
    sample: ShadowSample,
  })
  .refine((v) => SHADOW_PAIRS[v.verdict].includes(v.reason), {
    message: 'the reason does not belong to the verdict',
    path: ['reason'],
  });
export type ShadowVerdict = z.infer<typeof ShadowVerdict>;
