// The two MTAs bench:smtp-scan compares, each started in the bench's scratch directory with its clean-up registered:
// Tidings (mailsystem/main.ts with content checks on, its replica written before it starts) and a private Postfix
// with rspamd's proxy as its milter.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { MIGRATIONS, openDatabase } from '#data/db.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { type PostfixInstance, startPostfix } from '../../test/support/postfix.ts';
import { isListening } from '../../test/support/ports.ts';
import { waitFor } from '../../test/support/wait.ts';
import type { Cleanup } from '../lib/run-main.ts';
import type { Scanners } from './scanners.ts';

/** Where Tidings writes its CPU profile under BENCH_CPU_PROFILE. */
export const PROFILE_DIR = '/tmp/prof-scan';
const NODE = join(process.cwd(), 'node_modules/.bin/node');

/** The bench's scratch directory, its clean-ups (run last first), and its mailboxes user0..user<mailboxes-1>@domain. */
export interface Setup {
  dir: string;
  cleanups: Cleanup[];
  domain: string;
  mailboxes: number;
}

function replica(domain: string, mailboxes: number): ConfigChange[] {
  const changes: ConfigChange[] = [
    {
      version: 1,
      op: 'upsert',
      entity: 'domain',
      key: domain,
      record: { name: domain, mode: 'active', legacyHost: null, legacyPort: null, catchAll: null },
    },
  ];
  for (let i = 0; i < mailboxes; i++) {
    const address = `user${i}@${domain}`;
    changes.push({
      version: 2 + i,
      op: 'upsert',
      entity: 'mailbox',
      key: address,
      record: { address, domain, delivery: 'maildir', lmtpHost: null, lmtpPort: null },
    });
  }
  // Spam: the default policy (tag, at rspamd's own verdict); viruses refused at DATA, as rspamd's antivirus module does
  // for Postfix, instead of the default quarantine.
  changes.push({
    version: 2 + mailboxes,
    op: 'upsert',
    entity: 'policy',
    key: domain,
    record: { scope: 'domain', key: domain, settings: { virus: 'reject' } },
  });
  return changes;
}

/** mailsystem/main.ts, the production entry, with content checks on against the bench's rspamd and clamd. */
export async function startTidings(s: Setup, port: number, scanners: Scanners): Promise<{ proc: ChildProcess; stateDir: string }> {
  const stateDir = join(s.dir, 'tidings');
  const db = openDatabase(join(stateDir, 'mx', 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
  const changes = replica(s.domain, s.mailboxes);
  applyConfigChanges(db, { since: 0, version: changes.length, more: false, reset: false, changes }, new Date());
  db.close();
  const env: NodeJS.ProcessEnv = {
    ...process.env, // TIDINGS_* settings of the bench's own environment (e.g. TIDINGS_SCAN_CONNECTIONS) reach the node
    TIDINGS_STATE_DIR: stateDir,
    TIDINGS_SMTP_HOST: '127.0.0.1',
    TIDINGS_SMTP_PORT: String(port),
    TIDINGS_MX_HOSTNAME: 'mx.bench.test',
    TIDINGS_LOG_LEVEL: process.env.TIDINGS_LOG_LEVEL ?? 'warn',
    TIDINGS_SCAN: 'on',
    TIDINGS_RSPAMD_URL: scanners.normal.url,
    TIDINGS_CLAMD_ADDRESS: `127.0.0.1:${scanners.clamd.port}`,
    TIDINGS_DNS_SERVERS: `127.0.0.1:${scanners.dns.port}`,
    // All load comes from 127.0.0.1: the per-IP cap (20 by default) is lifted, as in bench/smtp-e2e.
    TIDINGS_SMTP_MAX_CONNECTIONS_PER_IP: '10000',
  };
  delete env.TIDINGS_MX_BACKEND_URL;
  delete env.TIDINGS_MX_TOKEN;
  const proc = spawn(
    NODE,
    [...(process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), join(process.cwd(), 'mailsystem/main.ts')],
    { env, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  s.cleanups.push(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    process.kill(proc.pid as number, 'SIGTERM'); // drains, and writes its CPU profile on the way out
    await exited;
  });
  await waitFor(
    async () => {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`mailsystem/main.ts exited (${proc.exitCode ?? proc.signalCode})`);
      return isListening(port);
    },
    'mailsystem/main.ts to listen',
    { timeoutMs: 60_000, intervalMs: 50 },
  );
  return { proc, stateDir };
}

/** test/support/postfix.ts's private Postfix, then rspamd's proxy as its milter (fail closed like Tidings: tempfail). */
export async function startPostfixWithMilter(s: Setup, port: number, scanners: Scanners, recipients: string[]): Promise<PostfixInstance> {
  const postfix = startPostfix({ dir: join(s.dir, 'postfix'), port, domain: s.domain, mailboxes: recipients.map((r) => r.split('@')[0]) });
  s.cleanups.push(() => postfix.stop());
  const etc = join(postfix.dir, 'etc');
  execFileSync('postconf', ['-c', etc, '-e', `smtpd_milters = inet:127.0.0.1:${scanners.milterPort}`, 'milter_default_action = tempfail']);
  execFileSync('postfix', ['-c', etc, 'reload'], { stdio: 'ignore' });
  await waitFor(() => isListening(port), 'Postfix to listen', { timeoutMs: 30_000, intervalMs: 50 });
  return postfix;
}
