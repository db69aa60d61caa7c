// Reading the old mail system's configuration (issue 13, "Import"): Postfix virtual_* map files, and what the import
// CSV's reader (server/domain/mail-import-csv.ts) shares with them.
// Pure: text in, the records it asks for (each with the file and line it came from) out, or every bad line.
import { Address, AliasTarget, DomainName } from '#data/contracts/mail-config.ts';
import type { SpamPolicy, VirusPolicy } from '#data/contracts/mail-policy.ts';

export interface ImportFile {
  /** How the file is named in messages (its path, or the form field). */
  name: string;
  text: string;
}

export interface Origin {
  file: string;
  line: number;
}

export interface ImportLineError extends Origin {
  message: string;
}

export interface DesiredDomain extends Origin {
  name: string;
}
export interface DesiredMailbox extends Origin {
  address: string;
}
export interface DesiredAlias extends Origin {
  address: string;
  targets: string[];
  keepLocalCopy: boolean;
}
/** A level's spam and/or virus setting; the level's other settings are left as they are. */
export interface DesiredPolicy extends Origin {
  scope: 'domain' | 'address';
  key: string;
  spam?: SpamPolicy;
  virus?: VirusPolicy;
}

/** A virtual_alias_maps catch-all (`@example.org  someone@example.org`): the domain's catch-all address. */
export interface DesiredCatchAll extends Origin {
  domain: string;
  target: string;
}

export interface DesiredConfig {
  domains: DesiredDomain[];
  mailboxes: DesiredMailbox[];
  aliases: DesiredAlias[];
  policies: DesiredPolicy[];
  catchAlls: DesiredCatchAll[];
}

export type ParseResult = { ok: true; desired: DesiredConfig } | { ok: false; errors: ImportLineError[] };

export const MAX_LINE = 8192;
/** Control characters other than tab: never part of a map or CSV line. */
export const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

interface Line {
  line: number;
  text: string;
}

/** Lines without comments and blanks; a line starting with white space continues the one before (Postfix's rule). */
function logicalLines(file: ImportFile, errors: ImportLineError[]): Line[] {
  const out: Line[] = [];
  const raw = file.text.split(/\r?\n/);
  for (const [i, text] of raw.entries()) {
    const line = i + 1;
    if (text.length > MAX_LINE) {
      errors.push({ file: file.name, line, message: `the line is longer than ${MAX_LINE} characters` });
      continue;
    }
    if (CONTROL.test(text)) {
      errors.push({ file: file.name, line, message: 'the line contains a control character' });
      continue;
    }
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (/^\s/.test(text) && out.length > 0) out[out.length - 1].text += ` ${trimmed}`;
    else out.push({ line, text: trimmed });
  }
  return out;
}

export const issue = (r: { success: false; error: { issues: { message: string }[] } }) => r.error.issues[0].message;

export function parseAddress(raw: string, what: string): { ok: true; value: string } | { ok: false; message: string } {
  const r = Address.safeParse(raw);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: `${what} "${raw}" ${issue(r)}` };
}

export function parseTargets(
  raw: string[],
  alias: string,
): { ok: true; targets: string[]; keepLocalCopy: boolean } | { ok: false; message: string } {
  const targets: string[] = [];
  let keepLocalCopy = false;
  for (const t of raw) {
    const r = AliasTarget.safeParse(t);
    if (!r.success) return { ok: false, message: `target "${t}" ${issue(r)}` };
    // Postfix keeps a copy in the alias's own mailbox when the alias lists itself.
    if (r.data.toLowerCase() === alias) keepLocalCopy = true;
    else if (!targets.includes(r.data)) targets.push(r.data);
  }
  if (targets.length === 0) return { ok: false, message: `the alias ${alias} has no target other than itself` };
  if (targets.length > 100) return { ok: false, message: 'more than 100 targets' };
  return { ok: true, targets, keepLocalCopy };
}

export class Collector {
  readonly desired: DesiredConfig = { domains: [], mailboxes: [], aliases: [], policies: [], catchAlls: [] };
  private readonly seen = new Map<string, Origin>();
  readonly errors: ImportLineError[];
  constructor(errors: ImportLineError[]) {
    this.errors = errors;
  }

