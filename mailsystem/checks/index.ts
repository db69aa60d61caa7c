// The DATA-time checks as one Checks function (issue 12): authentication, then spam with its results, in parallel with
// the virus scan; each client keeps its own timeout and never throws. The facts go to the policy decision, the cleaned
// bytes (forged result headers removed, our Authentication-Results on top) are what is stored, and the verdict record
// is what a quarantined copy and a refusal keep.
import { QUARANTINE_SYMBOLS_MAX } from '#data/contracts/quarantine.ts';
import type { DmarcFact } from '#mailsystem/policy/decide.ts';
import type { AuthCheck, AuthVerdict } from './auth.ts';
import type { ClamdClient, VirusVerdict } from './clamd.ts';
import { cleanHeaders, prependFields } from './headers.ts';
import type { RspamdClient, SpamVerdict } from './rspamd.ts';
import type { CheckResult, Checks } from './types.ts';

export interface CheckParts {
  auth: AuthCheck;
  spam: RspamdClient;
  virus: ClamdClient;
  /** Our authserv-ids: an incoming Authentication-Results claiming one of them is forged. */
  authServIds: string[];
}

/** Symbols kept in a verdict record: rspamd reports dozens, the strongest tell why (as many as the quarantine index shows). */
const SYMBOLS_KEPT = QUARANTINE_SYMBOLS_MAX;

const DMARC_RESULTS = new Set(['pass', 'fail', 'none', 'temperror', 'permerror']);

function dmarcFact(auth: AuthVerdict): DmarcFact {
  if (auth.status === 'error') return { status: 'error', reason: auth.reason };
  const { result, policy } = auth.dmarc;
  // RFC 7489 results are pass, fail, none, temperror and permerror; anything else mailauth says counts as none.
  return { status: 'checked', result: DMARC_RESULTS.has(result) ? (result as 'pass') : 'none', policy };
}

function verdictRecord(auth: AuthVerdict, spam: SpamVerdict, virus: VirusVerdict): Record<string, unknown> {
  return {
    auth:
      auth.status === 'done'
        ? { spf: auth.spf.result, dkim: auth.dkim.map((d) => `${d.domain}:${d.result}`), dmarc: auth.dmarc.result, ms: auth.ms }
        : { error: auth.reason, ms: auth.ms },
    spam:
      spam.status === 'scored'
        ? {
            score: spam.score,
            requiredScore: spam.requiredScore,
            action: spam.action,
            symbols: spam.symbols.slice(0, SYMBOLS_KEPT),
            ms: spam.ms,
          }
        : { error: spam.reason, detail: spam.detail, ms: spam.ms },
    virus:
      virus.status === 'error'
        ? { error: virus.reason, detail: virus.detail, ms: virus.ms }
        : { result: virus.status, ...(virus.status === 'infected' ? { name: virus.name } : {}), ms: virus.ms },
  };
}

export function createChecks(parts: CheckParts): Checks {
  return async ({ message, envelope }): Promise<CheckResult> => {
    // Authentication sees the message as it came (a DKIM signature covers it); the scanners see it without headers
    // that only pretend to come from us.
    const stripped = cleanHeaders(message, { authServIds: parts.authServIds });
    const authAndSpam = (async () => {
      const auth = await parts.auth(message, { ip: envelope.ip, helo: envelope.helo, mailFrom: envelope.mailFrom });
      const spam = await parts.spam.check(stripped, {
        ip: envelope.ip,
        helo: envelope.helo,
        from: envelope.mailFrom,
        rcpts: envelope.rcpts,
        queueId: envelope.queueId,
        ...(auth.status === 'done' ? { authResults: { spf: auth.spf, dkim: auth.dkim, dmarc: auth.dmarc } } : {}),
      });
      return { auth, spam };
    })();
    const [{ auth, spam }, virus] = await Promise.all([authAndSpam, parts.virus.scan(stripped)]);
    return {
      facts: {
        spam:
          spam.status === 'scored'
            ? { status: 'scored', score: spam.score, requiredScore: spam.requiredScore, action: spam.action }
            : { status: 'error', reason: spam.reason },
        virus:
          virus.status === 'error'
            ? { status: 'error', reason: virus.reason }
            : virus.status === 'infected'
              ? { status: 'infected', name: virus.name }
              : { status: 'clean' },
        dmarc: dmarcFact(auth),
      },
      message: auth.status === 'done' ? prependFields(stripped, [auth.header]) : stripped,
      verdict: verdictRecord(auth, spam, virus),
    };
  };
}

/** Scanning switched off by configuration (TIDINGS_SCAN=off): nothing is checked, forged result headers still go. */
export function uncheckedChecks(authServIds: string[]): Checks {
  return async ({ message }) => ({
    facts: { spam: { status: 'off' }, virus: { status: 'off' }, dmarc: { status: 'off' } },
    message: cleanHeaders(message, { authServIds }),
    verdict: { scanned: false },
  });
}
