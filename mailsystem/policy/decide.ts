// One pure decision per message: the facts the checks gathered × each recipient's effective policy → the reply to DATA
// and, when it is accepted, what happens to each copy (issue 12). The SMTP hooks only adapt to and from this.
import type { MailPolicy } from '#data/contracts/mail-policy.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import { routeKey } from '#mailsystem/smtp/recipients.ts';

import type { RspamdAction } from '#mailsystem/checks/rspamd.ts';

/** What the checks found; 'off' when scanning is switched off by configuration (TIDINGS_SCAN=off). */
export type SpamFact =
  | { status: 'scored'; score: number; requiredScore?: number; action: RspamdAction }
  | { status: 'error'; reason: string }
  | { status: 'off' };
export type VirusFact =
  | { status: 'clean' }
  | { status: 'infected'; name: string }
  | { status: 'error'; reason: string }
  | { status: 'off' };
export type DmarcFact =
  | { status: 'checked'; result: 'pass' | 'fail' | 'none' | 'temperror' | 'permerror'; policy: 'reject' | 'quarantine' | 'none' | null }
  | { status: 'error'; reason: string }
  | { status: 'off' };

export interface Facts {
  spam: SpamFact;
  virus: VirusFact;
  dmarc: DmarcFact;
}

/** One accepted recipient and one of its targets (an alias has several), with the recipient's effective policy. */
export interface PolicyTarget {
  recipient: string;
  route: Route;
  policy: MailPolicy;
}

export type QuarantineReason = 'spam' | 'virus';

export type Disposition =
  | { kind: 'deliver'; headers: [name: string, value: string][]; subjectPrefix: string | null }
  | { kind: 'quarantine'; reason: QuarantineReason };

export interface Copy {
  recipient: string;
  route: Route;
  disposition: Disposition;
}

export type Decision =
  /** 451 4.7.1: a check could not answer; nothing is accepted, the sender retries. */
  | { kind: 'tempfail'; reason: 'scanner-unavailable'; detail: string }
  /** 550 5.7.1 (spam, dmarc) or 554 5.7.1 (virus), for the whole transaction. */
  | { kind: 'reject'; reason: 'spam' | 'virus' | 'dmarc' }
  | { kind: 'accept'; copies: Copy[] };

/** Is this message spam for this policy: its own threshold, or rspamd's verdict when it has none. */
export function isSpam(fact: SpamFact, policy: MailPolicy): boolean {
  if (fact.status !== 'scored') return false;
  if (policy.spamThreshold !== null) return fact.score >= policy.spamThreshold;
  return fact.action !== 'no action' && fact.action !== 'greylist';
}

/** External providers get no spam, whatever the policy: a forward is the only route that leaves the provider. */
const leavesUs = (route: Route): boolean => route.kind === 'forward';

function spamHeaders(fact: SpamFact & { status: 'scored' }, spam: boolean): [string, string][] {
  const score = fact.score.toFixed(2);
  const required = fact.requiredScore === undefined ? '' : ` required=${fact.requiredScore.toFixed(2)}`;
  return [
    ['X-Spam-Flag', spam ? 'YES' : 'NO'],
    ['X-Spam-Score', score],
    ['X-Spam-Status', `${spam ? 'Yes' : 'No'}, score=${score}${required} action=${fact.action.replace(/ /g, '_')}`],
  ];
}

function unscanned(facts: Facts): [string, string][] {
  const off = [facts.spam.status === 'off' && 'spam', facts.virus.status === 'off' && 'viruses'].filter(Boolean);
  return off.length === 0 ? [] : [['X-Tidings-Scan', `off: not scanned for ${off.join(' or ')}`]];
}

function disposition(facts: Facts, target: PolicyTarget): Disposition {
  const { spam: fact } = facts;
  const { policy } = target;
  const spam = isSpam(fact, policy);
  if (spam && leavesUs(target.route)) return { kind: 'quarantine', reason: 'spam' };
  if (spam && policy.spam === 'remove') return { kind: 'quarantine', reason: 'spam' };
  const headers = unscanned(facts);
  if (policy.spam === 'tag' && fact.status === 'scored') {
    return { kind: 'deliver', headers: [...spamHeaders(fact, spam), ...headers], subjectPrefix: spam ? policy.subjectPrefix : null };
  }
  return { kind: 'deliver', headers, subjectPrefix: null };
}

/**
 * The order matters and is the policy: a check that failed refuses everything (fail closed); a virus is never
 * delivered; a DMARC reject is honoured where the recipients ask for it; then spam per recipient. Reject decisions
 * are whole-transaction decisions, which the RCPT-time policy classes make safe: every recipient here shares them.
 */
export function decide(facts: Facts, targets: readonly PolicyTarget[]): Decision {
  const honoursDmarc = targets.some((t) => t.policy.dmarc === 'honour');
  for (const [name, fact] of [
    ['spam', facts.spam],
    ['virus', facts.virus],
  ] as const) {
    if (fact.status === 'error') return { kind: 'tempfail', reason: 'scanner-unavailable', detail: `${name}: ${fact.reason}` };
  }
  // Without an authentication answer DMARC cannot be honoured; where nobody honours it, it is only recorded anyway.
  if (facts.dmarc.status === 'error' && honoursDmarc) {
    return { kind: 'tempfail', reason: 'scanner-unavailable', detail: `dmarc: ${facts.dmarc.reason}` };
  }
  if (facts.virus.status === 'infected') {
    if (targets.some((t) => t.policy.virus === 'reject')) return { kind: 'reject', reason: 'virus' };
    return { kind: 'accept', copies: merge(targets.map((t) => ({ ...t, disposition: { kind: 'quarantine', reason: 'virus' } }))) };
  }
  if (honoursDmarc && facts.dmarc.status === 'checked' && facts.dmarc.result === 'fail' && facts.dmarc.policy === 'reject') {
    return { kind: 'reject', reason: 'dmarc' };
  }
  if (targets.some((t) => t.policy.spam === 'reject' && isSpam(facts.spam, t.policy))) return { kind: 'reject', reason: 'spam' };
  return {
    kind: 'accept',
    copies: merge(targets.map((t) => ({ recipient: t.recipient, route: t.route, disposition: disposition(facts, t) }))),
  };
}

/**
 * Two recipients that reach one target (two aliases of one mailbox) become one copy when what happens to it is the
 * same; with different dispositions or headers each keeps its own (the body is stored once either way).
 */
function merge(copies: Copy[]): Copy[] {
  const seen = new Map<string, Copy>();
  for (const c of copies) {
    const key = `${routeKey(c.recipient, c.route)}\u0000${JSON.stringify(c.disposition)}`;
    if (!seen.has(key)) seen.set(key, { recipient: c.recipient, route: c.route, disposition: c.disposition });
  }
  return [...seen.values()];
}
