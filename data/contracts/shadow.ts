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

// ── the shadow report (GET /api/v1/mail/shadow, /staff/mail/shadow, `mail shadow`) ──────────────────────────────

/** Samples kept per domain, address, verdict and reason: the latest ones by the event's time. */
export const SHADOW_SAMPLES_KEPT = 5;
/** Longest range one report covers, in UTC days (both ends included). */
export const SHADOW_REPORT_MAX_DAYS = 400;
/** Days a report covers when the request names no range: today (UTC) and the six before. */
export const SHADOW_REPORT_DEFAULT_DAYS = 7;

const count = z.number().int().nonnegative();
/** A UTC day as YYYY-MM-DD. */
export const ShadowDay = z.iso.date();

/** Verdict counts of a domain or an address: per verdict, and per verdict and reason (the pairs that occurred). */
export const ShadowTally = z.object({
  total: count,
  verdicts: z.object({ deliver: count, tag: count, quarantine: count, reject: count, tempfail: count }),
  /** Each (verdict, reason) with a count above 0, in SHADOW_VERDICTS then SHADOW_REASONS order. */
  reasons: z.array(z.object({ verdict: ShadowVerdictKind, reason: ShadowReason, count })),
});
export type ShadowTally = z.infer<typeof ShadowTally>;

/** One kept sample: a recipient's verdict with the message's headers (never its body). */
export const ShadowReportSample = z.object({
  address: z.string(),
  verdict: ShadowVerdictKind,
  reason: ShadowReason,
  /** When the node recorded the verdict (ISO 8601, the node's clock). */
  at: z.iso.datetime(),
  /** The node's queue message id (the event's messageId), not the Message-ID header (that is sample.messageId). */
  queueId: z.string(),
  score: z.number().nullable(),
  sample: ShadowSample,
});
export type ShadowReportSample = z.infer<typeof ShadowReportSample>;

export const ShadowDomainReport = z.object({
  domain: z.string(),
  tally: ShadowTally,
  /** Per address (alias or mailbox) of the domain, by address. */
  addresses: z.array(z.object({ address: z.string(), tally: ShadowTally })),
  /** The kept samples recorded within the range, newest first. */
  samples: z.array(ShadowReportSample),
});
export type ShadowDomainReport = z.infer<typeof ShadowDomainReport>;

/** What the new system would have done with the mail to domains in shadow mode, over a range of UTC days. */
export const ShadowReport = z.object({
  /** Both ends included; counts are per UTC day of the event's time. */
  range: z.object({ from: ShadowDay, to: ShadowDay }),
  /** At most this many samples per domain, address, verdict and reason are kept (the latest). */
  samplesKept: count,
  /** The domains with at least one verdict in the range, by name. */
  domains: z.array(ShadowDomainReport),
});
export type ShadowReport = z.infer<typeof ShadowReport>;
