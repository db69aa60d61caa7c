// What the end-to-end benches (bench/smtp-e2e, bench/smtp-scan) share: the p-quantile of sorted numbers, the load
// average as printed beside each run, and the bench's Maildir layout (<root>/<domain>/user<i>/Maildir/new).
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

/** The p-quantile (0..1) of already sorted values; NaN for none. */
export const pct = (sorted: ArrayLike<number>, p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : Number.NaN;

export const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The new/ folders of the bench's mailboxes user0..user<mailboxes-1> in `domain`. */
export function newDirs(root: string, domain: string, mailboxes: number): string[] {
  return Array.from({ length: mailboxes }, (_, i) => join(root, domain, `user${i}`, 'Maildir', 'new'));
}

/** Files waiting in those new/ folders; a mailbox not made yet has none (Postfix makes a Maildir at its first delivery). */
export function countFiles(root: string, domain: string, mailboxes: number): number {
  let n = 0;
  for (const d of newDirs(root, domain, mailboxes)) {
    try {
      n += readdirSync(d).length;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return n;
}
