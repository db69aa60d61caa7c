// Built-in mailbox store: Dovecot-compatible Maildir, written crash-safe and idempotently.
import { createHash } from 'node:crypto';
import { close, fsync, open, rename as renameCb, writeFile as writeFileCb } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { splitAddress } from '#data/address.ts';
import type { DeliveryJob, DeliveryOutcome, Transport } from './transport.ts';

export interface MaildirOptions {
  /** <root>/<domain>/<localpart>/Maildir/{tmp,new,cur}, as Dovecot's maildir:%d/%n/Maildir. */
  root: string;
}

/** Maps a mailbox address to its Maildir folder, or null when it cannot be a safe path. */
export function maildirPath(root: string, mailbox: string): string | null {
  // One folder per mailbox however the address is spelled: hosted addresses are case-insensitive.
  const parts = splitAddress(mailbox.toLowerCase());
  if (!parts) return null;
  const { local, domain } = parts;
  const safe = (s: string): boolean => s.length > 0 && s !== '.' && s !== '..' && !/[/\\\0]/.test(s);
  if (!safe(local) || !safe(domain)) return null;
  return join(root, domain, local, 'Maildir');
}

/**
 * The same queue id and mailbox always give the same name, so a redelivery after a crash
 * (file written, outcome not yet committed) finds the file instead of adding a second copy.
 */
export function maildirFileName(queueId: string, mailbox: string, size: number): string {
  const tag = createHash('sha256').update(mailbox.toLowerCase()).digest('hex').slice(0, 16);
  return `${queueId}.${tag}.tidings,S=${size}`;
}

// The callback forms: fs/promises wraps every descriptor in a FileHandle, whose set-up showed in the delivery profile.
const openFd = promisify(open);
const fsyncFd = promisify(fsync);
const closeFd = promisify(close);
const rename = promisify(renameCb);
const writeFile = promisify(writeFileCb);

async function fsyncPath(path: string): Promise<void> {
  const fd = await openFd(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

/**
 * fsyncs of directories, shared: a caller waits for an fsync that started after it asked, and while one runs, every
 * caller that arrives meanwhile shares the next. Concurrent deliveries to one Maildir (a busy mailbox) then cost one
 * directory fsync per round instead of one each, and each still returns only once its rename is on disk.
 */
export class DirSyncer {
  private readonly dirs = new Map<string, { resolve: () => void; reject: (err: unknown) => void }[]>();
  /** fsyncs run; for tests and the benchmark's notes. */
  syncs = 0;

  sync(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiting = this.dirs.get(path);
      if (waiting) {
        waiting.push({ resolve, reject });
        return;
      }
      this.dirs.set(path, []);
      void this.run(path, [{ resolve, reject }]);
    });
  }

  private async run(path: string, first: { resolve: () => void; reject: (err: unknown) => void }[]): Promise<void> {
    let round = first;
    while (round.length > 0) {
      this.syncs++;
      try {
        await fsyncPath(path);
        for (const w of round) w.resolve();
      } catch (err) {
        for (const w of round) w.reject(err);
      }
      round = this.dirs.get(path) ?? [];
      this.dirs.set(path, []);
    }
    this.dirs.delete(path);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export class MaildirTransport implements Transport {
  /** The file name is fixed by queue id and mailbox, so a redelivery finds its earlier copy. */
  readonly idempotent = true;
  private readonly root: string;
  private readonly prepared = new Set<string>();
  readonly dirSyncer = new DirSyncer();

  constructor(opts: MaildirOptions) {
    this.root = opts.root;
  }

  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    if (job.route.kind !== 'maildir') return { kind: 'failed', response: '5.3.5 route is not a maildir route' };
    const dir = maildirPath(this.root, job.route.mailbox);
    if (!dir) return { kind: 'failed', response: '5.1.3 mailbox name cannot be stored' };
    const name = maildirFileName(job.queueId, job.route.mailbox, job.message.length);
    try {
      await this.prepare(dir);
      if (await this.alreadyDelivered(dir, name, job.attempt))
        return { kind: 'delivered', response: `2.0.0 already in Maildir as ${name}` };
      const tmp = join(dir, 'tmp', name);
      // open, write, fsync, close: the bytes are on disk before the name appears in new/.
      await writeFile(tmp, job.message, { mode: 0o600, flush: true });
      await rename(tmp, join(dir, 'new', name));
      // The rename is durable once new/ is synced; only then is the delivery recorded.
      await this.dirSyncer.sync(join(dir, 'new'));
      return { kind: 'delivered', response: `2.0.0 stored in Maildir as ${name}` };
    } catch (err) {
      this.prepared.delete(dir); // the folder may have been removed under us: recreate it next time
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      return { kind: 'deferred', response: `4.3.0 Maildir write failed (${code})` };
    }
  }

  private async alreadyDelivered(dir: string, name: string, attempt: number): Promise<boolean> {
    // A first attempt cannot find its file: its claim (attempts = 1) is committed before the
    // write, so a try after a crash is attempt 2 or later. (Were it there, the rename below would
    // only replace it with the same bytes under the same name.)
    if (attempt <= 1) return false;
    if (await exists(join(dir, 'new', name))) return true;
    // A retry may also find it already read by the user (moved to cur/ with flags).
    const cur = await readdir(join(dir, 'cur'));
    return cur.some((f) => f === name || f.startsWith(`${name}:`));
  }

  private async prepare(dir: string): Promise<void> {
    if (this.prepared.has(dir)) return;
    const created = await mkdir(dir, { recursive: true });
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(dir, sub), { recursive: true });
    if (created) {
      // New directories are durable only once their parents are synced, up to the store root.
      await fsyncPath(dir);
      for (let p = dir; p.length > this.root.length; p = join(p, '..')) await fsyncPath(join(p, '..'));
    }
    this.prepared.add(dir);
  }
}
