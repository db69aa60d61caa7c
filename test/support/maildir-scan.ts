// Reads every stored message under a Maildir root and indexes them by their X-Test-Id header.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testIdOf } from './load.ts';

export interface StoredCopy {
  /** "local@domain" of the Maildir the file is in. */
  mailbox: string;
  /** The file name in new/ or cur/ (Dovecot's starts with the delivery time). */
  file: string;
}

/** test id → every stored copy of it. */
export function scanMaildirCopies(root: string): Map<string, StoredCopy[]> {
  const found = new Map<string, StoredCopy[]>();
  if (!existsSync(root)) return found;
  for (const domain of readdirSync(root)) {
    for (const local of readdirSync(join(root, domain))) {
      for (const sub of ['new', 'cur']) {
        const dir = join(root, domain, local, 'Maildir', sub);
        if (!existsSync(dir)) continue;
        for (const file of readdirSync(dir)) {
          const id = testIdOf(readFileSync(join(dir, file)));
          if (!id) continue;
          const list = found.get(id) ?? [];
          list.push({ mailbox: `${local}@${domain}`, file });
          found.set(id, list);
        }
      }
    }
  }
  return found;
}

/** test id → mailboxes ("local@domain") it was found in, once per file. */
export function scanMaildirs(root: string): Map<string, string[]> {
  return new Map([...scanMaildirCopies(root)].map(([id, copies]) => [id, copies.map((c) => c.mailbox)]));
}

/** When Dovecot stored a file, from its Maildir name `<seconds>.M<microseconds>P<pid>.<host>,…` (ms). */
export function dovecotStoredAt(file: string): number {
  const m = /^(\d+)\.M(\d+)P/.exec(file);
  if (!m) throw new Error(`not a Dovecot Maildir file name: ${file}`);
  return Number(m[1]) * 1000 + Number(m[2]) / 1000;
}
