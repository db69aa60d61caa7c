// DATA with content checks (issue 12): run the checks, let the policy decide, and hand the ingress either a refusal
// (its reply, reason and detail for the event log) or what to store: the checked bytes and each copy's fate.
import type { CheckInput, Checks } from '#mailsystem/checks/types.ts';
import { type Decision, decide, isSpam, type PolicyTarget } from '#mailsystem/policy/decide.ts';
import { quarantineRecorder, quarantineSubject } from '#mailsystem/quarantine/entry.ts';
import type { QueuedDelivery, RejectedEvent } from '#mailsystem/queue/store.ts';
import { REPLIES, type Reply } from './replies.ts';

const DECISION_REPLY: Record<Exclude<Decision, { kind: 'accept' }>['reason'], Reply> = {
  spam: REPLIES.spamRejected,
  virus: REPLIES.virusRejected,
  dmarc: REPLIES.dmarcRejected,
  'scanner-unavailable': REPLIES.scannerUnavailable,
};

export type CheckedData =
  | { kind: 'refuse'; reply: Reply; reason: RejectedEvent['reason']; detail: Record<string, unknown>; error?: unknown }
  /** The bytes to store after our Received header, whether any copy is spam (no DSN then), and every copy. */
  | { kind: 'accept'; body: Buffer; isSpam: boolean; deliveries: QueuedDelivery[] };

export async function checkData(checks: Checks, input: CheckInput, targets: readonly PolicyTarget[]): Promise<CheckedData> {
  let checked: Awaited<ReturnType<Checks>>;
  try {
    checked = await checks(input);
  } catch (error) {
    // Checks never throw by contract; if one did, nothing is accepted.
    return { kind: 'refuse', reply: REPLIES.scannerUnavailable, reason: 'scanner-unavailable', detail: {}, error };
  }
  const decision = decide(checked.facts, targets);
  if (decision.kind !== 'accept') {
    return {
      kind: 'refuse',
      reply: DECISION_REPLY[decision.reason],
      reason: decision.reason,
      detail: { ...(decision.kind === 'tempfail' ? { check: decision.detail } : {}), verdict: checked.verdict },
    };
  }
  // A kept-back copy's record (its index entry: the Subject decoded, every string cleaned, all as JSON) is built here,
  // before the queue's group commit, which then only adds the delivery id and the size. What the copies share (the
  // Subject, the verdict's JSON and summary, the sender) is worked out once per message, and only when a copy is kept back.
  const record = quarantineRecorder({
    verdict: checked.verdict,
    sender: input.envelope.mailFrom,
    subject: () => quarantineSubject(checked.message),
  });
  return {
    kind: 'accept',
    body: checked.message,
    isSpam: targets.some((t) => isSpam(checked.facts.spam, t.policy)),
    deliveries: decision.copies.map((c): QueuedDelivery => {
      if (c.disposition.kind === 'deliver')
        return {
          recipient: c.recipient,
          route: c.route,
          added: { headers: c.disposition.headers, subjectPrefix: c.disposition.subjectPrefix },
        };
      return { recipient: c.recipient, route: c.route, quarantine: record(c.disposition.reason, c.recipient, c.route) };
    }),
  };
}
