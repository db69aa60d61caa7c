// What the end-to-end benches (bench/smtp-e2e, bench/smtp-scan) share: the p-quantile of sorted numbers, the load
// average as printed beside each run, and the bench's Maildir layout (<root>/<domain>/user<i>/Maildir/new) and its
// delivered files.
import { closeSync, fstatSync, openSync, readdirSync, readSync, unlinkSync } from 'node:fs';
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
function newDirs(root: string, domain: string, mailboxes: number): string[] {
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

/** A delivered file, as takeNewFiles read it. */
export interface DeliveredFile {
  /** Its X-Bench-Id header (the message's number in send order); null without one. */
  id: number | null;
  /** When it was written (ms since the epoch): when the message reached the mailbox. */
  mtime: number;
  /** The header section, as far as the first `headBytes` reach. */
  head: string;
}

/**
 * Every file in the bench mailboxes' new/ folders, each removed once read (so the next run starts from empty
 * mailboxes); a mailbox not made yet has none.
 */
export function* takeNewFiles(root: string, domain: string, mailboxes: number, headBytes: number): Generator<DeliveredFile> {
  const buf = Buffer.alloc(headBytes);
  for (const d of newDirs(root, domain, mailboxes)) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(d, name);
      const fd = openSync(path, 'r');
      let mtime: number;
      let bytes: number;
      try {
        mtime = fstatSync(fd).mtimeMs;
        bytes = readSync(fd, buf, 0, buf.length, 0);
      } finally {
        closeSync(fd);
      }
      unlinkSync(path);
      const text = buf.toString('latin1', 0, bytes);
      const end = text.indexOf('\r\n\r\n');
      const head = end >= 0 ? text.slice(0, end + 2) : text;
      const m = /^X-Bench-Id: (\d+)\r?$/m.exec(head);
      yield { id: m ? Number(m[1]) : null, mtime, head };
    }
  }
}
