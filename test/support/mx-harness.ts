// Starts the mail system in-process on a free loopback port with a temp state dir, for ingress tests.
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DB } from '#data/db.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { createMailSystem, type MailSystem, type MailSystemDeps, type MailSystemOptions } from '#mailsystem/app.ts';
import { createReplicaDirectory } from '#mailsystem/config/replica.ts';
import { createLegacyTransport } from '#mailsystem/delivery/legacy.ts';
import type { DsnRequest } from '#mailsystem/delivery/worker.ts';
import type { Resolver } from '#mailsystem/dns/resolver.ts';
import { systemClock, silentLog } from '#mailsystem/deps.ts';
import { fakeDirectory, type FakeDirectoryData } from './fake-directory.ts';

export interface Harness {
  port: number;
  dir: string;
  maildirRoot: string;
  db: DB;
  mx: MailSystem;
  stop(): Promise<void>;
}

/** A minimal DSN body, enough for tests to see who was told what. */
export function testDsn(req: DsnRequest): Buffer {
  return Buffer.from(
    `From: MAILER-DAEMON@${req.reportingMta}\r\nTo: <${req.envelopeFrom}>\r\n` +
      `Subject: Delivery Status Notification (${req.action})\r\n\r\n${req.recipient}: ${req.response}\r\n`,
  );
}

/**
 * An MX node over an open node database, its Maildirs under `dir`/mail, on a free loopback port. `deps` needs the
 * directory; clock, log and DSN default to the system clock, a silent log and testDsn. The caller stops `mx`.
 */
export async function startNode(
  db: DB,
  dir: string,
  opts: Partial<MailSystemOptions>,
  deps: Pick<MailSystemDeps, 'directory'> & Partial<Omit<MailSystemDeps, 'db'>>,
): Promise<{ mx: MailSystem; port: number; maildirRoot: string }> {
  const maildirRoot = join(dir, 'mail');
  const mx = createMailSystem(
    { smtpHost: '127.0.0.1', smtpPort: 0, maildirRoot, serverName: 'mx.test', ...opts },
    { db, clock: systemClock, log: silentLog, buildDsn: testDsn, ...deps },
  );
  return { mx, port: await mx.start(), maildirRoot };
}

/**
 * A node over its config replica in `db` that relays legacy routes to the old MX. The old MX is addressed by IP
 * in these tests, so the legacy transport gets no resolver.
 */
export function startReplicaNode(
  db: DB,
  dir: string,
  opts: Partial<MailSystemOptions> = {},
  deps: Partial<Omit<MailSystemDeps, 'db' | 'directory'>> = {},
): Promise<{ mx: MailSystem; port: number; maildirRoot: string }> {
  return startNode(
    db,
    dir,
    { worker: { idlePollMs: 20 }, ...opts },
    {
      directory: createReplicaDirectory({ db, clock: systemClock }),
      transports: { legacy: createLegacyTransport({ resolver: {} as Resolver, heloName: 'mx.test' }) },
      ...deps,
    },
  );
}

/** The node over the fake directory; `deps` adds or replaces what the mail system gets (checks, clock, transports). */
export async function startHarness(
  data: FakeDirectoryData,
  opts: Partial<MailSystemOptions> = {},
  deps: Partial<Omit<MailSystemDeps, 'db' | 'directory'>> = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-mx-'));
  const db = openNodeDatabase(join(dir, 'node.sqlite'));
  const { mx, port, maildirRoot } = await startNode(db, dir, opts, { directory: fakeDirectory(data), ...deps });
  return {
    port,
    dir,
    maildirRoot,
    db,
    mx,
    async stop() {
      await mx.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every message file in a mailbox (new/ and cur/), as bytes. */
export function mailboxMessages(maildirRoot: string, mailbox: string): Buffer[] {
  const [local, domain] = mailbox.toLowerCase().split('@');
  const base = join(maildirRoot, domain, local, 'Maildir');
  const out: Buffer[] = [];
  for (const sub of ['new', 'cur']) {
    const d = join(base, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) out.push(readFileSync(join(d, f)));
  }
  return out;
}
