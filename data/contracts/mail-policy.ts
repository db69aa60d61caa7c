// Spam and virus policies of hosted addresses (issue 12), inherited installation → domain → address, and the policy
// class that decides which recipients may share one SMTP transaction.
import { z } from 'zod';

/** deliver: no filtering · tag: deliver with X-Spam-* headers and a subject prefix · remove: quarantine · reject: 550 at DATA. */
export const SPAM_POLICIES = ['deliver', 'tag', 'remove', 'reject'] as const;
export const SpamPolicy = z.enum(SPAM_POLICIES);
export type SpamPolicy = z.infer<typeof SpamPolicy>;

/** remove: quarantine · reject: 554 at DATA. A virus is never delivered or forwarded, whatever the policy. */
export const VIRUS_POLICIES = ['remove', 'reject'] as const;
export const VirusPolicy = z.enum(VIRUS_POLICIES);
export type VirusPolicy = z.infer<typeof VirusPolicy>;

/** honour: a DMARC failure under p=reject is answered 550 5.7.1 · record: it is only written into Authentication-Results. */
export const DMARC_POLICIES = ['honour', 'record'] as const;
export const DmarcPolicy = z.enum(DMARC_POLICIES);
export type DmarcPolicy = z.infer<typeof DmarcPolicy>;

export interface MailPolicy {
  spam: SpamPolicy;
  /** Score from which a message is spam; null: rspamd's own verdict (its action is more than "no action" or "greylist"). */
  spamThreshold: number | null;
  /** Put in front of the subject of spam delivered under 'tag'. */
  subjectPrefix: string;
  virus: VirusPolicy;
  dmarc: DmarcPolicy;
}

/** One level's settings: what it leaves out, it inherits. */
export const PolicySettings = z
  .object({
    spam: SpamPolicy,
    spamThreshold: z.number().finite().min(-1000).max(1000).nullable(),
    subjectPrefix: z
      .string()
      .max(64)
      .regex(/^[^\r\n\0]*$/, 'a subject prefix is one line'),
    virus: VirusPolicy,
    dmarc: DmarcPolicy,
  })
  .partial()
  .strict();
export type PolicySettings = z.infer<typeof PolicySettings>;

/** What an installation starts with: tag spam as rspamd judges it, quarantine viruses, record DMARC only. */
export const DEFAULT_POLICY: MailPolicy = {
  spam: 'tag',
  spamThreshold: null,
  subjectPrefix: '[SPAM] ',
  virus: 'remove',
  dmarc: 'record',
};

export const POLICY_LEVELS = ['installation', 'domain', 'address'] as const;
export type PolicyLevel = (typeof POLICY_LEVELS)[number];

export interface EffectivePolicy {
  policy: MailPolicy;
  /** Where each setting comes from: the most specific level that sets it. */
  source: Record<keyof MailPolicy, PolicyLevel>;
}

/** The address's own settings over its domain's over the installation's (which fall back to DEFAULT_POLICY). */
export function effectivePolicy(levels: {
  installation?: PolicySettings;
  domain?: PolicySettings;
  address?: PolicySettings;
}): EffectivePolicy {
  const policy = { ...DEFAULT_POLICY };
  const source = Object.fromEntries(Object.keys(DEFAULT_POLICY).map((k) => [k, 'installation'])) as EffectivePolicy['source'];
  for (const level of POLICY_LEVELS) {
    const settings = levels[level];
    if (!settings) continue;
    for (const key of Object.keys(DEFAULT_POLICY) as (keyof MailPolicy)[]) {
      if (settings[key] === undefined) continue;
      (policy as Record<keyof MailPolicy, unknown>)[key] = settings[key];
      source[key] = level;
    }
  }
  return { policy, source };
}

/**
 * Every setting that can turn the reply to DATA into a rejection. Recipients of one transaction must share it (the
 * others get 452 4.5.3 and come back in a transaction of their own), so one reply is right for all of them and no
 * bounce is ever needed for rejected spam or viruses.
 */
export function policyClass(p: MailPolicy): string {
  const spam = p.spam === 'reject' ? `reject@${p.spamThreshold ?? 'rspamd'}` : 'accept';
  return `spam=${spam};virus=${p.virus};dmarc=${p.dmarc}`;
}
