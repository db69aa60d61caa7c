// The "Policies" section of /staff/mail: one form per level (the installation, each domain, each mailbox or alias
// address) with an "inherit" choice for every setting, and each address's effective policy with where each setting
// comes from. Plain forms, no JavaScript; every value goes through html`` (escaped).
import { splitAddress } from '#data/address.ts';
import {
  DMARC_POLICIES,
  effectivePolicy,
  SPAM_POLICIES,
  VIRUS_POLICIES,
  type MailPolicy,
  type PolicySettings,
} from '#data/contracts/mail-policy.ts';
import { INSTALLATION_POLICY_KEY, type PolicyScope } from '#data/contracts/mx-config.ts';
import type { DB } from '#data/db.ts';
import { listAliases, listDomains, listMailboxes, listPolicies } from '../../store/mail.ts';
import { html, raw, type Html } from './layout.ts';
import type { Form } from './forms.ts';

export const POLICY_LABELS: Record<keyof MailPolicy, string> = {
  spam: 'Spam',
  spamThreshold: 'Spam threshold',
  subjectPrefix: 'Subject prefix',
  virus: 'Virus',
  dmarc: 'DMARC p=reject',
};

const CHOICE_TEXT: Record<string, string> = {
  deliver: 'deliver (no filtering)',
  tag: 'tag (headers and subject prefix)',
  remove: 'remove (quarantine)',
  reject: 'reject at DATA',
  honour: 'honour (reject)',
  record: 'record only',
};

const valueText = (k: keyof MailPolicy, v: unknown): string =>
  k === 'spamThreshold' ? (v === null ? "rspamd's verdict" : String(v)) : k === 'subjectPrefix' ? `"${String(v)}"` : String(v);

/**
 * The settings a policy form sends: a select's "" and a ticked "inherit" box leave the setting out. The threshold
 * left empty is rspamd's own verdict (null); a threshold that is not a number stays a string, for the schema to refuse.
 */
export function policyFormSettings(f: Form): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['spam', 'virus', 'dmarc'] as const) if (f[k]) out[k] = f[k];
  if (f.spamThresholdInherit !== '1') {
    const t = (f.spamThreshold ?? '').trim();
    out.spamThreshold = t === '' ? null : /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
  }
  if (f.subjectPrefixInherit !== '1') out.subjectPrefix = f.subjectPrefix ?? '';
  return out;
}

function levelForm(csrf: Html, n: number, scope: PolicyScope, key: string, name: string, s: PolicySettings): Html {
  const id = (field: string) => `pol${n}-${field}`;
  const select = (field: 'spam' | 'virus' | 'dmarc', choices: readonly string[]) =>
    html`<div><label for="${id(field)}">${POLICY_LABELS[field]}</label><select id="${id(field)}" name="${field}">
      <option value="">inherit</option>${choices.map(
        (c) => html`<option value="${c}"${s[field] === c ? raw(' selected') : ''}>${CHOICE_TEXT[c] ?? c}</option>`,
      )}</select></div>`;
  const text = (field: 'spamThreshold' | 'subjectPrefix', value: string, hint: string) =>
    html`<div><label for="${id(field)}">${POLICY_LABELS[field]} ${hint}</label><input type="text" id="${id(field)}" name="${field}" size="${field === 'spamThreshold' ? 6 : 12}" value="${value}">
      <label><input type="checkbox" name="${field}Inherit" value="1"${s[field] === undefined ? raw(' checked') : ''}> inherit ${POLICY_LABELS[field].toLowerCase()}</label></div>`;
  return html`<form method="post" action="/staff/mail/policies/${scope}/${encodeURIComponent(key)}"><fieldset><legend>Policy of ${name}</legend>${csrf}
    <div class="row">${select('spam', SPAM_POLICIES)}
    ${text('spamThreshold', s.spamThreshold === undefined || s.spamThreshold === null ? '' : String(s.spamThreshold), "(empty: rspamd's verdict)")}
    ${text('subjectPrefix', s.subjectPrefix ?? '', '(tagged spam)')}
    ${select('virus', VIRUS_POLICIES)}${select('dmarc', DMARC_POLICIES)}
    <div><button type="submit">Save the policy of ${name}</button></div></div></fieldset></form>`;
}

export function policySection(db: DB, csrf: Html): Html {
  const settings = new Map(listPolicies(db).map((p) => [p.key, p.settings]));
  const of = (key: string) => settings.get(key) ?? {};
  const addresses = [...new Set([...listMailboxes(db).map((m) => m.address), ...listAliases(db).map((a) => a.address)])].sort();
  let n = 0;
  const keys = Object.keys(POLICY_LABELS) as (keyof MailPolicy)[];
  return html`<h2 id="policies">Spam, virus and DMARC policies</h2>
    <p>Each setting is inherited: installation, then domain, then address (a mailbox or an alias; an alias's own
    settings apply to its copies, whatever its targets'). "inherit" leaves a setting to the level above; a level that
    inherits everything has no settings of its own. A virus is never delivered or forwarded, and a forward to another
    provider never carries spam, whatever the policy.</p>
    ${levelForm(csrf, n++, 'installation', INSTALLATION_POLICY_KEY, 'the installation', of(INSTALLATION_POLICY_KEY))}
    ${listDomains(db).map((d) => levelForm(csrf, n++, 'domain', d.name, d.name, of(d.name)))}
    ${addresses.map((a) => levelForm(csrf, n++, 'address', a, a, of(a)))}
    <h3>Effective policy of each address</h3>
    <p>Each setting with the level it comes from (default: no level sets it).</p>
    <table>
    <thead><tr><th scope="col">Address</th>${keys.map((k) => html`<th scope="col">${POLICY_LABELS[k]}</th>`)}</tr></thead><tbody>
    ${addresses.map((a) => {
      // Every level is loaded above: the effective policy is merged here, not read again per address.
      const installation = of(INSTALLATION_POLICY_KEY);
      const e = effectivePolicy({ installation, domain: of(splitAddress(a)?.domain ?? ''), address: of(a) });
      return html`<tr><th scope="row">${a}</th>${keys.map((k) => {
        const from = e.source[k] === 'installation' && installation[k] === undefined ? 'default' : e.source[k];
        return html`<td>${valueText(k, e.policy[k])} <span class="muted">(${from})</span></td>`;
      })}</tr>`;
    })}
    </tbody></table>`;
}
