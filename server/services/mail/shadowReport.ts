// The shadow report (data/contracts/shadow.ts) over a range of UTC days: the API, the staff page and the CLI read it here.
import {
  SHADOW_PAIRS,
  SHADOW_REPORT_DEFAULT_DAYS,
  SHADOW_REPORT_MAX_DAYS,
  SHADOW_SAMPLES_KEPT,
  SHADOW_VERDICTS,
  type ShadowDomainReport,
  type ShadowReport,
  type ShadowTally,
} from '#data/contracts/shadow.ts';
import type { DB } from '#data/db.ts';
import type { Clock } from '../../deps.ts';
import { Invalid } from '../../domain/errors.ts';
import { dayOf, shadowCounts, shadowSamples, type ShadowCountRow } from '../../store/shadow.ts';

const DAY_MS = 86_400_000;
/** Samples a report shows per domain, verdict and reason (the latest in the range); the store keeps more per address. */
export const SHADOW_REPORT_SAMPLES_PER_PAIR = 20;

/** What a caller asks for: days as YYYY-MM-DD (already well-formed), a domain name (lower-case). */
export interface ShadowQuery {
  domain?: string;
  from?: string;
  to?: string;
}

const dayMs = (day: string): number => Date.parse(`${day}T00:00:00Z`);

/**
 * The range a query asks for: `to` defaults to today (UTC), `from` to SHADOW_REPORT_DEFAULT_DAYS days ending at `to`.
 * Refused (Invalid) when `from` is after `to` or the range is longer than SHADOW_REPORT_MAX_DAYS days.
 */
function shadowRange(q: ShadowQuery, now: number): { from: string; to: string } {
  const to = q.to ?? dayOf(now);
  const from = q.from ?? dayOf(dayMs(to) - (SHADOW_REPORT_DEFAULT_DAYS - 1) * DAY_MS);
  if (from > to)
    throw new Invalid(`The range starts (${from}) after it ends (${to}).`, [{ field: 'from', message: 'must not be after to' }]);
  const days = (dayMs(to) - dayMs(from)) / DAY_MS + 1;
  if (days > SHADOW_REPORT_MAX_DAYS)
    throw new Invalid(`A report covers at most ${SHADOW_REPORT_MAX_DAYS} days; ${from} to ${to} is ${days}.`, [
      { field: 'from', message: `at most ${SHADOW_REPORT_MAX_DAYS} days before to` },
    ]);
  return { from, to };
}

const emptyTally = (): ShadowTally => ({
  total: 0,
  verdicts: { deliver: 0, tag: 0, quarantine: 0, reject: 0, tempfail: 0 },
  reasons: [],
});

/** Adds a count row to a tally; reasons are put in contract order by `finish`. */
function add(t: ShadowTally, r: ShadowCountRow): void {
  t.total += r.count;
  t.verdicts[r.verdict] += r.count;
  const same = t.reasons.find((x) => x.verdict === r.verdict && x.reason === r.reason);
  if (same) same.count += r.count;
  else t.reasons.push({ verdict: r.verdict, reason: r.reason, count: r.count });
}

const ORDER = new Map(SHADOW_VERDICTS.flatMap((v) => SHADOW_PAIRS[v].map((reason) => `${v} ${reason}`)).map((k, i) => [k, i]));
const rank = (x: { verdict: string; reason: string }) => ORDER.get(`${x.verdict} ${x.reason}`) ?? ORDER.size;
function finish(t: ShadowTally): ShadowTally {
  t.reasons.sort((a, b) => rank(a) - rank(b));
  return t;
}

/** The report of the query's range: per domain its totals, per address the same counts, and the latest samples. */
export function shadowReport(db: DB, clock: Clock, q: ShadowQuery): ShadowReport {
  const range = shadowRange(q, clock().getTime());
  const domains = new Map<string, ShadowDomainReport & { byAddress: Map<string, ShadowTally> }>();
  for (const r of shadowCounts(db, { ...range, domain: q.domain })) {
    let d = domains.get(r.domain);
    if (!d) {
      d = { domain: r.domain, tally: emptyTally(), addresses: [], samples: [], byAddress: new Map() };
      domains.set(r.domain, d);
    }
    add(d.tally, r);
    let a = d.byAddress.get(r.address);
    if (!a) {
      a = emptyTally();
      d.byAddress.set(r.address, a);
      d.addresses.push({ address: r.address, tally: a });
    }
    add(a, r);
  }
  const samples = shadowSamples(db, {
    fromMs: dayMs(range.from),
    toMs: dayMs(range.to) + DAY_MS,
    domain: q.domain,
    perPair: SHADOW_REPORT_SAMPLES_PER_PAIR,
  });
  for (const { domain, at, ...s } of samples) domains.get(domain)?.samples.push({ ...s, at: new Date(at).toISOString() });
  return {
    range,
    samplesKept: SHADOW_SAMPLES_KEPT,
    domains: [...domains.values()].map(({ byAddress: _, ...d }) => ({
      ...d,
      tally: finish(d.tally),
      addresses: d.addresses.map((a) => ({ address: a.address, tally: finish(a.tally) })),
    })),
  };
}
