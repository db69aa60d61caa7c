// The shadow dry run (issue 13): what the new system would have done with one recipient of a message that this node
// relays to the old MX as it is. It is the normal decision (policy/decide.ts) on the recipient's own targets and policy,
// recorded instead of acted on; a recipient alone, as the report counts per address.
import { SHADOW_HEADER_MAX, type ShadowSample, type ShadowVerdict } from '#data/contracts/shadow.ts';
import type { ShadowPlan } from '#mailsystem/config/directory.ts';
import type { ShadowRecord } from '#mailsystem/queue/store.ts';
import { cleanText, cut, decodeWords, rawHeader } from '#mailsystem/quarantine/entry.ts';
import { decide, type Facts, isSpam } from './decide.ts';

/** What nothing was checked for: scanning is off on this node (or the checks are not built). */
export const UNCHECKED: Facts = { spam: { status: 'off' }, virus: { status: 'off' }, dmarc: { status: 'off' } };

export function shadowVerdict(facts: Facts, recipient: string, plan: ShadowPlan, sample: ShadowSample): ShadowVerdict {
  const score = facts.spam.status === 'scored' ? facts.spam.score : null;
  const base = { domain: plan.domain, address: plan.address, score, sample };
  if (!plan.next) return { ...base, verdict: 'reject', reason: 'unknown-user' };
  const policy = plan.next.policy.policy;
  const decision = decide(
    facts,
    plan.next.routes.map((route) => ({ recipient, route, policy })),
  );
  if (decision.kind === 'tempfail') return { ...base, verdict: 'tempfail', reason: 'scanner-unavailable' };
  if (decision.kind === 'reject') return { ...base, verdict: 'reject', reason: decision.reason };
  const kept = decision.copies.find((c) => c.disposition.kind === 'quarantine');
  if (kept?.disposition.kind === 'quarantine') return { ...base, verdict: 'quarantine', reason: kept.disposition.reason };
  if (policy.spam === 'tag' && isSpam(facts.spam, policy)) return { ...base, verdict: 'tag', reason: 'spam' };
  const unscanned = facts.spam.status === 'off' || facts.virus.status === 'off';
  return { ...base, verdict: 'deliver', reason: unscanned ? 'unscanned' : 'clean' };
}

const sampleHeader = (body: Buffer, name: string): string | null => {
  const raw = rawHeader(body, name);
  return raw === null ? null : cut(cleanText(decodeWords(raw)).trim(), SHADOW_HEADER_MAX, 'beyond');
};

/** The headers the report shows of a message (never its body): decoded, cleaned, cut. */
export function shadowSample(body: Buffer): ShadowSample {
  return {
    from: sampleHeader(body, 'from'),
    subject: sampleHeader(body, 'subject'),
    date: sampleHeader(body, 'date'),
    messageId: sampleHeader(body, 'message-id'),
  };
}

/** The dry run of every shadow recipient of one message, as the queue records them with it. */
export function shadowRecords(facts: Facts, recipients: readonly { recipient: string; plan: ShadowPlan }[], body: Buffer): ShadowRecord[] {
  const sample = shadowSample(body);
  return recipients.map(({ recipient, plan }) => {
    const verdict = shadowVerdict(facts, recipient, plan, sample);
    return { recipient, verdict: verdict.verdict, reason: verdict.reason, detail: JSON.stringify({ verdict }) };
  });
}
