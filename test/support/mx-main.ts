// Runs the product entry, mailsystem/main.ts, as a real process on the SMTP port it binds itself (read from its log).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, MIGRATIONS } from '#data/db.ts';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { exitOf, killHard, logEntry, readLines, stopCleanly, type Exit } from './child.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** The node's drain deadline (mailsystem/app.ts, 2 s by default) plus closing and exiting. */
const NODE_DRAIN_MS = 10_000;

export interface MainNode {
  child: ChildProcess;
  /** The SMTP port the node reported (it binds port 0). */
  port: number;
  /** The /metrics port its "metrics listening" line named; null when it logged none (metrics off). */
  metricsPort: number | null;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  /** Standard error so far. */
  stderr(): string;
  /** SIGTERM; exit code 0 within the drain, or this throws. */
  stop(): Promise<void>;
}

/**
 * Starts mailsystem/main.ts with these TIDINGS_* settings on top of the defaults (loopback, port 0); the log
 * level is always info, whose "smtp ingress listening" line names the port. Resolves once it listens.
 */
export async function spawnMxMain(env: Record<string, string | undefined>): Promise<MainNode> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    TIDINGS_SMTP_PORT: '0',
    TIDINGS_SMTP_HOST: '127.0.0.1',
    TIDINGS_MX_HOSTNAME: 'mx.tidings.test',
    // These tests are about the node's process, not content checks (scan-real/scan-faults/policy-matrix start the
    // real scanners): without rspamd and clamd every message would be 451 4.7.1.
    TIDINGS_SCAN: 'off',
    ...env,
    TIDINGS_LOG_LEVEL: 'info',
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const child = spawn(process.execPath, ['mailsystem/main.ts'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  const exited = exitOf(child);
  const lines = readLines(child, child.stdout!);
  const output = (): string => `${lines.text()}${stderr}`;
  let metricsPort: number | null = null;
  const port = await lines
    .next(
      (line) => {
        const entry = logEntry(line);
        // Logged before the SMTP listener opens, so it is passed on the way to the "smtp ingress listening" line.
        if (entry?.msg === 'metrics listening' && typeof entry.port === 'number') metricsPort = entry.port;
        return entry?.msg === 'smtp ingress listening' && typeof entry.port === 'number' ? entry.port : undefined;
      },
      'the "smtp ingress listening" line of mailsystem/main.ts',
      60_000,
    )
    .catch(async (err: Error) => {
      await killHard(child); // a node that never listened must not keep the test process alive
      throw new Error(`${err.message}\n${stderr}`);
    });
  return {
    child,
    port,
    metricsPort,
    exited,
    stderr: () => stderr,
    stop: () => stopCleanly(child, 'mailsystem/main.ts', NODE_DRAIN_MS, { output }),
  };
}

/**
 * Starts the node without a backend, serving the replica the changes describe (in a fresh state folder,
 * removed by stop()), with extra TIDINGS_* settings.
 */
export async function startMainNode(changes: readonly ConfigChange[], env: Record<string, string>): Promise<MainNode & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-main-'));
  const db = openDatabase(join(dir, 'mx', 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
  const version = changes.reduce((v, c) => Math.max(v, c.version), 0);
  applyConfigChanges(db, { since: 0, version, more: false, reset: false, changes: [...changes] }, new Date());
  db.close();
  let node: MainNode;
  try {
    node = await spawnMxMain({ TIDINGS_STATE_DIR: dir, TIDINGS_MX_BACKEND_URL: undefined, TIDINGS_MX_TOKEN: undefined, ...env });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...node,
    dir,
    async stop() {
      try {
        await node.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The replica most node tests serve: example.com (active) with one Maildir mailbox, anna@example.com. */
export const ANNA_MAILDIR_REPLICA: readonly ConfigChange[] = [
  {
    version: 1,
    op: 'upsert',
    entity: 'domain',
    key: 'example.com',
    record: { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null },
  },
  {
    version: 2,
    op: 'upsert',
    entity: 'mailbox',
    key: 'anna@example.com',
    record: { address: 'anna@example.com', domain: 'example.com', delivery: 'maildir', lmtpHost: null, lmtpPort: null },
  },
];

/**
 * An MX node that syncs from and ships telemetry to the backend at `backendUrl` every second (heartbeats too), with
 * its state in `dir`; `env` adds or overrides settings.
 */
export function spawnShippingNode(dir: string, backendUrl: string, token: string, env: Record<string, string> = {}): Promise<MainNode> {
  return spawnMxMain({
    TIDINGS_STATE_DIR: dir,
    TIDINGS_MX_BACKEND_URL: backendUrl,
    TIDINGS_MX_TOKEN: token,
    TIDINGS_MX_SYNC_INTERVAL: '1s',
    TIDINGS_TELEMETRY_INTERVAL: '1s',
    TIDINGS_TELEMETRY_HEARTBEAT_INTERVAL: '1s',
    ...env,
  });
}