  /** False (and an error) when `kind key` came before; one record per key. */
  first(kind: string, key: string, at: Origin, allowSame = false): boolean {
    const k = `${kind} ${key}`;
    const before = this.seen.get(k);
    if (before) {
      if (allowSame) return false;
      this.errors.push({ ...at, message: `${kind} ${key} is already given at ${before.file}:${before.line}` });
      return false;
    }
    this.seen.set(k, at);
    return true;
  }
  domain(name: string, at: Origin): void {
    if (this.first('domain', name, at, true)) this.desired.domains.push({ name, ...at });
  }
}

/** Postfix's virtual_mailbox_domains (one domain per line, or comma/space separated lists), virtual_mailbox_maps and virtual_alias_maps. */
export function parsePostfix(files: { domains?: ImportFile; mailboxes?: ImportFile; aliases?: ImportFile }): ParseResult {
  const errors: ImportLineError[] = [];
  const c = new Collector(errors);
  if (files.domains) {
    for (const l of logicalLines(files.domains, errors)) {
      const at = { file: files.domains.name, line: l.line };
      for (const token of l.text.split(/[\s,]+/).filter(Boolean)) {
        const d = DomainName.safeParse(token);
        if (!d.success) errors.push({ ...at, message: `"${token}" ${issue(d)}` });
        else c.domain(d.data, at);
      }
    }
  }
  const entries = (file: ImportFile, what: string, each: (key: string, values: string[], at: Origin) => void) => {
    for (const l of logicalLines(file, errors)) {
      const at = { file: file.name, line: l.line };
      const [key, ...values] = l.text.split(/\s+/);
      if (key.startsWith('@') && what === 'virtual_alias_maps') {
        catchAll(key.slice(1), values.join(' '), at);
        continue;
      }
      if (key.startsWith('@')) {
        errors.push({ ...at, message: `"${key}": a catch-all is imported from virtual_alias_maps only` });
        continue;
      }
      if (!key.includes('@')) {
        errors.push({ ...at, message: `"${key}": the key of a ${what} entry is a full address such as user@example.com` });
        continue;
      }
      const a = parseAddress(key, 'the address');
      if (!a.ok) {
        errors.push({ ...at, message: a.message });
        continue;
      }
      const v = values
        .join(' ')
        .split(/[\s,]+/)
        .filter(Boolean);
      if (v.length === 0) {
        errors.push({ ...at, message: `${a.value} has no value` });
        continue;
      }
      each(a.value, v, at);
    }
  };
  // `@example.org  someone@example.org`: one address, as a domain has one catch-all (not a list, not `@other.org`).
  const catchAll = (rawDomain: string, rawTarget: string, at: Origin) => {
    const d = DomainName.safeParse(rawDomain);
    const t = parseAddress(rawTarget, 'the catch-all target');
    if (!d.success) errors.push({ ...at, message: `catch-all "@${rawDomain}": ${issue(d)}` });
    else if (!t.ok) errors.push({ ...at, message: `@${d.data}: ${t.message} (one address: a domain has one catch-all)` });
    else if (c.first('catch-all', `@${d.data}`, at)) c.desired.catchAlls.push({ domain: d.data, target: t.value, ...at });
  };
  if (files.mailboxes) {
    entries(files.mailboxes, 'virtual_mailbox_maps', (address, values, at) => {
      // The value is the old Maildir path: it only says "this is a mailbox".
      if (values.length > 1) errors.push({ ...at, message: `${address}: a mailbox has one path, not a list` });
      else if (c.first('mailbox', address, at)) c.desired.mailboxes.push({ address, ...at });
    });
  }
  if (files.aliases) {
    entries(files.aliases, 'virtual_alias_maps', (address, values, at) => {
      const t = parseTargets(values, address);
      if (!t.ok) errors.push({ ...at, message: `${address}: ${t.message}` });
      else if (c.first('alias', address, at))
        c.desired.aliases.push({ address, targets: t.targets, keepLocalCopy: t.keepLocalCopy, ...at });
    });
  }
  return errors.length ? { ok: false, errors } : { ok: true, desired: c.desired };
}
