// Reads every stored message under a Maildir root and indexes them by their X-Test-Id header.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testIdOf } from './load.ts';

/** test id → mailboxes ("local@domain") it was found in, once per file. */
export function scanMaildirs(root: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  if (!existsSync(root)) return found;
  for (const domain of readdirSync(root)) {
    for (const local of readdirSync(join(root, domain))) {
      for (const sub of ['new', 'cur']) {
        const dir = join(root, domain, local, 'Maildir', sub);
        if (!existsSync(dir)) continue;
        for (const f of readdirSync(dir)) {
          const id = testIdOf(readFileSync(join(dir, f)));
          if (!id) continue;
          const list = found.get(id) ?? [];
          list.push(`${local}@${domain}`);
          found.set(id, list);
        }
      }
    }
  }
  return found;
}
