// The import CSV of the old mail system's configuration (issue 13, "Import", format in the README): its records become
// the same desired configuration as the Postfix maps (server/domain/mail-import.ts), with the same checks per line.
// Pure: text in, the records (each with its line) out, or every bad line.
import { DomainName } from '#data/contracts/mail-config.ts';
import { SpamPolicy, VirusPolicy } from '#data/contracts/mail-policy.ts';
import { splitAddress } from '#data/address.ts';
import {
  Collector,
  CONTROL,
  type ImportFile,
  type ImportLineError,
  issue,
  MAX_LINE,
  type ParseResult,
  parseAddress,
  parseTargets,
} from './mail-import.ts';

export const CSV_COLUMNS = ['domain', 'address', 'type', 'targets', 'spam_policy', 'virus_policy'] as const;
export const CSV_TYPES = ['domain', 'mailbox', 'alias', 'forward'] as const;

/** One CSV record's fields; double quotes around a field allow commas in it ("" is a quote). Null: unbalanced quotes. */
function csvFields(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      if (i < line.length && line[i] !== ',') return null;
      out.push(v.trim());
    } else {
      const end = line.indexOf(',', i);
      out.push((end < 0 ? line.slice(i) : line.slice(i, end)).trim());
      i = end < 0 ? line.length : end;
    }
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/**
 * The import CSV: a header line naming the columns domain,address,type,targets[,spam_policy[,virus_policy]], then one
 * row per domain, mailbox, alias or forward. Lines starting with # and blank lines are skipped.
 */
export function parseCsv(file: ImportFile): ParseResult {
  const errors: ImportLineError[] = [];
  const c = new Collector(errors);
  const lines = file.text.split(/\r?\n/);
  let header: string[] | null = null;
  for (const [i, text] of lines.entries()) {
    const at = { file: file.name, line: i + 1 };
    const err = (message: string) => errors.push({ ...at, message });
    if (text.length > MAX_LINE) {
      err(`the line is longer than ${MAX_LINE} characters`);
      continue;
    }
    if (CONTROL.test(text)) {
      err('the line contains a control character');
      continue;
    }
    if (text.trim() === '' || text.trimStart().startsWith('#')) continue;
    const f = csvFields(text);
    if (!f) {
      err('a quoted field is not closed, or text follows its closing quote');
      continue;
    }
    if (!header) {
      const names = f.map((h) => h.toLowerCase());
      const want = CSV_COLUMNS.slice(0, Math.max(4, names.length));
      if (names.length > CSV_COLUMNS.length || names.some((n, k) => n !== want[k])) {
        err(`the header must be ${CSV_COLUMNS.join(',')} (the last two may be left out)`);
        return { ok: false, errors };
      }
      header = names;
      continue;
    }
    if (f.length > header.length) {
      err(`${f.length} fields, the header has ${header.length}`);
      continue;
    }
    const [rawDomain, rawAddress = '', rawType = '', rawTargets = '', rawSpam = '', rawVirus = ''] = f;
    const d = DomainName.safeParse(rawDomain);
    if (!d.success) {
      err(`domain "${rawDomain}" ${issue(d)}`);
      continue;
    }
    const type = (rawType.toLowerCase() || (rawAddress === '' ? 'domain' : '')) as (typeof CSV_TYPES)[number];
    if (!CSV_TYPES.includes(type)) {
      err(`type "${rawType}" must be one of ${CSV_TYPES.join(', ')}`);
      continue;
    }
    const spam = rawSpam === '' ? undefined : SpamPolicy.safeParse(rawSpam.toLowerCase());
    if (spam && !spam.success) {
      err(`spam_policy "${rawSpam}" must be one of ${SpamPolicy.options.join(', ')}`);
      continue;
    }
    const virus = rawVirus === '' ? undefined : VirusPolicy.safeParse(rawVirus.toLowerCase());
    if (virus && !virus.success) {
      err(`virus_policy "${rawVirus}" must be one of ${VirusPolicy.options.join(', ')}`);
      continue;
    }
    const targets = rawTargets.split(/[\s,]+/).filter(Boolean);
    let key: string;
    if (type === 'domain') {
      if (rawAddress !== '' || targets.length) {
        err('a domain row has no address and no targets');
        continue;
      }
      key = d.data;
      c.domain(d.data, at);
    } else {
      const a = parseAddress(rawAddress, 'the address');
      if (!a.ok) {
        err(a.message);
        continue;
      }
      if (splitAddress(a.value)?.domain !== d.data) {
        err(`the address ${a.value} is not in the row's domain ${d.data}`);
        continue;
      }
      key = a.value;
      if (type === 'mailbox') {
        if (targets.length) {
          err('a mailbox row has no targets');
          continue;
        }
        if (!c.first('mailbox', key, at)) continue;
        c.domain(d.data, at);
        c.desired.mailboxes.push({ address: key, ...at });
      } else {
        if (!targets.length) {
          err(`an ${type} row needs at least one target`);
          continue;
        }
        const t = parseTargets(targets, key);
        if (!t.ok) {
          err(`${key}: ${t.message}`);
          continue;
        }
        if (!c.first('alias', key, at)) continue;
        c.domain(d.data, at);
        c.desired.aliases.push({ address: key, targets: t.targets, keepLocalCopy: t.keepLocalCopy, ...at });
      }
    }
    if (spam || virus) {
      if (!c.first('policy', key, at)) continue;
      c.desired.policies.push({
        scope: type === 'domain' ? 'domain' : 'address',
        key,
        ...(spam ? { spam: spam.data } : {}),
        ...(virus ? { virus: virus.data } : {}),
        ...at,
      });
    }
  }
  if (!header && errors.length === 0) errors.push({ file: file.name, line: 1, message: 'the file has no header line' });
  return errors.length ? { ok: false, errors } : { ok: true, desired: c.desired };
}
