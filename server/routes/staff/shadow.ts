// /staff/mail/shadow: the shadow report (issue 13) without JavaScript: a GET form for the domain and the range of UTC
// days, then per domain what the new mail system would have done (verdict counts with their reasons), the same per
// address, and the latest samples. Sample headers come from mail: everything goes through html`` (escaped).
import { Hono, type Context } from 'hono';
import {
  SHADOW_SAMPLES_KEPT,
  SHADOW_VERDICTS,
  type ShadowReport,
  type ShadowTally,
  type ShadowVerdictKind,
} from '#data/contracts/shadow.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import { parseWith } from '../../http/validate.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { shadowReport } from '../../services/mail/shadowReport.ts';
import { ShadowQueryInput } from '../shadow.ts';
import { html, noticeOf, page, send, type Html } from './layout.ts';
import { authOf } from './guard.ts';
import { formErrorsOf } from './tasks.ts';

/** Column and row headings: what the new system would have done. */
export const VERDICT_TEXT: Record<ShadowVerdictKind, string> = {
  deliver: 'would deliver',
  tag: 'would tag',
  quarantine: 'would quarantine',
  reject: 'would reject',
  tempfail: 'would tempfail (451)',
};

const DAY_MS = 86_400_000;

/** A tally's reasons for one verdict, as "spam 3, virus 1"; '' when it has none. */
function reasonsOf(t: ShadowTally, verdict: ShadowVerdictKind): string {
  return t.reasons
    .filter((r) => r.verdict === verdict)
    .map((r) => `${r.reason} ${r.count}`)
    .join(', ');
}

const none = html`<span class="muted">none</span>`;
const header = (v: string | null) => (v === null ? none : v);

function domainSection(d: ShadowReport['domains'][number], i: number, time: (iso: string) => string): Html {
  const id = `shadow-domain-${i}`;
  return html`<section aria-labelledby="${id}"><h2 id="${id}">${d.domain}</h2>
    <table><caption>${d.domain}: what the new system would have done with ${d.tally.total} recipient copies</caption>
    <thead><tr><th scope="col">Verdict</th><th scope="col">Count</th><th scope="col">Reasons</th></tr></thead><tbody>
    ${SHADOW_VERDICTS.map(
      (v) => html`<tr><th scope="row">${VERDICT_TEXT[v]}</th><td>${d.tally.verdicts[v]}</td><td>${reasonsOf(d.tally, v) || none}</td></tr>`,
    )}
    </tbody></table>
    <table><caption>${d.domain} per address</caption><thead><tr><th scope="col">Address</th>
    ${SHADOW_VERDICTS.map((v) => html`<th scope="col">${VERDICT_TEXT[v]}</th>`)}<th scope="col">Reasons</th></tr></thead><tbody>
    ${d.addresses.map(
      (a) => html`<tr><th scope="row">${a.address}</th>${SHADOW_VERDICTS.map((v) => html`<td>${a.tally.verdicts[v]}</td>`)}
        <td>${a.tally.reasons.map((r) => `${r.verdict} ${r.reason} ${r.count}`).join(', ')}</td></tr>`,
    )}
    </tbody></table>
    ${
      d.samples.length === 0
        ? html`<p>No sample of ${d.domain} in this range.</p>`
        : html`<table><caption>${d.domain}: samples, newest first (headers only)</caption><thead><tr>
    <th scope="col">Recorded</th><th scope="col">Address</th><th scope="col">Verdict</th><th scope="col">Score</th>
    <th scope="col">From</th><th scope="col">Subject</th><th scope="col">Date</th><th scope="col">Message-ID</th></tr></thead><tbody>
    ${d.samples.map(
      (s) => html`<tr><td><time datetime="${s.at}">${time(s.at)}</time></td><td>${s.address}</td>
        <td>${VERDICT_TEXT[s.verdict]} (${s.reason})</td><td>${s.score === null ? none : s.score.toFixed(2)}</td>
        <td>${header(s.sample.from)}</td><th scope="row">${header(s.sample.subject)}</th>
        <td>${header(s.sample.date)}</td><td>${header(s.sample.messageId)}</td></tr>`,
    )}
    </tbody></table>`
    }</section>`;
}

export function shadowPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const tz = () => deps.config.displayTimeZone;
  const time = (iso: string) => utcToWallTime(iso, tz()).replace('T', ' ');

  app.get('/mail/shadow', (c: Context) => {
    const auth = authOf(c);
    const q = { domain: c.req.query('domain') ?? '', from: c.req.query('from') ?? '', to: c.req.query('to') ?? '' };
    let report: ShadowReport | null = null;
    let errors: ReturnType<typeof formErrorsOf> | null = null;
    try {
      // An empty field of the GET form means "not given".
      const input = parseWith(ShadowQueryInput, Object.fromEntries(Object.entries(q).filter(([, v]) => v !== '')), 'query');
      report = shadowReport(deps.db, deps.clock, input);
    } catch (e) {
      errors = formErrorsOf(e);
    }
    const retentionDays = Math.round(deps.config.shadowReportRetentionMs / DAY_MS);
    const body = html`<p><strong>What the new mail system would have done with mail to domains in shadow mode; the old system
    delivered it.</strong> For a domain in shadow mode every message is relayed to the old MX as before, and the new system's
    checks and policies run on it as a dry run: each count is one recipient's verdict, recorded and not acted on. Days are
    UTC; samples show headers only, the latest ${SHADOW_SAMPLES_KEPT} per address, verdict and reason (times in ${tz()}).
    Kept for ${retentionDays} days. <a href="/staff/mail">Back to the mail configuration</a>.</p>
    <form method="get" action="/staff/mail/shadow"><fieldset><legend>Domain and days</legend>
      <div class="row">
        <div><label for="sdomain">Domain (empty: every domain)</label><input type="text" id="sdomain" name="domain" maxlength="253" value="${q.domain}"></div>
        <div><label for="sfrom">From (UTC day)</label><input type="date" id="sfrom" name="from" value="${report?.range.from ?? q.from}"></div>
        <div><label for="sto">To (UTC day, included)</label><input type="date" id="sto" name="to" value="${report?.range.to ?? q.to}"></div>
        <div><button type="submit">Show</button></div>
      </div></fieldset></form>
    ${
      report === null
        ? ''
        : report.domains.length === 0
          ? html`<p>No shadow verdict from ${report.range.from} to ${report.range.to}${q.domain ? html` for ${q.domain}` : ''}.</p>`
          : html`<p class="muted">From ${report.range.from} to ${report.range.to} (UTC).</p>${report.domains.map((d, i) => domainSection(d, i, time))}`
    }`;
    return send(c, page({ title: 'Shadow report', auth, notice: noticeOf(c), errors: errors ?? [], body }), errors?.status ?? 200);
  });
  return app;
}
