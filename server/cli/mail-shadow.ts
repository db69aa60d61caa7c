// `cli mail shadow ...`: the shadow report (data/contracts/shadow.ts), what the new mail system would have done with the
// mail to domains in shadow mode while the old system delivered it: per domain and per address, then the samples.
import { parseArgs } from 'node:util';
import type { CliContext } from './context.ts';
import { reportRefusal } from './refusal.ts';
import { parse, table } from './format.ts';
import { DomainName } from '#data/contracts/mail-config.ts';
import { SHADOW_VERDICTS, ShadowDay, type ShadowTally } from '#data/contracts/shadow.ts';
import { shadowReport } from '../services/mail/shadowReport.ts';

export const SHADOW_HELP = `  mail shadow [--domain DOMAIN] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                                       what the new system would have done with mail to domains in shadow mode (the
                                       old system delivered it): counts per verdict and reason, per domain and per
                                       address, and samples (headers only); UTC days, the last 7 by default`;

const HEADER = ['DELIVER', 'TAG', 'QUARANTINE', 'REJECT', 'TEMPFAIL', 'REASONS'];
const cells = (t: ShadowTally) => [
  ...SHADOW_VERDICTS.map((v) => String(t.verdicts[v])),
  t.reasons.map((r) => `${r.verdict}/${r.reason}=${r.count}`).join(' ') || '-',
];

function parseShadowArgs(args: string[]) {
  return parseArgs({ args, strict: true, options: { domain: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } });
}

export function shadowCommand(argv: string[], ctx: CliContext): number {
  let o: ReturnType<typeof parseShadowArgs>['values'];
  try {
    o = parseShadowArgs(argv).values;
  } catch (e) {
    ctx.stderr.write(`${(e as Error).message}\n\n${SHADOW_HELP}\n`);
    return 2;
  }
  try {
    const report = shadowReport(ctx.db, ctx.clock, {
      domain: o.domain === undefined ? undefined : parse(DomainName, o.domain),
      from: o.from === undefined ? undefined : parse(ShadowDay, o.from),
      to: o.to === undefined ? undefined : parse(ShadowDay, o.to),
    });
    ctx.stdout.write(
      `What the new system would have done with mail to domains in shadow mode, ${report.range.from} to ${report.range.to} (UTC); the old system delivered it.\n`,
    );
    if (report.domains.length === 0) {
      ctx.stdout.write('No shadow verdict in this range.\n');
      return 0;
    }
    for (const d of report.domains) {
      ctx.stdout.write(`\n${d.domain}\n`);
      table(ctx, ['ADDRESS', ...HEADER], [['(all)', ...cells(d.tally)], ...d.addresses.map((a) => [a.address, ...cells(a.tally)])]);
      if (d.samples.length === 0) continue;
      ctx.stdout.write('\n');
      table(
        ctx,
        ['RECORDED', 'ADDRESS', 'VERDICT', 'SCORE', 'FROM', 'MESSAGE-ID', 'SUBJECT'],
        d.samples.map((s) => [
          s.at,
          s.address,
          `${s.verdict}/${s.reason}`,
          s.score === null ? '-' : s.score.toFixed(2),
          s.sample.from ?? '-',
          s.sample.messageId ?? '-',
          s.sample.subject ?? '(no subject)',
        ]),
      );
    }
    return 0;
  } catch (e) {
    return reportRefusal(ctx.stderr, e);
  }
}
